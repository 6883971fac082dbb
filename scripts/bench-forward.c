/* bench-forward.c — times a model family's forward on random ~80-token pairs.
 *
 * Build and run from the repository root (after `make`):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc scripts/bench-forward.c \
 *      $(find src -name '*.o' ! -name main.o) $(pkg-config --cflags --libs \
 *      libcurl jansson openblas libutf8proc sqlite3) -lm -lpthread \
 *      -o /tmp/bench-forward
 *   scripts/gen-tiny-model.py --minilm /tmp/minilm
 *   /tmp/bench-forward /tmp/minilm [n_seqs=100] [threads=2] [repeats=5] [int8]
 * (int8: the --quantize int8 dense layers; RERANK_QGEMM picks the kernel).
 * Prints pairs/s and GFLOP/s counting 2*tokens*(4h^2 + 2h*inter) for the
 * dense layers and 4*len^2*h for attention, per sequence and layer.
 * Other shapes: BENCH_HIDDEN, BENCH_INTER, BENCH_LAYERS, and BENCH_TYPES=1
 * for a model with one token type (XLM-R base: 768, 3072, 12, 1). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/model.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [n_seqs] [threads] [repeats] [fp32|int8]\n",
                argv[0]);
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    int repeats = argc > 4 ? atoi(argv[4]) : 5;
    struct err e;
    struct model *m = model_load_weights(argv[1], &e);
    if (!m) {
        fprintf(stderr, "bench-forward: %s\n", e.msg);
        return 1;
    }
    if (argc > 5 && model_quantize(m, quantize_from_name(argv[5]) == QUANTIZE_INT8
                                        ? QUANTIZE_INT8 : QUANTIZE_NONE, &e)) {
        fprintf(stderr, "bench-forward: %s\n", e.msg);
        return 1;
    }
    m->family->set_threads(m, threads);
    struct encoding *enc = calloc(n, sizeof *enc);
    const struct encoding **seqs = calloc(n, sizeof *seqs);
    unsigned long long rng = 7;
    /* XLM-R has one token type: BENCH_TYPES=1 gives every token type 0. */
    bool one_type = getenv("BENCH_TYPES") && atoi(getenv("BENCH_TYPES")) == 1;
    size_t tokens = 0;
    double attn_len2 = 0;
    for (size_t i = 0; i < n; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = 70 + (rng >> 33) % 21; /* 70..90 tokens */
        enc[i].input_ids.v = calloc(len, sizeof(int32_t));
        enc[i].type_ids.v = calloc(len, sizeof(int32_t));
        enc[i].input_ids.n = enc[i].type_ids.n = len;
        for (size_t j = 0; j < len; j++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            enc[i].input_ids.v[j] = 1000 + (int32_t)((rng >> 33) % 20000);
            enc[i].type_ids.v[j] = one_type ? 0 : j > 20;
        }
        seqs[i] = &enc[i];
        tokens += len;
        attn_len2 += (double)len * len;
    }
    float *logits = calloc(n * m->n_labels, sizeof *logits);
    if (m->family->forward(m, seqs, n, logits, &e)) { /* warm-up, sizes buffers */
        fprintf(stderr, "bench-forward: %s\n", e.msg);
        return 1;
    }
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_seconds();
        m->family->forward(m, seqs, n, logits, &e);
        double t = now_seconds() - t0;
        best = t < best ? t : best;
    }
    /* MiniLM-L6 shape unless told otherwise through the environment. */
    double h = getenv("BENCH_HIDDEN") ? atof(getenv("BENCH_HIDDEN")) : 384;
    double inter = getenv("BENCH_INTER") ? atof(getenv("BENCH_INTER")) : 1536;
    double layers = getenv("BENCH_LAYERS") ? atof(getenv("BENCH_LAYERS")) : 6;
    double flops = layers * (2.0 * tokens * (4 * h * h + 2 * h * inter) +
                             4.0 * attn_len2 * h);
    printf("%zu pairs, %zu tokens, %d threads: best of %d %.1f ms, "
           "%.0f pairs/s, %.1f GFLOP/s\n", n, tokens, threads, repeats,
           best * 1e3, n / best, flops / best / 1e9);
    for (size_t i = 0; i < n; i++) {
        free(enc[i].input_ids.v);
        free(enc[i].type_ids.v);
    }
    free(enc), free(seqs), free(logits);
    model_free(m);
    return 0;
}
