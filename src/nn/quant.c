/* quant.c — see quant.h. */
#include "nn/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int quantize_from_name(const char *name)
{
    if (strcmp(name, "none") == 0 || strcmp(name, "fp32") == 0)
        return QUANTIZE_NONE;
    if (strcmp(name, "int8") == 0)
        return QUANTIZE_INT8;
    return -1;
}

/* The two passes of quant_row over x[0, n): max |x| (NaN skipped), and
 * q = round-half-even(x * inv) clamped to [-127, 127]; portable here, AVX2
 * and AVX-512 below (chosen once, by CPU feature).  All round the same
 * way, so the path never changes a result. */
static float amax_c(const float *x, size_t n)
{
    float amax = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    return amax;
}

static void round_c(int8_t *q, const float *x, size_t n, float inv)
{
    /* Round half to even by adding and subtracting 1.5 * 2^23 (exact for
     * |v| < 2^22), as rintf and cvtps2dq do in the default mode. */
    const float shifter = 12582912.0f;
    for (size_t i = 0; i < n; i++) {
        float v = (x[i] * inv + shifter) - shifter;
        q[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
}

/* y(n) = acc(n) * (sa * scale(n)): one row of qlinear_forward's output. */
static void scale_c(float *y, const int32_t *acc, size_t n, float sa,
                    const float *scale)
{
    for (size_t j = 0; j < n; j++)
        y[j] = (float)acc[j] * (sa * scale[j]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

AVX2 static float amax_avx2(const float *x, size_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) /* max_ps(v, m) is m when v is NaN */
        m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), m);
    float lanes[8], amax = amax_c(x + i, n - i);
    _mm256_storeu_ps(lanes, m);
    for (int l = 0; l < 8; l++)
        amax = lanes[l] > amax ? lanes[l] : amax;
    return amax;
}

AVX2 static void round_avx2(int8_t *q, const float *x, size_t n, float inv)
{
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i lo = _mm256_set1_epi8(-127);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
        __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vinv));
        __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), vinv));
        __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), vinv));
        /* saturating packs interleave 128-bit lanes; the permute undoes it */
        __m256i v = _mm256_packs_epi16(_mm256_packs_epi32(a, b),
                                       _mm256_packs_epi32(c, d));
        v = _mm256_max_epi8(_mm256_permutevar8x32_epi32(v, order), lo);
        _mm256_storeu_si256((__m256i *)(q + i), v);
    }
    round_c(q + i, x + i, n - i, inv);
}

AVX2 static void scale_avx2(float *y, const int32_t *acc, size_t n, float sa,
                            const float *scale)
{
    const __m256 vsa = _mm256_set1_ps(sa);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 a = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + j)));
        _mm256_storeu_ps(y + j, _mm256_mul_ps(a, _mm256_mul_ps(vsa, _mm256_loadu_ps(scale + j))));
    }
    scale_c(y + j, acc + j, n - j, sa, scale + j);
}

/* The same three passes on 16 lanes, the ragged end masked. */
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

AVX512 static float amax_avx512(const float *x, size_t n)
{
    __m512 m = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) /* max_ps(v, m) is m when v is NaN */
        m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m);
    __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    m = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(k, x + i)), m);
    return _mm512_reduce_max_ps(m);
}

AVX512 static void round_avx512(int8_t *q, const float *x, size_t n, float inv)
{
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m128i lo = _mm_set1_epi8(-127);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv));
        _mm_storeu_si128((__m128i *)(q + i), _mm_max_epi8(_mm512_cvtsepi32_epi8(v), lo));
    }
    __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vinv));
    _mm_mask_storeu_epi8(q + i, k, _mm_max_epi8(_mm512_cvtsepi32_epi8(v), lo));
}

AVX512 static void scale_avx512(float *y, const int32_t *acc, size_t n,
                                float sa, const float *scale)
{
    const __m512 vsa = _mm512_set1_ps(sa);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 a = _mm512_cvtepi32_ps(_mm512_loadu_si512(acc + j));
        _mm512_storeu_ps(y + j, _mm512_mul_ps(a, _mm512_mul_ps(vsa, _mm512_loadu_ps(scale + j))));
    }
    __mmask16 k = (__mmask16)((1u << (n - j)) - 1);
    __m512 a = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, acc + j));
    _mm512_mask_storeu_ps(y + j, k, _mm512_mul_ps(a, _mm512_mul_ps(vsa, _mm512_maskz_loadu_ps(k, scale + j))));
}
#endif

