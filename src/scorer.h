/* scorer.h — the seam every scorer plugs into.
 *
 * A scorer sees one complete group at a time and writes one score per
 * candidate (g->cands[i].score), higher meaning more relevant.  It never
 * reads stdin or writes stdout, and it never reorders the group: sorting and
 * cutting to the top k belong to output.c.  score() returns 0, or -1 with e
 * filled (the group then counts as failed; main.c decides whether the run
 * stops).  free() releases everything the scorer holds. */
#ifndef RERANK_SCORER_H
#define RERANK_SCORER_H

#include "group.h"
#include "util.h"

struct scorer {
    const char *name;
    int (*score)(struct scorer *s, struct group *g, struct err *e);
    void (*free)(struct scorer *s);
    void *state;
    /* Optional, set by the caller: a scorer that works in batches may report
     * progress(ctx, candidates done, of total) within a group. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
};

/* Reports progress within a group when the caller asked for it. */
static inline void scorer_progress(const struct scorer *s, size_t done, size_t total)
{
    if (s->progress)
        s->progress(s->progress_ctx, done, total);
}

/* Lexical baselines (lexical.c). */
struct bm25_params {
    double k1, b;
};
struct scorer *bm25_scorer_new(struct bm25_params p);
struct scorer *identity_scorer_new(void);
struct scorer *random_scorer_new(unsigned long long seed);

static inline void scorer_free(struct scorer *s)
{
    if (s)
        s->free(s);
}

#endif
