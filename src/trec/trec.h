/* trec.h — TREC-style inputs: run files, qrels, queries (TSV, JSONL, TREC
 * topics), document collections with an on-disk offset index, and the group
 * source that turns run + queries + documents into query groups.
 *
 * Everything here reads files and fills structures; nothing prints or exits.
 * Errors name the place ("run.txt:12: score \"x\" is not a number").
 * Scoring, sorting by new scores and writing belong to others (scorer.h,
 * output.c); metrics belong to eval.c. */
#ifndef RERANK_TREC_H
#define RERANK_TREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "group.h"
#include "util.h"

/* ---- Run files: `qid Q0 docid rank score tag`, exactly six fields ------ */

struct trec_doc {
    const char *docid;
    double score;
    long line;              /* 1-based line in the run file */
};

struct trec_topic_run {
    const char *qid;
    struct trec_doc *docs;  /* (n_docs) in trec_eval order: score
                               descending, then docid descending (strcmp) */
    size_t n_docs, cap_docs;
    long first_line;
};

struct trec_run {
    const char *path;
    struct trec_strmap *map;     /* qid → topic index */
    struct trec_topic_run *topics; /* (n_topics) in order of first
                                      appearance in the file */
    size_t n_topics, cap_topics;
    const char *tag;        /* run tag of the last line (as trec_eval) */
    size_t n_lines;         /* ranked lines read (comments excluded) */
    struct arena arena;     /* all strings */
};

/* Reads a run file ("-": standard input, named "<stdin>" in messages; a
 * gzip-compressed file is refused with a message saying so).  The rank
 * column is ignored; `#` lines and blank lines
 * are skipped; a docid twice for one query is an error.  Returns 0, or -1
 * with e = "PATH:LINE: why".  The caller frees with trec_run_free (also after
 * a failure). */
int trec_run_read(struct trec_run *run, const char *path, struct err *e);
void trec_run_free(struct trec_run *run);
/* For a module that builds a run (fuse.c): the topic of run with this
 * qid, added (empty, qid copied) when missing.  The pointer is valid until
 * the next topic is added. */
struct trec_topic_run *trec_run_topic(struct trec_run *run, const char *qid);
/* Sorts t's documents into trec_eval order (score descending, then docid
 * descending). */
void trec_topic_sort(struct trec_topic_run *t);
/* The topic of run with this qid, or NULL. */
const struct trec_topic_run *trec_run_find(const struct trec_run *run,
                                           const char *qid);

/* ---- Qrels: `qid iter docid rel`, rel an integer in -127..127 ---------- */

struct trec_judgment {
    const char *docid;
    int rel;
};

struct trec_qrels_topic {
    const char *qid;
    struct trec_judgment *j;  /* (n) sorted by docid (strcmp) */
    size_t n, cap;
};

struct trec_qrels {
    const char *path;
    struct trec_qrels_topic *topics; /* (n_topics) sorted by qid (strcmp) */
    size_t n_topics, cap_topics;
    struct arena arena;
};

/* Reads a qrels file ("-" and gzip as for runs; `#` and blank lines
 * skipped; a docid judged twice for one query is an error, as in trec_eval).  Returns 0 or -1 with e set;
 * free with trec_qrels_free either way. */
int trec_qrels_read(struct trec_qrels *q, const char *path, struct err *e);
void trec_qrels_free(struct trec_qrels *q);
const struct trec_qrels_topic *trec_qrels_find(const struct trec_qrels *q,
                                               const char *qid);
/* The judgment of docid in t, or NULL when it is unjudged. */
const struct trec_judgment *trec_qrels_judgment(const struct trec_qrels_topic *t,
                                                const char *docid);

/* ---- Queries ------------------------------------------------------------ */

/* Which field of a classic TREC topic (<title>, <desc>, <narr>) is the
 * query text. */
enum trec_topic_field { TREC_FIELD_TITLE, TREC_FIELD_DESC, TREC_FIELD_NARR };

/* Parses "title", "desc" or "narr"; returns 0 or -1 with e set. */
int trec_topic_field_parse(const char *s, enum trec_topic_field *f,
                           struct err *e);

enum trec_queries_format { TREC_QUERIES_TSV, TREC_QUERIES_JSONL,
                           TREC_QUERIES_TOPICS };

struct trec_queries {
    const char *path;
    enum trec_queries_format format;
    size_t n;
    const char **qids;      /* (n) in file order */
    const char **texts;     /* (n) UTF-8, whitespace as in the file (TSV,
                               JSONL) or collapsed to single spaces (topics) */
    size_t *text_lens;      /* (n) bytes of each text: JSONL may hold U+0000 */
    long *lines;            /* (n) line where the query starts */
    size_t cap;
    struct trec_strmap *map;
    struct arena arena;
};

