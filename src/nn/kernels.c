/* kernels.c — sgemm wrapper and vectorised row kernels.
 *
 * The row kernels (kernels_rows.h) are written once with GCC/Clang vector
 * extensions and built three times: a portable 8-lane set that vectorises
 * at the Makefile's -O2 without -march, and on x86-64 with GCC an AVX2+FMA
 * set (8 lanes) and an AVX-512+FMA set (16 lanes), one of which is chosen
 * at start-up by CPU feature (not by CPU model: "arch=haswell" would leave
 * AMD Zen on the SSE2 code).  The rarer kernels get an AVX2 clone
 * (target_clones) and stay portable otherwise.  exp and erfc are our own polynomial
 * approximations (about 1 ulp and 2e-7 absolute) because libm's scalar
 * calls would dominate GELU and softmax.  Everything here is a pure function
 * of its row: no state, no allocation, no threads (OpenBLAS owns those). */
#include "nn/kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx2", "default")))
#define KERNELS_X86 1
#else
#define HOT
#endif

void matmul(size_t m, size_t n, size_t k, float alpha, const float *a,
            size_t lda, const float *b, size_t ldb, bool b_trans, float beta,
            float *c, size_t ldc)
{
    /* Row-major throughout: A is (m,k) with row stride lda, C is (m,n) with
     * row stride ldc; B is (n,k) read transposed when b_trans (weights as
     * PyTorch stores them), else (k,n). */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b_trans ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta,
                c, (int)ldc);
}

/* The vectors only ever live inside inlined helpers, so the warning that
 * their calling convention differs with and without AVX concerns calls
 * that never exist. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define INLINE static inline __attribute__((always_inline))

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#define VL 8

/* The sum of 8 lanes, one tree for every set:
 * ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)). */
INLINE float hsum8(v8f v)
{
    float t0 = v[0] + v[4], t1 = v[1] + v[5], t2 = v[2] + v[6],
          t3 = v[3] + v[7];
    return (t0 + t2) + (t1 + t3);
}

/* One set of row kernels (kernels_rows.h), per instruction set. */
struct row_kernels {
    void (*add_bias)(float *, const float *, size_t, size_t);
    void (*bias_gelu)(float *, const float *, size_t, size_t);
    void (*layernorm)(float *, const float *, const float *, size_t, size_t,
                      float);
    void (*residual_layernorm)(float *, const float *, const float *,
                               const float *, const float *, size_t, size_t,
                               float);
    void (*gelu_gate)(float *, size_t, size_t);
    void (*silu_gate)(float *, size_t, size_t);
    void (*softmax_rows)(float *, size_t, size_t);
};

/* The portable set: 8 lanes, a * b + c rounded twice.  GCC lowers it to
 * SSE2 on any x86-64, and its HOT callers below also get an AVX2 clone. */
#define VF v8f
#define VI v8i
#define SFX _c
#define VFMA(a, b, c) ((a) * (b) + (c))
#include "nn/vmath.h"
#include "nn/kernels_rows.h"
#undef VF
#undef VI
#undef SFX
#undef VFMA

/* The x86 sets, compiled for their instruction sets by pragma (the
 * Makefile needs no -m flags) and chosen at start-up by CPU feature: AVX2
 * with FMA on 8 lanes, AVX-512 with FMA on 16.  Both round a * b + c once,
 * so, the kernels being lane-wise but for the horizontal sums, GELU and
 * the gated activations give the same bits on either; LayerNorm and
 * softmax sum their lanes in a different order. */
#ifdef KERNELS_X86
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define VF v8f
#define VI v8i
#define SFX _avx2
#define VFMA(a, b, c) ((v8f)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define VLOADN(p, n, fill) avx2_load_n(p, n, fill)
#define VSTOREN(p, v, n) _mm256_maskstore_ps(p, avx2_mask(n), (__m256)(v))
#define VHMAX(v) avx2_hmax((__m256)(v))
#define VMIN(a, b) ((v8f)_mm256_min_ps((__m256)(a), (__m256)(b)))
#define VMAX(a, b) ((v8f)_mm256_max_ps((__m256)(a), (__m256)(b)))
INLINE __m256i avx2_mask(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
INLINE v8f avx2_load_n(const float *p, size_t n, float fill)
{
    __m256i m = avx2_mask(n);
    return (v8f)_mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m),
                                 _mm256_castsi256_ps(m));
}
INLINE float avx2_hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
#include "nn/vmath.h"
#include "nn/kernels_rows.h"
#undef VF
#undef VI
#undef SFX
#undef VFMA
#undef VLOADN
#undef VSTOREN
#undef VHMAX
#undef VMIN
#undef VMAX
#pragma GCC pop_options

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
#pragma GCC push_options
#pragma GCC target("avx512f,fma")
#define VF v16f
#define VI v16i
#define SFX _avx512
#define VFMA(a, b, c) ((v16f)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define VLOADN(p, n, fill) \
    ((v16f)_mm512_mask_loadu_ps(_mm512_set1_ps(fill), avx512_mask(n), p))
