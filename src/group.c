/* group.c — group storage: a candidate array plus an arena for strings. */
#include "group.h"

#include <stdlib.h>
#include <string.h>

const char *const docid_keys[] = {"docid", "id", "doc_id", NULL};
const char *const text_keys[] = {"text", "document", "passage", "contents", NULL};

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
