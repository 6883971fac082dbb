/* qgemm.c — int8 GEMM kernels (see qgemm.h for the paths and why each is
 * exact).
 *
 * Blocking: the outer loop walks B's panels (QGEMM_NR columns, k4 bytes
 * each: 6 KB at k = 384, small enough for L1/L2), the inner loop blocks of
 * MR = 4 rows of A (8 on AVX-512 VNNI), so each B vector loaded feeds 4
 * (8) rows and each A broadcast feeds the panel's columns.  A block short
 * of rows repeats its first row in the missing slots and stores only the
 * real ones.  The SIMD paths are compiled with target attributes, so the
 * Makefile needs no -march and the binary runs on any x86-64. */
#include "nn/qgemm.h"

#include <stdlib.h>
#include <string.h>

#include "nn/cpu.h"
#include "util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define QGEMM_X86 1
#include <immintrin.h>
#endif

#define MR 4

void qgemm_pack(struct qgemm_b *p, const int8_t *b, size_t n, size_t k,
                size_t ldb)
{
    p->n = n;
    p->k = k;
    p->k4 = qgemm_k4(k);
    p->n_pad = (n + QGEMM_NR - 1) / QGEMM_NR * QGEMM_NR;
    p->data = xcalloc(p->n_pad * p->k4, 1);
    p->col_sum = xcalloc(p->n_pad, sizeof *p->col_sum);
    for (size_t j = 0; j < n; j++) {
        int32_t sum = 0;
        for (size_t kk = 0; kk < k; kk++)
            sum += b[j * ldb + kk];
        p->col_sum[j] = sum;
    }
    /* Written in order: panel, k-group, column, the group's 4 bytes. */
    int8_t *dst = p->data;
    for (size_t j0 = 0; j0 < p->n_pad; j0 += QGEMM_NR)
        for (size_t g = 0; g < p->k4; g += QGEMM_KG)
            for (size_t j = j0; j < j0 + QGEMM_NR; j++, dst += QGEMM_KG)
                if (j < n && g + QGEMM_KG <= k)
                    memcpy(dst, b + j * ldb + g, QGEMM_KG);
                else
                    for (size_t u = 0; j < n && u < QGEMM_KG && g + u < k; u++)
                        dst[u] = b[j * ldb + g + u];
}

void qgemm_b_free(struct qgemm_b *p)
{
    free(p->data);
    free(p->col_sum);
    memset(p, 0, sizeof *p);
}

/* The portable path: the same packed layout, one column at a time. */
static void qgemm_ref(size_t m, const int8_t *a, size_t lda,
                      const struct qgemm_b *p, int32_t *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < p->n; j++) {
            const int8_t *panel = p->data + (j / QGEMM_NR) * p->k4 * QGEMM_NR +
                                  (j % QGEMM_NR) * QGEMM_KG;
            int32_t sum = 0;
            for (size_t g = 0; g < p->k4; g += QGEMM_KG, panel += QGEMM_NR * QGEMM_KG)
                for (size_t u = 0; u < QGEMM_KG; u++)
                    sum += (int32_t)a[i * lda + g + u] * panel[u];
            c[i * ldc + j] = sum;
        }
}

#ifdef QGEMM_X86

/* The 4 bytes a[g..g+3] as one int32 lane value. */
static inline int32_t load4(const int8_t *a)
{
    int32_t v;
    memcpy(&v, a, sizeof v);
    return v;
}

/* Row pointers of the block starting at row i (missing rows: row i). */
static inline size_t block_rows(size_t m, size_t i, const int8_t *a,
                                size_t lda, const int8_t *rows[MR])
{
    size_t mr = m - i < MR ? m - i : MR;
    for (size_t r = 0; r < MR; r++)
        rows[r] = a + (i + (r < mr ? r : 0)) * lda;
    return mr;
}

#define T512 __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* Stores a tile row's valid columns: the int32 sums, or with ep their
 * scaled floats (float(sum) * (sa * scale[j]), as qgemm_scaled says). */
T512 static inline void store_avx512(int32_t *c, const struct qgemm_scale *ep,
                                     size_t i, size_t j, __mmask16 mask,
                                     __m512i v)
{
    if (!ep) {
        _mm512_mask_storeu_epi32(c + j, mask, v);
        return;
    }
    __m512 s = _mm512_mul_ps(_mm512_set1_ps(ep->sa[i]),
                             _mm512_maskz_loadu_ps(mask, ep->scale + j));
    _mm512_mask_storeu_ps(ep->y + i * ep->ldy + j, mask,
                          _mm512_mul_ps(_mm512_cvtepi32_ps(v), s));
}

