/* fuse.h — rank fusion of TREC runs (`rerank fuse`, and several --run as a
 * first stage), with ranx's definitions:
 *   RRF      score(d) = sum over runs of 1 / (k + rank(d)), rank 1-based in
 *            trec_eval order (score descending, docid descending);
 *   CombSUM  sum over runs of the normalised score (0 where d is absent);
 *   CombMNZ  CombSUM times the number of runs that hold d;
 * normalisation per run and query: minmax (s - min) / max(max - min, 1e-9),
 * zscore (s - mean) / max(population std, 1e-9), or none.
 * Sums are taken in the order the runs are given. */
#ifndef RERANK_FUSE_H
#define RERANK_FUSE_H

#include <stddef.h>

#include "trec/trec.h"
#include "util.h"

enum fuse_method { FUSE_RRF, FUSE_COMBSUM, FUSE_COMBMNZ };
enum fuse_norm { FUSE_NORM_NONE, FUSE_NORM_MINMAX, FUSE_NORM_ZSCORE };

struct fuse_options {
    enum fuse_method method;
    enum fuse_norm norm;    /* CombSUM/CombMNZ only */
    double rrf_k;           /* RRF only (60) */
};

/* Fuses runs[0..n) into out (a new run: topics in order of first appearance
 * over the runs, documents in trec_eval order of the fused score; each
 * document keeps the line of its first appearance).  Free out with
 * trec_run_free. */
void fuse_runs(const struct trec_run *runs, size_t n, const struct fuse_options *o,
               struct trec_run *out);

/* Parses "rrf", "combsum", "combmnz" / "none", "minmax", "zscore".  0 or -1. */
int fuse_method_parse(const char *s, enum fuse_method *out);
int fuse_norm_parse(const char *s, enum fuse_norm *out);

#endif
