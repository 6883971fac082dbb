/* fuzz_trec_run — reading a TREC run file (src/trec/trec.c): six fields a line,
 * scores as numbers, comments and blank lines, docids listed twice, and the
 * per-topic trec_eval ordering.  The input is the run file.  A run that
 * reads is checked: every topic found by its qid, its documents in
 * trec_eval order (score descending, then docid descending). */
#include "fuzz.h"
#include "trec/trec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("run.txt", data, size);
    struct trec_run run;
    struct err e;
    if (trec_run_read(&run, path, &e) == 0) {
        for (size_t i = 0; i < run.n_topics; i++) {
            const struct trec_topic_run *t = &run.topics[i];
            if (trec_run_find(&run, t->qid) != t || t->n_docs == 0)
                abort();
            for (size_t k = 1; k < t->n_docs; k++) {
                const struct trec_doc *a = &t->docs[k - 1], *b = &t->docs[k];
                if (a->score < b->score ||
                    (a->score == b->score && strcmp(a->docid, b->docid) <= 0))
                    abort();
            }
        }
        if (!run.tag)
            abort();
    } else if (!e.msg[0]) {
        abort();
    }
    trec_run_free(&run);
    return 0;
}
