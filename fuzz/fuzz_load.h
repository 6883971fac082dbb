/* fuzz_load.h — the driver the tokenizer-file targets share: the fuzz
 * input becomes one file of an otherwise empty model directory, the
 * tokenizer is loaded from it as `rerank --model DIR` does, and whatever
 * loads is used on a fixed sample. */
#ifndef RERANK_FUZZ_LOAD_H
#define RERANK_FUZZ_LOAD_H

#include "fuzz.h"
#include "fuzz_tokenize.h"

static inline void fuzz_load_tokenizer(const char *file, const uint8_t *data, size_t size)
{
    fuzz_write(file, data, size);
    struct err e;
    struct tokenizer *t = tokenizer_load(fuzz_dir(), &e);
    if (t) {
        fuzz_encode_sample(t);
        tokenizer_free(t);
    } else if (!e.msg[0]) {
        abort(); /* a failure must say why */
    }
}

#endif
