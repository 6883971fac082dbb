/* test_deberta.c — the DeBERTa-v3 family (src/models/deberta.c) against Hugging
 * Face: the shared golden tiny-deberta-v3-ce (DebertaV2ForSequenceClass-
 * ification, position_buckets 256), whose 106 rows were scored by
 * transformers in float64.  The rows' input_ids go straight into forward
 * (rows of 512 tokens, twice the buckets, reach the log-spaced relative
 * positions); the family's pair template must rebuild those ids from the
 * texts (spm.model in DeBERTa's ids, [CLS] q [SEP] d [SEP], longest_first);
 * a batch must score exactly as its sequences alone.  Skipped without
 * ../shared. */
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
    size_t n = golden_rows_load("deberta-v3-cases.jsonl", &rows);
    if (!n) {
        SKIP("no %s/golden/deberta-v3-cases.jsonl", shared_dir());
        return check_report();
    }
    CHECK_MSG(n == 106, "%zu rows", n);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny-deberta-v3-ce", shared_dir());
    struct err e = {0};
    struct model *m = model_load(dir, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK_STR(m->family->name, "deberta-v2");
        CHECK(m->n_labels == 1 && m->activation == ACTIVATION_SIGMOID);
        CHECK(m->tok->cls_id == 1 && m->tok->sep_id == 2 &&
              m->tok->pad_id == 0 && m->tok->unk_id == 3);
        golden_rows_forward(m, rows, n, logit, 1e-4, "deberta-v3");
        golden_rows_pairs(m, rows, n, true);
        model_free(m);
    }
    golden_rows_free(rows, n);
    return check_report();
}
