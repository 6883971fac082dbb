/* pgemm.h — float32 dense layers on weights packed once at load.
 *
 * y(rows, n) = x(rows, k) W^T for an nn.Linear weight W (out n, in k).
 * OpenBLAS packs W into its own panel layout on every sgemm call; for the
 * forward pass's spans (at most a few hundred rows, bert.c's SPAN_ROWS)
 * that copy costs about as much as a sixth of the products.  Here W is
 * packed once, into panels of PGEMM_NR output columns, each panel k rows
 * of PGEMM_NR floats (columns past n zero).
 *
 * Every element is one chain of fused multiply-adds over k in ascending
 * order starting from zero:
 *     y[i][j] = fma(x[i][k-1], W[j][k-1], ... fma(x[i][0], W[j][0], 0))
 * whatever the path, the tiling, the row count or the row's place in it;
 * so a row's result depends on nothing but the row and W (batch and thread
 * invariance by construction), and the AVX-512 and AVX2 paths agree bit
 * for bit.  Paths, by CPU feature at run time: AVX512F (8 rows x 48
 * columns per tile), AVX2 + FMA (6 x 16); other CPUs have none
 * (pgemm_available false: callers keep sgemm). */
#ifndef RERANK_PGEMM_H
#define RERANK_PGEMM_H

#include <stdbool.h>
#include <stddef.h>

#define PGEMM_NR 48

/* A packed weight: (n_pad / PGEMM_NR, k, PGEMM_NR) floats. */
struct pgemm_w {
    float *data;
    size_t n, k, n_pad;
};

enum pgemm_path { PGEMM_NONE, PGEMM_AVX2, PGEMM_AVX512, PGEMM_N_PATHS };

/* Whether this CPU (and OS) runs path (PGEMM_NONE: always). */
bool pgemm_available(enum pgemm_path path);

/* The fastest available path, PGEMM_NONE without FMA; the environment
 * variable RERANK_PGEMM=none|avx2|avx512 picks another available one
 * (tests, and measuring against sgemm). */
enum pgemm_path pgemm_best(void);

/* "none", "avx2", "avx512". */
const char *pgemm_path_name(enum pgemm_path path);

/* Packs w(n,k) (row-major, row stride k) into *p, allocating. */
void pgemm_pack(struct pgemm_w *p, const float *w, size_t n, size_t k);
void pgemm_free(struct pgemm_w *p);

/* y(rows, n) = x(rows, k) W^T, row strides ldx and ldy in floats; path
 * must not be PGEMM_NONE. */
void pgemm(const struct pgemm_w *p, enum pgemm_path path, const float *x,
           size_t ldx, size_t rows, float *y, size_t ldy);

#endif
