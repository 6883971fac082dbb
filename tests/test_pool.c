/* test_pool — src/nn/pool.c: every task of a run runs exactly once, by
 * distinct workers' ids, and is finished when pool_run returns; workers
 * that wake late (runs far shorter than a wake-up) never run a task of a
 * later run with an earlier run's function or context. */
#include "check.h"

#include <stdatomic.h>

#include "nn/pool.h"
#include "util.h"

struct run {
    atomic_int count[64];
    int n_workers;
    atomic_int bad_worker;
    size_t slow;        /* a task that spins a little */
};

static void task(void *ctx, size_t t, int worker)
{
    struct run *r = ctx;
    if (worker < 0 || worker >= r->n_workers)
        atomic_store(&r->bad_worker, 1);
    if (t == r->slow)
        for (volatile int k = 0; k < 2000; k++)
            ;
    atomic_fetch_add(&r->count[t], 1);
}

int main(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        struct pool *p = pool_new(threads);
        CHECK(pool_size(p) == threads);
        unsigned seed = 1;
        int wrong = 0;
        for (int run = 0; run < 20000; run++) {
            /* a fresh context each run: a stale worker would count into
             * the wrong one */
            struct run *r = xcalloc(1, sizeof *r);
            r->n_workers = threads;
            seed = seed * 1103515245u + 12345u;
            size_t n = (seed >> 16) % 64;
            r->slow = (seed >> 8) % 64;
            pool_run(p, n, task, r);
            for (size_t t = 0; t < 64; t++)
                wrong += atomic_load(&r->count[t]) != (t < n ? 1 : 0);
            wrong += atomic_load(&r->bad_worker);
            free(r);
        }
        CHECK_MSG(wrong == 0, "%d threads: %d tasks ran other than once", threads, wrong);
        pool_free(p);
    }
    return check_report();
}
