/* batch.c — encodings gathered for one packed forward pass (batch.h). */
#include "models/batch.h"

#include <stdlib.h>
#include <string.h>

struct encoding *batch_slot(struct batch *b, size_t owner)
{
    if (b->n == b->cap) {
        size_t old = b->cap;
        grow((void **)&b->encs, &b->cap, b->n + 1, sizeof *b->encs);
        memset(b->encs + old, 0, (b->cap - old) * sizeof *b->encs);
        b->ptrs = xreallocarray(b->ptrs, b->cap, sizeof *b->ptrs);
        b->owner = xreallocarray(b->owner, b->cap, sizeof *b->owner);
    }
    b->owner[b->n] = owner;
    return &b->encs[b->n++];
}

void batch_unslot(struct batch *b)
{
    b->n--;
}

bool batch_add(struct batch *b)
{
    b->tokens += b->encs[b->n - 1].input_ids.n;
    return b->tokens >= BATCH_TOKENS;
}

const struct encoding *const *batch_seqs(struct batch *b)
{
    for (size_t k = 0; k < b->n; k++)
        b->ptrs[k] = &b->encs[k];
    return b->ptrs;
}

void batch_clear(struct batch *b)
{
    b->n = b->tokens = 0;
}

void batch_free(struct batch *b)
{
    for (size_t k = 0; k < b->cap; k++)
        encoding_free(&b->encs[k]);
    free(b->encs);
    free(b->ptrs);
    free(b->owner);
    memset(b, 0, sizeof *b);
}
