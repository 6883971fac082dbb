/* test_kernels.c — each kernel against a naive double-precision loop. */
#include "check.h"
#include "nn/kernels.h"
#include "util.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng = 42;

/* Uniform in [lo, hi). */
static float urand(float lo, float hi)
{
    rng = hash_mix64(rng);
    return lo + (hi - lo) * (float)((rng >> 40) * 0x1p-24);
}

static float *rand_vec(size_t n, float lo, float hi)
{
    float *v = xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = urand(lo, hi);
    return v;
}

static void test_matmul(void)
{
    /* Strided operands: A is a column slice of a wider matrix, as one
     * attention head of the fused QKV is. */
    size_t m = 37, n = 29, k = 45, lda = 60, ldc = 31;
    float *a = rand_vec(m * lda, -1, 1), *bt = rand_vec(n * k, -1, 1);
    float *b = rand_vec(k * n, -1, 1), *c = rand_vec(m * ldc, -1, 1);
    float *c0 = xmalloc(m * ldc * sizeof *c0);
    memcpy(c0, c, m * ldc * sizeof *c);
    double worst = 0;
    matmul(m, n, k, 0.5f, a, lda, bt, k, true, 2.0f, c, ldc);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t l = 0; l < k; l++)
                s += (double)a[i * lda + l] * bt[j * k + l];
            worst = fmax(worst, fabs(c[i * ldc + j] - (0.5 * s + 2.0 * c0[i * ldc + j])));
        }
    CHECK_MSG(worst < 1e-5, "matmul (B transposed) error %g", worst);
    CHECK(c[0 * ldc + n] == c0[n]); /* padding columns untouched */

    worst = 0;
    matmul(m, n, k, 1.0f, a, lda, b, n, false, 0.0f, c, ldc);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t l = 0; l < k; l++)
                s += (double)a[i * lda + l] * b[l * n + j];
            worst = fmax(worst, fabs(c[i * ldc + j] - s));
        }
    CHECK_MSG(worst < 1e-5, "matmul error %g", worst);
    free(a), free(b), free(bt), free(c), free(c0);
}

/* 0.5 v (1 + erf(v/sqrt2)), in the erfc form that stays accurate in double
 * where 1 + erf(v/sqrt2) cancels. */
static double gelu_ref(double v)
{
    return 0.5 * v * erfc(-v / sqrt(2.0));
}

static void test_gelu(void)
{
    /* A dense sweep over the range activations reach, and a ragged row
     * length to exercise the tail. */
    size_t rows = 3, cols = 20001 / 3;
    size_t n = rows * cols;
    float *x = xmalloc(n * sizeof *x), *bias = xcalloc(cols, sizeof *bias);
    for (size_t i = 0; i < n; i++)
        x[i] = -16.0f + 32.0f * (float)i / (float)n;
    double worst = 0, worst_rel = 0;
    float *orig = xmalloc(n * sizeof *orig);
    memcpy(orig, x, n * sizeof *x);
    bias_gelu(x, bias, rows, cols);
    for (size_t i = 0; i < n; i++) {
        double ref = gelu_ref(orig[i]);
        double err = fabs(x[i] - ref);
        worst = fmax(worst, err / fmax(1.0, fabs(orig[i])));
        if (fabs(ref) > 1e-30)
            worst_rel = fmax(worst_rel, err / fabs(ref));
    }
    CHECK_MSG(worst < 3e-7, "gelu error %g (relative to max(1,|x|))", worst);
    /* The erfc form keeps relative accuracy in the negative tail too. */
    CHECK_MSG(worst_rel < 2e-5, "gelu relative error %g", worst_rel);

    /* The bias is added first. */
    float y[9], b[9];
    for (int i = 0; i < 9; i++)
        y[i] = urand(-3, 3), b[i] = urand(-1, 1);
    float y0[9];
    memcpy(y0, y, sizeof y);
    bias_gelu(y, b, 1, 9);
    worst = 0;
    for (int i = 0; i < 9; i++)
        worst = fmax(worst, fabs(y[i] - gelu_ref((double)y0[i] + b[i])));
    CHECK_MSG(worst < 1e-6, "bias_gelu error %g", worst);
    free(x), free(bias), free(orig);
}

