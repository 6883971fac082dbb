/* pgemm.c — see pgemm.h.
 *
 * The loops go panel by panel (a panel of W, PGEMM_NR * k floats, stays
 * in L1/L2 while every tile of rows passes over it; the rows, at most a
 * span, stay in L2).  A tile keeps its sums in registers for the whole of
 * k and stores once, so no sum ever goes through memory mid-chain (which
 * would not change it either: a float stored and reloaded is exact).
 * Both paths are compiled with target attributes, so the Makefile needs no
 * -m flags; a tile of fewer rows is the same code with fewer rows. */
#include "nn/pgemm.h"

#include <stdlib.h>
#include <string.h>

#include "nn/cpu.h"
#include "util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PGEMM_X86 1
#endif

bool pgemm_available(enum pgemm_path path)
{
#ifdef PGEMM_X86
    /* libgcc reports AVX-512 and AVX only when the OS saves the registers. */
    __builtin_cpu_init();
    switch (path) {
    case PGEMM_NONE:
        return true;
    case PGEMM_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PGEMM_AVX512:
        return __builtin_cpu_supports("avx512f");
    default:
        return false;
    }
#else
    return path == PGEMM_NONE;
#endif
}

static const char *const path_names[PGEMM_N_PATHS] = {
    [PGEMM_NONE] = "none", [PGEMM_AVX2] = "avx2", [PGEMM_AVX512] = "avx512"};

const char *pgemm_path_name(enum pgemm_path path)
{
    return (unsigned)path < PGEMM_N_PATHS ? path_names[path] : "?";
}

enum pgemm_path pgemm_best(void)
{
    int p = cpu_forced_path("RERANK_PGEMM", path_names, PGEMM_N_PATHS);
    if (p >= 0 && pgemm_available((enum pgemm_path)p))
        return (enum pgemm_path)p;
    return pgemm_available(PGEMM_AVX512) ? PGEMM_AVX512
           : pgemm_available(PGEMM_AVX2) ? PGEMM_AVX2
                                         : PGEMM_NONE;
}

void pgemm_pack(struct pgemm_w *p, const float *w, size_t n, size_t k)
{
    p->n = n;
    p->k = k;
    p->n_pad = (n + PGEMM_NR - 1) / PGEMM_NR * PGEMM_NR;
    p->data = xcalloc(p->n_pad * k, sizeof *p->data);
    for (size_t j = 0; j < n; j++) {
        float *panel = p->data + j / PGEMM_NR * PGEMM_NR * k + j % PGEMM_NR;
        for (size_t kk = 0; kk < k; kk++)
            panel[kk * PGEMM_NR] = w[j * k + kk];
    }
}

void pgemm_free(struct pgemm_w *p)
{
    free(p->data);
    memset(p, 0, sizeof *p);
}

#ifdef PGEMM_X86

#define T512 __attribute__((target("avx512f"), always_inline)) static inline
#define T256 __attribute__((target("avx2,fma"), always_inline)) static inline

/* AVX-512: MR512 rows x PGEMM_NR columns, NV512 zmm sums per row; nc
 * (<= PGEMM_NR) columns are stored. */
#define MR512 8
#define NV512 (PGEMM_NR / 16)

T512 void tile512(size_t mr, size_t k, const float *x, size_t ldx,
                  const float *panel, float *y, size_t ldy, size_t nc)
{
    __m512 c[MR512][NV512];
#pragma GCC unroll 8
    for (size_t i = 0; i < MR512; i++)
        if (i < mr)
#pragma GCC unroll 4
            for (size_t v = 0; v < NV512; v++)
                c[i][v] = _mm512_setzero_ps();
    for (size_t kk = 0; kk < k; kk++, panel += PGEMM_NR) {
        __m512 b[NV512];
#pragma GCC unroll 4
        for (size_t v = 0; v < NV512; v++)
            b[v] = _mm512_loadu_ps(panel + 16 * v);
#pragma GCC unroll 8
        for (size_t i = 0; i < MR512; i++)
            if (i < mr) {
                __m512 a = _mm512_set1_ps(x[i * ldx + kk]);
#pragma GCC unroll 4
                for (size_t v = 0; v < NV512; v++)
                    c[i][v] = _mm512_fmadd_ps(a, b[v], c[i][v]);
            }
    }
    __mmask16 m[NV512];
#pragma GCC unroll 4
    for (size_t v = 0; v < NV512; v++)
        m[v] = nc >= 16 * (v + 1) ? 0xffff
               : nc <= 16 * v     ? 0
                                  : (__mmask16)((1u << (nc - 16 * v)) - 1);
#pragma GCC unroll 8
    for (size_t i = 0; i < MR512; i++)
        if (i < mr)
#pragma GCC unroll 4
            for (size_t v = 0; v < NV512; v++)
                _mm512_mask_storeu_ps(y + i * ldy + 16 * v, m[v], c[i][v]);
}

