/* cache.h — a persistent key -> value store in one SQLite file (--cache).
 *
 * Values are kept under a kind (what they are, e.g. "colbert-doc") and a
 * binary key that must say everything the value depends on: the store
 * never guesses.  The file is in WAL mode with a busy timeout, so several
 * processes (--shard K/N) can share it; writes go in short transactions
 * (one per encoded batch), so a killed run loses at most one batch.  A file that is
 * not a rerank cache, or is damaged, is an error naming it. */
#ifndef RERANK_CACHE_H
#define RERANK_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct cache;

/* Opens (creating when absent) the cache file at path.  NULL with e. */
struct cache *cache_open(const char *path, struct err *e);
void cache_close(struct cache *c);

/* The value of (kind, key): 1 with *val (malloc'd, *len bytes; free it) on
 * a hit, 0 on a miss, -1 with e. */
int cache_get(struct cache *c, const char *kind, const void *key, size_t klen,
              void **val, size_t *len, struct err *e);

/* Stores (kind, key) -> val, replacing an old value.  0, or -1 with e. */
int cache_put(struct cache *c, const char *kind, const void *key, size_t klen,
              const void *val, size_t len, struct err *e);

/* One short transaction around a batch of puts (taking the write lock at
 * once, waiting up to the busy timeout for other processes).  0, or -1
 * with e; after a failed put, cache_rollback ends it. */
int cache_begin(struct cache *c, struct err *e);
int cache_commit(struct cache *c, struct err *e);
void cache_rollback(struct cache *c);

#endif