static void ln_ref(double *out, const float *x, const float *g,
                   const float *b, size_t dim, double eps)
{
    double mean = 0, var = 0;
    for (size_t j = 0; j < dim; j++)
        mean += x[j];
    mean /= dim;
    for (size_t j = 0; j < dim; j++)
        var += (x[j] - mean) * (x[j] - mean);
    var /= dim;
    for (size_t j = 0; j < dim; j++)
        out[j] = (x[j] - mean) / sqrt(var + eps) * g[j] + b[j];
}

static void test_layernorm(void)
{
    size_t rows = 5, dim = 389;
    float *x = rand_vec(rows * dim, -4, 6), *y = rand_vec(rows * dim, -1, 1);
    float *bias = rand_vec(dim, -1, 1), *g = rand_vec(dim, 0.5, 1.5),
          *b = rand_vec(dim, -1, 1);
    float *sum = xmalloc(rows * dim * sizeof *sum);
    double *ref = xmalloc(dim * sizeof *ref);
    for (size_t i = 0; i < rows * dim; i++)
        sum[i] = (y[i] + bias[i % dim]) + x[i];

    residual_layernorm(x, y, bias, g, b, rows, dim, 1e-12f);
    double worst = 0;
    for (size_t r = 0; r < rows; r++) {
        ln_ref(ref, sum + r * dim, g, b, dim, 1e-12);
        for (size_t j = 0; j < dim; j++)
            worst = fmax(worst, fabs(x[r * dim + j] - ref[j]));
    }
    CHECK_MSG(worst < 2e-6, "residual_layernorm error %g", worst);

    /* Plain LayerNorm, with a large eps that must be inside the sqrt. */
    float *z = rand_vec(dim, -0.01f, 0.01f);
    ln_ref(ref, z, g, b, dim, 1e-3);
    layernorm(z, g, b, 1, dim, 1e-3f);
    worst = 0;
    for (size_t j = 0; j < dim; j++)
        worst = fmax(worst, fabs(z[j] - ref[j]));
    CHECK_MSG(worst < 1e-6, "layernorm error %g", worst);
    free(x), free(y), free(bias), free(g), free(b), free(sum), free(ref),
        free(z);
}

static void test_softmax(void)
{
    size_t lens[] = {1, 7, 8, 83, 1000};
    for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
        size_t cols = lens[t], rows = 3;
        float *x = rand_vec(rows * cols, -30, 30), *x0 = xmalloc(rows * cols * 4);
        memcpy(x0, x, rows * cols * sizeof *x);
        softmax_rows(x, rows, cols);
        double worst = 0, total_err = 0;
        for (size_t r = 0; r < rows; r++) {
            double m = -INFINITY, s = 0, tot = 0;
            for (size_t j = 0; j < cols; j++)
                m = fmax(m, x0[r * cols + j]);
            /* x - max rounded to float first, as the kernel (and torch)
             * does: that rounding alone is worth 2e-6 at x - max = -60. */
            for (size_t j = 0; j < cols; j++)
                s += exp((float)(x0[r * cols + j] - m));
            for (size_t j = 0; j < cols; j++) {
                double ref = exp((float)(x0[r * cols + j] - m)) / s;
                worst = fmax(worst, fabs(x[r * cols + j] - ref) / fmax(ref, 1e-30));
                tot += x[r * cols + j];
            }
            total_err = fmax(total_err, fabs(tot - 1));
        }
        /* Relative error, except for values so small that float
         * subnormals (or our e^-87 floor) decide them. */
        CHECK_MSG(worst < 1e-6 || cols == 1000, "softmax[%zu] rel error %g",
                  cols, worst);
        CHECK_MSG(total_err < 1e-5, "softmax[%zu] sums to 1 +- %g", cols,
                  total_err);
        free(x), free(x0);
    }
    /* Large and very negative logits: no overflow, the exp floor stays
     * negligible. */
    float big[10] = {1e4f, 1e4f - 1, -1e4f, 0, 80, -80, 1e4f, 3, -1e30f, 1e4f - 2};
    softmax_rows(big, 1, 10);
    double s = 0;
    for (int i = 0; i < 10; i++)
        s += big[i];
    CHECK_NEAR(s, 1.0, 1e-6);
    CHECK_NEAR(big[0], 1 / (2 + exp(-1) + exp(-2)), 1e-6);
    CHECK(big[2] < 1e-30f && big[8] < 1e-30f);
}

