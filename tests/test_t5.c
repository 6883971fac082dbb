/* test_t5.c — the T5 family (src/models/t5.c) against Hugging Face: the shared
 * golden tiny-monot5 (T5ForConditionalGeneration, T5 v1.0 layout), whose
 * 106 rows were scored by transformers in float64 (logit ▁true - logit
 * ▁false of one decoder step).  The rows' input_ids go straight into
 * forward (the forward pass alone; rows of 512 tokens reach every bucket of
 * the relative positions), the family's prompt must rebuild those ids from
 * the texts (encode_text: spiece.model in T5's id layout, cut to
 * max_length), and a batch must score exactly as its sequences alone, with
 * any thread count.  The gated-GELU kernel is checked against a naive
 * double loop.  The golden parts are skipped without ../shared. */
#include "check.h"
#include "golden_rows.h"
#include "nn/kernels.h"
#include "models/model.h"
#include "tokenizers/sentencepiece.h"
#include "models/t5.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>

static void test_gelu_tanh_mul(void)
{
    enum { N = 41 };
    float x[N], up[N];
    double ref[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = (float)(sin((double)i * 1.3) * (i % 7 == 0 ? 30 : 4));
        up[i] = (float)cos((double)i * 0.7) * 2;
        double v = x[i];
        ref[i] = 0.5 * v *
                 (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))) *
                 up[i];
    }
    gelu_tanh_mul(x, up, N);
    double worst = 0;
    for (size_t i = 0; i < N; i++)
        worst = fmax(worst, fabs(x[i] - ref[i]) / fmax(1, fabs(ref[i])));
    CHECK_MSG(worst < 1e-6, "gelu_tanh_mul differs by %g (relative)", worst);
}

static double mono_logit(const struct row *r)
{
    return row_num(r, "logit_true") - row_num(r, "logit_false");
}

/* The family's prompt from the texts equals the golden ids on every row. */
static void check_prompt(const struct model *m, struct row *rows, size_t n)
{
    struct encoding got = {{0}, {0}};
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        const char *q = row_str(&rows[i], "query"), *d = row_str(&rows[i], "text");
        m->family->encode_text(m, NULL, q, strlen(q), d, strlen(d),
                               (size_t)row_num(&rows[i], "max_length"), &got);
        const struct ids *want = &rows[i].enc.input_ids;
        bool eq = got.input_ids.n == want->n && got.type_ids.n == want->n &&
                  memcmp(got.input_ids.v, want->v,
                         want->n * sizeof *want->v) == 0;
        same += eq;
        CHECK_MSG(eq, "row %zu (%s): the prompt's ids differ (%zu vs %zu "
                  "tokens)", i + 1, row_str(&rows[i], "qid"), got.input_ids.n,
                  want->n);
    }
    printf("prompt ids: %zu of %zu rows identical\n", same, n);
    encoding_free(&got);
}

/* duoT5: every ordered pair of ../shared/golden/duot5-groups.jsonl,
 * encoded from the texts (t5_encode_duo) equal to the golden ids, and its
 * logit difference within 1e-4. */
static void check_duo(struct model *m)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/duot5-groups.jsonl", shared_dir());
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s missing", path);
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0, n_pairs = 0;
    struct encoding enc = {{0}, {0}};
    struct err e = {0};
    while (getline(&line, &cap, f) > 0) {
        json_t *g = json_loads(line, 0, NULL);
        const json_t *docs = json_object_get(g, "docs"), *pair;
        const char *q = json_string_value(json_object_get(g, "query"));
        size_t k;
        json_array_foreach(json_object_get(g, "pairs"), k, pair) {
            const char *a = json_string_value(json_object_get(json_array_get(
                docs, (size_t)json_integer_value(json_object_get(pair, "i"))), "text"));
            const char *b = json_string_value(json_object_get(json_array_get(
                docs, (size_t)json_integer_value(json_object_get(pair, "j"))), "text"));
            t5_encode_duo(m, q, strlen(q), a, strlen(a), b, strlen(b), 512,
                          &enc);
            const json_t *want = json_object_get(pair, "input_ids");
            bool eq = enc.input_ids.n == json_array_size(want);
            for (size_t i = 0; eq && i < enc.input_ids.n; i++)
                eq = enc.input_ids.v[i] ==
                     json_integer_value(json_array_get(want, i));
            CHECK_MSG(eq, "duoT5 pair %zu: ids differ", n_pairs);
            const struct encoding *one = &enc;
            float d = 0;
            CHECK(m->family->forward(m, &one, 1, &d, &e) == 0);
            double ref =
                json_number_value(json_object_get(pair, "logit_true")) -
                json_number_value(json_object_get(pair, "logit_false"));
            CHECK_MSG(fabs(d - ref) <= 1e-4, "duoT5 pair %zu: %.7g, want "
                      "%.7g", n_pairs, d, ref);
            n_pairs++;
        }
        json_decref(g);
    }
    printf("duoT5: %zu pairs\n", n_pairs);
    CHECK(n_pairs > 0);
    free(line);
    fclose(f);
    encoding_free(&enc);
}

