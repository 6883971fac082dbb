/* cache.h — the cache file (--cache FILE): one SQLite database holding
 * scores keyed by everything that determines a score, a scorer that
 * consults them before the one it wraps, and values of other kinds (ColBERT
 * document vectors) that a scorer keeps for itself.
 *
 * Score key: a 128-bit hash of the scorer's identity (cache_ident_*: the
 * scorer, the model's identity and every score-changing option, built by
 * main.c), the query text and the document text -- never the docid.  The
 * value is the score as an 8-byte IEEE double, so a hit is bit-identical to
 * the score it stores.  Each group's new scores are one transaction: a
 * process killed mid-run leaves every group written before the kill.  WAL
 * mode and a busy timeout let several --shard processes share one file.
 *
 * The wrapping scorer hands the wrapped one a group holding only the misses
 * (same query, the missing candidates in input order); the wrapped scorer
 * batches that group as it batches any group and never knows of the cache.
 * Only pointwise scorers may be wrapped: a score that depends on the other
 * candidates (bm25's statistics, listwise LLM, identity, random) cannot be
 * cached per pair, and main.c refuses --cache for them.
 *
 * Other values are kept under a kind (what they are, e.g. "colbert-doc")
 * and a binary key that must say everything the value depends on: the
 * store never guesses. */
#ifndef RERANK_CACHE_H
#define RERANK_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "scorer.h"
#include "util.h"

struct cache;

/* Opens (creating unless readonly) the cache at path.  NULL with e on
 * failure: ERR_MODEL for a file that is not a rerank cache (corrupt, or
 * another program's database), ERR_IO when it cannot be opened. */
struct cache *cache_open(const char *path, bool readonly, struct err *e);
void cache_close(struct cache *c);
bool cache_readonly(const struct cache *c);

/* The value of (kind, key): 1 with *val (malloc'd, *len bytes; free it) on
 * a hit, 0 on a miss, -1 with e. */
int cache_get(struct cache *c, const char *kind, const void *key, size_t klen,
              void **val, size_t *len, struct err *e);

/* Stores (kind, key) -> val, replacing an old value; not on a read-only
 * cache.  0, or -1 with e. */
int cache_put(struct cache *c, const char *kind, const void *key, size_t klen,
              const void *val, size_t len, struct err *e);

/* One short transaction around a batch of puts (taking the write lock at
 * once, waiting up to the busy timeout for other processes).  0, or -1
 * with e; after a failed put, cache_rollback ends it. */
int cache_begin(struct cache *c, struct err *e);
int cache_commit(struct cache *c, struct err *e);
void cache_rollback(struct cache *c);

/* The identity of a model directory, appended to b: "hub:REPO@COMMIT" for
 * a Hugging Face cache snapshot (immutable), else "dir:" and a hash of
 * every regular file in the directory (names and contents).  0 or -1 with e
 * (ERR_MODEL). */
int cache_model_identity(const char *dir, struct buf *b, struct err *e);

struct cache_stats {
    long long hits, misses;   /* candidates found / not found */
    long long calls;          /* score() calls of the wrapped scorer */
    long long stored;         /* scores written */
};

/* Wraps inner (taking ownership; freed with the result) so that scores are
 * looked up in c under ident, and the misses scored by inner and stored
 * (unless c is read-only).  c stays the caller's.  stats, when not NULL,
 * is updated as groups are scored. */
struct scorer *cache_scorer_new(struct scorer *inner, struct cache *c, const char *ident,
                                struct cache_stats *stats);

#endif
