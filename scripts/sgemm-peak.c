/* sgemm-peak.c — this machine's cblas_sgemm speed, for scripts/bench.
 * Times C = A B^T with A (3200, 384) and B (1536, 384), the shape of a
 * MiniLM feed-forward product over a 3200-token batch, on T threads, and
 * prints "GFLOPS CORENAME". */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const int m = 3200, n = 1536, k = 384, reps = 30;
    openblas_set_num_threads(argc > 1 ? atoi(argv[1]) : 1);
    float *a = malloc(sizeof *a * m * k), *b = malloc(sizeof *b * n * k),
          *c = malloc(sizeof *c * m * n);
    for (long i = 0; i < (long)m * k; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (long i = 0; i < (long)n * k; i++)
        b[i] = (float)(i % 5) * 0.1f;
    double best = 0;
    for (int round = 0; round < 3; round++) {
        double t = now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k,
                        b, k, 0.0f, c, n);
        double gflops = 2.0 * m * n * k * reps / (now() - t) / 1e9;
        best = gflops > best ? gflops : best;
    }
    printf("%.1f %s\n", best, openblas_get_corename());
    free(a);
    free(b);
    free(c);
    return 0;
}
