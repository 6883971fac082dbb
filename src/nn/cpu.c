/* cpu.c — see cpu.h. */
#include "nn/cpu.h"

#include <cblas.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

int cpu_forced_path(const char *var, const char *const *names, int n)
{
    const char *forced = getenv(var);
    for (int p = 0; forced && p < n; p++)
        if (strcmp(forced, names[p]) == 0)
            return p;
    return -1;
}

bool cpu_leaf7_1_eax(int bit)
{
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx))
        return false;
    return (eax >> bit) & 1;
#else
    (void)bit;
    return false;
#endif
}

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

const char *cpu_blas_core(bool avx512, bool bf16, const char *core)
{
    static const char *const cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    if (!avx512)
        return NULL;
    for (const char *const *c = cores; core && *c; c++)
        if (strcasecmp(core, *c) == 0)
            return NULL;
    return bf16 ? "Cooperlake" : "SkylakeX";
}

void cpu_prepare_blas(char **argv)
{
    bool changed = false;
    if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS") &&
        !getenv("OMP_NUM_THREADS") && openblas_get_num_threads() > 1)
        changed |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    const char *core = cpu_blas_core(has_avx512(), cpu_leaf7_1_eax(5),
                                     openblas_get_corename());
    if (!getenv("OPENBLAS_CORETYPE") && core)
        changed |= setenv("OPENBLAS_CORETYPE", core, 1) == 0;
    if (changed)
        execv("/proc/self/exe", argv);
}
