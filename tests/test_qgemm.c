/* test_qgemm.c — the int8 path: every GEMM kernel this CPU runs against a
 * naive int32 loop (exact equality), quantize/dequantize bounds, and the
 * tiny BERT and XLM-R models under --quantize int8: close to their float
 * logits, and bitwise batch- and thread-invariant on every kernel path. */
#include "check.h"
#include "nn/cpu.h"
#include "models/model.h"
#include "nn/qgemm.h"
#include "nn/quant.h"
#include "util.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng = 7;

static int rand_int(int lo, int hi) /* in [lo, hi] */
{
    rng = hash_mix64(rng);
    return lo + (int)((rng >> 33) % (uint64_t)(hi - lo + 1));
}

static float rand_float(float lo, float hi)
{
    rng = hash_mix64(rng);
    return lo + (hi - lo) * (float)((rng >> 40) * 0x1p-24);
}

/* Each available path against the naive product, on shapes with ragged
 * rows (not a multiple of 4), columns (not of 16) and k (not of 4), the
 * extreme values included (-128 in A, +-127 in B: the AVX2 sign trick's
 * and the VNNI offset's worst cases). */
static void test_kernels(void)
{
    static const size_t shapes[][3] = {
        {1, 1, 1}, {3, 17, 5}, {4, 16, 4}, {7, 33, 50}, {13, 48, 384},
        {9, 100, 1537}, {64, 1152, 384}, {5, 40, 8}};
    int tested = 0;
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        size_t m = shapes[t][0], n = shapes[t][1], k = shapes[t][2];
        size_t k4 = qgemm_k4(k), lda = k4 + 8, ldb = k + 3, ldc = n + 5;
        int8_t *a = xcalloc(m * lda, 1), *b = xcalloc(n * ldb, 1);
        int8_t *a_in = xcalloc(m * lda, 1);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < k; j++)
                a[i * lda + j] = (int8_t)(t == 2 ? -128 : rand_int(-128, 127));
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < k; j++)
                b[i * ldb + j] = (int8_t)(t == 2 ? ((i + j) % 2 ? 127 : -127)
                                                 : rand_int(-127, 127));
        int32_t *want = xcalloc(m * ldc, sizeof *want);
        int32_t *got = xcalloc(m * ldc, sizeof *got);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                int32_t s = 0;
                for (size_t l = 0; l < k; l++)
                    s += (int32_t)a[i * lda + l] * b[j * ldb + l];
                want[i * ldc + j] = s;
            }
        struct qgemm_b p;
        qgemm_pack(&p, b, n, k, ldb);
        for (int path = 0; path < QGEMM_N_PATHS; path++) {
            if (!qgemm_available((enum qgemm_path)path))
                continue;
            tested |= 1 << path;
            for (size_t i = 0; i < m * ldc; i++)
                got[i] = 0x5a5a5a5a;
            memcpy(a_in, a, m * lda);
            qgemm_prepare_a((enum qgemm_path)path, a_in, m, k4, lda);
            qgemm((enum qgemm_path)path, m, a_in, lda, &p, got, ldc);
            size_t bad = 0, pad_kept = 0;
            for (size_t i = 0; i < m; i++) {
                for (size_t j = 0; j < n; j++)
                    bad += got[i * ldc + j] != want[i * ldc + j];
                pad_kept += got[i * ldc + n] == 0x5a5a5a5a;
            }
            CHECK_MSG(bad == 0, "qgemm %s %zux%zux%zu: %zu wrong sums",
                      qgemm_path_name((enum qgemm_path)path), m, n, k, bad);
            CHECK_MSG(pad_kept == m, "qgemm %s wrote past column n",
                      qgemm_path_name((enum qgemm_path)path));
            /* Scaled in the store: float(C) * (sa[i] * scale[j]), bit for
             * bit, nothing written past column n. */
            float *sa = xmalloc(m * sizeof *sa), *sc = xmalloc(n * sizeof *sc);
            float *y = xmalloc(m * ldc * sizeof *y);
            for (size_t i = 0; i < m; i++)
                sa[i] = (float)rand_int(1, 1000) * 1e-4f;
            for (size_t j = 0; j < n; j++)
                sc[j] = (float)rand_int(1, 1000) * 1e-3f;
            for (size_t i = 0; i < m * ldc; i++)
                y[i] = -1.5f;
            struct qgemm_scale ep = {sa, sc, y, ldc};
            if (qgemm_scaled((enum qgemm_path)path, m, a_in, lda, &p, &ep)) {
                bad = pad_kept = 0;
                for (size_t i = 0; i < m; i++) {
                    for (size_t j = 0; j < n; j++) {
                        float w = (float)want[i * ldc + j] * (sa[i] * sc[j]);
                        bad += memcmp(&w, &y[i * ldc + j], sizeof w) != 0;
                    }
                    pad_kept += y[i * ldc + n] == -1.5f;
                }
                CHECK_MSG(bad == 0, "qgemm_scaled %s %zux%zux%zu: %zu wrong",
                          qgemm_path_name((enum qgemm_path)path), m, n, k, bad);
                CHECK(pad_kept == m);
            }
            free(sa), free(sc), free(y);
        }
        qgemm_b_free(&p);
        free(a), free(a_in), free(b), free(want), free(got);
    }
    printf("qgemm paths tested:");
    for (int path = 0; path < QGEMM_N_PATHS; path++)
        if (tested & (1 << path))
            printf(" %s", qgemm_path_name((enum qgemm_path)path));
    printf(" (best: %s)\n", qgemm_path_name(qgemm_best()));
    CHECK(tested & (1 << QGEMM_REF));
}