/* AVX2: MR rows x 16 columns (half a panel), two ymm sums per row. */
#define MR256 6

T256 void tile256(size_t mr, size_t k, const float *x, size_t ldx,
                  const float *panel, float *y, size_t ldy, size_t nc)
{
    __m256 c0[MR256], c1[MR256];
#pragma GCC unroll 6
    for (size_t i = 0; i < MR256; i++)
        if (i < mr)
            c0[i] = c1[i] = _mm256_setzero_ps();
    for (size_t kk = 0; kk < k; kk++, panel += PGEMM_NR) {
        __m256 b0 = _mm256_loadu_ps(panel), b1 = _mm256_loadu_ps(panel + 8);
#pragma GCC unroll 6
        for (size_t i = 0; i < MR256; i++)
            if (i < mr) {
                __m256 a = _mm256_broadcast_ss(x + i * ldx + kk);
                c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
                c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
            }
    }
    float tmp[16];
#pragma GCC unroll 6
    for (size_t i = 0; i < MR256; i++)
        if (i < mr) {
            if (nc >= 16) {
                _mm256_storeu_ps(y + i * ldy, c0[i]);
                _mm256_storeu_ps(y + i * ldy + 8, c1[i]);
            } else {
                _mm256_storeu_ps(tmp, c0[i]);
                _mm256_storeu_ps(tmp + 8, c1[i]);
                memcpy(y + i * ldy, tmp, nc * sizeof *tmp);
            }
        }
}

/* A driver: for each panel, or half panel when step is 16, the rows in
 * tiles of mr, then one tile specialised to the rows left over. */
#define PGEMM_DRIVER(name, isa, tile, mr, step)                              \
    __attribute__((target(isa))) static void name(                           \
        const struct pgemm_w *p, const float *x, size_t ldx, size_t rows,    \
        float *y, size_t ldy)                                                \
    {                                                                        \
        size_t k = p->k;                                                     \
        for (size_t j = 0; j < p->n; j += step) {                            \
            const float *panel =                                             \
                p->data + j / PGEMM_NR * PGEMM_NR * k + j % PGEMM_NR;        \
            size_t nc = p->n - j < step ? p->n - j : step;                   \
            size_t i = 0;                                                    \
            for (; i + mr <= rows; i += mr)                                  \
                tile(mr, k, x + i * ldx, ldx, panel, y + i * ldy + j, ldy,   \
                     nc);                                                    \
            const float *xi = x + i * ldx;                                   \
            float *yi = y + i * ldy + j;                                     \
            switch (rows - i) {                                              \
                TAIL(tile, mr, 1) TAIL(tile, mr, 2) TAIL(tile, mr, 3)        \
                TAIL(tile, mr, 4) TAIL(tile, mr, 5) TAIL(tile, mr, 6)        \
                TAIL(tile, mr, 7) TAIL(tile, mr, 8) TAIL(tile, mr, 9)        \
                TAIL(tile, mr, 10) TAIL(tile, mr, 11)                        \
            default:                                                         \
                break;                                                       \
            }                                                                \
        }                                                                    \
    }
#define TAIL(tile, mr, r)                                                    \
    case r:                                                                  \
        if (r < mr)                                                          \
            tile(r, k, xi, ldx, panel, yi, ldy, nc);                         \
        break;

PGEMM_DRIVER(pgemm_avx512, "avx512f", tile512, MR512, PGEMM_NR)
PGEMM_DRIVER(pgemm_avx2, "avx2,fma", tile256, MR256, 16)

#endif /* PGEMM_X86 */

void pgemm(const struct pgemm_w *p, enum pgemm_path path, const float *x,
           size_t ldx, size_t rows, float *y, size_t ldy)
{
#ifdef PGEMM_X86
    if (path == PGEMM_AVX512)
        pgemm_avx512(p, x, ldx, rows, y, ldy);
    else if (path == PGEMM_AVX2)
        pgemm_avx2(p, x, ldx, rows, y, ldy);
#else
    (void)p, (void)path, (void)x, (void)ldx, (void)rows, (void)y, (void)ldy;
#endif
}
