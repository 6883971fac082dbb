/* kernels_rows.h — the row kernels of kernels.c (bias, GELU, LayerNorm,
 * softmax, gated activations), written once for any vector width on
 * vmath.h's helpers.  kernels.c includes it once per instruction set, right
 * after vmath.h, with the same VF, VI, SFX and VFMA; each kernel is a
 * static function named with the suffix (bias_gelu_avx512), and kernels.c
 * picks one set at start-up.  A ragged end shorter than a vector goes
 * through the same vector code from a padded buffer, so every element of a
 * row gets the same arithmetic.  Without VF it defines nothing. */
#ifdef VF
#define KR_CAT2(a, b) a##b
#define KR_CAT(a, b) KR_CAT2(a, b)
#define KR(name) KR_CAT(name, SFX)
#define W ((size_t)(sizeof(VF) / sizeof(float)))

static void KR(add_bias)(float *x, const float *bias, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++, x += cols) {
        size_t j = 0;
        for (; j + W <= cols; j += W)
            KR(vstore)(x + j, KR(vload)(x + j) + KR(vload)(bias + j));
        for (; j < cols; j++)
            x[j] += bias[j];
    }
}

static void KR(bias_gelu)(float *x, const float *bias, size_t rows,
                          size_t cols)
{
    for (size_t r = 0; r < rows; r++, x += cols) {
        size_t j = 0;
        for (; j + GN * W <= cols; j += GN * W) {
            VF v[GN];
            for (size_t i = 0; i < GN; i++)
                v[i] = KR(vload)(x + j + i * W) +
                       (bias ? KR(vload)(bias + j + i * W) : KR(vsplat)(0.0f));
            KR(vgelu_n)(v, GN);
            for (size_t i = 0; i < GN; i++)
                KR(vstore)(x + j + i * W, v[i]);
        }
        for (; j + W <= cols; j += W) {
            VF v = KR(vload)(x + j);
            if (bias)
                v += KR(vload)(bias + j);
            KR(vstore)(x + j, KR(vgelu)(v));
        }
        if (j < cols) {
            size_t n = cols - j;
            VF v = KR(vload_n)(x + j, n, 0.0f);
            if (bias)
                v += KR(vload_n)(bias + j, n, 0.0f);
            KR(vstore_n)(x + j, KR(vgelu)(v), n);
        }
    }
}

/* LayerNorm of one row in place: two passes (mean, then centred variance)
 * with W partial sums each; the ragged end is padded with zeros, and with
 * the mean for the variance. */
INLINE void KR(layernorm_row)(float *x, const float *gamma, const float *beta,
                              size_t dim, float eps)
{
    size_t j = 0, n = dim % W, end = dim - n;
    VF acc = KR(vload_n)(x + end, n, 0.0f);
    for (; j < end; j += W)
        acc += KR(vload)(x + j);
    float mean = KR(vhsum)(acc) / (float)dim;

    VF vm = KR(vsplat)(mean);
    VF d = KR(vload_n)(x + end, n, mean) - vm;
    acc = d * d;
    for (j = 0; j < end; j += W) {
        d = KR(vload)(x + j) - vm;
        acc = KR(vfma)(d, d, acc);
    }
    float inv = 1.0f / sqrtf(KR(vhsum)(acc) / (float)dim + eps);

    VF vinv = KR(vsplat)(inv), zero = KR(vsplat)(0.0f);
    for (j = 0; j < end; j += W)
        KR(vstore)(x + j, KR(vfma)((KR(vload)(x + j) - vm) * vinv,
                                   KR(vload)(gamma + j),
                                   beta ? KR(vload)(beta + j) : zero));
    if (n)
        KR(vstore_n)(x + end,
                     KR(vfma)((KR(vload_n)(x + end, n, 0.0f) - vm) * vinv,
                              KR(vload_n)(gamma + end, n, 0.0f),
                              beta ? KR(vload_n)(beta + end, n, 0.0f) : zero),
                     n);
}