/* RankT5 (set_variant "rank"): the prompt without " Relevant:" equal to
 * the golden rank_input_ids, the logit of <extra_id_10> within 1e-4, the
 * logit as the default score; then back to monoT5. */
static void check_rank(struct model *m, struct row *rows, size_t n)
{
    struct err e = {0};
    CHECK(m->set_variant(m, "rank", &e) == 0);
    CHECK(m->activation == ACTIVATION_NONE);
    struct encoding got = {{0}, {0}};
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const char *q = row_str(&rows[i], "query"), *d = row_str(&rows[i], "text");
        m->family->encode_text(m, NULL, q, strlen(q), d, strlen(d),
                               (size_t)row_num(&rows[i], "max_length"), &got);
        const json_t *want = json_object_get(rows[i].j, "rank_input_ids");
        bool eq = got.input_ids.n == json_array_size(want);
        for (size_t k = 0; eq && k < got.input_ids.n; k++)
            eq = got.input_ids.v[k] == json_integer_value(json_array_get(want, k));
        CHECK_MSG(eq, "RankT5 row %zu: ids differ", i + 1);
        const struct encoding *one = &got;
        float logit = 0;
        CHECK(m->family->forward(m, &one, 1, &logit, &e) == 0);
        double ref = row_num(&rows[i], "rank_logit");
        worst = fmax(worst, fabs(logit - ref));
        CHECK_MSG(fabs(logit - ref) <= 1e-4, "RankT5 row %zu: %.7g, want "
                  "%.7g", i + 1, logit, ref);
    }
    printf("RankT5: %zu rows, worst logit difference %.3g\n", n, worst);
    CHECK(m->set_variant(m, "bogus", &e) == -1);
    CHECK(m->set_variant(m, "mono", &e) == 0);
    CHECK(m->activation == ACTIVATION_SIGMOID);
    encoding_free(&got);
}

/* T5's id layout: piece numbers are ids; the specials by name. */
static void check_layout(const struct model *m)
{
    const struct tokenizer *t = m->tok;
    CHECK(t->pad_id == 0 && t->sep_id == 1 && t->unk_id == 2);
    CHECK(sentencepiece_piece_id(t, "\xe2\x96\x81true") > 2);
    CHECK(sentencepiece_piece_id(t, "no such piece \x01") == -1);
    CHECK(sentencepiece_piece_id(t, "") == -1);
}

int main(void)
{
    test_gelu_tanh_mul();
    struct row *rows = NULL;
    size_t n = golden_rows_load("monot5-cases.jsonl", &rows);
    if (!n) {
        SKIP("no %s/golden/monot5-cases.jsonl", shared_dir());
        return check_report();
    }
    CHECK_MSG(n == 106, "%zu rows", n);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny-monot5", shared_dir());
    struct err e = {0};
    struct model *m = model_load(dir, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK_STR(m->family->name, "t5");
        CHECK(m->n_labels == 1 && m->activation == ACTIVATION_SIGMOID);
        check_layout(m);
        golden_rows_forward(m, rows, n, mono_logit, 1e-4, "monot5");
        check_prompt(m, rows, n);
        check_duo(m);
        check_rank(m, rows, n);
        check_prompt(m, rows, n); /* mono again after rank */
        CHECK(t5_is(m));
        model_free(m);
    }
    golden_rows_free(rows, n);
    return check_report();
}
