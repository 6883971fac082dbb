/* kernels.c — sgemm wrapper and vectorised row kernels.
 *
 * The element-wise kernels are written with GCC/Clang vector extensions on
 * 8 floats, so they vectorise at the Makefile's -O2 without -march; on
 * x86-64 GCC additionally builds an AVX2 clone of each hot kernel and picks
 * it at load time by CPU feature (not by CPU model: "arch=haswell" would
 * leave AMD Zen on the SSE2 code); GELU also has a 16-lane AVX-512 version
 * (the same bits: it is element-wise).  exp and erfc are our own polynomial
 * approximations (about 1 ulp and 2e-7 absolute) because libm's scalar
 * calls would dominate GELU and softmax.  Everything here is a pure function
 * of its row: no state, no allocation, no threads (OpenBLAS owns those). */
#include "nn/kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx2", "default")))
#define HOT_AVX512 __attribute__((target("avx512f")))
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

/* The 8-float vectors only ever live inside inlined helpers, so the
 * warning that their calling convention differs with and without AVX
 * concerns calls that never exist. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define INLINE static inline __attribute__((always_inline))

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#define VL 8

#define VF v8f
#define VI v8i
#define SFX
#include "nn/vmath.h"
#undef VF
#undef VI
#undef SFX

/* 16 lanes, for the AVX-512 versions of the element-wise kernels (where
 * HOT clones exist: GCC lowers 16-lane vectors badly without AVX-512, so
 * the other clones keep 8). */
#ifdef HOT_AVX512
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
#define VF v16f
#define VI v16i
#define SFX 16
#include "nn/vmath.h"
#undef VF
#undef VI
#undef SFX
#endif