static void test_exp_range(void)
{
    /* softmax of a pair exercises exp over its whole clamped domain:
     * [0, -d] gives e^-d / (1 + e^-d). */
    double worst = 0;
    for (double d = 0; d < 87; d += 0.01) {
        float row[2] = {0, (float)-d};
        softmax_rows(row, 1, 2);
        double e = exp(-(double)(float)d), ref = e / (1 + e);
        worst = fmax(worst, fabs(row[1] - ref) / ref);
    }
    CHECK_MSG(worst < 5e-7, "exp relative error %g", worst);
}

static void test_tanh(void)
{
    float x[5] = {-20, -0.5f, 0, 0.3f, 7};
    double ref[5];
    for (int i = 0; i < 5; i++)
        ref[i] = tanh(x[i]);
    tanh_inplace(x, 5);
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(x[i], ref[i], 1e-7);
}

static void test_add_bias(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30};
    add_bias(x, b, 2, 3);
    CHECK(x[0] == 11 && x[2] == 33 && x[3] == 14 && x[5] == 36);
}

static void test_half(void)
{
    /* binary16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), a
     * subnormal 0x03ff, -0, inf, NaN, 1/3 ~ 0x3555. */
    const unsigned char h[] = {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00,
                               0xff, 0x03, 0x00, 0x80, 0x00, 0x7c, 0x00, 0x7e,
                               0x55, 0x35};
    float f[9];
    f16_to_f32(f, h, 9);
    CHECK(f[0] == 1.0f);
    CHECK(f[1] == -2.0f);
    CHECK(f[2] == 65504.0f);
    CHECK(f[3] == 0x1p-24f);
    CHECK(f[4] == 1023 * 0x1p-24f);
    CHECK(f[5] == 0.0f && signbit(f[5]));
    CHECK(isinf(f[6]) && f[6] > 0);
    CHECK(isnan(f[7]));
    CHECK(f[8] == 0x1.554p-2f);

    /* bfloat16 is the top half of a float32. */
    const unsigned char b[] = {0x80, 0x3f, 0x49, 0xc0, 0x80, 0xff, 0x01, 0x00};
    float g[4];
    bf16_to_f32(g, b, 4);
    CHECK(g[0] == 1.0f);
    CHECK(g[1] == -0x1.92p+1f);
    CHECK(isinf(g[2]) && g[2] < 0);
    CHECK(g[3] == 0x1p-133f);
}

/* ModernBERT's kernels: LayerNorm without bias, the GLU gate (odd widths
 * exercise the ragged ends), rotary embedding against rotate_half. */
static void test_modernbert_kernels(void)
{
    size_t dim = 45, inter = 37, rows = 3, nh = 3, hd = 10, half = hd / 2;
    float *x = rand_vec(dim, -3, 3), *g = rand_vec(dim, 0.5, 1.5);
    float *zero = calloc(dim, sizeof *zero);
    double *ref = xmalloc(dim * sizeof *ref);
    ln_ref(ref, x, g, zero, dim, 1e-5);
    layernorm(x, g, NULL, 1, dim, 1e-5f);
    double worst = 0;
    for (size_t j = 0; j < dim; j++)
        worst = fmax(worst, fabs(x[j] - ref[j]));
    CHECK_MSG(worst < 1e-6, "layernorm without bias error %g", worst);

    float *glu = rand_vec(rows * 2 * inter, -4, 4);
    float *orig = xmalloc(rows * 2 * inter * sizeof *orig);
    memcpy(orig, glu, rows * 2 * inter * sizeof *orig);
    gelu_gate(glu, rows, inter);
    worst = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < inter; j++) {
            const float *o = orig + r * 2 * inter;
            double want = gelu_ref(o[j]) * o[inter + j];
            worst = fmax(worst, fabs(glu[r * 2 * inter + j] - want));
            CHECK(glu[r * 2 * inter + inter + j] == o[inter + j]);
        }
    CHECK_MSG(worst < 4e-6, "gelu_gate error %g", worst);

    /* Rows of stride ld > n_head * head_dim (a slice of the fused QKV). */
    size_t ld = nh * hd + 7;
    float *q = rand_vec(rows * ld, -2, 2), *cs = rand_vec(rows * half, -1, 1),
          *sn = rand_vec(rows * half, -1, 1);
    float *q0 = xmalloc(rows * ld * sizeof *q0);
    memcpy(q0, q, rows * ld * sizeof *q0);
    rope_rows(q, ld, rows, nh, hd, cs, sn);
    worst = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t h = 0; h < nh; h++)
            for (size_t j = 0; j < hd; j++) {
                const float *v = q0 + r * ld + h * hd;
                size_t k = j % half;
                /* q * cos + rotate_half(q) * sin, rotate_half = (-x2, x1) */
                double rot = j < half ? -v[j + half] : v[j - half];
                double want = v[j] * cs[r * half + k] + rot * sn[r * half + k];
                worst = fmax(worst, fabs(q[r * ld + h * hd + j] - want));
            }
    for (size_t r = 0; r < rows; r++)
        for (size_t j = nh * hd; j < ld; j++)
            CHECK(q[r * ld + j] == q0[r * ld + j]);
    CHECK_MSG(worst < 1e-6, "rope_rows error %g", worst);
    free(x), free(g), free(zero), free(ref), free(glu), free(orig), free(q),
        free(cs), free(sn), free(q0);
}

