/* pool.c — persistent worker threads and a parallel-for.
 *
 * Workers sleep on a condition variable between runs; a run bumps a
 * generation counter, and every participant (the caller too) claims task
 * indices from an atomic counter until they run out. */
#include "nn/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdbool.h>

#include "util.h"

struct pool {
    int n_workers;              /* the caller plus len(threads) */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned long generation;   /* bumped by each pool_run */
    int busy;                   /* threads still working on this run */
    bool stop;
    pool_fn *fn;
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;
};

struct worker_arg {
    struct pool *p;
    int index;
};

static void run_tasks(struct pool *p, int worker)
{
    size_t t;
    while ((t = atomic_fetch_add(&p->next, 1)) < p->n_tasks)
        p->fn(p->ctx, t, worker);
}

static void *worker_main(void *arg)
{
    struct worker_arg a = *(struct worker_arg *)arg;
    free(arg);
    struct pool *p = a.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, a.index);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
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
    atomic_init(&p->next, 0);
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
    if (p->n_workers == 1 || n_tasks <= 1) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    p->busy = p->n_workers - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, 0);

    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
