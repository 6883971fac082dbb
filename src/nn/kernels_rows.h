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

/* Sums run on 8 lanes in every set, so that LayerNorm and softmax give
 * the same bits on AVX2 and AVX-512 (as the dense layers do): a W-lane
 * vector adds to an 8-lane accumulator as its low then its high half,
 * which is the order the 8-lane set adds the same elements in. */
INLINE v8f KR(add8)(v8f acc, VF v)
{
    v8f h;
    for (size_t i = 0; i < sizeof(VF) / sizeof(v8f); i++) {
        memcpy(&h, (const char *)&v + i * sizeof h, sizeof h);
        acc += h;
    }
    return acc;
}

/* acc + the last n < W elements of a row (as 8-lane chunks, zero-padded):
 * v holds them in its first n lanes, whatever the rest. */
INLINE v8f KR(add8_n)(v8f acc, VF v, size_t n)
{
    float t[sizeof(VF) / sizeof(float)] = {0};
    memcpy(t, &v, n * sizeof *t);
    for (size_t i = 0; i < n; i += 8) {
        v8f h;
        memcpy(&h, t + i, sizeof h);
        acc += h;
    }
    return acc;
}

/* LayerNorm of one row in place: two passes (mean, then centred variance)
 * with 8 partial sums each (add8) and the same tree at the end (hsum8). */
INLINE void KR(layernorm_row)(float *x, const float *gamma, const float *beta,
                              size_t dim, float eps)
{
    size_t j = 0, n = dim % W, end = dim - n;
    v8f acc = {0};
    for (; j < end; j += W)
        acc = KR(add8)(acc, KR(vload)(x + j));
    acc = KR(add8_n)(acc, KR(vload_n)(x + end, n, 0.0f), n);
    float mean = hsum8(acc) / (float)dim;

    VF vm = KR(vsplat)(mean), d;
    v8f acc2 = {0};
    for (j = 0; j < end; j += W) {
        d = KR(vload)(x + j) - vm;
        acc2 = KR(add8)(acc2, d * d);
    }
    d = KR(vload_n)(x + end, n, mean) - vm;
    acc2 = KR(add8_n)(acc2, d * d, n);
    float inv = 1.0f / sqrtf(hsum8(acc2) / (float)dim + eps);

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
        /* The ragged end is padded with -inf; its padding never reaches
         * the sum (add8_n). */
        VF t = KR(vload_n)(x + end, n, -INFINITY);
        VF vm = t;
        for (; j < end; j += W)
            vm = KR(vmax)(vm, KR(vload)(x + j));
        vm = KR(vsplat)(KR(vhmax)(vm));

        v8f sum = {0};
        for (j = 0; j < end; j += W) {
            VF e = KR(vexp)(KR(vload)(x + j) - vm);
            KR(vstore)(x + j, e);
            sum = KR(add8)(sum, e);
        }
        if (n) {
            t = KR(vexp)(t - vm);
            KR(vstore_n)(x + end, t, n);
            sum = KR(add8_n)(sum, t, n);
        }
        VF inv = KR(vsplat)(1.0f / hsum8(sum));
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
