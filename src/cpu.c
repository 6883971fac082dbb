/* cpu.c — see cpu.h. */
#include "cpu.h"

#include <cblas.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool has_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    /* libgcc sets these only when the OS saves the ZMM state (XCR0). */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

static bool avx512_kernels(void)
{
    static const char *const cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    const char *core = openblas_get_corename();
    for (const char *const *c = cores; core && *c; c++)
        if (strcmp(core, *c) == 0)
            return true;
    return false;
}

void cpu_prepare_blas(char **argv)
{
    bool changed = false;
    if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS") &&
        !getenv("OMP_NUM_THREADS") && openblas_get_num_threads() > 1)
        changed |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    if (!getenv("OPENBLAS_CORETYPE") && has_avx512() && !avx512_kernels())
        changed |= setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) == 0;
    if (changed)
        execv("/proc/self/exe", argv);
}
