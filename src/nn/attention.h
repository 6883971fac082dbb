/* attention.h — scaled dot-product attention of one head, for the short
 * sequences of a reranker, without sgemm.
 *
 *     out(nq, d) = softmax(scale * q(nq, d) k(nk, d)^T) v(nk, d)
 *
 * At a cross-encoder's sizes (tens of rows, d = 32 or 64) OpenBLAS spends
 * more time packing its operands than multiplying them.  Here the head's
 * keys are copied once, transposed, into scratch (d rows of nk floats,
 * padded to ATTENTION_PAD), its values once, contiguous (nk rows of d:
 * the products then stream them rather than stride across the callers'
 * wide rows), and the query rows go through in blocks of
 * ATTENTION_ROWS: a block's scores, their exponentials, then their
 * products with V, all while the block is in L1.
 *
 * Arithmetic, the same on every path (so AVX-512, AVX2 and the portable
 * path give the same bits), with fma chains starting from zero:
 *     s[i][j]   = scale * fma(q[i][d-1], k[j][d-1], ... fma(q[i][0], k[j][0], 0))
 *     e[i][j]   = vexp(s[i][j] - max_j s[i][j])  (nn/vmath.h, fused)
 *     z[i]      = the 16 partial sums of e[i][j] over j = l (mod 16),
 *                 j ascending, added in a fixed tree (attention.c: sum16)
 *     out[i][c] = fma(e[i][nk-1], v[nk-1][c], ... fma(e[i][0], v[0][c], 0))
 *                 * (1 / z[i])
 * Each row is computed by the same operations whatever its block, tile or
 * neighbours: a row's result depends only on its own q row, k and v
 * (batch and thread invariance by construction).
 *
 * Paths, by CPU feature at run time: AVX512F, AVX2 + FMA, and a portable
 * C one (fmaf).  Scratch is attention_scratch(nq, nk, d) =
 * (2 d + ATTENTION_ROWS) * pad(nk) floats, whatever nq: 1.2 MiB for
 * nk = 2048 and d = 64, 4.8 MiB for nk = 8192. */
#ifndef RERANK_ATTENTION_H
#define RERANK_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>

#define ATTENTION_ROWS 24 /* query rows per block */
#define ATTENTION_PAD 16  /* keys are padded to a multiple of this */

/* NONE: no kernel of ours (callers keep sgemm); REF: the portable C path. */
enum attention_path {
    ATTENTION_NONE,
    ATTENTION_REF,
    ATTENTION_AVX2,
    ATTENTION_AVX512,
    ATTENTION_N_PATHS
};

/* Whether this CPU (and OS) runs path (NONE and REF: always). */
bool attention_available(enum attention_path path);

/* The fastest available path: AVX512, AVX2 (with FMA), else REF where the
 * compiler says fmaf is fast (__FP_FAST_FMAF), else NONE.  The environment
 * variable RERANK_ATTENTION=none|ref|avx2|avx512 picks another available
 * one (tests, and measuring against sgemm). */
enum attention_path attention_best(void);

/* "none", "ref", "avx2", "avx512". */
const char *attention_path_name(enum attention_path path);

/* Floats of scratch attention_head needs. */
size_t attention_scratch(size_t nq, size_t nk, size_t d);

/* out(nq, d) = softmax(scale * q k^T) v for one head: q (nq, d), k and v
 * (nk, d), rows strided by ldq, ldk, ldv, ldo floats; nq, nk, d >= 1;
 * scratch of attention_scratch(nq, nk, d) floats; path not NONE. */
void attention_head(enum attention_path path, size_t nq, size_t nk, size_t d,
                    float scale, const float *q, size_t ldq, const float *k,
                    size_t ldk, const float *v, size_t ldv, float *out,
                    size_t ldo, float *scratch);

#endif
