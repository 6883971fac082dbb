/* cascade.c — a first-stage scorer over the whole group, a second-stage
 * scorer over its top N (contract in cascade.h).
 *
 * The sub-group handed to the second stage is a view: its candidates are
 * copies of the parent's (pointing at strings in the parent's arena, which
 * outlive the call) and its own arena stays empty.  Scorers never add
 * strings to a group, so nothing else is needed. */
#include "cascade.h"

#include <math.h>
#include <stdlib.h>

#include "group.h"

struct cascade {
    struct scorer base;
    struct scorer *first, *second;
    size_t top_n;
    char *name;            /* "first>second" */
    size_t *order;         /* (n_cands) first-stage ranking, reused */
    size_t cap_order;
    struct group sub;      /* the view; cands reused across groups */
};

/* qsort has no context argument in C11: the comparator reads this. */
static const struct candidate *rank_cands;

/* Descending score, ties by input position: a stable ranking. */
static int cmp_rank(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = rank_cands[i].score, y = rank_cands[j].score;
    if (x != y)
        return x > y ? -1 : 1;
    return (i > j) - (i < j);
}

/* 0 when every candidate's score is finite, else -1 with e naming one. */
static int check_finite(const struct group *g, const char *stage, struct err *e)
{
    for (size_t i = 0; i < g->n_cands; i++)
        if (!isfinite(g->cands[i].score))
            return err_set(e, "cascade: the %s stage gave docid \"%s\" a non-finite score",
                           stage, g->cands[i].docid);
    return 0;
}

static int cascade_score(struct scorer *sc, struct group *g, struct err *e)
{
    struct cascade *c = sc->state;
    size_t n = g->n_cands;
    if (n == 0)
        return 0;
    if (c->first->score(c->first, g, e) < 0 || check_finite(g, "first", e) < 0)
        return -1;

    grow((void **)&c->order, &c->cap_order, n, sizeof *c->order);
    for (size_t i = 0; i < n; i++)
        c->order[i] = i;
    rank_cands = g->cands;
    qsort(c->order, n, sizeof *c->order, cmp_rank);
    size_t k = c->top_n < n ? c->top_n : n;

    struct group *sub = &c->sub;
    group_subset(sub, g, c->order, k);
    if (k && (c->second->score(c->second, sub, e) < 0 || check_finite(sub, "second", e) < 0))
        return -1;

    double floor = 0; /* the lowest second-stage score */
    for (size_t r = 0; r < k; r++) {
        double s = sub->cands[r].score;
        g->cands[c->order[r]].score = s;
        if (r == 0 || s < floor)
            floor = s;
    }
    for (size_t r = k; r < n; r++) {
        double next = floor - 1;
        if (!(next < floor))
            next = nextafter(floor, -INFINITY);
        g->cands[c->order[r]].score = floor = next;
    }
    return 0;
}

static void cascade_free(struct scorer *sc)
{
    struct cascade *c = sc->state;
    scorer_free(c->first);
    scorer_free(c->second);
    free(c->sub.cands);
    free(c->order);
    free(c->name);
    free(c);
}

struct scorer *cascade_scorer_new(struct scorer *first, struct scorer *second, size_t top_n)
{
    struct cascade *c = xcalloc(1, sizeof *c);
    c->first = first;
    c->second = second;
    c->top_n = top_n;
    struct buf name = {0};
    buf_printf(&name, "%s>%s", first->name, second->name);
    c->name = name.data;
    c->base.name = c->name;
    c->base.score = cascade_score;
    c->base.free = cascade_free;
    c->base.state = c;
    return &c->base;
}
