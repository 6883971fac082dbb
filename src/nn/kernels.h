/* kernels.h — the numeric building blocks of the transformer forward pass.
 *
 * One matrix-multiply wrapper around OpenBLAS's cblas_sgemm and the
 * row-wise float32 kernels a BERT layer needs (bias, exact-erf GELU,
 * LayerNorm, softmax, tanh) plus half-precision conversion for loading.
 * All matrices are row-major, float32, contiguous along a row.  The kernels
 * know nothing of models; bert.c strings them together.  Each row is
 * computed independently of the others, so a row's result never depends on
 * how many rows are processed together. */
#ifndef RERANK_KERNELS_H
#define RERANK_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Row-major sgemm: C(m,n) = alpha * A(m,k) * op(B) + beta * C.
 * op(B) = B^T when b_trans (B stored as (n,k) rows: an nn.Linear weight of
 * shape (out, in), so x * W^T is one call), else B stored as (k,n).
 * lda/ldb/ldc are row strides in floats (>= the row length), so a column
 * slice of a wider matrix (one attention head of the fused QKV) can be
 * passed without copying.  All sizes must fit in an int (cblas). */
void matmul(size_t m, size_t n, size_t k, float alpha, const float *a,
            size_t lda, const float *b, size_t ldb, bool b_trans, float beta,
            float *c, size_t ldc);

/* The instruction sets the row kernels (bias, GELU, LayerNorm, softmax,
 * gated activations) are built for: portable C on 8-lane vectors, AVX2
 * with FMA, AVX-512 with FMA.  The best the CPU runs is chosen before main;
 * kernels_use switches (tests run each set this CPU has) and returns false,
 * changing nothing, when the CPU lacks it.  Within a set a row's result is
 * a pure function of the row; between sets the last bits may differ. */
enum kernels_isa { KERNELS_C, KERNELS_AVX2, KERNELS_AVX512, KERNELS_N_ISAS };
bool kernels_available(enum kernels_isa isa);
bool kernels_use(enum kernels_isa isa);

/* x(rows,cols) += bias(cols) on every row. */
void add_bias(float *x, const float *bias, size_t rows, size_t cols);

/* x(rows,cols) = gelu(x + bias), the exact (erf) GELU of BERT's "gelu":
 * 0.5 * v * (1 + erf(v / sqrt 2)), absolute error about 1e-7 * |v|.
 * bias may be NULL (no bias). */
void bias_gelu(float *x, const float *bias, size_t rows, size_t cols);

/* x(rows,dim) = LayerNorm(x) * gamma + beta, biased variance, eps inside
 * the square root, as torch.nn.LayerNorm; beta NULL for a LayerNorm without
 * bias (bias=False). */
void layernorm(float *x, const float *gamma, const float *beta, size_t rows,
               size_t dim, float eps);

/* x(rows,dim) = LayerNorm((y + bias) + x) * gamma + beta: the residual
 * connection and LayerNorm after a dense layer (BertSelfOutput, BertOutput). */
void residual_layernorm(float *x, const float *y, const float *bias,
                        const float *gamma, const float *beta, size_t rows,
                        size_t dim, float eps);

/* The gated GELU of a GLU feed-forward layer (ModernBERT's MLP): each row
 * of x(rows, 2*inter) is [input | gate]; its first inter floats become
 * gelu(input) * gate (exact GELU), the gate half is left as it was. */
void gelu_gate(float *x, size_t rows, size_t inter);

/* The gated SiLU of a SwiGLU feed-forward layer (Llama/Qwen MLP): each row
 * of x(rows, 2*inter) is [gate | up]; its first inter floats become
 * silu(gate) * up, silu(v) = v / (1 + e^-v); the up half is left as it was. */
void silu_gate(float *x, size_t rows, size_t inter);

/* x(n) = gelu_new(x) * up(n): the gated feed-forward of T5 v1.1, with
 * gelu_new(v) = 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))). */
void gelu_tanh_mul(float *x, const float *up, size_t n);

/* Root-mean-square norm, as Llama/Qwen's RMSNorm: each row of x(rows,dim)
 * becomes x / sqrt(mean(x^2) + eps) * w (mean accumulated in double). */
void rmsnorm(float *x, const float *w, size_t rows, size_t dim, float eps);

/* Rotary position embedding, GPT-NeoX layout (transformers' rotate_half):
 * for each row r of x (row stride ld) and each of n_head heads of head_dim
 * floats, with h = head_dim / 2, the pair (x[j], x[j+h]) becomes
 * (x[j] cos - x[j+h] sin, x[j+h] cos + x[j] sin), cos and sin read from
 * cos_t(rows, h) and sin_t(rows, h) (the angles of row r's position). */
void rope_rows(float *x, size_t ld, size_t rows, size_t n_head,
               size_t head_dim, const float *cos_t, const float *sin_t);

/* Each row of x(rows,cols) replaced by its softmax (max-subtracted). */
void softmax_rows(float *x, size_t rows, size_t cols);

/* x(n) = tanh(x). */
void tanh_inplace(float *x, size_t n);

/* IEEE binary16 and bfloat16 (raw little-endian bits, any alignment) to
 * float32, exactly (subnormals, infinities and NaN included). */
void f16_to_f32(float *dst, const void *src, size_t n);
void bf16_to_f32(float *dst, const void *src, size_t n);

#endif
