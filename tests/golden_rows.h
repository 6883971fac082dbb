/* golden_rows.h — the rows of a golden cases file of ../shared/golden
 * (one JSON object a line, "input_ids" among its members) for the family
 * unit tests, input_ids as encodings (token types from "token_type_ids",
 * else 0). */
#ifndef RERANK_GOLDEN_ROWS_H
#define RERANK_GOLDEN_ROWS_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "models/model.h"
#include "tokenizers/tokenizer.h"
#include "util.h"

struct row {
    json_t *j;
    struct encoding enc;
};

/* The rows of shared_dir()/golden/name; the count, 0 when absent. */
static inline size_t golden_rows_load(const char *name, struct row **out)
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
        const json_t *types = json_object_get(r->j, "token_type_ids");
        for (size_t i = 0; i < json_array_size(ids); i++) {
            ids_push(&r->enc.input_ids,
                     (int32_t)json_integer_value(json_array_get(ids, i)));
            ids_push(&r->enc.type_ids,
                     (int32_t)json_integer_value(json_array_get(types, i)));
        }
    }
    free(line);
    fclose(f);
    *out = rows;
    return n;
}

static inline void golden_rows_free(struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(rows[i].j);
        encoding_free(&rows[i].enc);
    }
    free(rows);
}

static inline double row_num(const struct row *r, const char *key)
{
    return json_number_value(json_object_get(r->j, key));
}

static inline const char *row_str(const struct row *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->j, key));
    return s ? s : "";
}

/* Every row alone through m's forward against want(row) (tol); then all
 * rows as one batch with 3 threads, bit-identical to each alone. */
static inline void golden_rows_forward(struct model *m, struct row *rows, size_t n,
                                double (*want)(const struct row *),
                                double tol, const char *what)
{
    float *alone = xmalloc(n * sizeof *alone);
    float *together = xmalloc(n * sizeof *together);
    const struct encoding **batch = xmalloc(n * sizeof *batch);
    struct err e = {0};
    double worst = 0;
    m->family->set_threads(m, 1);
    for (size_t i = 0; i < n; i++) {
        const struct encoding *one = &rows[i].enc;
        batch[i] = one;
        CHECK_MSG(m->family->forward(m, &one, 1, &alone[i], &e) == 0, "%s",
                  e.msg);
        double w = want(&rows[i]);
        worst = fmax(worst, fabs(alone[i] - w));
        CHECK_MSG(fabs(alone[i] - w) <= tol, "%s row %zu (%s): logit %.7g, "
                  "want %.7g", what, i + 1, row_str(&rows[i], "qid"),
                  alone[i], w);
    }
    printf("%s: %zu rows, worst logit difference %.3g\n", what, n, worst);
    m->family->set_threads(m, 3);
    CHECK_MSG(m->family->forward(m, batch, n, together, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(together[i] == alone[i], "%s: batch of %zu, row %zu: %.9g "
                  "alone, %.9g in the batch", what, n, i + 1, alone[i],
                  together[i]);
    free(alone);
    free(together);
    free(batch);
}

/* The pair encoding of each row's texts (the tokenizer, then the family's
 * encode at the row's max_length) equals its golden input_ids, and its
 * token_type_ids too when types is set. */
static inline void golden_rows_pairs(const struct model *m, struct row *rows,
                              size_t n, bool types)
{
    struct ids q = {0}, d = {0};
    struct encoding got = {{0}, {0}};
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        const char *qs = row_str(&rows[i], "query");
        const char *ds = row_str(&rows[i], "text");
        q.n = d.n = 0;
        m->tok->tokenize(m->tok, qs, strlen(qs), &q);
        m->tok->tokenize(m->tok, ds, strlen(ds), &d);
        m->family->encode(m, &q, &d, (size_t)row_num(&rows[i], "max_length"),
                          &got);
        const struct encoding *want = &rows[i].enc;
        size_t k = want->input_ids.n;
        bool eq = got.input_ids.n == k &&
                  memcmp(got.input_ids.v, want->input_ids.v, k * 4) == 0 &&
                  (!types || (got.type_ids.n == k &&
                              memcmp(got.type_ids.v, want->type_ids.v,
                                     k * 4) == 0));
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

#endif
