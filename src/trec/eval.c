/* eval.c — trec_eval 10.0 measures, the paired randomization test and
 * t-test, and the multiple-comparison corrections.  The per-query
 * arithmetic mirrors trec_eval's m_*.c (and form_res_rels.c's relevance
 * codes) so that every value matches to the last printed digit; eval.h
 * states the semantics. */
#include "trec/eval.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* trec_eval's relevance codes for retrieved documents without a usable
 * judgment (form_res_rels.c). */
#define REL_NONPOOL (-1)    /* not in the qrels */
#define REL_UNJUDGED (-2)   /* in the qrels with a negative value */
/* gm_map's floor for a query's AP (trec_eval.h MIN_GEO_MEAN). */
#define EVAL_MIN_GEO_MEAN 0.00001

static const long default_cutoffs[] = {5, 10, 15, 20, 30, 100, 200, 500, 1000};
static const long success_cutoffs[] = {1, 5, 10};
static const double iprec_levels[] = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5,
                                      0.6, 0.7, 0.8, 0.9, 1.0};
#define N_OF(a) (sizeof (a) / sizeof *(a))

/* How a family takes parameters: none; integer cutoffs (one value each);
 * recall levels in [0, 1] (one value each); set_F's one beta. */
enum param { PARAM_NONE, PARAM_CUTOFF, PARAM_LEVEL, PARAM_BETA };

static const struct family {
    const char *name;        /* trec_eval base name */
    enum eval_kind kind;
    enum param param;
    const long *cutoffs;     /* the bare name's cutoffs (PARAM_CUTOFF) */
    size_t n_cutoffs;        /* 0: the bare name needs a cutoff */
} families[] = {
    {"ndcg_cut", EVAL_NDCG_CUT, PARAM_CUTOFF, default_cutoffs, N_OF(default_cutoffs)},
    {"recip_rank", EVAL_RECIP_RANK, PARAM_NONE, NULL, 0},
    {"mrr", EVAL_MRR_CUT, PARAM_CUTOFF, NULL, 0},
    {"map", EVAL_MAP, PARAM_NONE, NULL, 0},
    {"recall", EVAL_RECALL, PARAM_CUTOFF, default_cutoffs, N_OF(default_cutoffs)},
    {"P", EVAL_P, PARAM_CUTOFF, default_cutoffs, N_OF(default_cutoffs)},
    {"ndcg", EVAL_NDCG, PARAM_NONE, NULL, 0},
    {"Rprec", EVAL_RPREC, PARAM_NONE, NULL, 0},
    {"bpref", EVAL_BPREF, PARAM_NONE, NULL, 0},
    {"success", EVAL_SUCCESS, PARAM_CUTOFF, success_cutoffs, N_OF(success_cutoffs)},
    {"num_ret", EVAL_NUM_RET, PARAM_NONE, NULL, 0},
    {"num_rel", EVAL_NUM_REL, PARAM_NONE, NULL, 0},
    {"num_rel_ret", EVAL_NUM_REL_RET, PARAM_NONE, NULL, 0},
    {"set_P", EVAL_SET_P, PARAM_NONE, NULL, 0},
    {"set_recall", EVAL_SET_RECALL, PARAM_NONE, NULL, 0},
    {"set_F", EVAL_SET_F, PARAM_BETA, NULL, 0},
    {"gm_map", EVAL_GM_MAP, PARAM_NONE, NULL, 0},
    {"iprec_at_recall", EVAL_IPREC, PARAM_LEVEL, NULL, 0},
};

/* trec_eval's "official" nickname (measures.c off_names, less runid and
 * num_q, which `rerank eval` always prints). */
static const char *const official[] = {
    "num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec", "bpref",
    "recip_rank", "iprec_at_recall", "P",
};

bool eval_measure_is_count(const struct eval_measure *m)
{
    return m->kind == EVAL_NUM_RET || m->kind == EVAL_NUM_REL ||
           m->kind == EVAL_NUM_REL_RET;
}

