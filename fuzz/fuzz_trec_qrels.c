/* fuzz_trec_qrels — reading a qrels file (src/trec/trec.c): four fields a line,
 * relevance an integer in -127..127, documents judged twice, topics and
 * judgments sorted for lookup.  The input is the qrels file.  Qrels that
 * read are checked: topics sorted by qid, judgments by docid, each found by
 * its lookup. */
#include "fuzz.h"
#include "trec/trec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("qrels", data, size);
    struct trec_qrels q;
    struct err e;
    if (trec_qrels_read(&q, path, &e) == 0) {
        for (size_t i = 0; i < q.n_topics; i++) {
            const struct trec_qrels_topic *t = &q.topics[i];
            if ((i && strcmp(q.topics[i - 1].qid, t->qid) >= 0) ||
                trec_qrels_find(&q, t->qid) != t)
                abort();
            for (size_t k = 0; k < t->n; k++)
                if ((k && strcmp(t->j[k - 1].docid, t->j[k].docid) >= 0) ||
                    trec_qrels_judgment(t, t->j[k].docid) != &t->j[k] ||
                    t->j[k].rel < -127 || t->j[k].rel > 127)
                    abort();
        }
    } else if (!e.msg[0]) {
        abort();
    }
    trec_qrels_free(&q);
    return 0;
}
