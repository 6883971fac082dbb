/* bert.h — BERT-family cross-encoders: load a Hugging Face model directory
 * (config.json + model.safetensors) and compute relevance logits.
 *
 * Two families share one encoder: BertForSequenceClassification
 * (model_type "bert": pooler dense + tanh, then classifier) and
 * XLMRobertaForSequenceClassification ("xlm-roberta": classifier.dense +
 * tanh, then classifier.out_proj, positions counted from pad_token_id + 1).
 * Both heads read the first token, so the differences are data: tensor
 * name prefix, head tensor names and the position offset.
 *
 * Tokenizing and building the pair encoding belong to tokenizer.c; turning
 * logits into scores belongs to the scorer. */
#ifndef RERANK_BERT_H
#define RERANK_BERT_H

#include <stddef.h>

#include "tokenizer.h"
#include "util.h"

enum bert_family {
    BERT_FAMILY_BERT,        /* model_type "bert" */
    BERT_FAMILY_XLM_ROBERTA, /* model_type "xlm-roberta" */
};

struct bert_model;

/* Loads the model in directory dir.  Every tensor is validated against
 * config.json before use; F32 weights are used in place from the read-only
 * mapping, F16/BF16 converted to F32 once.  Returns NULL with e (naming the
 * file, tensor and expected vs actual shape where relevant) on error.  The
 * caller frees with bert_free. */
struct bert_model *bert_load(const char *dir, struct err *e);
void bert_free(struct bert_model *m);

/* Logits of n_seqs encoded pairs into logits (n_seqs, bert_n_labels(m)),
 * row by row in input order.  Sequences are packed, never padded, and a
 * sequence's logits are bitwise the same whatever else is in the batch.
 * Activation buffers grow to the largest batch seen and are reused, so a
 * warm call allocates nothing.  Returns 0, or -1 with e when a sequence is
 * empty, too long (> bert_max_tokens) or holds an id outside the vocabulary
 * or token-type range.  Not reentrant: one call at a time per model. */
int bert_forward(struct bert_model *m, const struct encoding *const *seqs,
                 size_t n_seqs, float *logits, struct err *e);

/* Number of logits per sequence (config.json's id2label). */
size_t bert_n_labels(const struct bert_model *m);

/* Longest sequence the position embeddings cover (special tokens
 * included): max_position_embeddings, less pad_token_id + 1 for
 * XLM-RoBERTa (whose positions start there). */
size_t bert_max_tokens(const struct bert_model *m);

enum bert_family bert_family(const struct bert_model *m);

/* Threads bert_forward uses (default: the online CPUs).  OpenBLAS itself
 * is set to one thread, process-wide: its own threading would make a
 * sequence's logits depend on the batch around it. */
void bert_set_threads(struct bert_model *m, int n);

#endif