/* Two panels (32 columns) by 2 MR rows per block: 16 accumulators (8 left
 * vpdpbusd's latency showing: 13% slower), two B loads and 8 broadcasts
 * per k-group for 16 vpdpbusd.  An odd last panel is paired with itself
 * and stored once; a block of 4 rows or fewer repeats its first row in
 * the slots past them (rows stored: only the real ones).  a is already
 * offset (+128).  With ep the sums are scaled into ep->y as they leave the
 * registers (C never goes through memory), else stored in c. */
T512 static void qgemm_avx512_vnni(size_t m, const int8_t *a, size_t lda,
                                   const struct qgemm_b *p, int32_t *c,
                                   size_t ldc, const struct qgemm_scale *ep)
{
    size_t n_panels = p->n_pad / QGEMM_NR;
    for (size_t pn = 0; pn < n_panels; pn += 2) {
        size_t pn1 = pn + 1 < n_panels ? pn + 1 : pn;
        const int8_t *panel0 = p->data + pn * QGEMM_NR * p->k4;
        const int8_t *panel1 = p->data + pn1 * QGEMM_NR * p->k4;
        size_t j0 = pn * QGEMM_NR, j1 = pn1 * QGEMM_NR;
        size_t valid0 = p->n - j0 < QGEMM_NR ? p->n - j0 : QGEMM_NR;
        size_t valid1 = pn1 == pn ? 0 : p->n - j1 < QGEMM_NR ? p->n - j1 : QGEMM_NR;
        __mmask16 mask0 = (__mmask16)((1u << valid0) - 1);
        __mmask16 mask1 = (__mmask16)((1u << valid1) - 1);
        /* 128 * column sums, the offset's contribution */
        __m512i corr0 = _mm512_slli_epi32(
            _mm512_loadu_si512((const void *)(p->col_sum + j0)), 7);
        __m512i corr1 = _mm512_slli_epi32(
            _mm512_loadu_si512((const void *)(p->col_sum + j1)), 7);
        for (size_t i = 0; i < m; i += 2 * MR) {
            const int8_t *r[2 * MR];
            size_t mr = block_rows(m, i, a, lda, r);
            if (mr == MR && i + MR < m)
                mr += block_rows(m, i + MR, a, lda, r + MR);
            else
                for (size_t u = MR; u < 2 * MR; u++)
                    r[u] = r[0];
            __m512i x0 = _mm512_setzero_si512(), x1 = x0, x2 = x0, x3 = x0;
            __m512i x4 = x0, x5 = x0, x6 = x0, x7 = x0;
            __m512i y0 = x0, y1 = x0, y2 = x0, y3 = x0;
            __m512i y4 = x0, y5 = x0, y6 = x0, y7 = x0;
            const int8_t *b0p = panel0, *b1p = panel1;
            for (size_t g = 0; g < p->k4; g += QGEMM_KG,
                        b0p += QGEMM_NR * QGEMM_KG, b1p += QGEMM_NR * QGEMM_KG) {
                __m512i b0 = _mm512_loadu_si512((const void *)b0p);
                __m512i b1 = _mm512_loadu_si512((const void *)b1p);
#define ROW2(u)                                                              \
    do {                                                                     \
        __m512i au = _mm512_set1_epi32(load4(r[u] + g));                     \
        x##u = _mm512_dpbusd_epi32(x##u, au, b0);                            \
        y##u = _mm512_dpbusd_epi32(y##u, au, b1);                            \
    } while (0)
                ROW2(0); ROW2(1); ROW2(2); ROW2(3);
                ROW2(4); ROW2(5); ROW2(6); ROW2(7);
#undef ROW2
            }
            __m512i xs[2 * MR] = {x0, x1, x2, x3, x4, x5, x6, x7},
                    ys[2 * MR] = {y0, y1, y2, y3, y4, y5, y6, y7};
            for (size_t u = 0; u < mr; u++) {
                int32_t *row = ep ? NULL : c + (i + u) * ldc;
                store_avx512(row, ep, i + u, j0, mask0,
                             _mm512_sub_epi32(xs[u], corr0));
                if (valid1)
                    store_avx512(row, ep, i + u, j1, mask1,
                                 _mm512_sub_epi32(ys[u], corr1));
            }
        }
    }
}

