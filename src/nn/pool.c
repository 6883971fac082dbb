/* pool.c — persistent worker threads and a parallel-for.
 *
 * Workers sleep on a condition variable between runs; a run bumps a
 * generation counter, and every participant (the caller too) claims task
 * indices until they run out.  The caller waits for the tasks, not for the
 * workers: a worker still asleep when the caller has done everything (tiny
 * runs, or a machine whose other cores are busy) costs the run nothing,
 * and when it wakes it finds no task of that run left to claim.  A claim
 * names its run's generation (one 64-bit word: generation << 32 | index),
 * so a worker that wakes late can never take a task of a later run with
 * the function and context of an earlier one. */
#include "nn/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "util.h"

struct pool {
    int n_workers;              /* the caller plus len(threads) */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    uint32_t generation;        /* bumped by each pool_run; under mu */
    bool stop;
    pool_fn *fn;                /* this generation's; under mu */
    void *ctx;
    size_t n_tasks;
    atomic_uint_fast64_t claim; /* generation << 32 | next task index */
    atomic_size_t pending;      /* tasks of this run not finished */
};

struct worker_arg {
    struct pool *p;
    int index;
};

/* Runs tasks of generation gen until none is left to claim. */
static void run_tasks(struct pool *p, uint32_t gen, pool_fn *fn, void *ctx,
                      size_t n_tasks, int worker)
{
    uint_fast64_t c = atomic_load(&p->claim);
    for (;;) {
        if ((uint32_t)(c >> 32) != gen || (c & 0xffffffffu) >= n_tasks)
            return;
        if (!atomic_compare_exchange_weak(&p->claim, &c, c + 1))
            continue;
        fn(ctx, (size_t)(c & 0xffffffffu), worker);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            /* the run's last task: under mu, so the caller cannot miss it */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
        c = atomic_load(&p->claim);
    }
}

static void *worker_main(void *arg)
{
    struct worker_arg a = *(struct worker_arg *)arg;
    free(arg);
    struct pool *p = a.p;
    uint32_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pool_fn *fn = p->fn;
        void *ctx = p->ctx;
        size_t n_tasks = p->n_tasks;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, seen, fn, ctx, n_tasks, a.index);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct pool *pool_new(int n_threads)
{
    struct pool *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->claim, 0);
    atomic_init(&p->pending, 0);
    p->n_workers = 1;
    if (n_threads > 1)
        p->threads = xcalloc((size_t)n_threads - 1, sizeof *p->threads);
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *a = xmalloc(sizeof *a);
        *a = (struct worker_arg){p, i};
        if (pthread_create(&p->threads[i - 1], NULL, worker_main, a) != 0) {
            free(a);
            break;
        }
        p->n_workers++;
    }
    return p;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers - 1; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int pool_size(const struct pool *p)
{
    return p->n_workers;
}

void pool_run(struct pool *p, size_t n_tasks, pool_fn *fn, void *ctx)
{
    if (p->n_workers == 1 || n_tasks <= 1 || n_tasks > 0xffffffffu) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    uint32_t gen = ++p->generation;
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->pending, n_tasks);
    atomic_store(&p->claim, (uint_fast64_t)gen << 32);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, gen, fn, ctx, n_tasks, 0);

    /* Tasks a worker claimed may still run: wait for those only. */
    if (atomic_load(&p->pending) == 0)
        return;
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->pending) > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
