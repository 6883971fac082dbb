/* quant.c — see quant.h. */
#include "quant.h"

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

float quant_row(int8_t *q, const float *x, size_t k, size_t k4)
{
    float amax = 0;
    for (size_t i = 0; i < k; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    memset(q + k, 0, k4 - k);
    if (!(amax > 0) || !isfinite(amax)) {
        memset(q, 0, k);
        return isfinite(amax) ? 0.0f : NAN;
    }
    float inv = 127.0f / amax;
    for (size_t i = 0; i < k; i++) {
        /* rintf: round half to even, as onnxruntime's quantizers */
        float v = rintf(x[i] * inv);
        q[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
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
    reserve((void **)&s->acc, &s->cap_acc, rows * n, sizeof *s->acc);
    for (size_t i = 0; i < rows; i++)
        s->sa[i] = quant_row(s->a + i * k4, x + i * ldx, k, k4);
    qgemm_prepare_a(path, s->a, rows, k4, k4);
    qgemm(path, rows, s->a, k4, &q->b, s->acc, n);
    for (size_t i = 0; i < rows; i++) {
        const int32_t *acc = s->acc + i * n;
        float *yi = y + i * ldy, sa = s->sa[i];
        for (size_t j = 0; j < n; j++)
            yi[j] = (float)acc[j] * (sa * q->scale[j]);
    }
}