/* Stores the valid columns of a 16-column row held as two 8-lane halves. */
__attribute__((target("avx2"))) static inline void
store16(int32_t *dst, __m256i lo, __m256i hi, size_t valid)
{
    if (valid == QGEMM_NR) {
        _mm256_storeu_si256((__m256i *)dst, lo);
        _mm256_storeu_si256((__m256i *)(dst + 8), hi);
        return;
    }
    int32_t tmp[QGEMM_NR];
    _mm256_storeu_si256((__m256i *)tmp, lo);
    _mm256_storeu_si256((__m256i *)(tmp + 8), hi);
    memcpy(dst, tmp, valid * sizeof *dst);
}

/* The 8-lane paths share the loop; STEP(acc, a4, b) adds one k-group. */
#define QGEMM_256(NAME, TARGET, PREP, STEP, FINISH)                            \
    TARGET static void NAME(size_t m, const int8_t *a, size_t lda,             \
                            const struct qgemm_b *p, int32_t *c, size_t ldc)   \
    {                                                                          \
        PREP;                                                                  \
        for (size_t j0 = 0; j0 < p->n; j0 += QGEMM_NR) {                       \
            const int8_t *panel = p->data + j0 * p->k4;                        \
            size_t valid = p->n - j0 < QGEMM_NR ? p->n - j0 : QGEMM_NR;        \
            __m256i corr_lo = _mm256_slli_epi32(                               \
                _mm256_loadu_si256((const __m256i *)(p->col_sum + j0)), 7);    \
            __m256i corr_hi = _mm256_slli_epi32(                               \
                _mm256_loadu_si256((const __m256i *)(p->col_sum + j0 + 8)), 7);\
            (void)corr_lo;                                                     \
            (void)corr_hi;                                                     \
            for (size_t i = 0; i < m; i += MR) {                               \
                const int8_t *r[MR];                                           \
                size_t mr = block_rows(m, i, a, lda, r);                       \
                __m256i lo[MR], hi[MR];                                        \
                for (size_t u = 0; u < MR; u++)                                \
                    lo[u] = hi[u] = _mm256_setzero_si256();                    \
                const int8_t *bp = panel;                                      \
                for (size_t g = 0; g < p->k4;                                  \
                     g += QGEMM_KG, bp += QGEMM_NR * QGEMM_KG) {               \
                    __m256i b_lo = _mm256_loadu_si256((const __m256i *)bp);    \
                    __m256i b_hi =                                             \
                        _mm256_loadu_si256((const __m256i *)(bp + 32));        \
                    for (size_t u = 0; u < MR; u++) {                          \
                        __m256i a4 = _mm256_set1_epi32(load4(r[u] + g));       \
                        STEP(lo[u], a4, b_lo);                                 \
                        STEP(hi[u], a4, b_hi);                                 \
                    }                                                          \
                }                                                              \
                for (size_t u = 0; u < mr; u++)                                \
                    store16(c + (i + u) * ldc + j0, FINISH(lo[u], corr_lo),    \
                            FINISH(hi[u], corr_hi), valid);                    \
            }                                                                  \
        }                                                                      \
    }

/* AVX-VNNI: a + 128 (offset by qgemm_prepare_a) as u8 times b, less
 * 128 * column sum at the end. */
#define VNNI_PREP (void)0
#define VNNI_STEP(acc, a4, b) acc = _mm256_dpbusd_avx_epi32(acc, a4, b)
#define VNNI_FINISH(acc, corr) _mm256_sub_epi32(acc, corr)
QGEMM_256(qgemm_avx_vnni, __attribute__((target("avx2,avxvnni"))), VNNI_PREP,
          VNNI_STEP, VNNI_FINISH)

/* AVX2: |a| times sign(b, a) in s16 pairs (never saturating, qgemm.h),
 * then pairs of pairs into s32; no offset, no correction. */
#define AVX2_PREP const __m256i ones = _mm256_set1_epi16(1)
#define AVX2_STEP(acc, a4, b)                                                  \
    acc = _mm256_add_epi32(                                                    \
        acc, _mm256_madd_epi16(                                                \
                 _mm256_maddubs_epi16(_mm256_sign_epi8(a4, a4),                \
                                      _mm256_sign_epi8(b, a4)),                \
                 ones))
#define AVX2_FINISH(acc, corr) (acc)
QGEMM_256(qgemm_avx2, __attribute__((target("avx2"))), AVX2_PREP, AVX2_STEP,
          AVX2_FINISH)

