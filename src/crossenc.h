/* crossenc.h — the cross-encoder scorer: any model family of model.h
 * behind the scorer seam.
 *
 * For each candidate the pair (query, document) is encoded by the model
 * family's template and its logits become the score: the chosen label's
 * (default the last) through the activation in force -- by default the one
 * sentence-transformers' CrossEncoder.predict applies for this model
 * (model.h: model_dir_activation).
 * Long documents are truncated like CrossEncoder does (--long first), or
 * split into overlapping windows scored separately, keeping the best
 * (--long max, "MaxP"). */
#ifndef RERANK_CROSSENC_H
#define RERANK_CROSSENC_H

#include <stdbool.h>
#include <stddef.h>

#include "models/model.h"
#include "scorer.h"
#include "tokenizers/tokenizer.h"

enum long_mode { LONG_FIRST, LONG_MAX };

struct crossenc_options {
    const char *model_dir;    /* a resolved model directory */
    size_t max_length;        /* 0: min(512, model_max_length, positions) */
    enum activation activation; /* ACTIVATION_AUTO: the model's default */
    long label;               /* -1: the last label */
    int threads;              /* 0: number of online CPUs */
    enum quantize quantize;   /* QUANTIZE_INT8: int8 dense layers */
    enum long_mode long_mode;
    size_t stride;            /* tokens shared by consecutive windows;
                                 0: a quarter of the window */
    const char *variant;      /* the family's input recipe (--t5); NULL:
                                 its default */
    const char *instruction;  /* an LLM reranker's task instruction; NULL:
                                 the model's default */
};

/* Loads tokenizer and model.  NULL + e on failure (a model error). */
struct scorer *crossenc_scorer_new(const struct crossenc_options *o, struct err *e);

/* Calls fn for each encoded pair of g (one per candidate, or one per
 * window with --long max) instead of scoring: for --tokenize.  The encoding
 * is valid during the call only.  Returns 0 or -1 with e. */
int crossenc_encode_group(struct scorer *s, const struct group *g,
                          void (*fn)(size_t cand, size_t window,
                                     const struct encoding *enc, void *ctx),
                          void *ctx, struct err *e);

/* The max_length in force (after defaults). */
size_t crossenc_max_length(const struct scorer *s);

#endif
