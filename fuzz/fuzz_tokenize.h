/* fuzz_tokenize.h — the driver the tokenizer targets share: encodes a
 * query/document pair the way the cross-encoder scorer does (tokenize each
 * text, then the pair template with longest_first truncation) and checks
 * that every id is inside the vocabulary and the pair fits max_length. */
#ifndef RERANK_FUZZ_TOKENIZE_H
#define RERANK_FUZZ_TOKENIZE_H

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "input.h"
#include "tokenizers/tokenizer.h"

static inline void fuzz_check_ids(const struct tokenizer *t, const struct ids *a)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i] < 0 || (size_t)a->v[i] >= t->vocab_size)
            abort();
}

/* Encodes query q and document d (valid UTF-8) as a pair of at most
 * max_length tokens (> the template's special tokens). */
static inline void fuzz_encode_pair(const struct tokenizer *t, const char *q, size_t nq,
                                    const char *d, size_t nd, size_t max_length)
{
    struct ids qi = {0}, di = {0};
    t->tokenize(t, q, nq, &qi);
    t->tokenize(t, d, nd, &di);
    fuzz_check_ids(t, &qi);
    fuzz_check_ids(t, &di);
    struct encoding enc = {0};
    tokenizer_encode_pair(t, qi.v, qi.n, di.v, di.n, max_length, &enc);
    if (enc.input_ids.n != enc.type_ids.n || enc.input_ids.n > max_length ||
        enc.input_ids.n < tokenizer_pair_specials(t))
        abort();
    fuzz_check_ids(t, &enc.input_ids);
    encoding_free(&enc);
    ids_free(&qi);
    ids_free(&di);
}

/* The fuzz input as a pair: query and document split at the first 0xff
 * byte (never part of UTF-8), max_length from the input's size.  Inputs
 * that are not UTF-8 are left out: the readers refuse them before any
 * tokenizer sees them. */
static inline void fuzz_encode_input(const struct tokenizer *t, const uint8_t *data,
                                     size_t size)
{
    const char *s = (const char *)data;
    const char *cut = memchr(s, 0xff, size);
    size_t nq = cut ? (size_t)(cut - s) : 0;
    const char *d = cut ? cut + 1 : s;
    size_t nd = size - (size_t)(d - s);
    if (utf8_invalid_at(s, nq) >= 0 || utf8_invalid_at(d, nd) >= 0)
        return;
    size_t max_length = tokenizer_pair_specials(t) + 1 + size % 64;
    fuzz_encode_pair(t, s, nq, d, nd, max_length);
}

/* The tokenizer of the model directory testdata/DIR; aborts when it does not
 * load. */
static inline struct tokenizer *fuzz_testdata_tokenizer(const char *dir)
{
    struct err e;
    struct tokenizer *t = tokenizer_load(fuzz_testdata(dir), &e);
    if (!t) {
        fprintf(stderr, "fuzz: %s\n", e.msg);
        abort();
    }
    return t;
}

/* Encodes a fixed multilingual sample with a tokenizer loaded from fuzzed
 * files, so that what the loader accepted is also used. */
static inline void fuzz_encode_sample(const struct tokenizer *t)
{
    static const char q[] = "What is the Capital of FRANCE?";
    static const char d[] = "Paris ist die Hauptstadt. 東京は日本の首都 — naïve café, "
                            "ΣΊΣΥΦΟΣ 각각 \t\n emoji 😀 end.";
    fuzz_encode_pair(t, q, sizeof q - 1, d, sizeof d - 1, 32);
}

#endif
