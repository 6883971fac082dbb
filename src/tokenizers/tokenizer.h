/* tokenizer.h — text to token ids, and the pair template every
 * cross-encoder uses.
 *
 * A tokenizer turns one UTF-8 text into ids (no special tokens).  The pair
 * encoding — [CLS] query [SEP] document [SEP] for BERT, <s> query </s></s>
 * document </s> for RoBERTa-style models — and the truncation that makes it
 * fit max_length are shared (tokenizer.c), so that every model family
 * truncates exactly like Hugging Face's `tokenizers` (longest_first). */
#ifndef RERANK_TOKENIZER_H
#define RERANK_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Token ids, with where each of Hugging Face's pre-tokens starts, which its
 * early exit under truncation needs (tokenizer_encode_ids).  Tokenizers mark
 * them with ids_mark_word and ids_push_added.  Resetting n to 0 reuses the
 * vector. */
enum { IDS_INSIDE, IDS_WORD, IDS_ADDED };
struct ids {
    int32_t *v;      /* (cap) */
    uint8_t *word;   /* (cap) IDS_WORD where a pre-token (a word, a
                        punctuation mark) starts, IDS_ADDED at an added token
                        typed in the text, IDS_INSIDE elsewhere */
    size_t n, cap;
};
void ids_push(struct ids *a, int32_t id);
/* Marks ids [first, n) as one pre-token (nothing when it is empty). */
void ids_mark_word(struct ids *a, size_t first);
/* Pushes the id of an added token matched in the text: a pre-token of its
 * own, which counts toward the early exit but never ends it. */
void ids_push_added(struct ids *a, int32_t id);
void ids_free(struct ids *a);

struct tokenizer {
    const char *kind;          /* "wordpiece", "sentencepiece", "bpe" */
    /* Appends the ids of `text` (len bytes of valid UTF-8) to out,
     * marking where each pre-token starts (ids_mark_word, ids_push_added);
     * a tokenizer that marks nothing gets no early exit. */
    void (*tokenize)(const struct tokenizer *t, const char *text, size_t len,
                     struct ids *out);
    void (*free)(struct tokenizer *t);
    void *state;
    int32_t cls_id, sep_id, pad_id, unk_id;
    int n_sep_middle;          /* separators between the two texts: 1 (BERT)
                                  or 2 (RoBERTa: </s></s>) */
    bool second_type_one;      /* token type 1 for the second text (BERT) */
    size_t vocab_size;
};

/* One encoded pair: input ids and token type ids, same length. */
struct encoding {
    struct ids input_ids;
    struct ids type_ids;
};
void encoding_free(struct encoding *enc);

/* Number of special tokens a pair adds (3 for BERT, 4 for RoBERTa). */
size_t tokenizer_pair_specials(const struct tokenizer *t);

/* Builds the pair encoding of query ids q and document ids d into out
 * (replacing its contents), truncating longest_first so the total length is
 * at most max_length (which must exceed the number of special tokens). */
void tokenizer_encode_pair(const struct tokenizer *t, const int32_t *q,
                           size_t nq, const int32_t *d, size_t nd,
                           size_t max_length, struct encoding *out);

/* Hugging Face's encoding of a text pair (tokenizers 0.23): each text's
 * tokenization stops after the pre-token that reaches max_length tokens
 * (the early exit under truncation), then tokenizer_encode_pair cuts the
 * pair.  The early exit decides which text counts as the shorter when both
 * are longer than max_length. */
void tokenizer_encode_ids(const struct tokenizer *t, const struct ids *q,
                          const struct ids *d, size_t max_length,
                          struct encoding *out);

/* Loads the tokenizer of a Hugging Face model directory: WordPiece from
 * vocab.txt or tokenizer.json, SentencePiece from sentencepiece.bpe.model or
 * tokenizer.json, BPE (bpe.h) from tokenizer.json, as the files present and
 * config say.  NULL + e on error. */
struct tokenizer *tokenizer_load(const char *model_dir, struct err *e);

static inline void tokenizer_free(struct tokenizer *t)
{
    if (t)
        t->free(t);
}

#endif
