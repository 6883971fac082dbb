/* pairwise.h — duoT5 pairwise reranking as a scorer (see pairwise.c). */
#ifndef RERANK_PAIRWISE_H
#define RERANK_PAIRWISE_H

#include <stddef.h>

#include "scorer.h"
#include "util.h"

/* The pairwise scorer of the duoT5 model in model_dir (a directory; hub
 * names are resolved by the caller), cutting each pair's input to
 * max_length tokens (0: the smallest of 512, the tokenizer's
 * model_max_length and the model's positions), on threads workers (0: the
 * online CPUs).  NULL with e (a model error). */
struct scorer *pairwise_scorer_new(const char *model_dir, size_t max_length,
                                   int threads, struct err *e);

#endif
