/* group.c — group storage: a candidate array plus an arena for strings. */
#include "group.h"

#include <stdlib.h>
#include <string.h>

const char *const docid_keys[] = {"docid", "_id", "id", "doc_id", NULL};
const char *const text_keys[] = {"text", "document", "passage", "contents", NULL};
const char *const query_id_keys[] = {"qid", "_id", "id", NULL};

void keys_describe(struct buf *b, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++)
        buf_printf(b, "%s\"%s\"", i == 0 ? "" : keys[i + 1] ? ", " : " or ", keys[i]);
}

void group_reset(struct group *g)
{
    g->qid = NULL;
    g->qid_is_int = false;
    g->query = NULL;
    g->query_len = 0;
    g->n_cands = 0;
    g->source = NULL;
    g->first_line = 0;
    g->error = NULL;
    g->skipped = false;
    arena_reset(&g->arena);
}

void group_free(struct group *g)
{
    free(g->cands);
    arena_free(&g->arena);
    memset(g, 0, sizeof *g);
}

struct candidate *group_add(struct group *g)
{
    grow((void **)&g->cands, &g->cap_cands, g->n_cands + 1, sizeof *g->cands);
    struct candidate *c = &g->cands[g->n_cands++];
    memset(c, 0, sizeof *c);
    return c;
}

void group_subset(struct group *sub, const struct group *g, const size_t *idx, size_t n)
{
    grow((void **)&sub->cands, &sub->cap_cands, n ? n : 1, sizeof *sub->cands);
    for (size_t i = 0; i < n; i++)
        sub->cands[i] = g->cands[idx[i]];
    sub->n_cands = n;
    sub->qid = g->qid;
    sub->qid_is_int = g->qid_is_int;
    sub->query = g->query;
    sub->query_len = g->query_len;
    sub->source = g->source;
    sub->first_line = g->first_line;
    sub->ordinal = g->ordinal;
    sub->error = NULL;
    sub->skipped = false;
}
