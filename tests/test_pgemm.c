/* test_pgemm.c — the packed float32 GEMM (nn/pgemm.h): every path this CPU
 * runs against a double-precision product (within float rounding of a
 * k-term sum) and against a scalar fmaf chain in the documented order
 * (bitwise), the same bits for a row whatever the rows around it, and the
 * tiny BERT and XLM-R models on every path: logits close to sgemm's,
 * bitwise equal across paths, and batch- and thread-invariant. */
#include "check.h"
#include "models/model.h"
#include "nn/pgemm.h"
#include "util.h"

#include <math.h>

static uint64_t rng = 11;

static float rand_float(void) /* in [-1, 1) */
{
    rng = hash_mix64(rng);
    return -1.0f + 2.0f * (float)((rng >> 40) * 0x1p-24);
}

/* Shapes with ragged rows (not a multiple of 12 or 6), columns (not of
 * 16 or 32) and odd k; strides wider than the rows. */
static void test_kernels(void)
{
    static const size_t shapes[][3] = {
        {1, 1, 1}, {3, 17, 5}, {12, 32, 7}, {13, 33, 50}, {7, 100, 384},
        {25, 48, 1537}, {80, 1152, 384}, {6, 16, 3}};
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        size_t m = shapes[t][0], n = shapes[t][1], k = shapes[t][2];
        size_t ldx = k + 3, ldy = n + 5;
        float *w = xcalloc(n * k, sizeof *w), *x = xcalloc(m * ldx, sizeof *x);
        float *want = xcalloc(m * ldy, sizeof *want);
        float *got = xcalloc(m * ldy, sizeof *got);
        float *first = xcalloc(m * ldy, sizeof *first);
        float *one = xcalloc(n, sizeof *one);
        for (size_t i = 0; i < n * k; i++)
            w[i] = rand_float();
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < k; j++)
                x[i * ldx + j] = rand_float();
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                float s = 0;
                for (size_t l = 0; l < k; l++)
                    s = fmaf(x[i * ldx + l], w[j * k + l], s);
                want[i * ldy + j] = s;
            }
        struct pgemm_w p;
        pgemm_pack(&p, w, n, k);
        int paths = 0;
        for (int path = PGEMM_AVX2; path < PGEMM_N_PATHS; path++) {
            if (!pgemm_available((enum pgemm_path)path))
                continue;
            const char *name = pgemm_path_name((enum pgemm_path)path);
            memset(got, 0, m * ldy * sizeof *got);
            pgemm(&p, (enum pgemm_path)path, x, ldx, m, got, ldy);
            size_t bad = 0, far = 0;
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    float g = got[i * ldy + j];
                    bad += memcmp(&g, &want[i * ldy + j], sizeof g) != 0;
                    double d = 0;
                    for (size_t l = 0; l < k; l++)
                        d += (double)x[i * ldx + l] * w[j * k + l];
                    far += fabs(g - d) > 1e-6 * (double)k;
                }
            CHECK_MSG(bad == 0, "%s %zux%zux%zu: %zu elements differ from "
                      "the fmaf chain", name, m, n, k, bad);
            CHECK_MSG(far == 0, "%s %zux%zux%zu: %zu elements far from the "
                      "double product", name, m, n, k, far);
            /* Past the stride nothing is written. */
            for (size_t i = 0; i < m; i++)
                CHECK(got[i * ldy + n] == 0.0f);
            /* Each row alone: the same bits. */
            size_t moved = 0;
            for (size_t i = 0; i < m; i++) {
                pgemm(&p, (enum pgemm_path)path, x + i * ldx, ldx, 1, one, n);
                moved += memcmp(one, got + i * ldy, n * sizeof *one) != 0;
            }
            CHECK_MSG(moved == 0, "%s %zux%zux%zu: %zu rows differ alone",
                      name, m, n, k, moved);
            if (paths++ == 0)
                memcpy(first, got, m * ldy * sizeof *got);
            else
                CHECK_MSG(memcmp(first, got, m * ldy * sizeof *got) == 0,
                          "%s %zux%zux%zu: differs from the other path", name,
                          m, n, k);
        }
        pgemm_free(&p);
        free(w), free(x), free(want), free(got), free(first), free(one);
    }
    printf("pgemm paths available:");
    for (int path = 0; path < PGEMM_N_PATHS; path++)
        if (pgemm_available((enum pgemm_path)path))
            printf(" %s", pgemm_path_name((enum pgemm_path)path));
    printf(" (best: %s)\n", pgemm_path_name(pgemm_best()));
}

