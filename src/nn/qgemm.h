/* qgemm.h — int8 x int8 -> int32 matrix multiply for the --quantize int8
 * dense layers.
 *
 * C(m,n) = A(m,k) B(n,k)^T in exact int32 arithmetic: A holds signed 8-bit
 * activations (one quantized row per token), B an nn.Linear weight of
 * shape (out, in) in signed 8-bit, packed once at load by qgemm_pack.
 * Every path computes the same exact integers, so a row's result depends
 * on nothing but that row and B: batch and thread invariance hold by
 * construction, whatever the tiling.
 *
 * Paths, chosen at run time by CPU feature (qgemm_best) or forced (tests):
 *   AVX512_VNNI  vpdpbusd on 16 columns; u8 x s8, so A is offset by +128
 *                (a ^ 0x80, qgemm_prepare_a) and 128 * sum_k B[j][k] is
 *                subtracted per column (the column sums are kept with the
 *                packed B);
 *   AVX_VNNI     the same on 8 columns with the VEX encoding;
 *   AVX2         vpmaddubsw on |a| x sign(b, a), then vpmaddwd by ones.
 *                maddubs saturates its s16 pair sums; with |a| <= 128 and
 *                |b| <= 127 a pair is at most 2*128*127 = 32512 < 32767,
 *                so nothing saturates and the result is exact with full
 *                8-bit weights (the +128 offset would reach 2*255*127 and
 *                saturate; 7-bit weights would cost accuracy).  Hence B
 *                must lie in [-127, 127] (quant.c's symmetric weights do);
 *   REF          plain C, for other CPUs and as the tests' second opinion. */
#ifndef RERANK_QGEMM_H
#define RERANK_QGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum qgemm_path { QGEMM_REF, QGEMM_AVX2, QGEMM_AVX_VNNI, QGEMM_AVX512_VNNI,
                  QGEMM_N_PATHS };

/* Columns per panel and k values per group of the packed layout. */
#define QGEMM_NR 16
#define QGEMM_KG 4

/* B(n,k) packed: panels of QGEMM_NR columns (n rounded up, missing columns
 * zero), each panel k4/4 groups of (QGEMM_NR columns x 4 consecutive k)
 * bytes; k rounded up to k4, a multiple of 4, with zeros. */
struct qgemm_b {
    int8_t *data;      /* (n_pad/NR, k4/4, NR, 4) */
    int32_t *col_sum;  /* (n_pad) sum over k of each column */
    size_t n, k, k4, n_pad;
};

/* Rounds k up to the packed row length A's rows must have (zero-padded). */
static inline size_t qgemm_k4(size_t k)
{
    return (k + QGEMM_KG - 1) / QGEMM_KG * QGEMM_KG;
}

/* Packs b(n,k) (row stride ldb bytes, values in [-127, 127]) into *p,
 * allocating; qgemm_b_free releases it. */
void qgemm_pack(struct qgemm_b *p, const int8_t *b, size_t n, size_t k,
                size_t ldb);
void qgemm_b_free(struct qgemm_b *p);

/* Puts a(m, k4) (int8, row stride lda) in the form path reads, in place:
 * the VNNI paths take a + 128 as u8 (the bytes XOR 0x80, done once per row
 * here rather than once per column panel in the kernel); the others take
 * a as it is. */
void qgemm_prepare_a(enum qgemm_path path, int8_t *a, size_t m, size_t k4,
                     size_t lda);

/* c(m, p->n) = a(m, k4) * B^T, int32, row strides lda bytes and ldc
 * elements; a as qgemm_prepare_a(path) left it, its columns k..k4-1 zero
 * before that.  path must be available (qgemm_available). */
void qgemm(enum qgemm_path path, size_t m, const int8_t *a, size_t lda,
           const struct qgemm_b *p, int32_t *c, size_t ldc);

/* The scaling that turns C into a dense layer's output:
 * y[i][j] = (float)C[i][j] * (sa[i] * scale[j]), y with row stride ldy. */
struct qgemm_scale {
    const float *sa;    /* (m): each row's activation scale */
    const float *scale; /* (n): each column's weight scale */
    float *y;
    size_t ldy;
};

/* y as *ep says, C never stored, on paths that can (AVX512_VNNI: the sums
 * are scaled as they leave the registers); false, doing nothing, on the
 * others (then qgemm and scale). */
bool qgemm_scaled(enum qgemm_path path, size_t m, const int8_t *a, size_t lda,
                  const struct qgemm_b *p, const struct qgemm_scale *ep);

/* Whether this CPU (and OS) runs path; the fastest available path, or the
 * one environment variable RERANK_QGEMM names (qgemm_path_name) when the
 * CPU has it: for tests and benchmarks of the slower paths. */
int qgemm_available(enum qgemm_path path);
enum qgemm_path qgemm_best(void);

/* "ref", "avx2", "avx-vnni", "avx512-vnni". */
const char *qgemm_path_name(enum qgemm_path path);

#endif