/* Reads queries, detecting the format from the first non-blank byte: `{`
 * JSONL (`qid`|`_id`|`id` and `query`|`text`), `<` TREC topics (field chosen
 * by `field`), anything else TSV `qid<TAB>text`.  A qid twice is an error.
 * Returns 0 or -1 with e = "PATH:LINE: why"; free with trec_queries_free. */
int trec_queries_read(struct trec_queries *q, const char *path,
                      enum trec_topic_field field, struct err *e);
void trec_queries_free(struct trec_queries *q);
/* The text of qid, or NULL; its length in *len when len is not NULL. */
const char *trec_queries_find(const struct trec_queries *q, const char *qid,
                              size_t *len);

/* ---- Document collections ---------------------------------------------- */

/* A collection file — TSV `docid<TAB>text` or JSONL {`docid`|`_id`|`id`,
 * `text`|`contents`, optional `title`} — opened through an offset index.
 *
 * The index lives beside the collection as PATH.rrx; when that directory is
 * not writable it lives in $XDG_CACHE_HOME/rerank/ (else ~/.cache/rerank/)
 * as BASENAME-HASH.rrx, HASH naming the collection's absolute path.  It
 * records the collection's size and mtime and is rebuilt when they change;
 * it is written under a temporary name and renamed into place.  Entries are
 * (FNV-1a hash of docid, byte offset) pairs sorted by hash; a lookup binary-
 * searches the memory-mapped entries and preads the line, comparing the
 * docid itself, so hash collisions cost a read, never a wrong document. */
struct trec_docs;

enum trec_docs_format { TREC_DOCS_TSV, TREC_DOCS_JSONL };

struct trec_docs_info {
    const char *path;            /* the collection */
    const char *index_path;      /* the index file in use */
    bool built;                  /* built by this open (else reused) */
    enum trec_docs_format format;
    uint64_t n_docs;
};

/* Opens a collection, building or rebuilding its index when needed (one
 * sequential pass; line-numbered errors for malformed lines, invalid UTF-8
 * and duplicate docids).  Returns NULL with e set on failure. */
struct trec_docs *trec_docs_open(const char *path, struct err *e);
void trec_docs_free(struct trec_docs *d);
const struct trec_docs_info *trec_docs_info(const struct trec_docs *d);

/* Looks docid up.  Returns 1 and sets *text (NUL-terminated, *len bytes, in
 * arena a; a BEIR title is joined to the text with one space), 0 when the
 * collection has no such document, -1 on a read error (e set). */
int trec_docs_get(struct trec_docs *d, const char *docid, struct arena *a,
                  const char **text, size_t *len, struct err *e);

/* ---- Group source: run + queries + documents → query groups ----------- */

struct trec_source_opts {
    size_t depth;                /* candidates per group; 0 means 100 */
    /* Called once per missing query or document with a one-line message
       naming the place ("run.txt:7: query \"12\" is not in queries.tsv");
       may be NULL.  The group is skipped (missing query) or the candidate
       left out (missing document); the run goes on. */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
};

struct trec_source_stats {
    size_t n_groups;             /* groups returned so far */
    size_t n_candidates;         /* candidates put into those groups */
    size_t n_tail;               /* run entries beyond depth (not read) */
    size_t n_missing_queries;    /* run queries without query text */
    size_t n_missing_docs;       /* top-depth entries not in the collection */
};

struct trec_source;

/* Opens a source over run, queries and docs, which stay owned by the caller
 * and must outlive the source.  Never fails. */
struct trec_source *trec_source_open(const struct trec_run *run,
                                     const struct trec_queries *queries,
                                     struct trec_docs *docs,
                                     const struct trec_source_opts *opts);
/* Fills g (reset first) with the next query of the run, in order of first
 * appearance: qid, query text, and the run's top `depth` documents in
 * trec_eval order as candidates (docid, text, source = run path, line = run
 * line).  Returns 1 for a group, 0 at the end, -1 on a read error (e set). */
int trec_source_next(struct trec_source *src, struct group *g, struct err *e);
/* The run entries below depth for the group last returned, in run (trec_eval)
 * order with their original scores; valid until the next trec_source_next.
 * *n is 0 when the run had at most depth entries for that query.  Top-depth
 * documents missing from the collection are in neither the group nor the
 * tail (they were reported through warn and n_missing_docs). */
void trec_source_tail(const struct trec_source *src,
                      const struct trec_doc **docs, size_t *n);
const struct trec_source_stats *trec_source_stats(const struct trec_source *s);
void trec_source_free(struct trec_source *src);

#endif
