/* pairwise.c — duoT5 pairwise reranking (--pairwise MODEL): for every
 * ordered pair (i, j) of a group's candidates, p(i > j) = P(▁true) of the
 * duoT5 input "Query: q Document0: d_i Document1: d_j Relevant:" (the
 * softmax over [▁false, ▁true] of one decoder step, t5.c), and
 *     score_i = sum over j != i of p(i > j) + (1 - p(j > i)),
 * the symmetric sum of pygaggle and rank_llm.  A group of n candidates
 * costs n (n - 1) encoder passes, so it runs after a first stage over its
 * top N (--cascade N, cascade.c).  Pairs go through the model in batches;
 * a pair's probability never depends on its batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pairwise.h"
#include "models/t5.h"

/* Pairs per forward call. */
#define PAIR_BATCH 32

struct pairwise {
    struct model *m;
    size_t max_length;
    struct encoding enc[PAIR_BATCH];
    const struct encoding *batch[PAIR_BATCH];
    size_t pi[PAIR_BATCH], pj[PAIR_BATCH];
    float logit[PAIR_BATCH];
};

/* Scores the n pairs waiting in p into the group's candidates. */
static int flush(struct pairwise *p, size_t n, struct group *g, struct err *e)
{
    if (n == 0)
        return 0;
    if (p->m->family->forward(p->m, p->batch, n, p->logit, e))
        return -1;
    for (size_t k = 0; k < n; k++) {
        double prob = 1.0 / (1.0 + exp(-(double)p->logit[k]));
        g->cands[p->pi[k]].score += prob;
        g->cands[p->pj[k]].score += 1.0 - prob;
    }
    return 0;
}

static int pairwise_score(struct scorer *s, struct group *g, struct err *e)
{
    struct pairwise *p = s->state;
    size_t n = 0, nq = group_query_len(g);
    for (size_t i = 0; i < g->n_cands; i++)
        g->cands[i].score = 0;
    for (size_t i = 0; i < g->n_cands; i++)
        for (size_t j = 0; j < g->n_cands; j++) {
            if (i == j)
                continue;
            const struct candidate *a = &g->cands[i], *b = &g->cands[j];
            t5_encode_duo(p->m, g->query, nq, a->text, a->text_len, b->text,
                          b->text_len, p->max_length, &p->enc[n]);
            p->pi[n] = i;
            p->pj[n] = j;
            if (++n == PAIR_BATCH) {
                if (flush(p, n, g, e))
                    return -1;
                n = 0;
            }
        }
    return flush(p, n, g, e);
}

static void pairwise_free(struct scorer *s)
{
    struct pairwise *p = s->state;
    model_free(p->m);
    for (size_t k = 0; k < PAIR_BATCH; k++)
        encoding_free(&p->enc[k]);
    free(p);
    free(s);
}

struct scorer *pairwise_scorer_new(const char *model_dir, size_t max_length,
                                   int threads, struct err *e)
{
    struct model *m = model_load(model_dir, e);
    if (!m)
        return NULL;
    if (!t5_is(m)) {
        err_set(e, "--pairwise %s: a %s model; pairwise reranking needs a "
                "duoT5 model (model_type t5)", model_dir, m->family->name);
        model_free(m);
        return NULL;
    }
    size_t limit = m->max_tokens;
    if (!max_length) {
        max_length = 512;
        if (m->model_max_length && m->model_max_length < max_length)
            max_length = m->model_max_length;
        if (limit < max_length)
            max_length = limit;
    } else if (max_length > limit || max_length < 2) {
        err_set(e, "--max-length %zu: the pairwise model takes 2 to %zu "
                "tokens", max_length, limit);
        model_free(m);
        return NULL;
    }
    m->family->set_threads(m, threads > 0 ? threads : model_default_threads());
    struct pairwise *p = xcalloc(1, sizeof *p);
    p->m = m;
    p->max_length = max_length;
    for (size_t k = 0; k < PAIR_BATCH; k++)
        p->batch[k] = &p->enc[k];
    struct scorer *s = xcalloc(1, sizeof *s);
    *s = (struct scorer){.name = "pairwise", .score = pairwise_score, .free = pairwise_free,
                         .state = p};
    return s;
}
