/* test_qwen3.c — the Qwen LLM reranker family (src/models/qwen3.c) against
 * Hugging Face: the shared golden tiny-qwen3-reranker (Qwen3ForCausalLM:
 * logit "yes" - logit "no") and tiny-qwen3-reranker-seqcls (score.weight),
 * whose 152 rows were scored by transformers in float64, and
 * tiny-mxbai-rerank-v2 (Qwen2ForCausalLM: logit "1" - logit "0", ids by
 * mixedbread's mxbai_rerank package; 160 rows); and testdata/qwen3-untied,
 * the layout they leave out (untied head, GQA 4:1, biases, F16).  The rows' input_ids go
 * straight into forward (the forward pass alone), the family's prompt must
 * rebuild those ids from the texts (encode_text), and a batch must score as
 * its sequences alone.  The RMSNorm and SiLU kernels are checked against
 * naive double loops.  The golden parts are skipped without ../shared. */
#include "check.h"
#include "nn/kernels.h"
#include "models/model.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>

static void test_rmsnorm_silu(void)
{
    size_t rows = 3, dim = 13;
    float x[3 * 13], w[13], y[3 * 26];
    for (size_t i = 0; i < rows * dim; i++)
        x[i] = (float)sin((double)i * 1.7) * 3;
    for (size_t j = 0; j < dim; j++)
        w[j] = 0.5f + (float)j / 10;
    float ref[3 * 13];
    for (size_t r = 0; r < rows; r++) {
        double ss = 0;
        for (size_t j = 0; j < dim; j++)
            ss += (double)x[r * dim + j] * x[r * dim + j];
        for (size_t j = 0; j < dim; j++)
            ref[r * dim + j] =
                (float)(x[r * dim + j] / sqrt(ss / dim + 1e-6) * w[j]);
    }
    rmsnorm(x, w, rows, dim, 1e-6f);
    double worst = 0;
    for (size_t i = 0; i < rows * dim; i++)
        worst = fmax(worst, fabs(x[i] - ref[i]));
    CHECK_MSG(worst < 1e-5, "rmsnorm differs by %g", worst);

    /* [gate | up] rows of 13 + 13 (a vector body and a tail), gates from
     * -100 to 100 (exp's clamps). */
    for (size_t i = 0; i < rows * 26; i++)
        y[i] = (float)(cos((double)i * 0.9) * (i % 5 == 0 ? 100 : 6));
    float ref2[3 * 13];
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < 13; j++) {
            double g = y[r * 26 + j], u = y[r * 26 + 13 + j];
            ref2[r * 13 + j] = (float)(g / (1 + exp(-g)) * u);
        }
    silu_gate(y, rows, 13);
    worst = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < 13; j++) {
            double want = ref2[r * 13 + j];
            worst = fmax(worst, fabs(y[r * 26 + j] - want) / fmax(1, fabs(want)));
        }
    CHECK_MSG(worst < 1e-6, "silu_gate differs by %g (relative)", worst);
}

struct row {
    json_t *j;
    struct encoding enc;      /* the golden input_ids */
};

/* The golden rows of cases file `name`, input_ids as encodings.  Returns
 * the count (0 when the file is absent). */
