/* eval.h — trec_eval-exact effectiveness measures over a run and qrels (read
 * by trec.c), and paired significance tests between runs.
 *
 * Semantics follow trec_eval 10.0 (form_res_rels.c and m_*.c), which
 * differs from 9.0.x (and pytrec_eval) only in iprec_at_recall's recall
 * cutoff (10.0 rounds it, 9.0.x added 0.9 and truncated) and in comparing
 * scores as doubles (9.0.x: floats, so near-equal scores tied): each query's
 * documents are ranked by score descending, then docid descending (strcmp);
 * -M truncates that ranking; a document is relevant when its qrels value is
 * >= the relevance level (-l, default 1); map and recall divide by every
 * relevant document in the qrels; ndcg_cut uses the qrels value as a linear
 * gain with an ideal ranking built from all judged levels; P_K counts
 * missing ranks as non-relevant.  Queries are those in both run and qrels,
 * or (complete, -c) every qrels query, missing ones scoring as an empty
 * ranking (0 everywhere but num_rel).  Judged queries without results are
 * left out as 9.0.x did (10.0 stops with an error unless -c).  The "all"
 * value is the arithmetic mean over those queries in qid (strcmp) order,
 * except the sum for num_ret, num_rel and num_rel_ret (under -c num_rel's is
 * every judgment with value > 0, as m_num_rel.c counts) and the geometric
 * mean for gm_map.
 *
 * Nothing here prints; eval_cli.c is the command line. */
#ifndef RERANK_EVAL_H
#define RERANK_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trec/trec.h"
#include "util.h"

enum eval_kind {
    EVAL_NDCG_CUT,   /* ndcg_cut_K */
    EVAL_RECIP_RANK, /* recip_rank (no cutoff) */
    EVAL_MRR_CUT,    /* mrr_K: recip_rank with -M K semantics */
    EVAL_MAP,        /* map */
    EVAL_RECALL,     /* recall_K */
    EVAL_P,          /* P_K */
    EVAL_NDCG,       /* ndcg: ndcg_cut over the whole ranking */
    EVAL_RPREC,      /* Rprec: precision at rank num_rel */
    EVAL_BPREF,      /* bpref: judged documents only */
    EVAL_SUCCESS,    /* success_K: 1 if a relevant document in the top K */
    EVAL_NUM_RET,    /* num_ret: documents ranked (after -M) */
    EVAL_NUM_REL,    /* num_rel: judged documents with value >= -l */
    EVAL_NUM_REL_RET,/* num_rel_ret: of those, how many ranked */
    EVAL_SET_P,      /* set_P: num_rel_ret / num_ret */
    EVAL_SET_RECALL, /* set_recall: num_rel_ret / num_rel */
    EVAL_SET_F,      /* set_F: (x+1)PR / (xP + R) with set_P, set_recall */
    EVAL_GM_MAP,     /* gm_map: per query log(max(AP, 1e-5)) */
    EVAL_IPREC,      /* iprec_at_recall_X: interpolated precision */
};

struct eval_measure {
    enum eval_kind kind;
    long cutoff;          /* K; 0 for measures without one */
    double x;             /* set_F's beta, iprec_at_recall's recall level */
    char name[32];        /* as printed: "ndcg_cut_10", "recip_rank" */
};
/* Counts (num_ret, num_rel, num_rel_ret) print as integers and sum. */
bool eval_measure_is_count(const struct eval_measure *m);
/* gm_map has no per-query value of its own (trec_eval prints none). */
bool eval_measure_per_query(const struct eval_measure *m);

struct eval_measures {
    struct eval_measure *v;   /* (n) in the order asked, no duplicates */
    size_t n, cap;
};

/* Adds the measures named by spec to ms (duplicates are dropped).  Accepted:
 * trec_eval names "ndcg_cut_10", "P_5", "recall_1000", "recip_rank", "map",
 * "ndcg", "Rprec", "bpref", "success_1", "num_ret", "num_rel",
 * "num_rel_ret", "set_P", "set_recall", "set_F", "set_F_0.5", "gm_map",
 * "iprec_at_recall_0.50"; trec_eval parameter syntax "ndcg_cut.5,10",
 * "set_F.0.5", "iprec_at_recall.0,.5"; bare "ndcg_cut", "P", "recall"
 * (cutoffs 5,10,15,20,30,100,200,500,1000), "success" (1,5,10),
 * "iprec_at_recall" (0.0,0.1,...,1.0); "official" (trec_eval's default
 * set: num_ret num_rel num_rel_ret map gm_map Rprec bpref recip_rank
 * iprec_at_recall P); and "mrr_K".  Returns 0, or -1 with e set for an
 * unknown name or bad parameter. */
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
    const struct eval_measure *measures; /* (n_measures) borrowed */
    size_t n_measures;
    size_t n_queries;          /* queries averaged over (num_q) */
    const char **qids;         /* (n_queries) ascending strcmp; borrowed
                                  from the qrels */
    bool *retrieved;           /* (n_queries) false only for -c rows of
                                  queries the run lacks (they score 0) */
    double *values;            /* (n_queries, n_measures) row-major */
    double *means;             /* (n_measures) the "all" value over the
                                  n_queries rows (eval_summarize); 0 when
                                  n_queries is 0 */
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
/* The "all" value of measure m over n per-query values v: the mean, the sum
 * for counts, exp(mean) for gm_map (whose values are logs); 0 if n is 0. */
double eval_summarize(const struct eval_measure *m, const double *v, size_t n);

/* Two paired two-sided tests on measure index k of two results of the
 * same measure list, over the queries present in both:
 * - randomization (Fisher; Smucker, Allan & Carterette 2007): each of
 *   n_perm permutations flips the sign of every per-query difference with
 *   probability 1/2 (splitmix64 stream from seed); p = (1 + #{|permuted
 *   mean| >= |observed mean|}) / (1 + n_perm), so p is never 0;
 * - Student's t: t = mean(d) / (sd(d) / sqrt(n)) with n - 1 degrees of
 *   freedom, p = I_{df/(df+t^2)}(df/2, 1/2) (regularized incomplete beta).
 *   Fewer than 2 pairs, or all differences 0: t = 0, p = 1; equal nonzero
 *   differences: t = +-inf, p = 0.
 * The differences are of per-query values (for gm_map, of log AP). */
struct eval_comparison {
    size_t n_queries;     /* paired queries */
    double mean_a, mean_b;/* "all" values over the paired queries */
    double diff;          /* mean_b - mean_a */
    double p;             /* randomization p-value; 1 when n_queries is 0 */
    double t;             /* t statistic of b - a */
    double p_t;           /* t-test p-value */
};
#define EVAL_PERMUTATIONS 10000

void eval_compare(const struct eval_result *a, const struct eval_result *b,
                  size_t k, size_t n_perm, uint64_t seed,
                  struct eval_comparison *out);

/* Two-sided p-value of Student's t with df degrees of freedom (df >= 1). */
double eval_t_pvalue(double t, double df);

enum eval_correction {
    EVAL_CORRECT_NONE,
    EVAL_CORRECT_BONFERRONI,  /* p * m, at most 1 */
    EVAL_CORRECT_HOLM,        /* step-down: the i-th smallest times m-i+1,
                                 made non-decreasing, at most 1 */
};
/* Adjusts the m p-values of one family of tests in place. */
void eval_correct(double *p, size_t m, enum eval_correction c);

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
