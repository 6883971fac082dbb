/* eval.h — trec_eval 9.0.x-exact effectiveness measures over a run and
 * qrels (read by trec.c), and a paired randomization test between runs.
 *
 * Semantics follow trec_eval 9.0.x (form_res_rels.c and m_*.c): each query's
 * documents are ranked by score descending, then docid descending (strcmp);
 * -M truncates that ranking; a document is relevant when its qrels value is
 * >= the relevance level (-l, default 1); map and recall divide by every
 * relevant document in the qrels; ndcg_cut uses the qrels value as a linear
 * gain with an ideal ranking built from all judged levels; P_K counts
 * missing ranks as non-relevant.  Queries are those in both run and qrels,
 * or (complete, -c) every qrels query, missing ones scoring 0.  Averages are
 * arithmetic means over those queries in qid (strcmp) order.
 *
 * Nothing here prints; eval_cli.c is the command line. */
#ifndef RERANK_EVAL_H
#define RERANK_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trec.h"
#include "util.h"

enum eval_kind {
    EVAL_NDCG_CUT,   /* ndcg_cut_K */
    EVAL_RECIP_RANK, /* recip_rank (no cutoff) */
    EVAL_MRR_CUT,    /* mrr_K: recip_rank with -M K semantics */
    EVAL_MAP,        /* map */
    EVAL_RECALL,     /* recall_K */
    EVAL_P,          /* P_K */
};

struct eval_measure {
    enum eval_kind kind;
    long cutoff;          /* K; 0 for recip_rank and map */
    char name[32];        /* as printed: "ndcg_cut_10", "recip_rank" */
};

struct eval_measures {
    struct eval_measure *v;   /* (n) in the order asked, no duplicates */
    size_t n, cap;
};

/* Adds the measures named by spec to ms (duplicates are dropped).  Accepted:
 * trec_eval names "ndcg_cut_10", "P_5", "recall_1000", "recip_rank", "map",
 * trec_eval parameter syntax "ndcg_cut.5,10" and bare "ndcg_cut", "P",
 * "recall" (trec_eval's default cutoffs 5,10,15,20,30,100,200,500,1000), and
 * "mrr_K".  Returns 0, or -1 with e set for an unknown name or bad cutoff. */
int eval_measures_add(struct eval_measures *ms, const char *spec, struct err *e);
/* Adds the default set: ndcg_cut_10 recip_rank mrr_10 map recall_100
 * recall_1000 P_10. */
void eval_measures_default(struct eval_measures *ms);
/* Index of the measure printed as name in ms, or -1. */
long eval_measures_find(const struct eval_measures *ms, const char *name);
void eval_measures_free(struct eval_measures *ms);

struct eval_opts {
    int rel_level;        /* -l: minimum qrels value counted relevant (1) */
    long max_docs;        /* -M: documents per query considered; 0 = all */
    bool complete;        /* -c: average over every qrels query */
};

struct eval_result {
    size_t n_measures;
    size_t n_queries;          /* queries averaged over (num_q) */
    const char **qids;         /* (n_queries) ascending strcmp; borrowed
                                  from the qrels */
    bool *retrieved;           /* (n_queries) false only for -c rows of
                                  queries the run lacks (they score 0) */
    double *values;            /* (n_queries, n_measures) row-major */
    double *means;             /* (n_measures) over the n_queries rows; 0
                                  when n_queries is 0 */
    const char **unretrieved;  /* (n_unretrieved) qrels queries without
                                  results in the run, ascending */
    size_t n_unretrieved;
    size_t n_unjudged;         /* run queries absent from the qrels
                                  (ignored, as trec_eval does) */
};

/* Evaluates run against qrels for measures m (n_m of them).  r is filled
 * afresh; release it with eval_result_free.  The qrels must outlive r. */
void eval_run(const struct trec_run *run, const struct trec_qrels *qrels,
              const struct eval_measure *m, size_t n_m,
              const struct eval_opts *o, struct eval_result *r);
void eval_result_free(struct eval_result *r);

/* Two-sided paired randomization test (Fisher; Smucker, Allan & Carterette
 * 2007) on measure index k of two results of the same measure list, over
 * the queries present in both.  Each of n_perm permutations flips the sign
 * of every per-query difference with probability 1/2 (splitmix64 stream
 * from seed); p = (1 + #{|permuted mean| >= |observed mean|}) / (1 +
 * n_perm), so p is never 0. */
struct eval_comparison {
    size_t n_queries;     /* paired queries */
    double mean_a, mean_b;/* over the paired queries */
    double diff;          /* mean_b - mean_a */
    double p;             /* two-sided p-value; 1 when n_queries is 0 */
};
#define EVAL_PERMUTATIONS 10000

void eval_compare(const struct eval_result *a, const struct eval_result *b,
                  size_t k, size_t n_perm, uint64_t seed,
                  struct eval_comparison *out);

/* ---- Command line (eval_cli.c) ----------------------------------------- */

/* `rerank eval --qrels QRELS [options] RUN...`; argv[0] is the subcommand
 * name.  Prints results to stdout and diagnostics ("rerank: FILE:LINE: ...")
 * to stderr.  Returns 0 on success (also --help, and a reader that closed
 * the output pipe), else the kind of the failure, which main.c maps to the
 * exit status: ERR_USAGE, ERR_INPUT (malformed input), ERR_IO (a file not
 * readable, output not written), ERR_THRESHOLD (a --fail-under threshold not
 * met).  Never exits. */
int eval_main(int argc, char **argv);
/* The same with explicit streams (tests). */
int eval_cli_run(int argc, char **argv, FILE *out, FILE *errf);

#endif