static float (*amax_row)(const float *, size_t) = amax_c;
static void (*round_row)(int8_t *, const float *, size_t, float) = round_c;
static void (*scale_row)(float *, const int32_t *, size_t, float,
                         const float *) = scale_c;

bool quant_use_passes(enum kernels_isa isa)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    switch (isa) {
    case KERNELS_C:
        amax_row = amax_c, round_row = round_c, scale_row = scale_c;
        return true;
    case KERNELS_AVX2:
        if (!__builtin_cpu_supports("avx2"))
            return false;
        amax_row = amax_avx2, round_row = round_avx2, scale_row = scale_avx2;
        return true;
    case KERNELS_AVX512:
        if (!__builtin_cpu_supports("avx512bw") ||
            !__builtin_cpu_supports("avx512vl"))
            return false;
        amax_row = amax_avx512, round_row = round_avx512,
        scale_row = scale_avx512;
        return true;
    default:
        return false;
    }
#else
    return isa == KERNELS_C;
#endif
}

/* The best passes, before main runs. */
__attribute__((constructor)) static void choose_passes(void)
{
    if (!quant_use_passes(KERNELS_AVX512))
        quant_use_passes(KERNELS_AVX2);
}

float quant_row(int8_t *q, const float *x, size_t k, size_t k4)
{
    float amax = amax_row(x, k);
    memset(q + k, 0, k4 - k);
    if (!(amax > 0) || !isfinite(amax)) {
        memset(q, 0, k);
        return isfinite(amax) ? 0.0f : NAN;
    }
    round_row(q, x, k, 127.0f / amax);
    return amax / 127.0f;
}

void dequant_row(float *x, const int8_t *q, size_t k, float s)
{
    for (size_t i = 0; i < k; i++)
        x[i] = (float)q[i] * s;
}

void qlinear_init(struct qlinear *q, const float *w, size_t n, size_t k)
{
    size_t k4 = qgemm_k4(k);
    int8_t *tmp = xmalloc(n * k4);
    q->scale = xmalloc(n * sizeof *q->scale);
    for (size_t j = 0; j < n; j++)
        q->scale[j] = quant_row(tmp + j * k4, w + j * k, k, k4);
    qgemm_pack(&q->b, tmp, n, k, k4);
    free(tmp);
}

void qlinear_free(struct qlinear *q)
{
    qgemm_b_free(&q->b);
    free(q->scale);
    q->scale = NULL;
}

void qscratch_free(struct qscratch *s)
{
    free(s->a);
    free(s->sa);
    free(s->acc);
    memset(s, 0, sizeof *s);
}

/* *p holds at least n elements of size bytes (contents not kept). */
static void reserve(void **p, size_t *cap, size_t n, size_t size)
{
    if (n > *cap) {
        free(*p);
        *p = xmalloc(n * size);
        *cap = n;
    }
}

void qlinear_forward(const struct qlinear *q, enum qgemm_path path,
                     const float *x, size_t ldx, size_t rows, float *y,
                     size_t ldy, struct qscratch *s)
{
    size_t n = q->b.n, k = q->b.k, k4 = q->b.k4;
    reserve((void **)&s->a, &s->cap_a, rows * k4, 1);
    reserve((void **)&s->sa, &s->cap_sa, rows, sizeof *s->sa);
    for (size_t i = 0; i < rows; i++)
        s->sa[i] = quant_row(s->a + i * k4, x + i * ldx, k, k4);
    qgemm_prepare_a(path, s->a, rows, k4, k4);
    struct qgemm_scale ep = {s->sa, q->scale, y, ldy};
    if (qgemm_scaled(path, rows, s->a, k4, &q->b, &ep))
        return;
    reserve((void **)&s->acc, &s->cap_acc, rows * n, sizeof *s->acc);
    qgemm(path, rows, s->a, k4, &q->b, s->acc, n);
    for (size_t i = 0; i < rows; i++)
        scale_row(y + i * ldy, s->acc + i * n, n, s->sa[i], q->scale);
}
