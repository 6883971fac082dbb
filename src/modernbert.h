/* modernbert.h — ModernBERT cross-encoders (Ettin rerankers,
 * gte-reranker-modernbert-base): load a Hugging Face model directory and
 * compute relevance logits as transformers' modeling_modernbert.py does.
 *
 * Two layouts: ModernBertForSequenceClassification (config.json
 * architectures; tensors under "model.", head.dense -> GELU -> head.norm ->
 * classifier) and the sentence-transformers modular layout (modules.json:
 * a bare ModernBertModel at the root, then Pooling, Dense, LayerNorm, Dense
 * modules in their own directories).  Tokenizing belongs to the tokenizer;
 * turning logits into scores to the scorer. */
#ifndef RERANK_MODERNBERT_H
#define RERANK_MODERNBERT_H

#include <stddef.h>

#include "tokenizer.h"
#include "util.h"

struct modernbert;

/* Loads the model in directory dir, every config size checked against the
 * weights before it drives an allocation.  NULL with e (naming the file and
 * the config key or tensor at fault) on error.  Free with modernbert_free. */
struct modernbert *modernbert_load(const char *dir, struct err *e);
void modernbert_free(struct modernbert *m);

/* Logits of n_seqs encoded pairs into logits (n_seqs, n_labels), in input
 * order.  Sequences are packed without padding; a sequence's logits are
 * bitwise the same whatever else is in the batch and whatever the thread
 * count.  Buffers grow to the largest batch seen and are reused, so a warm
 * call allocates nothing.  Returns 0, or -1 with e when a sequence is empty,
 * longer than modernbert_max_tokens or holds an id outside the vocabulary.
 * Not reentrant. */
int modernbert_forward(struct modernbert *m, const struct encoding *const *seqs,
                       size_t n_seqs, float *logits, struct err *e);

size_t modernbert_n_labels(const struct modernbert *m);

/* Longest sequence the model takes: max_position_embeddings. */
size_t modernbert_max_tokens(const struct modernbert *m);

/* Threads modernbert_forward uses (default: the online CPUs); OpenBLAS is
 * set to one thread, process-wide (see bert.h). */
void modernbert_set_threads(struct modernbert *m, int n);

#endif