INLINE float hsum(v8f v)
{
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

INLINE float hmax(v8f v)
{
    float m = v[0];
    for (int i = 1; i < VL; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

HOT void add_bias(float *x, const float *bias, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++, x += cols) {
        size_t j = 0;
        for (; j + VL <= cols; j += VL)
            vstore(x + j, vload(x + j) + vload(bias + j));
        for (; j < cols; j++)
            x[j] += bias[j];
    }
}

/* bias_gelu's body on W-lane vectors (the helpers suffixed SFX); the
 * ragged end goes through the same vector code, so every element gets the
 * same arithmetic, and as it is element-wise, the same bits at any W. */
#define GELU_ROWS(SFX, W)                                                      \
    float tail[W];                                                             \
    for (size_t r = 0; r < rows; r++, x += cols) {                             \
        size_t j = 0;                                                          \
        for (; j + W <= cols; j += W)                                          \
            vstore##SFX(x + j, vgelu##SFX(vload##SFX(x + j) +                  \
                                          (bias ? vload##SFX(bias + j)         \
                                                : vsplat##SFX(0.0f))));        \
        if (j < cols) {                                                        \
            size_t n = cols - j;                                               \
            memset(tail, 0, sizeof tail);                                      \
            for (size_t i = 0; i < n; i++)                                     \
                tail[i] = x[j + i] + (bias ? bias[j + i] : 0.0f);              \
            vstore##SFX(tail, vgelu##SFX(vload##SFX(tail)));                   \
            memcpy(x + j, tail, n * sizeof *tail);                             \
        }                                                                      \
    }

HOT static void bias_gelu8(float *x, const float *bias, size_t rows,
                           size_t cols)
{
    GELU_ROWS(, 8)
}

#ifdef HOT_AVX512
/* On 16 lanes: GELU is a tenth of a forward pass on 8. */
HOT_AVX512 static void bias_gelu16(float *x, const float *bias, size_t rows,
                                   size_t cols)
{
    GELU_ROWS(16, 16)
}
#endif

void bias_gelu(float *x, const float *bias, size_t rows, size_t cols)
{
#ifdef HOT_AVX512
    if (__builtin_cpu_supports("avx512f")) {
        bias_gelu16(x, bias, rows, cols);
        return;
    }
#endif
    bias_gelu8(x, bias, rows, cols);
}

/* LayerNorm of one row in place: two passes (mean, then centred variance)
 * with 8 partial sums each. */
INLINE void layernorm_row(float *x, const float *gamma,
                                 const float *beta, size_t dim, float eps)
{
    v8f acc = vsplat(0.0f);
    size_t j = 0;
    for (; j + VL <= dim; j += VL)
        acc += vload(x + j);
    float sum = hsum(acc);
    for (; j < dim; j++)
        sum += x[j];
    float mean = sum / (float)dim;

    v8f vm = vsplat(mean);
    acc = vsplat(0.0f);
    for (j = 0; j + VL <= dim; j += VL) {
        v8f d = vload(x + j) - vm;
        acc += d * d;
    }
    float ss = hsum(acc);
    for (; j < dim; j++)
        ss += (x[j] - mean) * (x[j] - mean);
    float inv = 1.0f / sqrtf(ss / (float)dim + eps);

    v8f vinv = vsplat(inv);
    if (!beta) {
        for (j = 0; j + VL <= dim; j += VL)
            vstore(x + j, (vload(x + j) - vm) * vinv * vload(gamma + j));
        for (; j < dim; j++)
            x[j] = (x[j] - mean) * inv * gamma[j];
        return;
    }
    for (j = 0; j + VL <= dim; j += VL)
        vstore(x + j, (vload(x + j) - vm) * vinv * vload(gamma + j) +
                          vload(beta + j));
    for (; j < dim; j++)
        x[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
}

HOT void layernorm(float *x, const float *gamma, const float *beta,
                   size_t rows, size_t dim, float eps)
{
    for (size_t r = 0; r < rows; r++)
        layernorm_row(x + r * dim, gamma, beta, dim, eps);
}

HOT void residual_layernorm(float *x, const float *y, const float *bias,
                            const float *gamma, const float *beta,
                            size_t rows, size_t dim, float eps)
{
    for (size_t r = 0; r < rows; r++, x += dim, y += dim) {
        size_t j = 0;
        for (; j + VL <= dim; j += VL)
            vstore(x + j, (vload(y + j) + vload(bias + j)) + vload(x + j));
        for (; j < dim; j++)
            x[j] = (y[j] + bias[j]) + x[j];
        layernorm_row(x, gamma, beta, dim, eps);
    }
}


INLINE v8f vsilu(v8f v)
{
    return v / (vsplat(1.0f) + vexp(-v));
}

/* The body of a gated activation: each row of x(rows, 2*inter) is
 * [a | b]; a becomes ACT(a) * b (a tail shorter than a vector padded). */
#define GATED_ROWS(ACT)                                                        \
    float a[VL], g[VL];                                                        \
    for (size_t r = 0; r < rows; r++, x += 2 * inter) {                        \
        size_t j = 0;                                                          \
        for (; j + VL <= inter; j += VL)                                       \
            vstore(x + j, ACT(vload(x + j)) * vload(x + inter + j));           \
        if (j < inter) {                                                       \
            size_t n = inter - j;                                              \
            memset(a, 0, sizeof a);                                            \
            memset(g, 0, sizeof g);                                            \
            memcpy(a, x + j, n * sizeof *a);                                   \
            memcpy(g, x + inter + j, n * sizeof *g);                           \
            vstore(a, ACT(vload(a)) * vload(g));                               \
            memcpy(x + j, a, n * sizeof *a);                                   \
        }                                                                      \
    }

HOT void gelu_gate(float *x, size_t rows, size_t inter)
{
    GATED_ROWS(vgelu)
}

HOT void silu_gate(float *x, size_t rows, size_t inter)
{
    GATED_ROWS(vsilu)
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
                v8f c = vload(cos_t + j), s = vload(sin_t + j);
                v8f a = vload(lo + j), b = vload(hi + j);
                vstore(lo + j, a * c - b * s);
                vstore(hi + j, b * c + a * s);
            }
            for (; j < half; j++) {
                float a = lo[j], b = hi[j];
                lo[j] = a * cos_t[j] - b * sin_t[j];
                hi[j] = b * cos_t[j] + a * sin_t[j];
            }
        }
}

HOT void softmax_rows(float *x, size_t rows, size_t cols)
{
    float tail[VL];
    for (size_t r = 0; r < rows; r++, x += cols) {
        size_t j = 0;
        v8f vm = vsplat(-INFINITY);
        for (; j + VL <= cols; j += VL)
            vm = vmax(vm, vload(x + j));
        float m = hmax(vm);
        for (; j < cols; j++)
            m = x[j] > m ? x[j] : m;

        /* The ragged end is padded with -inf, whose exp is 0 (clamped to
         * e^-87.3 ~ 1e-38, below half an ulp of any sum >= 1). */
        v8f sum = vsplat(0.0f);
        vm = vsplat(m);
        for (j = 0; j + VL <= cols; j += VL) {
            v8f e = vexp(vload(x + j) - vm);
            vstore(x + j, e);
            sum += e;
        }
        size_t n = cols - j;
        if (n) {
            for (size_t i = 0; i < VL; i++)
                tail[i] = i < n ? x[j + i] : -INFINITY;
            v8f e = vexp(vload(tail) - vm);
            vstore(tail, e);
            memcpy(x + j, tail, n * sizeof *tail);
            sum += vselect((v8i){0, 1, 2, 3, 4, 5, 6, 7} < (int32_t)n, e,
                           vsplat(0.0f));
        }
        v8f inv = vsplat(1.0f / hsum(sum));
        for (j = 0; j + VL <= cols; j += VL)
            vstore(x + j, vload(x + j) * inv);
        for (; j < cols; j++)
            x[j] *= inv[0];
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
