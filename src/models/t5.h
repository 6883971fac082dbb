/* t5.h — what the T5 family (t5.c) offers beyond the model seam: duoT5's
 * pairwise input, for the pairwise scorer (pairwise.c). */
#ifndef RERANK_T5_H
#define RERANK_T5_H

#include <stdbool.h>
#include <stddef.h>

#include "models/model.h"

extern const struct model_family t5_family;

/* Whether m is a T5 model (its forward then gives logit(▁true) -
 * logit(▁false)). */
bool t5_is(const struct model *m);

/* duoT5's input into out: "Query: q Document0: d0 Document1: d1 Relevant:"
 * tokenized as one text, cut from the right to max_length - 1 tokens (the
 * second document loses first), then </s>.  max_length >= 2. */
void t5_encode_duo(const struct model *m, const char *q, size_t nq,
                   const char *d0, size_t n0, const char *d1, size_t n1,
                   size_t max_length, struct encoding *out);

#endif
