/* attention.c — see attention.h.
 *
 * Scratch: kt (d, nkp), the head's keys transposed, columns past nk zero;
 * then p (ATTENTION_ROWS, nkp), a block's scores and then their
 * exponentials (the softmax's division is left to the output row).
 * A score tile keeps MR rows x NV vectors of keys in registers for the
 * whole of d (broadcasting q[i][c], one load of kt row c per vector); a
 * product tile keeps MR rows x NV vectors of the head's d columns for the
 * whole of nk (broadcasting e[i][j], one load of v row j per vector).  A
 * tile of fewer rows or vectors is the same code with fewer; both paths
 * are compiled with target attributes (as nn/pgemm.c), so the Makefile
 * needs no -m flags. */
#include "nn/attention.h"
#include "nn/cpu.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The x86 paths with GCC only: clang 14 spends minutes on their
 * specialised tiles (and the project builds with cc; clang builds only
 * the fuzzers, which then take the portable path or sgemm). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define ATTENTION_X86 1
#endif

/* The vector helpers of nn/vmath.h (exp) on 8 lanes for the portable
 * path and, with GCC on x86, for the AVX2 one, and on 16 lanes for the
 * AVX-512 one.  They are lane-wise and every build fuses its multiply-adds
 * (the portable one lane by lane with fmaf, the others with the set's
 * instruction), so a lane's bits are the same on every path.  The vectors
 * only live inside inlined helpers, so the calling-convention warning
 * concerns no call. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#define INLINE static inline __attribute__((always_inline))

typedef float af8 __attribute__((vector_size(32)));
typedef int32_t ai8 __attribute__((vector_size(32)));

/* a * b + c rounded once, lane by lane. */
INLINE af8 fma_lanes(af8 a, af8 b, af8 c)
{
    af8 r;
    for (int l = 0; l < 8; l++)
        r[l] = fmaf(a[l], b[l], c[l]);
    return r;
}

#define VF af8
#define VI ai8
#define SFX
#define VFMA(a, b, c) fma_lanes(a, b, c)
#include "nn/vmath.h"
#undef VF
#undef VI
#undef SFX
#undef VFMA