/* GELU is element-wise: an element gets the same bits in a group of
 * vectors, alone in a vector, or in a row's ragged end. */
static void test_gelu_same_bits(void)
{
    size_t n = 4 * 16 + 16 + 5;
    float *row = rand_vec(n, -6, 6), *one = xmalloc(n * sizeof *one);
    memcpy(one, row, n * sizeof *one);
    bias_gelu(row, NULL, 1, n);
    bias_gelu(one, NULL, n, 1);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += memcmp(&row[i], &one[i], sizeof *row) == 0;
    CHECK_MSG(same == n, "gelu: %zu of %zu elements differ alone", n - same, n);
    free(row), free(one);
}

/* The AVX2 and AVX-512 sets give the same bits (both fuse multiply-adds,
 * and sums run on 8 lanes in one order), so scores do not depend on which
 * of the two a host has: rows of every length up to 3 vectors and past. */
static void test_sets_agree(void)
{
    if (!kernels_available(KERNELS_AVX2) || !kernels_available(KERNELS_AVX512)) {
        printf("skip: AVX2 against AVX-512 row kernels (this CPU lacks one)\n");
        check_skipped++;
        return;
    }
    size_t differ = 0, cases = 0;
    for (size_t cols = 1; cols <= 50; cols++) {
        size_t rows = 3, n = rows * cols;
        float *in = rand_vec(2 * n, -8, 8), *g = rand_vec(cols, 0.5f, 1.5f);
        float *b = rand_vec(cols, -1, 1), *y = rand_vec(n, -1, 1);
        float *out[2];
        for (int set = 0; set < 2; set++) {
            kernels_use(set ? KERNELS_AVX512 : KERNELS_AVX2);
            float *o = out[set] = xmalloc(6 * n * sizeof *o);
            memcpy(o, in, n * sizeof *o);
            bias_gelu(o, b, rows, cols);
            memcpy(o + n, in, n * sizeof *o);
            layernorm(o + n, g, b, rows, cols, 1e-12f);
            memcpy(o + 2 * n, in, n * sizeof *o);
            residual_layernorm(o + 2 * n, y, b, g, NULL, rows, cols, 1e-5f);
            memcpy(o + 3 * n, in, n * sizeof *o);
            softmax_rows(o + 3 * n, rows, cols);
            memcpy(o + 4 * n, in, 2 * n * sizeof *o);
            gelu_gate(o + 4 * n, rows, cols);
        }
        for (size_t i = 0; i < 6 * n; i++)
            differ += memcmp(&out[0][i], &out[1][i], sizeof(float)) != 0;
        cases += 6 * n;
        free(in), free(g), free(b), free(y), free(out[0]), free(out[1]);
    }
    CHECK_MSG(differ == 0, "AVX2 and AVX-512 row kernels: %zu of %zu outputs differ",
              differ, cases);
}

int main(void)
{
    static const char *const names[] = {"c", "avx2", "avx512"};
    test_matmul();
    test_tanh();
    test_half();
    /* Every set of row kernels this CPU runs, the best last. */
    for (int isa = 0; isa < KERNELS_N_ISAS; isa++) {
        if (!kernels_use((enum kernels_isa)isa)) {
            printf("skip: %s row kernels (not on this CPU)\n", names[isa]);
            continue;
        }
        int failed = check_failed;
        test_gelu();
        test_gelu_same_bits();
        test_layernorm();
        test_softmax();
        test_exp_range();
        test_add_bias();
        test_modernbert_kernels();
        if (check_failed > failed)
            printf("  (with the %s row kernels)\n", names[isa]);
    }
    test_sets_agree();
    if (!kernels_use(KERNELS_AVX512))
        kernels_use(KERNELS_AVX2);
    return check_report();
}
