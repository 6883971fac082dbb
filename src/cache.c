/* cache.c — the SQLite cache file and the scorer that consults it (see
 * cache.h).
 *
 * Schema: rerank_cache_meta(name, value) holds ("format", "rerank score
 * cache") and ("version", 1); rerank_scores(key BLOB(16) PRIMARY KEY,
 * score REAL); rerank_cache(kind, key, value) the other values (added to a
 * version-1 file that lacks it when opened for writing; read-only, such a
 * file has none).  A database without the meta row is refused (a foreign
 * file), as is one SQLite cannot read (corrupt). */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_FORMAT "rerank score cache"
#define CACHE_VERSION 1
#define BUSY_TIMEOUT_MS 120000
#define VALUES_TABLE                                                                 \
    "CREATE TABLE IF NOT EXISTS rerank_cache(kind TEXT NOT NULL, key BLOB NOT NULL, " \
    "value BLOB NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;"

struct cache {
    sqlite3 *db;
    sqlite3_stmt *get, *put;             /* scores */
    sqlite3_stmt *get_value, *put_value; /* other kinds; get_value NULL:
                                            no such table (read-only) */
    bool readonly;
    char *path;
};

/* ---- the key: two independent 64-bit hashes ----------------------------- */

struct hash128 {
    uint64_t a;   /* FNV-1a */
    uint64_t b;   /* a multiply-rotate hash of the same bytes */
};

static void h128_init(struct hash128 *h)
{
    h->a = HASH_FNV_BASIS;
    h->b = 0x243f6a8885a308d3ull;
}

static void h128_add(struct hash128 *h, const void *p, size_t n)
{
    const unsigned char *s = p;
    h->a = hash_fnv_extend(h->a, s, n);
    uint64_t b = h->b;
    for (size_t i = 0; i < n; i++) {
        b = (b ^ s[i]) * 0x9e3779b97f4a7c15ull;
        b ^= b >> 29;
    }
    h->b = b;
}

/* A length-prefixed field, so that ("ab", "c") and ("a", "bc") differ. */
static void h128_field(struct hash128 *h, const void *p, size_t n)
{
    uint64_t len = n;
    h128_add(h, &len, sizeof len);
    h128_add(h, p, n);
}

static void h128_bytes(const struct hash128 *h, unsigned char out[16])
{
    uint64_t a = hash_mix64(h->a), b = hash_mix64(h->b);
    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char)(a >> (8 * i));
        out[8 + i] = (unsigned char)(b >> (8 * i));
    }
}

/* ---- the database --------------------------------------------------------- */