/* |x - dequant(quant(x))| <= s/2 (plus float rounding), the extremes hit
 * +-127 exactly, padding zero, an all-zero row a zero scale. */
static void test_round_trip(void)
{
    enum { K = 301, K4 = 304 };
    float x[K], y[K];
    int8_t q[K4];
    for (int scale_pow = -20; scale_pow <= 20; scale_pow += 10) {
        float r = ldexpf(1.0f, scale_pow);
        for (size_t i = 0; i < K; i++)
            x[i] = rand_float(-r, r);
        x[17] = -2 * r; /* the row's extreme */
        memset(q, 0x55, sizeof q);
        float s = quant_row(q, x, K, K4);
        CHECK_NEAR(s, 2 * r / 127, 2 * r / 127 * 1e-6);
        CHECK(q[17] == -127);
        CHECK(q[K] == 0 && q[K4 - 1] == 0);
        dequant_row(y, q, K, s);
        double worst = 0;
        for (size_t i = 0; i < K; i++)
            worst = fmax(worst, fabs((double)y[i] - x[i]) / s);
        CHECK_MSG(worst <= 0.5 + 1e-5, "round trip error %g steps", worst);
    }
    /* Ties round to even on every path (the SIMD body and the scalar
     * tail): with max |x| = 127 the scale is 1 and q = rint(x). */
    size_t wrong = 0;
    for (size_t i = 0; i < K; i++)
        x[i] = (float)((int)(i % 254) - 127) + (i % 3 ? 0.5f : 0.25f);
    x[5] = 127;
    CHECK(quant_row(q, x, K, K4) == 1.0f);
    for (size_t i = 0; i < K; i++) {
        float r = rintf(x[i]);
        wrong += q[i] != (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
    CHECK_MSG(wrong == 0, "%zu values rounded other than half to even", wrong);
    memset(x, 0, sizeof x);
    CHECK(quant_row(q, x, K, K4) == 0.0f && q[0] == 0 && q[K - 1] == 0);
    CHECK(quantize_from_name("int8") == QUANTIZE_INT8);
    CHECK(quantize_from_name("fp32") == QUANTIZE_NONE);
    CHECK(quantize_from_name("int4") == -1);
}

/* The cases of testdata's logits.jsonl as encodings. */
static size_t load_cases(const char *path, struct encoding **out)
{
    FILE *f = fopen(path, "r");
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    *out = NULL;
    while (f && getline(&line, &lcap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        json_t *ids = json_object_get(j, "input_ids");
        json_t *types = json_object_get(j, "token_type_ids");
        grow((void **)out, &cap, n + 1, sizeof **out);
        struct encoding *enc = &(*out)[n++];
        memset(enc, 0, sizeof *enc);
        size_t len = json_array_size(ids);
        enc->input_ids.v = xcalloc(len, sizeof *enc->input_ids.v);
        enc->type_ids.v = xcalloc(len, sizeof *enc->type_ids.v);
        enc->input_ids.n = enc->type_ids.n = len;
        for (size_t i = 0; i < len; i++) {
            enc->input_ids.v[i] = (int32_t)json_integer_value(json_array_get(ids, i));
            enc->type_ids.v[i] = (int32_t)json_integer_value(json_array_get(types, i));
        }
        json_decref(j);
    }
    free(line);
    if (f)
        fclose(f);
    return n;
}

/* Logits (n, nl) of each case alone. */
static void score_alone(struct model *m, const struct encoding *c, size_t n,
                        float *out)
{
    struct err e = {0};
    for (size_t i = 0; i < n; i++) {
        const struct encoding *one = &c[i];
        CHECK_MSG(m->family->forward(m, &one, 1, out + i * m->n_labels, &e) == 0,
                  "%s", e.msg);
    }
}

/* int8 logits within tol of the float ones, and bitwise the same alone, in
 * one reversed batch and with 1 or 3 threads, on every available path. */
static void check_model(const char *dir, double tol)
{
    struct err e = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/logits.jsonl", dir);
    struct encoding *c;
    size_t n = load_cases(path, &c);
    struct model *m = model_load_weights(dir, &e);
    CHECK_MSG(m && n > 0, "%s: %s", dir, e.msg);
    if (!m || !n)
        return;
    size_t nl = m->n_labels;
    float *fp = xcalloc(n * nl, sizeof *fp), *q = xcalloc(n * nl, sizeof *q);
    float *batch = xcalloc(n * nl, sizeof *batch);
    const struct encoding **seqs = xcalloc(n, sizeof *seqs);
    score_alone(m, c, n, fp);
    CHECK(model_quantize(m, QUANTIZE_INT8, &e) == 0);
    score_alone(m, c, n, q);
    double worst = 0, range = 0;
    for (size_t i = 0; i < n * nl; i++) {
        worst = fmax(worst, fabs(q[i] - fp[i]));
        range = fmax(range, fabs(fp[i]));
    }
    printf("%s: int8 vs fp32: max |logit diff| %.5f (|logits| up to %.3f)\n",
           dir, worst, range);
    CHECK_MSG(worst <= tol, "%s: int8 logits %g from fp32 (> %g)", dir, worst,
              tol);
    CHECK_MSG(worst > 0, "%s: int8 logits equal fp32: not quantized?", dir);

    for (int p = 0; p < QGEMM_N_PATHS; p++) {
        if (!qgemm_available((enum qgemm_path)p))
            continue;
        setenv("RERANK_QGEMM", qgemm_path_name((enum qgemm_path)p), 1);
        model_free(m);
        m = model_load_weights(dir, &e);
        CHECK(m && model_quantize(m, QUANTIZE_INT8, &e) == 0);
        for (int threads = 1; threads <= 3; threads += 2) {
            m->family->set_threads(m, threads);
            for (size_t i = 0; i < n; i++)
                seqs[i] = &c[n - 1 - i];
            CHECK(m->family->forward(m, seqs, n, batch, &e) == 0);
            size_t same = 0;
            for (size_t i = 0; i < n; i++)
                same += memcmp(batch + i * nl, q + (n - 1 - i) * nl,
                               nl * sizeof *q) == 0;
            CHECK_MSG(same == n, "%s: %s, %d threads: %zu of %zu int8 logits "
                      "differ from scoring alone", dir,
                      qgemm_path_name((enum qgemm_path)p), threads, n - same, n);
        }
    }
    unsetenv("RERANK_QGEMM");
    model_free(m);
    for (size_t i = 0; i < n; i++)
        free(c[i].input_ids.v), free(c[i].type_ids.v);
    free(c), free(fp), free(q), free(batch), free(seqs);
}

/* The OpenBLAS core asked for (cpu.c): the best AVX-512 one the CPU runs,
 * nothing when OpenBLAS already has AVX-512 kernels or the CPU lacks it. */
static void test_blas_core(void)
{
    CHECK_STR(cpu_blas_core(true, true, "Prescott"), "Cooperlake");
    CHECK_STR(cpu_blas_core(true, false, "Zen"), "SkylakeX");
    CHECK_STR(cpu_blas_core(true, true, NULL), "Cooperlake");
    CHECK(cpu_blas_core(true, true, "SkylakeX") == NULL);
    CHECK(cpu_blas_core(true, false, "COOPERLAKE") == NULL);
    CHECK(cpu_blas_core(false, false, "Haswell") == NULL);
}

int main(void)
{
    test_blas_core();
    test_kernels();
    /* Every set of row passes this CPU runs, the best last. */
    for (int isa = 0; isa < KERNELS_N_ISAS; isa++)
        if (quant_use_passes((enum kernels_isa)isa)) {
            test_round_trip();
            check_model("testdata/tiny-bert", 0.05);
        }
    check_model("testdata/tiny-xlmr", 0.05);
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed != 0;
}
