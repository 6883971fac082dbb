/* fuzz_spm_model — loading sentencepiece.bpe.model (src/tokenizers/sentencepiece.c):
 * the bounds-checked protobuf reader of ModelProto, piece types and scores,
 * and the precompiled charsmap trie it carries.  The input is the .model
 * file of a model directory that has nothing else. */
#include "fuzz_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_tokenizer("sentencepiece.bpe.model", data, size);
    return 0;
}
