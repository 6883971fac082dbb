/* test_attention.c — one head's attention (nn/attention.h): every path
 * this CPU runs against a double-precision softmax(scale q k^T) v (within
 * float rounding), bitwise equal to the portable path (the documented
 * fmaf orders), the same bits for a row computed alone as in its block,
 * nothing written past d; and the tiny BERT and XLM-R models on every
 * path: logits close to sgemm's, bitwise equal across our paths, and a
 * sequence's logits the same alone as in a batch on 1 or 3 threads. */
#include "check.h"
#include "models/model.h"
#include "nn/attention.h"
#include "util.h"

#include <math.h>

static uint64_t rng = 7;

static float rand_float(void) /* in [-1, 1) */
{
    rng = hash_mix64(rng);
    return -1.0f + 2.0f * (float)((rng >> 40) * 0x1p-24);
}

/* out(nq, d) in double from the strided float inputs. */
static void reference(size_t nq, size_t nk, size_t d, float scale,
                      const float *q, const float *k, const float *v,
                      size_t ld, double *out)
{
    double *s = xcalloc(nk, sizeof *s);
    for (size_t i = 0; i < nq; i++) {
        double mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < nk; j++) {
            double t = 0;
            for (size_t c = 0; c < d; c++)
                t += (double)q[i * ld + c] * k[j * ld + c];
            s[j] = t * scale;
            mx = fmax(mx, s[j]);
        }
        for (size_t j = 0; j < nk; j++)
            sum += s[j] = exp(s[j] - mx);
        for (size_t c = 0; c < d; c++) {
            double t = 0;
            for (size_t j = 0; j < nk; j++)
                t += s[j] / sum * v[j * ld + c];
            out[i * d + c] = t;
        }
    }
    free(s);
}

/* Shapes: nq = 1, nk = 1, nk not a multiple of 16 (or of 24 or 64, the
 * tiles' widths), d ragged (not of 8 or 16) and over 64, nq not a
 * multiple of the tiles' rows or of a block, a long nk. */
static void test_kernels(void)
{
    static const size_t shapes[][3] = {
        {1, 1, 1},    {1, 80, 32},  {80, 80, 32},  {7, 17, 5},
        {25, 33, 64}, {30, 100, 37}, {49, 1, 32},  {24, 16, 8},
        {13, 81, 72}, {50, 300, 24}, {3, 8192, 64}, {1, 4000, 32}};
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        size_t nq = shapes[t][0], nk = shapes[t][1], d = shapes[t][2];
        size_t n = nq > nk ? nq : nk;
        /* q, k and v as column slices of qkv rows, as in the models */
        size_t ld = 3 * d + 3, ldo = d + 5;
        float scale = 1.0f / sqrtf((float)d);
        float *qkv = xcalloc(n * ld, sizeof *qkv);
        for (size_t i = 0; i < n * ld; i++)
            qkv[i] = rand_float();
        for (size_t i = 0; i < n; i++) /* peaked softmax rows */
            for (size_t c = 0; c < d; c++)
                qkv[i * ld + c] *= 4.0f;
        const float *q = qkv, *k = qkv + d, *v = qkv + 2 * d;
        double *want = xcalloc(nq * d, sizeof *want);
        reference(nq, nk, d, scale, q, k, v, ld, want);
        float *scratch = xcalloc(attention_scratch(nq, nk, d), sizeof *scratch);
        float *got = xcalloc(nq * ldo, sizeof *got);
        float *first = xcalloc(nq * ldo, sizeof *first);
        float *one = xcalloc(d + 1, sizeof *one);
        double tol = 2e-6 * (double)(d + nk) + 1e-6;
        int paths = 0;
        for (int path = ATTENTION_REF; path < ATTENTION_N_PATHS; path++) {
            if (!attention_available((enum attention_path)path))
                continue;
            enum attention_path p = (enum attention_path)path;
            const char *name = attention_path_name(p);
            memset(got, 0, nq * ldo * sizeof *got);
            attention_head(p, nq, nk, d, scale, q, ld, k, ld, v, ld, got, ldo,
                           scratch);
            double worst = 0;
            size_t spill = 0;
            for (size_t i = 0; i < nq; i++) {
                for (size_t c = 0; c < d; c++)
                    worst = fmax(worst, fabs(got[i * ldo + c] - want[i * d + c]));
                for (size_t c = d; c < ldo; c++)
                    spill += got[i * ldo + c] != 0.0f;
            }
            CHECK_MSG(worst <= tol, "%s %zux%zux%zu: %g from the double "
                      "reference (> %g)", name, nq, nk, d, worst, tol);
            CHECK_MSG(spill == 0, "%s %zux%zux%zu: %zu floats written past d",
                      name, nq, nk, d, spill);
            /* Each row alone: the same bits, and nothing past d. */
            size_t moved = 0;
            for (size_t i = 0; i < nq; i++) {
                one[d] = 0.0f;
                attention_head(p, 1, nk, d, scale, q + i * ld, ld, k, ld, v,
                               ld, one, d, scratch);
                moved += memcmp(one, got + i * ldo, d * sizeof *one) != 0;
                spill += one[d] != 0.0f;
            }
            CHECK_MSG(moved == 0 && spill == 0, "%s %zux%zux%zu: %zu rows "
                      "differ alone", name, nq, nk, d, moved);
            if (paths++ == 0)
                memcpy(first, got, nq * ldo * sizeof *got);
            else
                CHECK_MSG(memcmp(first, got, nq * ldo * sizeof *got) == 0,
                          "%s %zux%zux%zu: differs from the portable path",
                          name, nq, nk, d);
        }
        free(qkv), free(want), free(scratch), free(got), free(first),
            free(one);
    }
    printf("attention paths available:");
    for (int path = 0; path < ATTENTION_N_PATHS; path++)
        if (attention_available((enum attention_path)path))
            printf(" %s", attention_path_name((enum attention_path)path));
    printf(" (best: %s)\n", attention_path_name(attention_best()));
    setenv("RERANK_ATTENTION", "ref", 1);
    CHECK(attention_best() == ATTENTION_REF);
    setenv("RERANK_ATTENTION", "none", 1);
    CHECK(attention_best() == ATTENTION_NONE);
    unsetenv("RERANK_ATTENTION");
}

