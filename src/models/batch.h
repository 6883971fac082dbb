/* batch.h — encodings gathered for one packed forward pass.
 *
 * The cross-encoder (crossenc.c: one pair or window per encoding) and
 * ColBERT (colbert.c: one document per encoding) both run their encoder on
 * batches of about BATCH_TOKENS tokens, so memory is bounded by the batch,
 * not the group, and both need to know which candidate each encoding
 * belongs to.  The encodings' buffers are kept and reused across batches. */
#ifndef RERANK_BATCH_H
#define RERANK_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "tokenizers/tokenizer.h"

enum { BATCH_TOKENS = 8192 };

struct batch {
    struct encoding *encs;        /* (cap) the pending encodings */
    const struct encoding **ptrs; /* (cap) &encs[k]: what forward takes */
    size_t *owner;                /* (cap) the candidate of each */
    size_t n, cap, tokens;        /* pending, allocated, their tokens */
};

/* A fresh pending encoding for candidate owner, for the caller to fill
 * (replacing its contents). */
struct encoding *batch_slot(struct batch *b, size_t owner);

/* Takes back the slot batch_slot just gave (its input was not needed). */
void batch_unslot(struct batch *b);

/* Counts the tokens of the slot just filled; true when the batch holds
 * BATCH_TOKENS tokens or more and should run now. */
bool batch_add(struct batch *b);

/* The pending encodings, in order, as forward takes them (b->n of them). */
const struct encoding *const *batch_seqs(struct batch *b);

/* Empties the batch, keeping its buffers. */
void batch_clear(struct batch *b);
void batch_free(struct batch *b);

#endif
