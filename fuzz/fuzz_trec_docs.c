/* fuzz_trec_docs — a document collection for --docs (src/trec/trec_docs.c):
 * format detection (TSV or JSON Lines with BEIR's fields), the one-pass
 * index build (docid hashes and offsets, duplicates, line errors), writing
 * and mapping the .rrx index, and lookups that pread a line and compare its
 * docid.  The input is the collection; the index is built afresh each time
 * (beside it, in the scratch directory; $XDG_CACHE_HOME points there too).
 * The docid of the first line and a few fixed ones are looked up. */
#include "fuzz.h"
#include "trec/trec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("XDG_CACHE_HOME", fuzz_dir(), 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_unlink("docs.rrx");
    const char *path = fuzz_write("docs", data, size);
    struct err e;
    struct trec_docs *d = trec_docs_open(path, &e);
    if (!d) {
        if (!e.msg[0])
            abort();
        return 0;
    }
    char first[64];
    size_t n = 0;
    while (n < size && n < sizeof first - 1 && data[n] != '\t' && data[n] != '\n')
        n++;
    memcpy(first, data, n);
    first[n] = 0;
    const char *ids[] = {first, "d1", "0", "1", ""};
    struct arena a = {0};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        const char *text;
        size_t len;
        int r = trec_docs_get(d, ids[i], &a, &text, &len, &e);
        if (r < 0 || (r == 1 && (!text || text[len] != 0)))
            abort();
    }
    arena_free(&a);
    trec_docs_free(d);
    return 0;
}