static size_t load_rows(const char *name, struct row **out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/%s", shared_dir(), name);
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

/* Every row alone through forward, against the golden logit (1e-4); then
 * all rows of qid "grp" (30 documents) as one batch, against each alone
 * (1e-5). */
static void check_forward(struct model *m, struct row *rows, size_t n,
                          const char *kind)
{
    bool seqcls = strcmp(kind, "seqcls") == 0, mxbai = strcmp(kind, "mxbai") == 0;
    float *alone = xmalloc(n * sizeof *alone);
    struct err e = {0};
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const struct encoding *one = &rows[i].enc;
        CHECK_MSG(m->family->forward(m, &one, 1, &alone[i], &e) == 0, "%s",
                  e.msg);
        double want = seqcls  ? num(&rows[i], "seqcls_logit")
                      : mxbai ? num(&rows[i], "logit_1") - num(&rows[i], "logit_0")
                              : num(&rows[i], "logit_yes") -
                                    num(&rows[i], "logit_no");
        worst = fmax(worst, fabs(alone[i] - want));
        CHECK_MSG(fabs(alone[i] - want) <= 1e-4, "%s row %zu: logit %.7g, "
                  "want %.7g", kind, i + 1, alone[i], want);
    }
    printf("%s: %zu rows, worst logit difference %.3g\n", kind, n, worst);
    const struct encoding **batch = xmalloc(n * sizeof *batch);
    size_t *which = xmalloc(n * sizeof *which), nb = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(str(&rows[i], "qid"), "grp") == 0) {
            which[nb] = i;
            batch[nb++] = &rows[i].enc;
        }
    CHECK_MSG(nb == 30, "%zu rows in group grp", nb);
    float *together = xmalloc((nb ? nb : 1) * sizeof *together);
    m->family->set_threads(m, 3);
    CHECK_MSG(m->family->forward(m, batch, nb, together, &e) == 0, "%s", e.msg);
    for (size_t k = 0; k < nb; k++)
        CHECK_MSG(fabs(together[k] - alone[which[k]]) <= 1e-5,
                  "batch of %zu, row %zu: %.9g alone, %.9g in the batch", nb,
                  which[k] + 1, alone[which[k]], together[k]);
    free(alone);
    free(batch);
    free(which);
    free(together);
}

/* The family's prompt from the texts equals the golden ids on every row. */
static void check_prompt(const struct model *m, struct row *rows, size_t n)
{
    struct encoding got = {{0}, {0}};
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ins = json_string_value(json_object_get(rows[i].j,
                                                            "instruction"));
        const char *q = str(&rows[i], "query"), *d = str(&rows[i], "text");
        m->family->encode_text(m, ins, q, strlen(q), d, strlen(d),
                               (size_t)num(&rows[i], "max_length"), &got);
        const struct ids *want = &rows[i].enc.input_ids;
        bool eq = got.input_ids.n == want->n &&
                  got.type_ids.n == want->n &&
                  memcmp(got.input_ids.v, want->v, want->n * sizeof *want->v) == 0;
        same += eq;
        CHECK_MSG(eq, "row %zu (%s/%s): the prompt's ids differ (%zu vs %zu "
                  "tokens)", i + 1, str(&rows[i], "qid"), str(&rows[i], "docid"),
                  got.input_ids.n, want->n);
    }
    printf("prompt ids: %zu of %zu rows identical\n", same, n);
    encoding_free(&got);
}

/* testdata/qwen3-untied (scripts/gen-tiny-qwen3.py: lm_head.weight, 8
 * heads / 2 kv heads, head_dim 16, biases on q/k/v/o, F16) against its
 * float64 reference, which reproduces transformers on the goldens.  The
 * directory gets the golden tokenizer (for "yes" and "no") at run time. */
static void check_untied(void)
{
    const char *dir = "tests/out/qwen3-untied";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && cp testdata/"
             "qwen3-untied/config.json testdata/qwen3-untied/model.safetensors "
             "%s/golden/tiny-qwen3-reranker/tokenizer.json "
             "%s/golden/tiny-qwen3-reranker/tokenizer_config.json %s/", dir,
             dir, shared_dir(), shared_dir(), dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    struct err e = {0};
    struct model *m = model_load(dir, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    FILE *f = fopen("testdata/qwen3-untied/logits.jsonl", "r");
    CHECK(f != NULL);
    if (!m || !f) {
        model_free(m);
        if (f)
            fclose(f);
        return;
    }
    char *line = NULL;
    size_t cap = 0, n = 0;
    double worst = 0;
    struct encoding enc = {{0}, {0}};
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        const json_t *ids = json_object_get(j, "input_ids");
        enc.input_ids.n = 0;
        for (size_t i = 0; i < json_array_size(ids); i++)
            ids_push(&enc.input_ids,
                     (int32_t)json_integer_value(json_array_get(ids, i)));
        const struct encoding *one = &enc;
        float logit = NAN;
        CHECK_MSG(m->family->forward(m, &one, 1, &logit, &e) == 0, "%s", e.msg);
        double want = json_number_value(json_object_get(j, "logit_yes")) -
                      json_number_value(json_object_get(j, "logit_no"));
        worst = fmax(worst, fabs(logit - want));
        CHECK_MSG(fabs(logit - want) <= 1e-4, "qwen3-untied row %zu: %.7g, "
                  "want %.7g", n + 1, logit, want);
        json_decref(j);
        n++;
    }
    CHECK_MSG(n == 41, "qwen3-untied: %zu rows", n);
    printf("untied: %zu rows, worst logit difference %.3g\n", n, worst);
    free(line);
    fclose(f);
    encoding_free(&enc);
    model_free(m);
}