/* The pair cases of dir/logits.jsonl (input ids and token types). */
static size_t load_cases(const char *dir, struct encoding **out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/logits.jsonl", dir);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    *out = NULL;
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            break;
        const json_t *ids = json_object_get(j, "input_ids");
        const json_t *types = json_object_get(j, "token_type_ids");
        size_t len = json_array_size(ids);
        *out = xreallocarray(*out, n + 1, sizeof **out);
        struct encoding *e = &(*out)[n++];
        e->input_ids.n = e->type_ids.n = len;
        e->input_ids.v = xcalloc(len, sizeof *e->input_ids.v);
        e->type_ids.v = xcalloc(len, sizeof *e->type_ids.v);
        for (size_t i = 0; i < len; i++) {
            e->input_ids.v[i] = (int32_t)json_integer_value(json_array_get(ids, i));
            e->type_ids.v[i] =
                types ? (int32_t)json_integer_value(json_array_get(types, i)) : 0;
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    return n;
}

/* Logits on every path: within tol of the sgemm path's, bitwise the same
 * on the packed paths, and alone the same as in one reversed batch on 1
 * or 3 threads. */
static void check_model(const char *dir, double tol)
{
    struct encoding *c;
    size_t n = load_cases(dir, &c);
    CHECK_MSG(n > 0, "%s: no cases", dir);
    if (!n)
        return;
    struct err e = {0};
    float *ref = NULL, *packed = NULL;
    size_t nl = 0;
    const struct encoding **seqs = xcalloc(n, sizeof *seqs);
    for (int path = 0; path < PGEMM_N_PATHS; path++) {
        if (!pgemm_available((enum pgemm_path)path))
            continue;
        const char *name = pgemm_path_name((enum pgemm_path)path);
        setenv("RERANK_PGEMM", name, 1);
        struct model *m = model_load_weights(dir, &e);
        CHECK_MSG(m != NULL, "%s: %s", dir, e.msg);
        if (!m)
            break;
        nl = m->n_labels;
        float *alone = xcalloc(n * nl, sizeof *alone);
        float *batch = xcalloc(n * nl, sizeof *batch);
        for (size_t i = 0; i < n; i++) {
            const struct encoding *one = &c[i];
            CHECK(m->family->forward(m, &one, 1, alone + i * nl, &e) == 0);
        }
        for (int threads = 1; threads <= 3; threads += 2) {
            m->family->set_threads(m, threads);
            for (size_t i = 0; i < n; i++)
                seqs[i] = &c[n - 1 - i];
            CHECK(m->family->forward(m, seqs, n, batch, &e) == 0);
            size_t same = 0;
            for (size_t i = 0; i < n; i++)
                same += memcmp(batch + i * nl, alone + (n - 1 - i) * nl,
                               nl * sizeof *batch) == 0;
            CHECK_MSG(same == n, "%s: %s, %d threads: %zu of %zu logits differ "
                      "from scoring alone", dir, name, threads, n - same, n);
        }
        if (path == PGEMM_NONE) {
            ref = alone;
            alone = NULL;
        } else {
            double worst = 0;
            for (size_t i = 0; ref && i < n * nl; i++)
                worst = fmax(worst, fabs(alone[i] - ref[i]));
            CHECK_MSG(worst <= tol, "%s: %s logits %g from sgemm's (> %g)",
                      dir, name, worst, tol);
            if (!packed) {
                packed = alone;
                alone = NULL;
            } else {
                CHECK_MSG(memcmp(packed, alone, n * nl * sizeof *alone) == 0,
                          "%s: %s logits differ from the other packed path",
                          dir, name);
            }
        }
        free(alone), free(batch);
        model_free(m);
    }
    unsetenv("RERANK_PGEMM");
    for (size_t i = 0; i < n; i++)
        free(c[i].input_ids.v), free(c[i].type_ids.v);
    free(c), free(ref), free(packed), free(seqs);
}

int main(void)
{
    test_kernels();
    check_model("testdata/tiny-bert", 1e-4);
    check_model("testdata/tiny-xlmr", 1e-4);
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed != 0;
}