bool eval_measure_per_query(const struct eval_measure *m)
{
    return m->kind != EVAL_GM_MAP;
}

long eval_measures_find(const struct eval_measures *ms, const char *name)
{
    for (size_t i = 0; i < ms->n; i++)
        if (strcmp(ms->v[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Adds measure m unless one of the same name is there. */
static void measures_push(struct eval_measures *ms, struct eval_measure m)
{
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

/* Parses a finite number in [lo, hi] filling all of s[0..n). */
static int parse_number(const char *s, size_t n, double lo, double hi,
                        double *out)
{
    char buf[32], *end;
    if (!n || n >= sizeof buf || strchr("+- ", s[0]))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Adds one measure of family f with the parameter text p[0..n) (n 0: the
 * parameterless measure). */
static int family_push(struct eval_measures *ms, const struct family *f,
                       const char *p, size_t n, const char *spec,
                       struct err *e)
{
    struct eval_measure m = {.kind = f->kind};
    switch (f->param) {
    case PARAM_NONE:
        snprintf(m.name, sizeof m.name, "%s", f->name);
        break;
    case PARAM_CUTOFF:
        if (parse_cutoff(p, n, &m.cutoff))
            return err_set(e, "measure \"%s\": cutoff must be a positive "
                           "integer", spec);
        snprintf(m.name, sizeof m.name, "%s_%ld", f->name, m.cutoff);
        break;
    case PARAM_LEVEL:
        if (parse_number(p, n, 0, 1, &m.x))
            return err_set(e, "measure \"%s\": recall level must be a number "
                           "in 0..1", spec);
        snprintf(m.name, sizeof m.name, "%s_%3.2f", f->name, m.x);
        break;
    case PARAM_BETA:
        m.x = 1.0;
        if (n && parse_number(p, n, 0, 1e6, &m.x))
            return err_set(e, "measure \"%s\": beta must be a non-negative "
                           "number", spec);
        /* trec_eval names a parameterized set_F by its text: set_F_0.5. */
        if (n && (int)snprintf(m.name, sizeof m.name, "%s_%.*s", f->name,
                               (int)n, p) >= (int)sizeof m.name)
            return err_set(e, "measure \"%s\": parameter too long", spec);
        if (!n)
            snprintf(m.name, sizeof m.name, "%s", f->name);
        break;
    }
    measures_push(ms, m);
    return 0;
}

int eval_measures_add(struct eval_measures *ms, const char *spec, struct err *e)
{
    if (strcmp(spec, "official") == 0) {
        for (size_t i = 0; i < N_OF(official); i++)
            if (eval_measures_add(ms, official[i], e))
                return -1;
        return 0;
    }
    for (size_t fi = 0; fi < N_OF(families); fi++) {
        const struct family *f = &families[fi];
        size_t n = strlen(f->name);
        if (strncmp(spec, f->name, n) != 0)
            continue;
        const char *rest = spec + n;
        if (!*rest) {
            if (f->param == PARAM_NONE || f->param == PARAM_BETA)
                return family_push(ms, f, "", 0, spec, e);
            if (f->param == PARAM_LEVEL) {
                for (size_t i = 0; i < N_OF(iprec_levels); i++) {
                    struct eval_measure m = {.kind = f->kind, .x = iprec_levels[i]};
                    snprintf(m.name, sizeof m.name, "%s_%3.2f", f->name, m.x);
                    measures_push(ms, m);
                }
                return 0;
            }
            if (!f->n_cutoffs)
                return err_set(e, "measure \"%s\" needs a cutoff (%s_10)",
                               spec, spec);
            for (size_t i = 0; i < f->n_cutoffs; i++) {
                struct eval_measure m = {.kind = f->kind, .cutoff = f->cutoffs[i]};
                snprintf(m.name, sizeof m.name, "%s_%ld", f->name, m.cutoff);
                measures_push(ms, m);
            }
            return 0;
        }
        if (f->param == PARAM_NONE || (*rest != '_' && *rest != '.'))
            continue;
        /* "_X" names one measure as printed; ".X1,X2" is trec_eval's
           parameter list (set_F takes one value, which may hold a '.'). */
        const char *p = rest + 1;
        if (f->param == PARAM_BETA)
            return family_push(ms, f, p, strlen(p), spec, e);
        for (;;) {
            size_t len = *rest == '.' ? strcspn(p, ",") : strlen(p);
            if (family_push(ms, f, p, len, spec, e))
                return -1;
            if (!p[len])
                return 0;
            p += len + 1;
        }
    }
    return err_set(e, "unknown measure \"%s\" (known: official, ndcg_cut_K, "
                   "ndcg, recip_rank, mrr_K, map, gm_map, Rprec, bpref, "
                   "recall_K, P_K, success_K, iprec_at_recall_X, num_ret, "
                   "num_rel, num_rel_ret, set_P, set_recall, set_F)", spec);
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
 * order, counts of judged documents per non-negative level, num_rel,
 * num_rel_ret. */
struct ranked {
    int *rel;             /* (num_ret) */
    size_t num_ret;
    long levels[128];     /* judged documents with qrels value i */
    int max_level;        /* highest level with a judged document, or -1 */
    long num_rel;         /* judged documents with value >= rel_level */
    long num_rel_ret;     /* ranked judged documents with value >= rel_level */
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
    r->num_rel_ret = 0;
    for (size_t i = 0; i < n; i++) {
        const struct trec_judgment *j = trec_qrels_judgment(qt, t->docs[i].docid);
        r->rel[i] = !j ? REL_NONPOOL : j->rel < 0 ? REL_UNJUDGED : j->rel;
        /* form_res_rels.c counts judged documents only, whatever -l. */
        r->num_rel_ret += r->rel[i] >= 0 && r->rel[i] >= o->rel_level;
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

/* m_ndcg_cut.c (and m_ndcg.c with k unbounded): linear gains, log2(rank +
 * 1) discount, ideal ranking from the judged levels; an ideal DCG of 0
 * leaves the (then 0) DCG as is. */
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

/* m_bpref.c: over judged ranked documents only, each relevant one scores
 * 1 - min(nonrelevant above it, R) / min(judged nonrelevant, R); summed,
 * over R = num_rel. */
static double bpref(const struct ranked *r, int level)
{
    long num_nonrel = 0;
    for (int l = 0; l < level && l <= r->max_level; l++)
        num_nonrel += r->levels[l];
    long nonrel_so_far = 0;
    double sum = 0;
    for (size_t i = 0; i < r->num_ret; i++) {
        if (r->rel[i] < 0)          /* not in the pool, or unjudged */
            continue;
        if (r->rel[i] < level) {
            nonrel_so_far++;
        } else if (nonrel_so_far > 0) {
            long above = nonrel_so_far < r->num_rel ? nonrel_so_far : r->num_rel;
            long denom = num_nonrel < r->num_rel ? num_nonrel : r->num_rel;
            sum += 1.0 - (double)above / (double)denom;
        } else {
            sum += 1.0;
        }
    }
    return r->num_rel ? sum / (double)r->num_rel : sum;
}

/* m_iprec_at_recall.c: the highest precision at any rank at or after the
 * one where round(x * num_rel) relevant documents have been seen, walking
 * the ranking backwards as trec_eval does. */
static double iprec_at_recall(const struct ranked *r, double x, int level)
{
    long cut = lround(x * (double)r->num_rel);
    if (!r->num_ret)            /* -c: trec_eval's stand-in ranking */
        return 0;
    double best = (double)r->num_rel_ret / (double)r->num_ret;
    if (cut > r->num_rel_ret)
        return 0;
    long rel_so_far = r->num_rel_ret;
    for (size_t i = r->num_ret; i > 0 && rel_so_far > 0; i--) {
        double prec = (double)rel_so_far / (double)i;
        if (best < prec)
            best = prec;
        if (r->rel[i - 1] >= level) {
            if (rel_so_far == cut)
                return best;
            rel_so_far--;
        }
    }
    return best;
}

static double measure_value(const struct ranked *r, const struct eval_measure *m,
                            int level)
{
    double p, rc;
    switch (m->kind) {
    case EVAL_NDCG_CUT:
        return ndcg_cut(r, m->cutoff);
    case EVAL_NDCG:
        return ndcg_cut(r, LONG_MAX);
    case EVAL_RECIP_RANK:
        return recip_rank(r, -1, level);
    case EVAL_MRR_CUT:
        return recip_rank(r, m->cutoff, level);
    case EVAL_MAP:
        return average_precision(r, level);
    case EVAL_GM_MAP:
        return log(fmax(average_precision(r, level), EVAL_MIN_GEO_MEAN));
    case EVAL_RECALL:
        return r->num_rel ? (double)rel_in_top(r, m->cutoff, level) / (double)r->num_rel : 0;
    case EVAL_P:
        return (double)rel_in_top(r, m->cutoff, level) / (double)m->cutoff;
    case EVAL_RPREC: {
        long k = (long)r->num_ret < r->num_rel ? (long)r->num_ret : r->num_rel;
        return k ? (double)rel_in_top(r, k, level) / (double)r->num_rel : 0;
    }
    case EVAL_BPREF:
        return bpref(r, level);
    case EVAL_SUCCESS:
        return rel_in_top(r, m->cutoff, level) ? 1 : 0;
    case EVAL_NUM_RET:
        return (double)r->num_ret;
    case EVAL_NUM_REL:
        return (double)r->num_rel;
    case EVAL_NUM_REL_RET:
        return (double)r->num_rel_ret;
    case EVAL_SET_P:
        return r->num_ret ? (double)r->num_rel_ret / (double)r->num_ret : 0;
    case EVAL_SET_RECALL:
        return r->num_rel ? (double)r->num_rel_ret / (double)r->num_rel : 0;
    case EVAL_SET_F:
        if (!r->num_rel_ret)
            return 0;
        p = (double)r->num_rel_ret / (double)r->num_ret;
        rc = (double)r->num_rel_ret / (double)r->num_rel;
        return (m->x + 1.0) * p * rc / (m->x * p + rc);
    case EVAL_IPREC:
        return iprec_at_recall(r, m->x, level);
    }
    return 0;
}

double eval_summarize(const struct eval_measure *m, const double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    if (eval_measure_is_count(m))
        return sum;
    if (!n)
        return 0;
    return m->kind == EVAL_GM_MAP ? exp(sum / (double)n) : sum / (double)n;
}

void eval_run(const struct trec_run *run, const struct trec_qrels *qrels,
              const struct eval_measure *m, size_t n_m,
              const struct eval_opts *o, struct eval_result *r)
{
    memset(r, 0, sizeof *r);
    r->measures = m;
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
    double *col = xmalloc((r->n_queries ? r->n_queries : 1) * sizeof *col);
    for (size_t k = 0; k < n_m && r->n_queries; k++) {
        for (size_t row = 0; row < r->n_queries; row++)
            col[row] = r->values[row * n_m + k];
        r->means[k] = eval_summarize(&m[k], col, r->n_queries);
        /* m_num_rel.c under -c: every judgment > 0 of every query, at any
           -l. */
        if (m[k].kind == EVAL_NUM_REL && o->complete) {
            long n = 0;
            for (size_t q = 0; q < nq; q++)
                for (size_t i = 0; i < qrels->topics[q].n; i++)
                    n += qrels->topics[q].j[i].rel > 0;
            r->means[k] = (double)n;
        }
    }
    free(col);
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

/* Continued fraction of the incomplete beta function (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        for (int step = 0; step < 2; step++) {
            d = 1 + num * d;
            if (fabs(d) < tiny)
                d = tiny;
            c = 1 + num / c;
            if (fabs(c) < tiny)
                c = tiny;
            d = 1 / d;
            h *= d * c;
            num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        }
        if (fabs(d * c - 1) < 1e-16)
            break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b), 0 <= x <= 1. */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) +
                       a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_cf(a, b, x) / a;
    return 1 - front * beta_cf(b, a, 1 - x) / b;
}

double eval_t_pvalue(double t, double df)
{
    if (isnan(t))
        return 1;
    if (isinf(t))
        return 0;
    return beta_inc(df / 2, 0.5, df / (df + t * t));
}

/* Student's t of the n differences d, with its two-sided p-value. */
static void t_test(const double *d, size_t n, double *t, double *p)
{
    *t = 0;
    *p = 1;
    if (n < 2)
        return;
    double sum = 0, big = 0;
    for (size_t i = 0; i < n; i++) {
        sum += d[i];
        big = fmax(big, fabs(d[i]));
    }
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (d[i] - mean) * (d[i] - mean);
    double sd = sqrt(ss / (double)(n - 1));
    /* Equal differences leave only rounding noise in sd. */
    if (sd <= 1e-12 * big) {
        if (big > 0) {
            *t = mean > 0 ? INFINITY : -INFINITY;
            *p = 0;
        }
        return;
    }
    *t = mean / (sd / sqrt((double)n));
    *p = eval_t_pvalue(*t, (double)(n - 1));
}

void eval_compare(const struct eval_result *a, const struct eval_result *b,
                  size_t k, size_t n_perm, uint64_t seed,
                  struct eval_comparison *out)
{
    memset(out, 0, sizeof *out);
    out->p = 1;
    out->p_t = 1;
    /* Pair rows by qid: both are in ascending strcmp order. */
    size_t cap = a->n_queries < b->n_queries ? a->n_queries : b->n_queries;
    double *d = xmalloc((cap ? cap : 1) * 3 * sizeof *d);
    double *va = d + (cap ? cap : 1), *vb = va + (cap ? cap : 1);
    size_t n = 0;
    for (size_t i = 0, j = 0; i < a->n_queries && j < b->n_queries;) {
        int c = strcmp(a->qids[i], b->qids[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            va[n] = a->values[i * a->n_measures + k];
            vb[n] = b->values[j * b->n_measures + k];
            d[n] = vb[n] - va[n];
            n++;
            i++, j++;
        }
    }
    out->n_queries = n;
    if (n) {
        out->mean_a = eval_summarize(&a->measures[k], va, n);
        out->mean_b = eval_summarize(&b->measures[k], vb, n);
        out->diff = out->mean_b - out->mean_a;
        t_test(d, n, &out->t, &out->p_t);
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

void eval_correct(double *p, size_t m, enum eval_correction c)
{
    if (c == EVAL_CORRECT_BONFERRONI) {
        for (size_t i = 0; i < m; i++)
            p[i] = fmin(1, p[i] * (double)m);
        return;
    }
    if (c != EVAL_CORRECT_HOLM || m < 2)
        return;
    /* Indices by ascending p (insertion sort: m is the number of runs). */
    size_t *ix = xmalloc(m * sizeof *ix);
    for (size_t i = 0; i < m; i++) {
        size_t j = i;
        for (; j > 0 && p[ix[j - 1]] > p[i]; j--)
            ix[j] = ix[j - 1];
        ix[j] = i;
    }
    double floor_p = 0;
    for (size_t r = 0; r < m; r++) {
        double adj = fmin(1, p[ix[r]] * (double)(m - r));
        floor_p = fmax(floor_p, adj);
        p[ix[r]] = floor_p;
    }
    free(ix);
}
