/* fuzz_sentencepiece — SentencePiece Unigram encoding
 * (src/tokenizers/sentencepiece.c, src/tokenizers/tokenizer.c) with the model of testdata/spm,
 * loaded once: the precompiled normalizer, the Metaspace pre-tokenizer,
 * Viterbi segmentation (unknown runs as one <unk>), and the RoBERTa pair
 * template with truncation.
 *
 * The input is a query and a document separated by one 0xff byte. */
#include "fuzz.h"
#include "fuzz_tokenize.h"

static struct tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    tok = fuzz_testdata_tokenizer("spm");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_encode_input(tok, data, size);
    return 0;
}
