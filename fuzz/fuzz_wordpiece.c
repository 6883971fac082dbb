/* fuzz_wordpiece — WordPiece encoding (src/tokenizers/wordpiece.c, src/tokenizers/tokenizer.c)
 * with the tiny uncased BERT of testdata/tiny-bert, loaded once: basic
 * tokenization (cleaning, lowercasing, accent stripping, CJK and
 * punctuation splits), greedy longest-match-first word pieces, and the
 * pair template with truncation.
 *
 * The input is a query and a document separated by one 0xff byte. */
#include "fuzz.h"
#include "fuzz_tokenize.h"

static struct tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    tok = fuzz_testdata_tokenizer("tiny-bert");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_encode_input(tok, data, size);
    return 0;
}
