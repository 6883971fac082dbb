/* kernels.c — sgemm wrapper and vectorised row kernels.
 *
 * The element-wise kernels are written with GCC/Clang vector extensions on
 * 8 floats, so they vectorise at the Makefile's -O2 without -march; on
 * x86-64 GCC additionally builds an AVX2 clone of each hot kernel and picks
 * it at load time by CPU feature (not by CPU model: "arch=haswell" would
 * leave AMD Zen on the SSE2 code).  exp and erfc are our own polynomial
 * approximations (about 1 ulp and 2e-7 absolute) because libm's scalar
 * calls would dominate GELU and softmax.  Everything here is a pure function
 * of its row: no state, no allocation, no threads (OpenBLAS owns those). */
#include "nn/kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx2", "default")))
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

INLINE v8f vload(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void vstore(float *p, v8f v)
{
    memcpy(p, &v, sizeof v);
}

INLINE v8f vsplat(float x)
{
    return (v8f){x, x, x, x, x, x, x, x};
}

/* Lane-wise select: where mask (all ones), a; elsewhere b. */
INLINE v8f vselect(v8i mask, v8f a, v8f b)
{
    return (v8f)(((v8i)a & mask) | ((v8i)b & ~mask));
}

INLINE v8f vmin(v8f a, v8f b)
{
    return vselect(a < b, a, b);
}

INLINE v8f vmax(v8f a, v8f b)
{
    return vselect(a > b, a, b);
}

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

/* e^x for x in [-87.3, 88.3] (clamped outside): x = n ln2 + r with
 * |r| <= ln2/2 (two-constant Cody-Waite reduction), e^r by its degree-7
 * Taylor polynomial (truncation error < 6e-9 relative), 2^n built in the
 * exponent bits.  Relative error about 1 ulp. */
INLINE v8f vexp(v8f x)
{
    x = vmax(vmin(x, vsplat(88.3f)), vsplat(-87.3f));
    const v8f shifter = vsplat(12582912.0f); /* 1.5 * 2^23: rounds to int */
    v8f t = x * vsplat(1.44269504f) + shifter;
    v8i n = (v8i)t - (v8i)shifter;
    v8f nf = t - shifter;
    v8f r = x - nf * vsplat(0.693359375f) - nf * vsplat(-2.12194440e-4f);
    v8f p = vsplat(1.0f / 5040);
    p = p * r + vsplat(1.0f / 720);
    p = p * r + vsplat(1.0f / 120);
    p = p * r + vsplat(1.0f / 24);
    p = p * r + vsplat(1.0f / 6);
    p = p * r + vsplat(0.5f);
    p = p * r + vsplat(1.0f);
    p = p * r + vsplat(1.0f);
    v8f scale = (v8f)((n + 127) << 23);
    return p * scale;
}

/* erfc(z) for all z: for a = |z| (capped at 10, where erfc underflows),
 * erfc(a) = t exp(-a^2 + P(t)) with t = 1/(1 + a/2) and P a degree-9
 * polynomial fitted for this file (iteratively reweighted least squares on
 * Chebyshev nodes) to log(erfc(a) e^(a^2) / t) on a in [0, 10], max error
 * 4.5e-8 before float rounding; then
 * erfc(z) = 2 - erfc(-z) for negative z.  Absolute error about 2e-7. */
INLINE v8f verfc(v8f z)
{
    v8f a = vmin(vselect(z < vsplat(0.0f), -z, z), vsplat(10.0f));
    v8f t = vsplat(1.0f) / (vsplat(1.0f) + vsplat(0.5f) * a);
    v8f p = vsplat(0.14220587144364213f);
    p = p * t + vsplat(-0.6661263044518819f);
    p = p * t + vsplat(1.1225492346239214f);
    p = p * t + vsplat(-0.6514445649208738f);
    p = p * t + vsplat(-0.11662693293644955f);
    p = p * t + vsplat(0.020111899078361473f);
    p = p * t + vsplat(0.028385134853652294f);
    p = p * t + vsplat(0.3878940166656663f);
    p = p * t + vsplat(0.9984931592486721f);
    p = p * t + vsplat(-1.2654414683772996f);
    v8f r = t * vexp(p - a * a);
    return vselect(z < vsplat(0.0f), vsplat(2.0f) - r, r);
}

/* gelu(v) = 0.5 v (1 + erf(v/sqrt2)) = 0.5 v erfc(-v/sqrt2): the erfc form
 * keeps full relative accuracy where 1 + erf cancels (large negative v). */
INLINE v8f vgelu(v8f v)
{
    return vsplat(0.5f) * v * verfc(v * vsplat(-0.70710678118654752f));
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

HOT void bias_gelu(float *x, const float *bias, size_t rows, size_t cols)
{
    float tail[VL];
    for (size_t r = 0; r < rows; r++, x += cols) {
        size_t j = 0;
        for (; j + VL <= cols; j += VL)
            vstore(x + j, vgelu(vload(x + j) +
                                (bias ? vload(bias + j) : vsplat(0.0f))));
        if (j < cols) {
            /* The ragged end goes through the same vector code, so every
             * element gets bit-identical arithmetic. */
            size_t n = cols - j;
            memset(tail, 0, sizeof tail);
            for (size_t i = 0; i < n; i++)
                tail[i] = x[j + i] + (bias ? bias[j + i] : 0.0f);
            vstore(tail, vgelu(vload(tail)));
            memcpy(x + j, tail, n * sizeof *tail);
        }
    }
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
