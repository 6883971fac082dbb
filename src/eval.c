/* eval.c — trec_eval 9.0.x measures and the paired randomization test.
 * The per-query arithmetic mirrors trec_eval's m_ndcg_cut.c, m_recip_rank.c,
 * m_map.c, m_recall.c and m_P.c so that every value matches to the last
 * printed digit; eval.h states the semantics. */
#include "eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* trec_eval's relevance codes for retrieved documents without a usable
 * judgment (form_res_rels.c). */
#define REL_NONPOOL (-1)    /* not in the qrels */
#define REL_UNJUDGED (-2)   /* in the qrels with a negative value */

static const long default_cutoffs[] = {5, 10, 15, 20, 30, 100, 200, 500, 1000};

static const struct {
    const char *name;        /* trec_eval base name */
    enum eval_kind kind;
    bool has_cutoff;
} families[] = {
    {"ndcg_cut", EVAL_NDCG_CUT, true},
    {"recip_rank", EVAL_RECIP_RANK, false},
    {"mrr", EVAL_MRR_CUT, true},
    {"map", EVAL_MAP, false},
    {"recall", EVAL_RECALL, true},
    {"P", EVAL_P, true},
};

long eval_measures_find(const struct eval_measures *ms, const char *name)
{
    for (size_t i = 0; i < ms->n; i++)
        if (strcmp(ms->v[i].name, name) == 0)
            return (long)i;
    return -1;
}

static void measures_push(struct eval_measures *ms, enum eval_kind kind,
                          const char *base, long cutoff)
{
    struct eval_measure m = {.kind = kind, .cutoff = cutoff};
    if (cutoff)
        snprintf(m.name, sizeof m.name, "%s_%ld", base, cutoff);
    else
        snprintf(m.name, sizeof m.name, "%s", base);
    if (eval_measures_find(ms, m.name) >= 0)
        return;
    grow((void **)&ms->v, &ms->cap, ms->n + 1, sizeof *ms->v);
    ms->v[ms->n++] = m;
}

/* Parses a positive cutoff filling all of s[0..n). */
static int parse_cutoff(const char *s, size_t n, long *out)
{
    if (!n || n > 18)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v <= 0)
        return -1;
    *out = v;
    return 0;
}

int eval_measures_add(struct eval_measures *ms, const char *spec, struct err *e)
{
    for (size_t f = 0; f < sizeof families / sizeof *families; f++) {
        size_t n = strlen(families[f].name);
        if (strncmp(spec, families[f].name, n) != 0)
            continue;
        const char *rest = spec + n;
        if (!*rest) {
            if (!families[f].has_cutoff) {
                measures_push(ms, families[f].kind, families[f].name, 0);
                return 0;
            }
            if (families[f].kind == EVAL_MRR_CUT)
                return err_set(e, "measure \"mrr\" needs a cutoff (mrr_10)");
            for (size_t i = 0; i < sizeof default_cutoffs / sizeof *default_cutoffs; i++)
                measures_push(ms, families[f].kind, families[f].name,
                              default_cutoffs[i]);
            return 0;
        }
        if (!families[f].has_cutoff || (*rest != '_' && *rest != '.'))
            continue;
        /* "_K" names one cutoff; ".K1,K2" is trec_eval's parameter list. */
        const char *p = rest + 1;
        for (;;) {
            size_t len = *rest == '.' ? strcspn(p, ",") : strlen(p);
            long k;
            if (parse_cutoff(p, len, &k))
                return err_set(e, "measure \"%s\": cutoff must be a positive "
                               "integer", spec);
            measures_push(ms, families[f].kind, families[f].name, k);
            if (!p[len])
                return 0;
            p += len + 1;
        }
    }
    return err_set(e, "unknown measure \"%s\" (known: ndcg_cut_K, recip_rank, "
                   "mrr_K, map, recall_K, P_K)", spec);
}

