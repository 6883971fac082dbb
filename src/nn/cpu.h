/* cpu.h — preparing OpenBLAS for the cross-encoder's matrix products. */
#ifndef RERANK_CPU_H
#define RERANK_CPU_H

#include <stdbool.h>

/* OpenBLAS reads its settings from the environment while it loads, before
 * main(), and then cannot change two of them:
 *   - its pthread build starts a worker per core that spins for a while
 *     after each call; the forward pass threads over sequences itself
 *     (src/nn/pool.c) and calls OpenBLAS single-threaded, so those workers
 *     only compete with it (50 ms of a 120 ms ten-passage run here).
 *     OPENBLAS_NUM_THREADS=1 keeps them from starting.
 *   - 0.3.21 picks its AVX2 (or older) kernels on AVX-512 CPUs it does not
 *     know (AMD Zen 4, newer Xeons); OPENBLAS_CORETYPE=SkylakeX loads the
 *     AVX-512 ones, about twice as fast, when the CPU and the OS support
 *     AVX-512, and Cooperlake (SkylakeX's kernels plus the AVX512-BF16
 *     ones) when the CPU also has AVX512-BF16.
 * This sets whichever of the two the user has not set and re-executes the
 * program once (a few milliseconds) so that they take effect.  It returns
 * when there is nothing to do or the re-execution fails. */
void cpu_prepare_blas(char **argv);

/* The OpenBLAS core type to ask for, given whether the CPU (and OS) has
 * AVX-512 and AVX512-BF16 and the core OpenBLAS picked: NULL when it
 * already runs AVX-512 kernels or the CPU has none, else Cooperlake with
 * BF16 and SkylakeX without. */
const char *cpu_blas_core(bool avx512, bool bf16, const char *core);

/* Bit `bit` of CPUID.(EAX=7,ECX=1):EAX (4: AVX-VNNI, 5: AVX512-BF16),
 * which older compilers' __builtin_cpu_supports cannot name; false off
 * x86-64.  The caller checks the OS saves the registers (AVX2, AVX-512). */
bool cpu_leaf7_1_eax(int bit);

/* The kernel an environment variable forces (RERANK_PGEMM, RERANK_QGEMM,
 * RERANK_ATTENTION): the index of its value among names[0..n), or -1 when
 * it is unset or names none of them. */
int cpu_forced_path(const char *var, const char *const *names, int n);

#endif