static void KR(layernorm)(float *x, const float *gamma, const float *beta,
                          size_t rows, size_t dim, float eps)
{
    for (size_t r = 0; r < rows; r++)
        KR(layernorm_row)(x + r * dim, gamma, beta, dim, eps);
}

static void KR(residual_layernorm)(float *x, const float *y, const float *bias,
                                   const float *gamma, const float *beta,
                                   size_t rows, size_t dim, float eps)
{
    for (size_t r = 0; r < rows; r++, x += dim, y += dim) {
        size_t j = 0;
        for (; j + W <= dim; j += W)
            KR(vstore)(x + j, (KR(vload)(y + j) + KR(vload)(bias + j)) +
                                  KR(vload)(x + j));
        for (; j < dim; j++)
            x[j] = (y[j] + bias[j]) + x[j];
        KR(layernorm_row)(x, gamma, beta, dim, eps);
    }
}

INLINE VF KR(vsilu)(VF v)
{
    return v / (KR(vsplat)(1.0f) + KR(vexp)(-v));
}

/* The body of a gated activation: each row of x(rows, 2*inter) is
 * [a | b]; a becomes ACT(a) * b (a tail shorter than a vector padded). */
#define KR_GATED_ROWS(ACT)                                                     \
    for (size_t r = 0; r < rows; r++, x += 2 * inter) {                        \
        size_t j = 0;                                                          \
        for (; j + W <= inter; j += W)                                         \
            KR(vstore)(x + j, ACT(KR(vload)(x + j)) * KR(vload)(x + inter + j)); \
        if (j < inter) {                                                       \
            size_t n = inter - j;                                              \
            KR(vstore_n)(x + j, ACT(KR(vload_n)(x + j, n, 0.0f)) *             \
                                    KR(vload_n)(x + inter + j, n, 0.0f), n);   \
        }                                                                      \
    }

static void KR(gelu_gate)(float *x, size_t rows, size_t inter)
{
    KR_GATED_ROWS(KR(vgelu))
}

static void KR(silu_gate)(float *x, size_t rows, size_t inter)
{
    KR_GATED_ROWS(KR(vsilu))
}

static void KR(softmax_rows)(float *x, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++, x += cols) {
        size_t j = 0, n = cols % W, end = cols - n;
        /* The ragged end is padded with -inf, whose exp is clamped to
         * e^-87.3 ~ 1e-38: W of them are below half an ulp of the sum,
         * which is >= 1 (the maximum's term), so they change nothing. */
        VF t = KR(vload_n)(x + end, n, -INFINITY);
        VF vm = t;
        for (; j < end; j += W)
            vm = KR(vmax)(vm, KR(vload)(x + j));
        vm = KR(vsplat)(KR(vhmax)(vm));

        VF sum = KR(vsplat)(0.0f);
        if (n) {
            t = KR(vexp)(t - vm);
            KR(vstore_n)(x + end, t, n);
            sum = t;
        }
        for (j = 0; j < end; j += W) {
            VF e = KR(vexp)(KR(vload)(x + j) - vm);
            KR(vstore)(x + j, e);
            sum += e;
        }
        VF inv = KR(vsplat)(1.0f / KR(vhsum)(sum));
        for (j = 0; j < end; j += W)
            KR(vstore)(x + j, KR(vload)(x + j) * inv);
        if (n)
            KR(vstore_n)(x + end, KR(vload_n)(x + end, n, 0.0f) * inv, n);
    }
}

/* The set, for kernels.c's table. */
static const struct row_kernels KR(row_kernels) = {
    .add_bias = KR(add_bias),
    .bias_gelu = KR(bias_gelu),
    .layernorm = KR(layernorm),
    .residual_layernorm = KR(residual_layernorm),
    .gelu_gate = KR(gelu_gate),
    .silu_gate = KR(silu_gate),
    .softmax_rows = KR(softmax_rows),
};

#undef W
#undef KR_GATED_ROWS
#undef KR
#undef KR_CAT
#undef KR_CAT2
#endif /* VF */