void eval_measures_default(struct eval_measures *ms)
{
    static const char *const names[] = {"ndcg_cut_10", "recip_rank", "mrr_10",
                                        "map", "recall_100", "recall_1000",
                                        "P_10"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        eval_measures_add(ms, names[i], NULL);
}

void eval_measures_free(struct eval_measures *ms)
{
    free(ms->v);
    memset(ms, 0, sizeof *ms);
}

/* One query's ranking as trec_eval's RES_RELS: relevance codes in rank
 * order, counts of judged documents per non-negative level, num_rel. */
struct ranked {
    int *rel;             /* (num_ret) */
    size_t num_ret;
    long levels[128];     /* judged documents with qrels value i */
    int max_level;        /* highest level with a judged document, or -1 */
    long num_rel;         /* judged documents with value >= rel_level */
};

static void ranked_build(struct ranked *r, const struct trec_topic_run *t,
                         const struct trec_qrels_topic *qt,
                         const struct eval_opts *o)
{
    size_t n = t ? t->n_docs : 0;
    if (o->max_docs > 0 && (size_t)o->max_docs < n)
        n = (size_t)o->max_docs;
    r->rel = xreallocarray(r->rel, n ? n : 1, sizeof *r->rel);
    r->num_ret = n;
    for (size_t i = 0; i < n; i++) {
        const struct trec_judgment *j = trec_qrels_judgment(qt, t->docs[i].docid);
        r->rel[i] = !j ? REL_NONPOOL : j->rel < 0 ? REL_UNJUDGED : j->rel;
    }
    memset(r->levels, 0, sizeof r->levels);
    r->max_level = -1;
    for (size_t i = 0; i < qt->n; i++)
        if (qt->j[i].rel >= 0) {
            r->levels[qt->j[i].rel]++;
            if (qt->j[i].rel > r->max_level)
                r->max_level = qt->j[i].rel;
        }
    r->num_rel = 0;
    for (int l = 0; l <= r->max_level; l++)
        if (l >= o->rel_level)
            r->num_rel += r->levels[l];
}

/* Number of the first k ranked documents with rel >= level. */
static long rel_in_top(const struct ranked *r, long k, int level)
{
    long n = 0;
    for (size_t i = 0; i < r->num_ret && (long)i < k; i++)
        n += r->rel[i] >= level;
    return n;
}

/* m_ndcg_cut.c: linear gains, log2(rank + 1) discount, ideal ranking from
 * the judged levels; an ideal DCG of 0 leaves the (then 0) DCG as is. */
static double ndcg_cut(const struct ranked *r, long k)
{
    double dcg = 0;
    for (size_t i = 0; i < r->num_ret && (long)i < k; i++)
        if (r->rel[i] > 0)
            dcg += r->rel[i] / log2((double)(i + 2));
    double ideal = 0;
    long i = 0;
    for (int l = r->max_level; l > 0 && i < k; l--)
        for (long c = 0; c < r->levels[l] && i < k; c++, i++)
            ideal += l / log2((double)(i + 2));
    return ideal > 0 ? dcg / ideal : dcg;
}

/* m_recip_rank.c over the first k ranks (k < 0: all). */
static double recip_rank(const struct ranked *r, long k, int level)
{
    for (size_t i = 0; i < r->num_ret && (k < 0 || (long)i < k); i++)
        if (r->rel[i] >= level)
            return 1.0 / (double)(i + 1);
    return 0;
}

/* m_map.c: precision at each relevant rank, summed, over all relevant. */
static double average_precision(const struct ranked *r, int level)
{
    long so_far = 0;
    double sum = 0;
    for (size_t i = 0; i < r->num_ret; i++)
        if (r->rel[i] >= level) {
            so_far++;
            sum += (double)so_far / (double)(i + 1);
        }
    return so_far && r->num_rel ? sum / (double)r->num_rel : 0;
}

static double measure_value(const struct ranked *r, const struct eval_measure *m,
                            int level)
{
    switch (m->kind) {
    case EVAL_NDCG_CUT:
        return ndcg_cut(r, m->cutoff);
    case EVAL_RECIP_RANK:
        return recip_rank(r, -1, level);
    case EVAL_MRR_CUT:
        return recip_rank(r, m->cutoff, level);
    case EVAL_MAP:
        return average_precision(r, level);
    case EVAL_RECALL:
        return r->num_rel ? (double)rel_in_top(r, m->cutoff, level) / (double)r->num_rel : 0;
    case EVAL_P:
        return (double)rel_in_top(r, m->cutoff, level) / (double)m->cutoff;
    }
    return 0;
}

void eval_run(const struct trec_run *run, const struct trec_qrels *qrels,
              const struct eval_measure *m, size_t n_m,
              const struct eval_opts *o, struct eval_result *r)
{
    memset(r, 0, sizeof *r);
    r->n_measures = n_m;
    size_t nq = qrels->n_topics;
    r->qids = xreallocarray(NULL, nq ? nq : 1, sizeof *r->qids);
    r->retrieved = xreallocarray(NULL, nq ? nq : 1, sizeof *r->retrieved);
    r->values = xcalloc(nq ? nq : 1, (n_m ? n_m : 1) * sizeof *r->values);
    r->means = xcalloc(n_m ? n_m : 1, sizeof *r->means);
    r->unretrieved = xreallocarray(NULL, nq ? nq : 1, sizeof *r->unretrieved);
    struct ranked rk = {0};
    for (size_t q = 0; q < nq; q++) {
        const struct trec_qrels_topic *qt = &qrels->topics[q];
        const struct trec_topic_run *t = trec_run_find(run, qt->qid);
        if (!t)
            r->unretrieved[r->n_unretrieved++] = qt->qid;
        if (!t && !o->complete)
            continue;
        size_t row = r->n_queries++;
        r->qids[row] = qt->qid;
        r->retrieved[row] = t != NULL;
        ranked_build(&rk, t, qt, o);
        for (size_t k = 0; k < n_m; k++)
            r->values[row * n_m + k] = measure_value(&rk, &m[k], o->rel_level);
    }
    free(rk.rel);
    /* Summed in qid order, as trec_eval accumulates, then divided. */
    for (size_t k = 0; k < n_m && r->n_queries; k++) {
        double sum = 0;
        for (size_t row = 0; row < r->n_queries; row++)
            sum += r->values[row * n_m + k];
        r->means[k] = sum / (double)r->n_queries;
    }
    for (size_t i = 0; i < run->n_topics; i++)
        r->n_unjudged += trec_qrels_find(qrels, run->topics[i].qid) == NULL;
}

void eval_result_free(struct eval_result *r)
{
    free(r->qids);
    free(r->retrieved);
    free(r->values);
    free(r->means);
    free(r->unretrieved);
    memset(r, 0, sizeof *r);
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void eval_compare(const struct eval_result *a, const struct eval_result *b,
                  size_t k, size_t n_perm, uint64_t seed,
                  struct eval_comparison *out)
{
    memset(out, 0, sizeof *out);
    out->p = 1;
    /* Pair rows by qid: both are in ascending strcmp order. */
    size_t cap = a->n_queries < b->n_queries ? a->n_queries : b->n_queries;
    double *d = xmalloc((cap ? cap : 1) * sizeof *d);
    double sum_a = 0, sum_b = 0;
    size_t n = 0;
    for (size_t i = 0, j = 0; i < a->n_queries && j < b->n_queries;) {
        int c = strcmp(a->qids[i], b->qids[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            double va = a->values[i * a->n_measures + k];
            double vb = b->values[j * b->n_measures + k];
            sum_a += va;
            sum_b += vb;
            d[n++] = vb - va;
            i++, j++;
        }
    }
    out->n_queries = n;
    if (n) {
        out->mean_a = sum_a / (double)n;
        out->mean_b = sum_b / (double)n;
        out->diff = out->mean_b - out->mean_a;
        double observed = 0, scale = 0;
        for (size_t i = 0; i < n; i++) {
            observed += d[i];
            scale += fabs(d[i]);
        }
        /* Sums equal up to rounding count as "at least as extreme". */
        double threshold = fabs(observed) - 1e-9 * scale;
        uint64_t state = seed;
        size_t hits = 0;
        for (size_t p = 0; p < n_perm; p++) {
            double s = 0;
            uint64_t bits = 0;
            for (size_t i = 0; i < n; i++) {
                if (i % 64 == 0)
                    bits = splitmix64(&state);
                s += (bits & 1) ? -d[i] : d[i];
                bits >>= 1;
            }
            hits += fabs(s) >= threshold;
        }
        out->p = (double)(hits + 1) / (double)(n_perm + 1);
    }
    free(d);
}
