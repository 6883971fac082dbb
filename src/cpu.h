/* cpu.h — preparing OpenBLAS for the cross-encoder's matrix products. */
#ifndef RERANK_CPU_H
#define RERANK_CPU_H

/* OpenBLAS reads its settings from the environment while it loads, before
 * main(), and then cannot change two of them:
 *   - its pthread build starts a worker per core that spins for a while
 *     after each call; the forward pass threads over sequences itself
 *     (src/pool.c) and calls OpenBLAS single-threaded, so those workers
 *     only compete with it (50 ms of a 120 ms ten-passage run here).
 *     OPENBLAS_NUM_THREADS=1 keeps them from starting.
 *   - 0.3.21 picks its AVX2 kernels on AVX-512 CPUs it does not know (AMD
 *     Zen 4, for one); OPENBLAS_CORETYPE=SkylakeX loads the AVX-512 ones,
 *     about twice as fast, when the CPU and the OS support AVX-512.
 * This sets whichever of the two the user has not set and re-executes the
 * program once (a few milliseconds) so that they take effect.  It returns
 * when there is nothing to do or the re-execution fails. */
void cpu_prepare_blas(char **argv);

#endif