static int db_fail(struct cache *c, struct err *e, enum err_kind kind, const char *what)
{
    return err_setk(e, kind, "%s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

static int exec(struct cache *c, const char *sql, struct err *e)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(c, e, ERR_IO, "cache");
    return 0;
}

/* PRAGMA journal_mode=WAL on a new file needs an exclusive lock, and
 * SQLite answers SQLITE_BUSY at once, without the busy handler, when two
 * connections holding shared locks both ask for it (it would deadlock).
 * Processes started together (shards sharing one --cache) meet exactly
 * that, so the switch is retried here for as long as the busy timeout. */
static int exec_wal(struct cache *c, struct err *e)
{
    double deadline = now_seconds() + BUSY_TIMEOUT_MS / 1000.0;
    for (;;) {
        int rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY || now_seconds() > deadline)
            return db_fail(c, e, ERR_IO, "cache");
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* Checks the meta rows of an existing cache, or (writable, no tables at
 * all) creates the schema.  0 or -1 with e. */
static int check_schema(struct cache *c, struct err *e)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(c->db,
                                "SELECT value FROM rerank_cache_meta WHERE name = 'format'",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        bool ok = rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT &&
                  strcmp((const char *)sqlite3_column_text(st, 0), CACHE_FORMAT) == 0;
        sqlite3_finalize(st);
        if (!ok)
            return err_setk(e, ERR_MODEL, "%s: not a rerank cache (no format mark)",
                            c->path);
        if (sqlite3_prepare_v2(c->db, "SELECT value FROM rerank_cache_meta WHERE name = "
                               "'version'", -1, &st, NULL) != SQLITE_OK)
            return db_fail(c, e, ERR_MODEL, "not a rerank cache");
        long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        if (v != CACHE_VERSION)
            return err_setk(e, ERR_MODEL, "%s: cache version %lld, this rerank reads %d",
                            c->path, v, CACHE_VERSION);
        return c->readonly ? 0 : exec(c, VALUES_TABLE, e);
    }
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
        return db_fail(c, e, ERR_MODEL, "not a rerank cache");
    /* No meta table: a new, empty database, or another program's. */
    if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(c, e, ERR_MODEL, "not a rerank cache");
    long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (n != 0)
        return err_setk(e, ERR_MODEL, "%s: not a rerank cache (another program's "
                        "database)", c->path);
    if (c->readonly)
        return err_setk(e, ERR_MODEL, "%s: empty, not a rerank cache (--cache-readonly "
                        "reads an existing one)", c->path);
    return exec(c, "CREATE TABLE rerank_cache_meta(name TEXT PRIMARY KEY, value);"
                   "INSERT INTO rerank_cache_meta VALUES ('format', '" CACHE_FORMAT "'), "
                   "('version', 1);"
                   "CREATE TABLE rerank_scores(key BLOB PRIMARY KEY, score REAL NOT NULL) "
                   "WITHOUT ROWID;" VALUES_TABLE, e);
}

struct cache *cache_open(const char *path, bool readonly, struct err *e)
{
    struct cache *c = xcalloc(1, sizeof *c);
    c->path = xstrdup(path);
    c->readonly = readonly;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (readonly && access(path, R_OK) != 0) {
        err_setk(e, ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        db_fail(c, e, ERR_IO, "cannot open the cache");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* The schema is checked and created under a write lock, so that
     * processes starting together create it once. */
    if ((!readonly && exec_wal(c, e) < 0) ||
        exec(c, readonly ? "BEGIN" : "BEGIN IMMEDIATE", e) < 0)
        goto corrupt_or_fail;
    if (check_schema(c, e) < 0) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    if (exec(c, "COMMIT", e) < 0 ||
        (!readonly && exec(c, "PRAGMA synchronous=NORMAL", e) < 0))
        goto fail;
    if (sqlite3_prepare_v2(c->db, "SELECT score FROM rerank_scores WHERE key = ?", -1,
                           &c->get, NULL) != SQLITE_OK ||
        (!readonly &&
         (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO rerank_scores(key, score) "
                             "VALUES (?, ?)", -1, &c->put, NULL) != SQLITE_OK ||
          sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO rerank_cache(kind, key, value) "
                             "VALUES (?1, ?2, ?3)", -1, &c->put_value, NULL) != SQLITE_OK))) {
        db_fail(c, e, ERR_MODEL, "not a rerank cache");
        goto fail;
    }
    if (sqlite3_prepare_v2(c->db, "SELECT value FROM rerank_cache WHERE kind = ?1 AND "
                           "key = ?2", -1, &c->get_value, NULL) != SQLITE_OK && !readonly) {
        db_fail(c, e, ERR_MODEL, "not a rerank cache");
        goto fail;
    }
    return c;
corrupt_or_fail:
    /* A file SQLite cannot read fails here: say what it is. */
    if (sqlite3_errcode(c->db) == SQLITE_NOTADB || sqlite3_errcode(c->db) == SQLITE_CORRUPT)
        db_fail(c, e, ERR_MODEL, "not a rerank cache");
fail:
    cache_close(c);
    return NULL;
}

void cache_close(struct cache *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->put);
    sqlite3_finalize(c->get_value);
    sqlite3_finalize(c->put_value);
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

bool cache_readonly(const struct cache *c)
{
    return c->readonly;
}

/* Looks a score's key up: 1 and *score when found, 0 when not, -1 with e. */
static int score_get(struct cache *c, const unsigned char key[16], double *score,
                     struct err *e)
{
    sqlite3_reset(c->get);
    sqlite3_bind_blob(c->get, 1, key, 16, SQLITE_STATIC);
    int rc = sqlite3_step(c->get);
    if (rc == SQLITE_ROW) {
        *score = sqlite3_column_double(c->get, 0);
        sqlite3_reset(c->get);
        return 1;
    }
    sqlite3_reset(c->get);
    return rc == SQLITE_DONE ? 0 : db_fail(c, e, ERR_IO, "reading the score cache");
}

static int score_put(struct cache *c, const unsigned char key[16], double score,
                     struct err *e)
{
    sqlite3_reset(c->put);
    sqlite3_bind_blob(c->put, 1, key, 16, SQLITE_STATIC);
    sqlite3_bind_double(c->put, 2, score);
    int rc = sqlite3_step(c->put);
    sqlite3_reset(c->put);
    return rc == SQLITE_DONE ? 0 : db_fail(c, e, ERR_IO, "writing the score cache");
}

int cache_get(struct cache *c, const char *kind, const void *key, size_t klen,
              void **val, size_t *len, struct err *e)
{
    sqlite3_stmt *st = c->get_value;
    if (!st)
        return 0;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 2, key, klen, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : db_fail(c, e, ERR_IO, "reading the cache");
    }
    *len = (size_t)sqlite3_column_bytes(st, 0);
    *val = xmalloc(*len ? *len : 1);
    if (*len)
        memcpy(*val, sqlite3_column_blob(st, 0), *len);
    sqlite3_reset(st);
    return 1;
}

