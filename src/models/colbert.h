/* colbert.h — ColBERT late-interaction reranking (MaxSim) behind the
 * scorer seam.
 *
 * A ColBERT model encodes the query and each document on their own into
 * one L2-normalised vector per token; a document's score is the sum over
 * the query's vectors of the best dot product with the document's kept
 * vectors.  Two directory layouts are read: Stanford's HF_ColBERT
 * (config.json architectures ["HF_ColBERT"], artifact.metadata, bert.*
 * tensors and linear.weight) and PyLate's (modules.json with Dense modules,
 * config_sentence_transformers.json), on BERT, XLM-RoBERTa and ModernBERT
 * encoders (the families' load_encoder, model.h).  The model is also a
 * row of the family table (model.c), so that model_load recognises the
 * directory; it has no pair template, so it scores only through this
 * scorer. */
#ifndef RERANK_COLBERT_H
#define RERANK_COLBERT_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "crossenc.h"
#include "scorer.h"
#include "tokenizers/tokenizer.h"

/* Whether directory dir holds a ColBERT model (either layout).  False too
 * when it cannot be read: the cross-encoder path then reports why. */
bool colbert_is_model(const char *dir);

/* The ColBERT scorer of o->model_dir.  Of the options it reads threads,
 * and max_length, which (when not 0) replaces the model's document length;
 * --activation, --label, --long max and --stride are refused.  NULL with e
 * (a model error). */
struct scorer *colbert_scorer_new(const struct crossenc_options *o,
                                  struct err *e);

/* Calls fn once per candidate of g with the encoder inputs instead of
 * scoring (--tokenize): the query's ids (marker and [MASK] expansion
 * included), the document's, and keep (one per document id) 1 where the
 * document vector counts in MaxSim, 0 where the skiplist drops it.  The
 * arguments are valid during the call only.  0, or -1 with e. */
int colbert_encode_group(struct scorer *s, const struct group *g,
                         void (*fn)(size_t cand, const struct ids *q,
                                    const struct ids *d,
                                    const struct ids *keep, void *ctx),
                         void *ctx, struct err *e);

/* --cache: keeps each document's vectors in cache (kind "colbert-doc";
 * read only when the cache is read-only), keyed by the model's files
 * (their bytes hashed: the encoder's weights and every Dense module's) and
 * the document's input ids, and scores documents found there without the
 * encoder.  Vectors are stored as computed (float32), so runs from the
 * cache print the scores of the run that filled it.  cache stays the
 * caller's, open while s scores.  When ident is not NULL, a line naming
 * those files' hash is appended to it (the score cache's identity: a
 * directory's identity hashes its top-level files only).  0, or -1 with e. */
int colbert_use_cache(struct scorer *s, struct cache *cache, struct buf *ident,
                      struct err *e);

/* The document length in force (tokens, specials included). */
size_t colbert_max_length(const struct scorer *s);

/* Documents the scorer has run through the encoder (not from the cache). */
size_t colbert_n_encoded(const struct scorer *s);

/* Documents the scorer has scored with vectors from the --cache file. */
size_t colbert_n_cached(const struct scorer *s);

#endif
