/* fuzz_vocab — loading a WordPiece vocabulary from vocab.txt
 * (src/tokenizers/wordpiece.c): one token a line, special tokens found by name,
 * duplicates, CR/LF, empty and invalid lines.  The input is the vocab.txt of
 * a model directory that has nothing else. */
#include "fuzz_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_tokenizer("vocab.txt", data, size);
    return 0;
}