int cache_put(struct cache *c, const char *kind, const void *key, size_t klen,
              const void *val, size_t len, struct err *e)
{
    if (c->readonly)
        return err_setk(e, ERR_USAGE, "%s: --cache-readonly: not written", c->path);
    sqlite3_stmt *st = c->put_value;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 2, key, klen, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 3, val, len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(c, e, ERR_IO, "writing the cache");
}

int cache_begin(struct cache *c, struct err *e)
{
    return exec(c, "BEGIN IMMEDIATE", e);
}

int cache_commit(struct cache *c, struct err *e)
{
    return exec(c, "COMMIT", e);
}

void cache_rollback(struct cache *c)
{
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- model identity --------------------------------------------------------- */

/* "…/models--ORG--NAME/snapshots/COMMIT[/]": REPO@COMMIT into b, 1; else 0. */
static int hub_snapshot(const char *dir, struct buf *b)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t c = n;
    while (c > 0 && dir[c - 1] != '/')
        c--;
    if (n - c != 40 || strspn(dir + c, "0123456789abcdef") < 40)
        return 0;
    static const char snap[] = "/snapshots/";
    size_t s = c - (sizeof snap - 1);
    if (c < sizeof snap || memcmp(dir + s, snap, sizeof snap - 1) != 0)
        return 0;
    size_t r = s;
    while (r > 0 && dir[r - 1] != '/')
        r--;
    if (s - r < 8 || memcmp(dir + r, "models--", 8) != 0)
        return 0;
    buf_printf(b, "hub:%.*s@%.40s", (int)(s - r - 8), dir + r + 8, dir + c);
    return 1;
}

