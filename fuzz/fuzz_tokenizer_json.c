/* fuzz_tokenizer_json — loading tokenizer.json (src/tokenizers/tokenizer.c picks the
 * model type; src/tokenizers/wordpiece.c reads WordPiece vocabularies, normalizer and
 * added tokens; src/tokenizers/sentencepiece.c reads Unigram vocabularies and the
 * precompiled charsmap, a base64 darts-clone trie).  The input is the
 * tokenizer.json of a model directory that has nothing else. */
#include "fuzz_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_tokenizer("tokenizer.json", data, size);
    return 0;
}
