/* test_jina.c — jina-reranker-v2 (src/models/jina.c: XLM-R under jina's tensor
 * names, BF16) against the shared golden tiny-jina-v2-ce, whose rows were
 * scored by jina's own modeling code (equal to XLM-R's): the rows'
 * input_ids through forward (1e-4), the tokenizer.json pair encoding equal
 * to the golden ids, a batch bit-identical to its rows alone (every renamed
 * tensor, the fused Wqkv's three row slices among them, is read on the
 * way).  Skipped without ../shared. */
#include "check.h"
#include "golden_rows.h"
#include "models/model.h"
#include "util.h"

static double logit(const struct row *r)
{
    return row_num(r, "logit");
}

int main(void)
{
    struct row *rows = NULL;
    size_t n = golden_rows_load("jina-v2-cases.jsonl", &rows);
    if (!n) {
        SKIP("no %s/golden/jina-v2-cases.jsonl", shared_dir());
        return check_report();
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny-jina-v2-ce", shared_dir());
    struct err e = {0};
    struct model *m = model_load(dir, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK_STR(m->family->name, "jina-xlm-roberta");
        CHECK(m->n_labels == 1 && m->activation == ACTIVATION_SIGMOID);
        CHECK(m->max_tokens == 1024);
        golden_rows_forward(m, rows, n, logit, 1e-4, "jina-v2");
        golden_rows_pairs(m, rows, n, false);
        model_free(m);
    }
    golden_rows_free(rows, n);
    return check_report();
}