int cache_model_identity(const char *dir, struct buf *b, struct err *e)
{
    if (hub_snapshot(dir, b))
        return 0;
    char **names = dir_names(dir);
    if (!names)
        return err_setk(e, ERR_MODEL, "%s: %s", dir, strerror(errno));
    struct hash128 h;
    h128_init(&h);
    int rc = 0;
    struct buf path = {0};
    for (size_t i = 0; names[i] && rc == 0; i++) {
        path.len = 0;
        buf_printf(&path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path.data, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        int fd = open(path.data, O_RDONLY);
        void *p = fd >= 0 && st.st_size > 0
                      ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
                      : NULL;
        if (fd < 0 || p == MAP_FAILED) {
            rc = err_setk(e, ERR_MODEL, "%s: %s", path.data, strerror(errno));
        } else {
            h128_field(&h, names[i], strlen(names[i]));
            h128_field(&h, p ? p : "", p ? (size_t)st.st_size : 0);
            if (p)
                munmap(p, (size_t)st.st_size);
        }
        if (fd >= 0)
            close(fd);
    }
    dir_names_free(names);
    buf_free(&path);
    if (rc == 0) {
        unsigned char k[16];
        h128_bytes(&h, k);
        buf_puts(b, "dir:");
        for (int i = 0; i < 16; i++)
            buf_printf(b, "%02x", k[i]);
    }
    return rc;
}

/* ---- the scorer ------------------------------------------------------------- */

struct cache_scorer {
    struct scorer *inner;
    struct cache *c;
    char *ident;
    struct cache_stats *stats, own_stats;
    unsigned char (*keys)[16];
    size_t cap_keys;
    size_t *miss;              /* indices into the group of the misses */
    size_t cap_miss;
    struct group sub;          /* the misses, handed to inner */
};

static void pair_key(const struct cache_scorer *cs, const struct group *g,
                     const struct candidate *cand, unsigned char out[16])
{
    struct hash128 h;
    h128_init(&h);
    h128_field(&h, cs->ident, strlen(cs->ident));
    h128_field(&h, g->query, group_query_len(g));
    h128_field(&h, cand->text ? cand->text : "", cand->text ? cand->text_len : 0);
    h128_bytes(&h, out);
}

/* Scores the misses of g with inner and stores them in one transaction. */
static int score_misses(struct cache_scorer *cs, struct group *g, size_t n_miss,
                        struct err *e)
{
    struct group *sub = &cs->sub;
    group_subset(sub, g, cs->miss, n_miss);
    cs->stats->calls++;
    if (cs->inner->score(cs->inner, sub, e) < 0)
        return -1;
    arena_reset(&sub->arena);
    for (size_t i = 0; i < n_miss; i++)
        g->cands[cs->miss[i]].score = sub->cands[i].score;
    if (cs->c->readonly)
        return 0;
    if (cache_begin(cs->c, e) < 0)
        return -1;
    for (size_t i = 0; i < n_miss; i++) {
        double s = sub->cands[i].score;
        if (!isfinite(s))
            continue;   /* main.c reports it; a cache never holds one */
        if (score_put(cs->c, cs->keys[cs->miss[i]], s, e) < 0) {
            cache_rollback(cs->c);
            return -1;
        }
        cs->stats->stored++;
    }
    return cache_commit(cs->c, e);
}

static int cache_score(struct scorer *s, struct group *g, struct err *e)
{
    struct cache_scorer *cs = s->state;
    cs->inner->progress = s->progress;
    cs->inner->progress_ctx = s->progress_ctx;
    grow((void **)&cs->keys, &cs->cap_keys, g->n_cands, sizeof *cs->keys);
    grow((void **)&cs->miss, &cs->cap_miss, g->n_cands, sizeof *cs->miss);
    size_t n_miss = 0;
    for (size_t i = 0; i < g->n_cands; i++) {
        pair_key(cs, g, &g->cands[i], cs->keys[i]);
        int r = score_get(cs->c, cs->keys[i], &g->cands[i].score, e);
        if (r < 0)
            return -1;
        if (r == 0)
            cs->miss[n_miss++] = i;
    }
    cs->stats->hits += (long long)(g->n_cands - n_miss);
    cs->stats->misses += (long long)n_miss;
    return n_miss ? score_misses(cs, g, n_miss, e) : 0;
}

static void cache_scorer_free(struct scorer *s)
{
    struct cache_scorer *cs = s->state;
    scorer_free(cs->inner);
    free(cs->ident);
    free(cs->keys);
    free(cs->miss);
    group_free(&cs->sub);
    free(cs);
    free(s);
}

struct scorer *cache_scorer_new(struct scorer *inner, struct cache *c, const char *ident,
                                struct cache_stats *stats)
{
    struct cache_scorer *cs = xcalloc(1, sizeof *cs);
    cs->inner = inner;
    cs->c = c;
    cs->ident = xstrdup(ident);
    cs->stats = stats ? stats : &cs->own_stats;
    struct scorer *s = xcalloc(1, sizeof *s);
    s->name = inner->name;
    s->score = cache_score;
    s->free = cache_scorer_free;
    s->state = cs;
    return s;
}
