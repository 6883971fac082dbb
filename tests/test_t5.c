/* test_t5.c — the T5 family (src/t5.c) against Hugging Face: the shared
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
#include "kernels.h"
#include "model.h"
#include "sentencepiece.h"
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

struct row {
    json_t *j;
    struct encoding enc; /* the golden input_ids */
};

/* The golden rows, input_ids as encodings.  The count (0 when absent). */
static size_t load_rows(struct row **out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/monot5-cases.jsonl", shared_dir());
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    struct row *rows = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    char *line = NULL;
    while (getline(&line, &lcap, f) > 0) {
        grow((void **)&rows, &cap, n + 1, sizeof *rows);
        struct row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        r->j = json_loads(line, 0, NULL);
        const json_t *ids = json_object_get(r->j, "input_ids");
        for (size_t i = 0; i < json_array_size(ids); i++) {
            ids_push(&r->enc.input_ids,
                     (int32_t)json_integer_value(json_array_get(ids, i)));
            ids_push(&r->enc.type_ids, 0);
        }
    }
    free(line);
    fclose(f);
    *out = rows;
    return n;
}

static double num(const struct row *r, const char *key)
{
    return json_number_value(json_object_get(r->j, key));
}

static const char *str(const struct row *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->j, key));
    return s ? s : "";
}

/* Every row alone through forward against the golden logit difference
 * (1e-4); then all rows as one batch with 3 threads, bit-identical to each
 * alone. */
static void check_forward(struct model *m, struct row *rows, size_t n)
{
    float *alone = xmalloc(n * sizeof *alone);
    float *together = xmalloc(n * sizeof *together);
    const struct encoding **batch = xmalloc(n * sizeof *batch);
    struct err e = {{0}};
    double worst = 0;
    m->family->set_threads(m, 1);
    for (size_t i = 0; i < n; i++) {
        const struct encoding *one = &rows[i].enc;
        batch[i] = one;
        CHECK_MSG(m->family->forward(m, &one, 1, &alone[i], &e) == 0, "%s",
                  e.msg);
        double want = num(&rows[i], "logit_true") - num(&rows[i], "logit_false");
        worst = fmax(worst, fabs(alone[i] - want));
        CHECK_MSG(fabs(alone[i] - want) <= 1e-4, "row %zu (%s): logit %.7g, "
                  "want %.7g", i + 1, str(&rows[i], "qid"), alone[i], want);
    }
    printf("monot5: %zu rows, worst logit difference %.3g\n", n, worst);
    m->family->set_threads(m, 3);
    CHECK_MSG(m->family->forward(m, batch, n, together, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(together[i] == alone[i], "batch of %zu, row %zu: %.9g "
                  "alone, %.9g in the batch", n, i + 1, alone[i], together[i]);
    free(alone);
    free(together);
    free(batch);
}

/* The family's prompt from the texts equals the golden ids on every row. */
static void check_prompt(const struct model *m, struct row *rows, size_t n)
{
    struct encoding got = {{0}, {0}};
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        const char *q = str(&rows[i], "query"), *d = str(&rows[i], "text");
        m->family->encode_text(m, NULL, q, strlen(q), d, strlen(d),
                               (size_t)num(&rows[i], "max_length"), &got);
        const struct ids *want = &rows[i].enc.input_ids;
        bool eq = got.input_ids.n == want->n && got.type_ids.n == want->n &&
                  memcmp(got.input_ids.v, want->v,
                         want->n * sizeof *want->v) == 0;
        same += eq;
        CHECK_MSG(eq, "row %zu (%s): the prompt's ids differ (%zu vs %zu "
                  "tokens)", i + 1, str(&rows[i], "qid"), got.input_ids.n,
                  want->n);
    }
    printf("prompt ids: %zu of %zu rows identical\n", same, n);
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
    size_t n = load_rows(&rows);
    if (!n) {
        SKIP("no %s/golden/monot5-cases.jsonl", shared_dir());
        return check_report();
    }
    CHECK_MSG(n == 106, "%zu rows", n);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny-monot5", shared_dir());
    struct err e = {{0}};
    struct model *m = model_load(dir, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK_STR(m->family->name, "t5");
        CHECK(m->n_labels == 1 && m->activation == ACTIVATION_SIGMOID);
        check_layout(m);
        check_forward(m, rows, n);
        check_prompt(m, rows, n);
        model_free(m);
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(rows[i].j);
        encoding_free(&rows[i].enc);
    }
    free(rows);
    return check_report();
}