/* The model on every path (RERANK_ATTENTION at load) over random
 * sequences of lengths 1..max_len (ids below vocab, type ids below
 * types): logits within tol of sgemm's (none),
 * bitwise the same on our paths, and alone the same as in one reversed
 * batch on 1 or 3 threads. */
static void check_model(const char *dir, size_t vocab, size_t types,
                        size_t max_len, double tol)
{
    enum { N = 9 };
    struct encoding c[N];
    const struct encoding *seqs[N];
    for (size_t i = 0; i < N; i++) {
        size_t len = i == 0 ? 1 : 1 + (size_t)(hash_mix64(i) % max_len);
        c[i].input_ids.n = c[i].type_ids.n = len;
        c[i].input_ids.v = xcalloc(len, sizeof *c[i].input_ids.v);
        c[i].type_ids.v = xcalloc(len, sizeof *c[i].type_ids.v);
        for (size_t j = 0; j < len; j++) {
            rng = hash_mix64(rng);
            c[i].input_ids.v[j] = (int32_t)(3 + rng % (vocab - 3));
            c[i].type_ids.v[j] = types > 1 && j > len / 2;
        }
    }
    struct err e = {0};
    float *ref = NULL, *ours = NULL;
    size_t nl = 0;
    for (int path = 0; path < ATTENTION_N_PATHS; path++) {
        if (!attention_available((enum attention_path)path))
            continue;
        const char *name = attention_path_name((enum attention_path)path);
        setenv("RERANK_ATTENTION", name, 1);
        struct model *m = model_load_weights(dir, &e);
        CHECK_MSG(m != NULL, "%s: %s", dir, e.msg);
        if (!m)
            break;
        nl = m->n_labels;
        float *alone = xcalloc(N * nl, sizeof *alone);
        float *batch = xcalloc(N * nl, sizeof *batch);
        for (size_t i = 0; i < N; i++) {
            const struct encoding *one = &c[i];
            CHECK_MSG(m->family->forward(m, &one, 1, alone + i * nl, &e) == 0,
                      "%s: %s", dir, e.msg);
        }
        for (int threads = 1; threads <= 3; threads += 2) {
            m->family->set_threads(m, threads);
            for (size_t i = 0; i < N; i++)
                seqs[i] = &c[N - 1 - i];
            CHECK(m->family->forward(m, seqs, N, batch, &e) == 0);
            size_t same = 0;
            for (size_t i = 0; i < N; i++)
                same += memcmp(batch + i * nl, alone + (N - 1 - i) * nl,
                               nl * sizeof *batch) == 0;
            CHECK_MSG(same == N, "%s: %s, %d threads: %zu of %d logits differ "
                      "from scoring alone", dir, name, threads, N - same, N);
        }
        if (path == ATTENTION_NONE) {
            ref = alone;
            alone = NULL;
        } else {
            double worst = 0;
            for (size_t i = 0; ref && i < N * nl; i++)
                worst = fmax(worst, fabs(alone[i] - ref[i]));
            CHECK_MSG(worst <= tol, "%s: %s logits %g from sgemm's (> %g)",
                      dir, name, worst, tol);
            if (!ours) {
                ours = alone;
                alone = NULL;
            } else {
                CHECK_MSG(memcmp(ours, alone, N * nl * sizeof *alone) == 0,
                          "%s: %s logits differ from the portable path", dir,
                          name);
            }
        }
        free(alone), free(batch);
        model_free(m);
    }
    unsetenv("RERANK_ATTENTION");
    for (size_t i = 0; i < N; i++)
        free(c[i].input_ids.v), free(c[i].type_ids.v);
    free(ref), free(ours);
}

int main(void)
{
    test_kernels();
    check_model("testdata/tiny-bert", 305, 2, 300, 1e-4);
    check_model("testdata/tiny-xlmr", 200, 1, 60, 1e-4);
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed != 0;
}
