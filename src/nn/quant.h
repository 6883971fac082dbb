/* quant.h — int8 quantization for the --quantize int8 dense layers, for
 * any model family.
 *
 * Weights: symmetric, per output channel (one scale per row of an
 * nn.Linear weight (out, in)), values in [-127, 127], quantized once at
 * load from the float32 weights_get gives (so F32, F16 and BF16 files all
 * work).  Activations: symmetric, per row (one scale per token), quantized
 * on the fly before each dense layer.  y = (sum_k qa*qw) * sa * sw[j]: the
 * int32 sum is exact (qgemm.h) and the rest is row-local float arithmetic,
 * so a row's output never depends on the other rows or the thread count.
 * Symmetric activations keep all four GEMM paths exact (the AVX2 path needs
 * |values| <= 127 on one side); a row that is one-sided (after GELU) loses
 * one bit against an asymmetric scheme. */
#ifndef RERANK_QUANT_H
#define RERANK_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/kernels.h"
#include "nn/qgemm.h"

/* --quantize's values. */
enum quantize { QUANTIZE_NONE, QUANTIZE_INT8 };

/* "none"/"fp32" -> NONE, "int8" -> INT8; -1 for another name. */
int quantize_from_name(const char *name);

/* q(k4) = round(x(k) / s) in [-127, 127], zero from k to k4; returns the
 * scale s = max|x| / 127 (0 for an all-zero row, whose q is all zero). */
float quant_row(int8_t *q, const float *x, size_t k, size_t k4);

/* The instruction set of quant_row's and qlinear_forward's row passes:
 * the best this CPU has is chosen before main; tests switch to each
 * (false, changing nothing, when the CPU lacks it).  Every set gives the
 * same results. */
bool quant_use_passes(enum kernels_isa isa);

/* x(k) = q(k) * s. */
void dequant_row(float *x, const int8_t *q, size_t k, float s);

/* A quantized nn.Linear weight (out n, in k) ready for qgemm. */
struct qlinear {
    struct qgemm_b b;  /* packed int8 weights */
    float *scale;      /* (n) per output channel */
};

/* Quantizes w(n,k) (row-major, float32) per row into *q (allocating). */
void qlinear_init(struct qlinear *q, const float *w, size_t n, size_t k);
void qlinear_free(struct qlinear *q);

/* Per-thread working memory of qlinear_forward, grown on demand. */
struct qscratch {
    int8_t *a;       /* (rows, k4) quantized activations */
    float *sa;       /* (rows) their scales */
    int32_t *acc;    /* (rows, n) exact sums */
    size_t cap_a, cap_sa, cap_acc;
};
void qscratch_free(struct qscratch *s);

/* y(rows, n) = x(rows, k) W^T (no bias), through path; row strides ldx and
 * ldy in floats. */
void qlinear_forward(const struct qlinear *q, enum qgemm_path path,
                     const float *x, size_t ldx, size_t rows, float *y,
                     size_t ldy, struct qscratch *s);

#endif
