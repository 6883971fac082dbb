/* cache.c — the --cache store on SQLite (see cache.h).
 *
 * One table, rerank_cache(kind, key, value), and the file's application_id
 * set to RERANK_APP_ID, by which a foreign SQLite file is told apart from
 * a new one.  Statements are prepared once. */
#include "cache.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RERANK_APP_ID 0x72726b31 /* "rrk1" */

struct cache {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *get, *put;
};

/* e = "path: what: SQLite's message"; returns -1. */
static int db_error(struct cache *c, const char *what, struct err *e)
{
    return err_set(e, "%s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

static int exec(struct cache *c, const char *sql, struct err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(e, "%s: %s", c->path, msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* An integer the statement sql returns (PRAGMA application_id, a count). */
static int query_int(struct cache *c, const char *sql, long *out,
                     struct err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(c, "not a rerank cache, or damaged", e);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(c, "not a rerank cache, or damaged", e);
    return 0;
}

/* Checks that the file is ours (or new, then makes it ours).  0 or -1. */
static int schema(struct cache *c, struct err *e)
{
    long app = 0, tables = 0;
    if (exec(c, "PRAGMA busy_timeout = 30000", e) ||
        query_int(c, "PRAGMA application_id", &app, e) ||
        query_int(c, "SELECT count(*) FROM sqlite_master", &tables, e))
        return -1;
    if (app != RERANK_APP_ID && tables)
        return err_set(e, "%s: an SQLite file that is not a rerank cache",
                       c->path);
    if (exec(c, "PRAGMA journal_mode = WAL", e) ||
        exec(c, "CREATE TABLE IF NOT EXISTS rerank_cache (kind TEXT NOT NULL, "
             "key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (kind, key)) "
             "WITHOUT ROWID", e))
        return -1;
    if (app != RERANK_APP_ID) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d", RERANK_APP_ID);
        if (exec(c, sql, e))
            return -1;
    }
    if (sqlite3_prepare_v2(c->db, "SELECT value FROM rerank_cache WHERE kind = "
                           "?1 AND key = ?2", -1, &c->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO rerank_cache (kind, "
                           "key, value) VALUES (?1, ?2, ?3)", -1, &c->put,
                           NULL) != SQLITE_OK)
        return db_error(c, "not a rerank cache, or damaged", e);
    return 0;
}

struct cache *cache_open(const char *path, struct err *e)
{
    struct cache *c = xcalloc(1, sizeof *c);
    c->path = xstrdup(path);
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        if (c->db)
            db_error(c, "cannot open the cache", e);
        else
            err_set(e, "%s: cannot open the cache", path);
        cache_close(c);
        return NULL;
    }
    if (schema(c, e)) {
        cache_close(c);
        return NULL;
    }
    return c;
}

void cache_close(struct cache *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->put);
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

int cache_get(struct cache *c, const char *kind, const void *key, size_t klen,
              void **val, size_t *len, struct err *e)
{
    sqlite3_stmt *st = c->get;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 2, key, klen, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_error(c, "reading", e);
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
    sqlite3_stmt *st = c->put;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 2, key, klen, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 3, val, len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_error(c, "writing", e);
    return 0;
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
