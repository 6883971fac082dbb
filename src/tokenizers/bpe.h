/* bpe.h — byte-level BPE tokenizers from tokenizer.json (ModernBERT,
 * GPT-2/RoBERTa-style, Qwen and Llama-3-style), id for id as Hugging Face's
 * Rust `tokenizers` 0.23 computes them.
 *
 * tokenizer.c picks this loader when tokenizer.json's model.type is "BPE".
 * The tokenizer it returns fills the generic struct tokenizer: `tokenize`
 * gives the ids of one text without special tokens; the pair template
 * ([CLS] A [SEP] B [SEP] or <s> A </s></s> B </s>) is read from the
 * post-processor into cls_id / sep_id / n_sep_middle / second_type_one.
 * A tokenizer.json without a pair template (Qwen's ByteLevel
 * post-processor, or none) yields cls_id = sep_id = -1: such a tokenizer
 * tokenizes texts, and tokenizer_encode_pair must not be used with it. */
#ifndef RERANK_BPE_H
#define RERANK_BPE_H

#include <jansson.h>

#include "tokenizers/tokenizer.h"
#include "util.h"

/* Loads the tokenizer.json at `path`.  Returns a new tokenizer (release
 * with tokenizer_free) or NULL + e; errors name the file and the part of
 * it (a normalizer, pre-tokenizer or post-processor kind that is not
 * implemented is refused by name).  Its `tokenize` accepts any bytes: a
 * byte that is not part of valid UTF-8 counts as U+FFFD (so a fuzzer can
 * feed it raw input); valid UTF-8 is tokenized exactly. */
struct tokenizer *bpe_load(const char *path, struct err *e);

/* The same from an already parsed tokenizer.json (borrowed; nothing of it
 * is kept); `path` only names the file in errors. */
struct tokenizer *bpe_load_json(const json_t *tj, const char *path,
                                struct err *e);

#endif
