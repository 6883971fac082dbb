/* test_deberta.c — the DeBERTa-v3 family (src/deberta.c) against Hugging
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
#include "model.h"
#include "util.h"

#include <string.h>

static double logit(const struct row *r)
{
    return row_num(r, "logit");
}

/* The pair encoding of the texts equals the golden ids and types. */
static void check_pairs(const struct model *m, struct row *rows, size_t n)
{
    struct ids q = {0}, d = {0};
    struct encoding got = {{0}, {0}};
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        const char *qs = row_str(&rows[i], "query"), *ds = row_str(&rows[i], "text");
        q.n = d.n = 0;
        m->tok->tokenize(m->tok, qs, strlen(qs), &q);
        m->tok->tokenize(m->tok, ds, strlen(ds), &d);
        m->family->encode(m, &q, &d, (size_t)row_num(&rows[i], "max_length"),
                          &got);
        const struct encoding *want = &rows[i].enc;
        size_t k = want->input_ids.n;
        bool eq = got.input_ids.n == k && got.type_ids.n == k &&
                  memcmp(got.input_ids.v, want->input_ids.v, k * 4) == 0 &&
                  memcmp(got.type_ids.v, want->type_ids.v, k * 4) == 0;
        same += eq;
        CHECK_MSG(eq, "row %zu (%s): the pair's ids differ (%zu vs %zu "
                  "tokens)", i + 1, row_str(&rows[i], "qid"), got.input_ids.n,
                  k);
    }
    printf("pair ids: %zu of %zu rows identical\n", same, n);
    ids_free(&q);
    ids_free(&d);
    encoding_free(&got);
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
    struct err e = {{0}};
    struct model *m = model_load(dir, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK_STR(m->family->name, "deberta-v2");
        CHECK(m->n_labels == 1 && m->activation == ACTIVATION_SIGMOID);
        CHECK(m->tok->cls_id == 1 && m->tok->sep_id == 2 &&
              m->tok->pad_id == 0 && m->tok->unk_id == 3);
        golden_rows_forward(m, rows, n, logit, 1e-4, "deberta-v3");
        check_pairs(m, rows, n);
        model_free(m);
    }
    golden_rows_free(rows, n);
    return check_report();
}