/* AVX-VNNI needs the YMM state AVX2 already needs. */
static int has_avx_vnni(void)
{
    return __builtin_cpu_supports("avx2") && cpu_leaf7_1_eax(4);
}
#endif

/* a ^= 0x80 over n bytes: 32 at a time on AVX2, 8 at a time elsewhere (the
 * byte loop compiled at -O2 cost 5% of an int8 forward). */
#ifdef QGEMM_X86
__attribute__((target("avx2"))) static void flip_avx2(int8_t *a, size_t n)
{
    const __m256i top = _mm256_set1_epi8((char)0x80);
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(a + j));
        _mm256_storeu_si256((__m256i *)(a + j), _mm256_xor_si256(v, top));
    }
    for (; j < n; j++)
        a[j] = (int8_t)((uint8_t)a[j] ^ 0x80u);
}
#endif

static void flip_c(int8_t *a, size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        uint64_t v;
        memcpy(&v, a + j, sizeof v);
        v ^= 0x8080808080808080u;
        memcpy(a + j, &v, sizeof v);
    }
    for (; j < n; j++)
        a[j] = (int8_t)((uint8_t)a[j] ^ 0x80u);
}

void qgemm_prepare_a(enum qgemm_path path, int8_t *a, size_t m, size_t k4,
                     size_t lda)
{
    if (path != QGEMM_AVX512_VNNI && path != QGEMM_AVX_VNNI)
        return;
    /* both VNNI paths imply AVX2 */
    void (*flip)(int8_t *, size_t) = flip_c;
#ifdef QGEMM_X86
    flip = flip_avx2;
#endif
    if (lda == k4)
        flip(a, m * k4);
    else
        for (size_t i = 0; i < m; i++)
            flip(a + i * lda, k4);
}

int qgemm_available(enum qgemm_path path)
{
#ifdef QGEMM_X86
    __builtin_cpu_init();
    switch (path) {
    case QGEMM_REF:
        return 1;
    case QGEMM_AVX2:
        return __builtin_cpu_supports("avx2") != 0;
    case QGEMM_AVX_VNNI:
        return has_avx_vnni();
    case QGEMM_AVX512_VNNI:
        return __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
    default:
        return 0;
    }
#else
    return path == QGEMM_REF;
#endif
}

static const char *const path_names[QGEMM_N_PATHS] = {
    [QGEMM_REF] = "ref", [QGEMM_AVX2] = "avx2", [QGEMM_AVX_VNNI] = "avx-vnni",
    [QGEMM_AVX512_VNNI] = "avx512-vnni"};

enum qgemm_path qgemm_best(void)
{
    static const enum qgemm_path order[] = {QGEMM_AVX512_VNNI, QGEMM_AVX_VNNI,
                                            QGEMM_AVX2};
    int p = cpu_forced_path("RERANK_QGEMM", path_names, QGEMM_N_PATHS);
    if (p >= 0 && qgemm_available((enum qgemm_path)p))
        return (enum qgemm_path)p;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (qgemm_available(order[i]))
            return order[i];
    return QGEMM_REF;
}

const char *qgemm_path_name(enum qgemm_path path)
{
    return (unsigned)path < QGEMM_N_PATHS ? path_names[path] : "?";
}

void qgemm(enum qgemm_path path, size_t m, const int8_t *a, size_t lda,
           const struct qgemm_b *p, int32_t *c, size_t ldc)
{
    switch (path) {
#ifdef QGEMM_X86
    case QGEMM_AVX512_VNNI:
        qgemm_avx512_vnni(m, a, lda, p, c, ldc, NULL);
        return;
    case QGEMM_AVX_VNNI:
        qgemm_avx_vnni(m, a, lda, p, c, ldc);
        return;
    case QGEMM_AVX2:
        qgemm_avx2(m, a, lda, p, c, ldc);
        return;
#endif
    default:
        qgemm_ref(m, a, lda, p, c, ldc);
    }
}

bool qgemm_scaled(enum qgemm_path path, size_t m, const int8_t *a, size_t lda,
                  const struct qgemm_b *p, const struct qgemm_scale *ep)
{
#ifdef QGEMM_X86
    if (path == QGEMM_AVX512_VNNI) {
        qgemm_avx512_vnni(m, a, lda, p, NULL, 0, ep);
        return true;
    }
#endif
    (void)m, (void)a, (void)lda, (void)p, (void)ep;
    return false;
}
