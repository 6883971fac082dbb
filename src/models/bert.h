/* bert.h — the BERT encoder for families built on its hidden states.
 *
 * bert.c is the BERT / XLM-RoBERTa cross-encoder family (model.h).  Late-
 * interaction models (colbert.c) need the same encoder without its head:
 * the last hidden state of every token, not one logit per sequence, and
 * an attention mask that hides trailing tokens as keys (ColBERT's [MASK]
 * query expansion).  This header exports exactly that, so the encoder is
 * written once. */
#ifndef RERANK_BERT_H
#define RERANK_BERT_H

#include <stdbool.h>
#include <stddef.h>

#include "models/model.h"

/* The BERT encoder of directory d (model_type "bert", any architectures),
 * without pooler or classifier: its tensors under "bert." when prefixed,
 * else unprefixed.  Sizes are proven against model.safetensors as for the
 * cross-encoder.  No tokenizer (tok NULL); n_labels 0; free with
 * model_free.  NULL with e. */
struct model *bert_encoder_load(const struct model_dir *d, bool prefixed,
                                struct err *e);

/* Hidden size of an encoder from bert_encoder_load. */
size_t bert_hidden_size(const struct model *m);

/* The last hidden states (n_tokens, hidden) of a packed batch (n_seqs >= 1),
 * rows in sequence order, owned by m and valid until its next call.
 * n_keys (n_seqs), when not NULL, lets sequence s attend to its first
 * n_keys[s] tokens only (attention_mask 1 on those, 0 after; every token
 * is still encoded).  A sequence's rows never depend on the rest of the
 * batch.  NULL with e naming the bad sequence. */
const float *bert_encode_hidden(struct model *m,
                                const struct encoding *const *seqs,
                                size_t n_seqs, const size_t *n_keys,
                                struct err *e);

#endif