#ifdef ATTENTION_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define VF af8
#define VI ai8
#define SFX _fma
#define VFMA(a, b, c)                                                        \
    ((af8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#include "nn/vmath.h"
#undef VF
#undef VI
#undef SFX
#undef VFMA
#pragma GCC pop_options

#define ATTENTION_V16 1
typedef float af16 __attribute__((vector_size(64)));
typedef int32_t ai16 __attribute__((vector_size(64)));
#pragma GCC push_options
#pragma GCC target("avx512f")
#define VF af16
#define VI ai16
#define SFX 16
#define VFMA(a, b, c)                                                        \
    ((af16)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#include "nn/vmath.h"
#undef VF
#undef VI
#undef SFX
#undef VFMA
#pragma GCC pop_options
#endif

/* v's lanes in the order given (indices of v's lanes). */
#ifdef __clang__
#define SHUF8(v, a, b, c, d, e, f, g, h)                                     \
    __builtin_shufflevector(v, v, a, b, c, d, e, f, g, h)
#else
#define SHUF8(v, a, b, c, d, e, f, g, h)                                     \
    __builtin_shuffle(v, (ai8){a, b, c, d, e, f, g, h})
#endif

/* The sum of 16 partial sums s[l] (lanes l and l + 8 of a 16-lane sum
 * given as its halves lo and hi), in one fixed tree:
 *     v = lo + hi, ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
 * computed with shuffles. */
INLINE float sum16(af8 lo, af8 hi)
{
    af8 v = lo + hi;
    af8 w = v + SHUF8(v, 4, 5, 6, 7, 0, 1, 2, 3);
    af8 x = w + SHUF8(w, 1, 0, 3, 2, 5, 4, 7, 6);
    return x[0] + x[2];
}

/* The largest lane (exact in any order). */
INLINE float hmax8(af8 v)
{
    v = vmax(v, SHUF8(v, 4, 5, 6, 7, 0, 1, 2, 3));
    v = vmax(v, SHUF8(v, 2, 3, 0, 1, 6, 7, 4, 5));
    v = vmax(v, SHUF8(v, 1, 0, 3, 2, 5, 4, 7, 6));
    return v[0];
}

/* Softmax of one row of scores p[0..nk), nkp (a multiple of 16) floats:
 * p[j] = exp(p[j] - max) (nn/vmath.h's vexp), 0 past nk; returns
 * 1 / sum, the sum of 16 partial sums (over j = l mod 16, ascending j)
 * added by sum16.  8 lanes at a time, with the exp of the suffix S: the
 * portable one (softmax_row8) or the AVX2 one (softmax_row8_fma), the
 * same bits. */
#define SOFTMAX_ROW8(name, S)                                                \
    INLINE float name(float *p, size_t nk, size_t nkp)                       \
    {                                                                        \
        const ai8 lane = {0, 1, 2, 3, 4, 5, 6, 7};                           \
        size_t full = nk / 8 * 8; /* then at most one ragged vector */       \
        af8 vm = vsplat##S(-INFINITY);                                       \
        for (size_t j = 0; j < full; j += 8)                                 \
            vm = vmax##S(vm, vload##S(p + j));                               \
        if (full < nk)                                                       \
            vm = vmax##S(vm, vselect##S(lane + (int32_t)full < (int32_t)nk,  \
                                        vload##S(p + full),                  \
                                        vsplat##S(-INFINITY)));              \
        float m = hmax8(vm);                                                 \
        af8 s[2] = {vsplat##S(0.0f), vsplat##S(0.0f)}, vmx = vsplat##S(m);   \
        for (size_t j = 0; j < full; j += 8) {                               \
            af8 e = vexp##S(vload##S(p + j) - vmx);                          \
            vstore##S(p + j, e);                                             \
            s[j / 8 % 2] += e;                                               \
        }                                                                    \
        for (size_t j = full; j < nkp; j += 8) {                             \
            af8 e = vselect##S(lane + (int32_t)j < (int32_t)nk,              \
                               vexp##S(vload##S(p + j) - vmx),               \
                               vsplat##S(0.0f));                             \
            vstore##S(p + j, e);                                             \
            s[j / 8 % 2] += e;                                               \
        }                                                                    \
        return 1.0f / sum16(s[0], s[1]);                                     \
    }

SOFTMAX_ROW8(softmax_row8, )
#ifdef ATTENTION_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
SOFTMAX_ROW8(softmax_row8_fma, _fma)
#pragma GCC pop_options
#endif

#ifdef ATTENTION_V16
/* softmax_row8 16 lanes at a time: the same bits (the max is exact in any
 * order; the sum is sum16's tree in registers). */
__attribute__((target("avx512f"))) INLINE float
softmax_row16(float *p, size_t nk, size_t nkp)
{
    const ai16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    size_t full = nk / 16 * 16; /* then at most one ragged vector */
    af16 vm = vsplat16(-INFINITY);
    for (size_t j = 0; j < full; j += 16)
        vm = vmax16(vm, vload16(p + j));
    if (full < nk)
        vm = vmax16(vm, vselect16(lane + (int32_t)full < (int32_t)nk,
                                  vload16(p + full), vsplat16(-INFINITY)));
    float m = _mm512_reduce_max_ps((__m512)vm);
    af16 s = vsplat16(0.0f), vmx = vsplat16(m);
    for (size_t j = 0; j < full; j += 16) {
        af16 e = vexp16(vload16(p + j) - vmx);
        vstore16(p + j, e);
        s += e;
    }
    if (full < nk) {
        af16 e = vselect16(lane + (int32_t)full < (int32_t)nk,
                           vexp16(vload16(p + full) - vmx), vsplat16(0.0f));
        vstore16(p + full, e);
        s += e;
    }
    __m512 z = (__m512)s;
    __m256 v = _mm256_add_ps(_mm512_castps512_ps256(z),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(
                                 _mm512_castps_pd(z), 1)));
    __m128 w = _mm_add_ps(_mm256_castps256_ps128(v),
                          _mm256_extractf128_ps(v, 1));
    __m128 x = _mm_add_ps(w, _mm_shuffle_ps(w, w, 0xb1)); /* w0+w1, w2+w3 */
    return 1.0f / _mm_cvtss_f32(_mm_add_ss(x, _mm_movehl_ps(x, x)));
}
#else
#define softmax_row16 softmax_row8
#endif

static size_t pad_keys(size_t nk)
{
    return (nk + ATTENTION_PAD - 1) / ATTENTION_PAD * ATTENTION_PAD;
}

bool attention_available(enum attention_path path)
{
    if (path == ATTENTION_NONE || path == ATTENTION_REF)
        return true;
#ifdef ATTENTION_X86
    /* libgcc reports AVX-512 and AVX only when the OS saves the registers. */
    __builtin_cpu_init();
    if (path == ATTENTION_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (path == ATTENTION_AVX512)
        return __builtin_cpu_supports("avx512f");
#endif
    return false;
}

static const char *const path_names[ATTENTION_N_PATHS] = {
    [ATTENTION_NONE] = "none", [ATTENTION_REF] = "ref",
    [ATTENTION_AVX2] = "avx2", [ATTENTION_AVX512] = "avx512"};

const char *attention_path_name(enum attention_path path)
{
    return (unsigned)path < ATTENTION_N_PATHS ? path_names[path] : "?";
}

enum attention_path attention_best(void)
{
    int p = cpu_forced_path("RERANK_ATTENTION", path_names, ATTENTION_N_PATHS);
    if (p >= 0 && attention_available((enum attention_path)p))
        return (enum attention_path)p;
    if (attention_available(ATTENTION_AVX512))
        return ATTENTION_AVX512;
    if (attention_available(ATTENTION_AVX2))
        return ATTENTION_AVX2;
#ifdef __FP_FAST_FMAF
    return ATTENTION_REF;
#else
    return ATTENTION_NONE;
#endif
}

size_t attention_scratch(size_t nq, size_t nk, size_t d)
{
    (void)nq;
    return (2 * d + ATTENTION_ROWS) * pad_keys(nk);
}

/* kt(d, nkp) = k(nk, d)^T, columns nk..nkp-1 zero. */
static void transpose_keys(size_t nk, size_t d, const float *k, size_t ldk,
                           float *kt, size_t nkp)
{
    for (size_t j = 0; j < nk; j++)
        for (size_t c = 0; c < d; c++)
            kt[c * nkp + j] = k[j * ldk + c];
    for (size_t c = 0; c < d; c++)
        memset(kt + c * nkp + nk, 0, (nkp - nk) * sizeof *kt);
}

/* The portable path, in the documented orders. */
static void scores_ref(size_t rows, size_t nkp, size_t d, float scale,
                       const float *q, size_t ldq, const float *kt, float *p)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < nkp; j++) {
            float s = 0.0f;
            for (size_t c = 0; c < d; c++)
                s = fmaf(q[i * ldq + c], kt[c * nkp + j], s);
            p[i * nkp + j] = s * scale;
        }
}

static void values_ref(size_t rows, size_t nk, size_t d, const float *p,
                       size_t ldp, const float *inv, const float *v,
                       size_t ldv, float *out, size_t ldo)
{
    for (size_t i = 0; i < rows; i++) {
        float *o = out + i * ldo;
        for (size_t c = 0; c < d; c++)
            o[c] = 0.0f;
        for (size_t j = 0; j < nk; j++) {
            float pij = p[i * ldp + j];
            for (size_t c = 0; c < d; c++)
                o[c] = fmaf(pij, v[j * ldv + c], o[c]);
        }
        for (size_t c = 0; c < d; c++)
            o[c] *= inv[i];
    }
}

#ifdef ATTENTION_X86

#define T512 __attribute__((target("avx512f"), always_inline)) static inline
#define T256 __attribute__((target("avx2,fma"), always_inline)) static inline

/* AVX-512 score tile: mr rows x nv vectors of 16 keys, mr <= 6 or, with
 * nv <= 2, mr <= 12 (at most 24 sums). */
#define SMR512 12
#define SNV512 4

T512 void scores512(size_t mr, size_t nv, size_t d, float scale,
                    const float *q, size_t ldq, const float *kt, size_t nkp,
                    float *p)
{
    __m512 c[SMR512][SNV512];
#pragma GCC unroll 12
    for (size_t i = 0; i < SMR512; i++)
#pragma GCC unroll 4
        for (size_t u = 0; u < SNV512; u++)
            if (i < mr && u < nv)
                c[i][u] = _mm512_setzero_ps();
    for (size_t cc = 0; cc < d; cc++, kt += nkp) {
        __m512 b[SNV512];
#pragma GCC unroll 4
        for (size_t u = 0; u < SNV512; u++)
            if (u < nv)
                b[u] = _mm512_loadu_ps(kt + 16 * u);
#pragma GCC unroll 12
        for (size_t i = 0; i < SMR512; i++)
            if (i < mr) {
                __m512 a = _mm512_set1_ps(q[i * ldq + cc]);
#pragma GCC unroll 4
                for (size_t u = 0; u < SNV512; u++)
                    if (u < nv)
                        c[i][u] = _mm512_fmadd_ps(a, b[u], c[i][u]);
            }
    }
    __m512 s = _mm512_set1_ps(scale);
#pragma GCC unroll 12
    for (size_t i = 0; i < SMR512; i++)
#pragma GCC unroll 4
        for (size_t u = 0; u < SNV512; u++)
            if (i < mr && u < nv)
                _mm512_storeu_ps(p + i * nkp + 16 * u,
                                 _mm512_mul_ps(c[i][u], s));
}

/* AVX-512 product tile: mr rows x nv vectors of 16 of the head's columns,
 * the last one masked by last; mr <= 6 or, with nv <= 2, mr <= 12. */
#define VMR512 12
#define VNV512 4

T512 void values512(size_t mr, size_t nv, __mmask16 last, size_t nk,
                    const float *p, size_t ldp, const float *inv,
                    const float *v, size_t ldv, float *out, size_t ldo)
{
    __m512 c[VMR512][VNV512];
    __mmask16 m[VNV512];
#pragma GCC unroll 4
    for (size_t u = 0; u < VNV512; u++)
        m[u] = u + 1 < nv ? 0xffff : last;
#pragma GCC unroll 12
    for (size_t i = 0; i < VMR512; i++)
#pragma GCC unroll 4
        for (size_t u = 0; u < VNV512; u++)
            if (i < mr && u < nv)
                c[i][u] = _mm512_setzero_ps();
    for (size_t j = 0; j < nk; j++, v += ldv) {
        __m512 b[VNV512];
#pragma GCC unroll 4
        for (size_t u = 0; u < VNV512; u++)
            if (u < nv)
                b[u] = _mm512_maskz_loadu_ps(m[u], v + 16 * u);
#pragma GCC unroll 12
        for (size_t i = 0; i < VMR512; i++)
            if (i < mr) {
                __m512 a = _mm512_set1_ps(p[i * ldp + j]);
#pragma GCC unroll 4
                for (size_t u = 0; u < VNV512; u++)
                    if (u < nv)
                        c[i][u] = _mm512_fmadd_ps(a, b[u], c[i][u]);
            }
    }
#pragma GCC unroll 12
    for (size_t i = 0; i < VMR512; i++)
#pragma GCC unroll 4
        for (size_t u = 0; u < VNV512; u++)
            if (i < mr && u < nv)
                _mm512_mask_storeu_ps(
                    out + i * ldo + 16 * u, m[u],
                    _mm512_mul_ps(c[i][u], _mm512_set1_ps(inv[i])));
}

/* AVX2 score tile: mr (<= 4) rows x nv (<= 3) vectors of 8 keys. */
#define SMR256 4
#define SNV256 3

T256 void scores256(size_t mr, size_t nv, size_t d, float scale,
                    const float *q, size_t ldq, const float *kt, size_t nkp,
                    float *p)
{
    __m256 c[SMR256][SNV256];
#pragma GCC unroll 4
    for (size_t i = 0; i < SMR256; i++)
#pragma GCC unroll 3
        for (size_t u = 0; u < SNV256; u++)
            if (i < mr && u < nv)
                c[i][u] = _mm256_setzero_ps();
    for (size_t cc = 0; cc < d; cc++, kt += nkp) {
        __m256 b[SNV256];
#pragma GCC unroll 3
        for (size_t u = 0; u < SNV256; u++)
            if (u < nv)
                b[u] = _mm256_loadu_ps(kt + 8 * u);
#pragma GCC unroll 4
        for (size_t i = 0; i < SMR256; i++)
            if (i < mr) {
                __m256 a = _mm256_broadcast_ss(q + i * ldq + cc);
#pragma GCC unroll 3
                for (size_t u = 0; u < SNV256; u++)
                    if (u < nv)
                        c[i][u] = _mm256_fmadd_ps(a, b[u], c[i][u]);
            }
    }
    __m256 s = _mm256_set1_ps(scale);
#pragma GCC unroll 4
    for (size_t i = 0; i < SMR256; i++)
#pragma GCC unroll 3
        for (size_t u = 0; u < SNV256; u++)
            if (i < mr && u < nv)
                _mm256_storeu_ps(p + i * nkp + 8 * u,
                                 _mm256_mul_ps(c[i][u], s));
}

/* AVX2 product tile: mr (<= 3) rows x nv (<= 4) vectors of 8 of the
 * head's columns; with ragged, the last one is loaded and stored under
 * mask last (lanes with the sign bit set). */
#define VMR256 3
#define VNV256 4

T256 void values256(size_t mr, size_t nv, bool ragged, __m256i last,
                    size_t nk, const float *p, size_t ldp, const float *inv,
                    const float *v, size_t ldv, float *out, size_t ldo)
{
    __m256 c[VMR256][VNV256];
#pragma GCC unroll 3
    for (size_t i = 0; i < VMR256; i++)
#pragma GCC unroll 4
        for (size_t u = 0; u < VNV256; u++)
            if (i < mr && u < nv)
                c[i][u] = _mm256_setzero_ps();
    for (size_t j = 0; j < nk; j++, v += ldv) {
        __m256 b[VNV256];
#pragma GCC unroll 4
        for (size_t u = 0; u < VNV256; u++)
            if (u < nv)
                b[u] = ragged && u + 1 == nv
                           ? _mm256_maskload_ps(v + 8 * u, last)
                           : _mm256_loadu_ps(v + 8 * u);
#pragma GCC unroll 3
        for (size_t i = 0; i < VMR256; i++)
            if (i < mr) {
                __m256 a = _mm256_broadcast_ss(p + i * ldp + j);
#pragma GCC unroll 4
                for (size_t u = 0; u < VNV256; u++)
                    if (u < nv)
                        c[i][u] = _mm256_fmadd_ps(a, b[u], c[i][u]);
            }
    }
#pragma GCC unroll 3
    for (size_t i = 0; i < VMR256; i++)
#pragma GCC unroll 4
        for (size_t u = 0; u < VNV256; u++)
            if (i < mr && u < nv) {
                __m256 o = _mm256_mul_ps(c[i][u], _mm256_set1_ps(inv[i]));
                if (ragged && u + 1 == nv)
                    _mm256_maskstore_ps(out + i * ldo + 8 * u, last, o);
                else
                    _mm256_storeu_ps(out + i * ldo + 8 * u, o);
            }
}

/* kt(d, nkp) = k(nk, d)^T, columns nk..nkp-1 zero, in 8 x 8 blocks
 * transposed in registers (nkp is a multiple of 8). */
__attribute__((target("avx2"))) static void
transpose_keys256(size_t nk, size_t d, const float *k, size_t ldk, float *kt,
                  size_t nkp)
{
    for (size_t c = 0; c < d; c += 8) {
        size_t nc = d - c < 8 ? d - c : 8;
        __m256i mask = _mm256_cmpgt_epi32(
            _mm256_set1_epi32((int)nc), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (size_t j = 0; j < nkp; j += 8) {
            __m256 r[8], t[8];
#pragma GCC unroll 8
            for (size_t i = 0; i < 8; i++) {
                const float *row = k + (j + i) * ldk + c;
                r[i] = j + i >= nk ? _mm256_setzero_ps()
                       : nc == 8   ? _mm256_loadu_ps(row)
                                   : _mm256_maskload_ps(row, mask);
            }
#pragma GCC unroll 8
            for (size_t i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
#pragma GCC unroll 8
            for (size_t i = 0; i < 8; i += 4) {
                r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
                r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
                r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
                r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
            }
#pragma GCC unroll 8
            for (size_t i = 0; i < 4; i++) {
                t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
                t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
            }
#pragma GCC unroll 8
            for (size_t i = 0; i < nc; i++)
                _mm256_storeu_ps(kt + (c + i) * nkp + j, t[i]);
        }
    }
}

/* Dispatch of a tile function on constant (mr, nv), so each combination
 * is its own fully unrolled code. */
#define CASE_NV(f, mr, nv, ...)                                              \
    case (mr) * 8 + (nv):                                                    \
        f(mr, nv, __VA_ARGS__);                                              \
        break;
#define CASES_NV4(f, mr, ...)                                                \
    CASE_NV(f, mr, 1, __VA_ARGS__) CASE_NV(f, mr, 2, __VA_ARGS__)            \
    CASE_NV(f, mr, 3, __VA_ARGS__) CASE_NV(f, mr, 4, __VA_ARGS__)
#define CASES_NV2(f, mr, ...)                                                \
    CASE_NV(f, mr, 1, __VA_ARGS__) CASE_NV(f, mr, 2, __VA_ARGS__)
#define CASES_NV3(f, mr, ...)                                                \
    CASE_NV(f, mr, 1, __VA_ARGS__) CASE_NV(f, mr, 2, __VA_ARGS__)            \
    CASE_NV(f, mr, 3, __VA_ARGS__)

__attribute__((target("avx512f"))) static void
block512(size_t rows, size_t nk, size_t nkp, size_t d, float scale,
         const float *q, size_t ldq, const float *kt, float *p,
         const float *v, size_t ldv, float *out, size_t ldo)
{
    /* p(rows, nkp) = scale * q kt */
    for (size_t j = 0; j < nkp; j += 16 * SNV512) {
        size_t nv = (nkp - j) / 16 < SNV512 ? (nkp - j) / 16 : SNV512;
        size_t tile = nv <= 2 ? 12 : 6;
        for (size_t i = 0; i < rows; i += tile) {
            size_t mr = rows - i < tile ? rows - i : tile;
            const float *qi = q + i * ldq, *ktj = kt + j;
            float *pij = p + i * nkp + j;
            switch (mr * 8 + nv) {
                CASES_NV4(scores512, 1, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV4(scores512, 2, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV4(scores512, 3, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV4(scores512, 4, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV4(scores512, 5, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV4(scores512, 6, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV2(scores512, 7, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV2(scores512, 8, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV2(scores512, 9, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV2(scores512, 10, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV2(scores512, 11, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV2(scores512, 12, d, scale, qi, ldq, ktj, nkp, pij)
            default:
                break;
            }
        }
    }
    float inv[ATTENTION_ROWS];
    for (size_t i = 0; i < rows; i++)
        inv[i] = softmax_row16(p + i * nkp, nk, nkp);
    /* out(rows, d) = p v / sum */
    for (size_t c = 0; c < d; c += 16 * VNV512) {
        size_t left = d - c;
        size_t nv = left >= 16 * VNV512 ? VNV512 : (left + 15) / 16;
        size_t tail = left - 16 * (nv - 1);
        __mmask16 last = tail >= 16 ? 0xffff : (__mmask16)((1u << tail) - 1);
        size_t tile = nv <= 2 ? 12 : 6;
        for (size_t i = 0; i < rows; i += tile) {
            size_t mr = rows - i < tile ? rows - i : tile;
            const float *pi = p + i * nkp, *vc = v + c;
            float *oi = out + i * ldo + c;
            switch (mr * 8 + nv) {
                CASES_NV4(values512, 1, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV4(values512, 2, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV4(values512, 3, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV4(values512, 4, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV4(values512, 5, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV4(values512, 6, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV2(values512, 7, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV2(values512, 8, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV2(values512, 9, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV2(values512, 10, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV2(values512, 11, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
                CASES_NV2(values512, 12, last, nk, pi, nkp, inv + i, vc, ldv, oi, ldo)
            default:
                break;
            }
        }
    }
}

__attribute__((target("avx2,fma"))) static void
block256(size_t rows, size_t nk, size_t nkp, size_t d, float scale,
         const float *q, size_t ldq, const float *kt, float *p,
         const float *v, size_t ldv, float *out, size_t ldo)
{
    for (size_t j = 0; j < nkp; j += 8 * SNV256) {
        size_t nv = (nkp - j) / 8 < SNV256 ? (nkp - j) / 8 : SNV256;
        for (size_t i = 0; i < rows; i += SMR256) {
            size_t mr = rows - i < SMR256 ? rows - i : SMR256;
            const float *qi = q + i * ldq, *ktj = kt + j;
            float *pij = p + i * nkp + j;
            switch (mr * 8 + nv) {
                CASES_NV3(scores256, 1, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV3(scores256, 2, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV3(scores256, 3, d, scale, qi, ldq, ktj, nkp, pij)
                CASES_NV3(scores256, 4, d, scale, qi, ldq, ktj, nkp, pij)
            default:
                break;
            }
        }
    }
    float inv[ATTENTION_ROWS];
    for (size_t i = 0; i < rows; i++)
        inv[i] = softmax_row8_fma(p + i * nkp, nk, nkp);
    for (size_t c = 0; c < d; c += 8 * VNV256) {
        size_t left = d - c;
        size_t nv = left >= 8 * VNV256 ? VNV256 : (left + 7) / 8;
        size_t tail = left - 8 * (nv - 1);
        bool ragged = tail < 8;
        __m256i last = _mm256_cmpgt_epi32(
            _mm256_set1_epi32((int)tail),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (size_t i = 0; i < rows; i += VMR256) {
            size_t mr = rows - i < VMR256 ? rows - i : VMR256;
            const float *pi = p + i * nkp, *vc = v + c;
            float *oi = out + i * ldo + c;
            if (ragged)
                switch (mr * 8 + nv) {
                    CASES_NV4(values256, 1, true, last, nk, pi, nkp, inv + i, vc, ldv,
                              oi, ldo)
                    CASES_NV4(values256, 2, true, last, nk, pi, nkp, inv + i, vc, ldv,
                              oi, ldo)
                    CASES_NV4(values256, 3, true, last, nk, pi, nkp, inv + i, vc, ldv,
                              oi, ldo)
                default:
                    break;
                }
            else
                switch (mr * 8 + nv) {
                    CASES_NV4(values256, 1, false, last, nk, pi, nkp, inv + i, vc, ldv,
                              oi, ldo)
                    CASES_NV4(values256, 2, false, last, nk, pi, nkp, inv + i, vc, ldv,
                              oi, ldo)
                    CASES_NV4(values256, 3, false, last, nk, pi, nkp, inv + i, vc, ldv,
                              oi, ldo)
                default:
                    break;
                }
        }
    }
}

#endif /* ATTENTION_X86 */

void attention_head(enum attention_path path, size_t nq, size_t nk, size_t d,
                    float scale, const float *q, size_t ldq, const float *k,
                    size_t ldk, const float *v, size_t ldv, float *out,
                    size_t ldo, float *scratch)
{
    size_t nkp = pad_keys(nk);
    float *kt = scratch, *p = scratch + d * nkp; /* (d, nkp), (ROWS, nkp) */
    /* The head's values, contiguous (nk, d): the products then stream
     * them instead of striding across the wide qkv rows. */
    float *vc = p + ATTENTION_ROWS * nkp;
    for (size_t j = 0; j < nk; j++)
        memcpy(vc + j * d, v + j * ldv, d * sizeof *vc);
    v = vc, ldv = d;
#ifdef ATTENTION_X86
    if (path == ATTENTION_AVX512 || path == ATTENTION_AVX2)
        transpose_keys256(nk, d, k, ldk, kt, nkp);
    else
#endif
        transpose_keys(nk, d, k, ldk, kt, nkp);
    for (size_t r = 0; r < nq; r += ATTENTION_ROWS) {
        size_t rows = nq - r < ATTENTION_ROWS ? nq - r : ATTENTION_ROWS;
        const float *qr = q + r * ldq;
        float *outr = out + r * ldo;
        (void)path;
#ifdef ATTENTION_X86
        if (path == ATTENTION_AVX512) {
            block512(rows, nk, nkp, d, scale, qr, ldq, kt, p, v, ldv, outr,
                     ldo);
            continue;
        }
        if (path == ATTENTION_AVX2) {
            block256(rows, nk, nkp, d, scale, qr, ldq, kt, p, v, ldv, outr,
                     ldo);
            continue;
        }
#endif
        float inv[ATTENTION_ROWS];
        scores_ref(rows, nkp, d, scale, qr, ldq, kt, p);
        for (size_t i = 0; i < rows; i++)
            inv[i] = softmax_row8(p + i * nkp, nk, nkp);
        values_ref(rows, nk, d, p, nkp, inv, v, ldv, outr, ldo);
    }
}
