/* fuzz_trec_queries — reading queries for --run (src/trec/trec.c): TSV
 * `qid<TAB>text`, JSON Lines, or classic TREC topics (<top>, <num>,
 * <title>, <desc>, <narr>), detected from the first non-blank byte.  The
 * input is the queries file, read once for each topic field.  Queries that
 * read are checked: every qid found, its text UTF-8 (U+0000 allowed:
 * the length is the text's). */
#include "fuzz.h"
#include "trec/trec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum trec_topic_field fields[] = {TREC_FIELD_TITLE, TREC_FIELD_DESC,
                                                   TREC_FIELD_NARR};
    const char *path = fuzz_write("queries", data, size);
    for (size_t f = 0; f < 3; f++) {
        struct trec_queries q;
        struct err e;
        if (trec_queries_read(&q, path, fields[f], &e) == 0) {
            for (size_t i = 0; i < q.n; i++) {
                size_t len = 0;
                if (!q.qids[i] || trec_queries_find(&q, q.qids[i], &len) != q.texts[i] ||
                    len != q.text_lens[i] || utf8_invalid_at(q.texts[i], len) >= 0 ||
                    q.lines[i] < 1)
                    abort();
            }
        } else if (!e.msg[0]) {
            abort();
        }
        trec_queries_free(&q);
    }
    return 0;
}
