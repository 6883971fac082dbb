/* pool.h — a fixed set of worker threads running parallel loops.
 *
 * pool_run(p, n, fn, ctx) calls fn(ctx, task, worker) once for every task
 * in [0, n), spread over the pool's threads (the caller's thread is worker
 * 0), and returns when all are done.  Tasks are claimed dynamically, so
 * which worker runs a task varies; results must not depend on it.  What a
 * task computes, and any per-worker scratch, is the caller's business. */
#ifndef RERANK_POOL_H
#define RERANK_POOL_H

#include <stddef.h>

struct pool;

typedef void pool_fn(void *ctx, size_t task, int worker);

/* A pool of n_threads workers (the caller included; at least 1).  Thread
 * creation failure leaves fewer workers, never an error. */
struct pool *pool_new(int n_threads);
void pool_free(struct pool *p);

/* Number of workers, hence of distinct `worker` values passed to fn. */
int pool_size(const struct pool *p);

/* Runs fn over n_tasks tasks; not reentrant (one pool_run at a time). */
void pool_run(struct pool *p, size_t n_tasks, pool_fn *fn, void *ctx);

#endif