/* An empty instruction: mxbai_rerank tests `if instruction`, so "" is no
 * instruction; Qwen3's recipe replaces only None, so "" stays empty. */
static void check_empty_instruction(const struct model *m, bool mxbai)
{
    struct encoding a = {{0}, {0}}, b = {{0}, {0}};
    m->family->encode_text(m, "", "q", 1, "d", 1, 64, &a);
    m->family->encode_text(m, NULL, "q", 1, "d", 1, 64, &b);
    bool same = a.input_ids.n == b.input_ids.n &&
                memcmp(a.input_ids.v, b.input_ids.v,
                       a.input_ids.n * sizeof *a.input_ids.v) == 0;
    CHECK_MSG(same == mxbai, "%s: an empty instruction %s the default",
              mxbai ? "mxbai" : "qwen3", same ? "gives" : "differs from");
    encoding_free(&a);
    encoding_free(&b);
}

int main(void)
{
    test_rmsnorm_silu();
    static const struct {
        const char *dir, *cases, *kind;
        size_t n_rows;
        enum activation activation;
    } models[] = {
        {"tiny-qwen3-reranker", "qwen3-reranker-cases.jsonl", "causal", 152,
         ACTIVATION_SIGMOID},
        {"tiny-qwen3-reranker-seqcls", "qwen3-reranker-cases.jsonl", "seqcls",
         152, ACTIVATION_SIGMOID},
        {"tiny-mxbai-rerank-v2", "mxbai-rerank-v2-cases.jsonl", "mxbai", 160,
         ACTIVATION_NONE},
    };
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/golden/tiny-qwen3-reranker/tokenizer.json",
             shared_dir());
    FILE *pf = fopen(probe, "r");
    if (pf) {
        fclose(pf);
        check_untied();
    } else {
        SKIP("no %s (the untied model's tokenizer)", probe);
    }
    for (size_t k = 0; k < sizeof models / sizeof *models; k++) {
        struct row *rows = NULL;
        size_t n = load_rows(models[k].cases, &rows);
        if (!n) {
            SKIP("no %s/golden/%s", shared_dir(), models[k].cases);
            continue;
        }
        CHECK_MSG(n == models[k].n_rows, "%s: %zu rows", models[k].cases, n);
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/golden/%s", shared_dir(), models[k].dir);
        struct err e = {0};
        struct model *m = model_load(dir, &e);
        CHECK_MSG(m != NULL, "%s", e.msg);
        if (m) {
            CHECK_STR(m->family->name, "qwen");
            CHECK(m->n_labels == 1 && m->activation == models[k].activation);
            m->family->set_threads(m, 1);
            check_forward(m, rows, n, models[k].kind);
            check_prompt(m, rows, n);
            check_empty_instruction(m, strcmp(models[k].kind, "mxbai") == 0);
            model_free(m);
        }
        for (size_t i = 0; i < n; i++) {
            json_decref(rows[i].j);
            encoding_free(&rows[i].enc);
        }
        free(rows);
    }
    return check_report();
}