#define VSTOREN(p, v, n) _mm512_mask_storeu_ps(p, avx512_mask(n), (__m512)(v))
#define VHMAX(v) _mm512_reduce_max_ps((__m512)(v))
#define VMIN(a, b) ((v16f)_mm512_min_ps((__m512)(a), (__m512)(b)))
#define VMAX(a, b) ((v16f)_mm512_max_ps((__m512)(a), (__m512)(b)))
INLINE __mmask16 avx512_mask(size_t n)
{
    return (__mmask16)((1u << n) - 1);
}
#include "nn/vmath.h"
#include "nn/kernels_rows.h"
#undef VF
#undef VI
#undef SFX
#undef VFMA
#undef VLOADN
#undef VSTOREN
#undef VHMAX
#undef VMIN
#undef VMAX
#pragma GCC pop_options
#endif

static const struct row_kernels *rk = &row_kernels_c;

bool kernels_available(enum kernels_isa isa)
{
#ifdef KERNELS_X86
    __builtin_cpu_init();
    switch (isa) {
    case KERNELS_C:
        return true;
    case KERNELS_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KERNELS_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    default:
        return false;
    }
#else
    return isa == KERNELS_C;
#endif
}

bool kernels_use(enum kernels_isa isa)
{
    if (!kernels_available(isa))
        return false;
#ifdef KERNELS_X86
    rk = isa == KERNELS_AVX512 ? &row_kernels_avx512
         : isa == KERNELS_AVX2 ? &row_kernels_avx2
                               : &row_kernels_c;
#endif
    return true;
}

/* The best set, before main runs (one pointer read per call after). */
__attribute__((constructor)) static void kernels_choose(void)
{
    if (!kernels_use(KERNELS_AVX512))
        kernels_use(KERNELS_AVX2);
}

void add_bias(float *x, const float *bias, size_t rows, size_t cols)
{
    rk->add_bias(x, bias, rows, cols);
}

void bias_gelu(float *x, const float *bias, size_t rows, size_t cols)
{
    rk->bias_gelu(x, bias, rows, cols);
}

void layernorm(float *x, const float *gamma, const float *beta, size_t rows,
               size_t dim, float eps)
{
    rk->layernorm(x, gamma, beta, rows, dim, eps);
}

void residual_layernorm(float *x, const float *y, const float *bias,
                        const float *gamma, const float *beta, size_t rows,
                        size_t dim, float eps)
{
    rk->residual_layernorm(x, y, bias, gamma, beta, rows, dim, eps);
}

void gelu_gate(float *x, size_t rows, size_t inter)
{
    rk->gelu_gate(x, rows, inter);
}

void silu_gate(float *x, size_t rows, size_t inter)
{
    rk->silu_gate(x, rows, inter);
}

void softmax_rows(float *x, size_t rows, size_t cols)
{
    rk->softmax_rows(x, rows, cols);
}

void gelu_tanh_mul(float *x, const float *up, size_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v))) *
               up[i];
    }
}

void rmsnorm(float *x, const float *w, size_t rows, size_t dim, float eps)
{
    for (size_t r = 0; r < rows; r++, x += dim) {
        double ss = 0;
        for (size_t j = 0; j < dim; j++)
            ss += (double)x[j] * x[j];
        float inv = (float)(1.0 / sqrt(ss / (double)dim + (double)eps));
        for (size_t j = 0; j < dim; j++)
            x[j] = x[j] * inv * w[j];
    }
}

HOT void rope_rows(float *x, size_t ld, size_t rows, size_t n_head,
                   size_t head_dim, const float *cos_t, const float *sin_t)
{
    size_t half = head_dim / 2;
    for (size_t r = 0; r < rows; r++, x += ld, cos_t += half, sin_t += half)
        for (size_t hd = 0; hd < n_head; hd++) {
            float *lo = x + hd * head_dim, *hi = lo + half;
            size_t j = 0;
            for (; j + VL <= half; j += VL) {
                v8f c = vload_c(cos_t + j), s = vload_c(sin_t + j);
                v8f a = vload_c(lo + j), b = vload_c(hi + j);
                vstore_c(lo + j, a * c - b * s);
                vstore_c(hi + j, b * c + a * s);
            }
            for (; j < half; j++) {
                float a = lo[j], b = hi[j];
                lo[j] = a * cos_t[j] - b * sin_t[j];
                hi[j] = b * cos_t[j] + a * sin_t[j];
            }
        }
}

void tanh_inplace(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = tanhf(x[i]);
}

void f16_to_f32(float *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)s[2 * i] | (uint32_t)s[2 * i + 1] << 8;
        uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f,
                 man = h & 0x3ff, bits;
        if (exp == 0x1f) /* inf, NaN */
            bits = sign | 0x7f800000u | man << 13;
        else if (exp != 0) /* normal: rebias 15 -> 127 */
            bits = sign | (exp + 112) << 23 | man << 13;
        else if (man == 0)
            bits = sign;
        else { /* subnormal: man * 2^-24, exact in float32 */
            float f = (float)man * 0x1p-24f;
            memcpy(&bits, &f, sizeof bits);
            bits |= sign;
        }
        memcpy(&dst[i], &bits, sizeof bits);
    }
}

HOT void bf16_to_f32(float *dst, const void *src, size_t n)
{
    if ((uintptr_t)src % 2 == 0) {
        /* The common case, a loop the compiler vectorises. */
        const uint16_t *h = src;
        uint32_t *d = (uint32_t *)(void *)dst;
        for (size_t i = 0; i < n; i++)
            d[i] = (uint32_t)h[i] << 16;
        return;
    }
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = ((uint32_t)s[2 * i] | (uint32_t)s[2 * i + 1] << 8) << 16;
        memcpy(&dst[i], &bits, sizeof bits);
    }
}
