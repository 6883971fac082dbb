/* group.h — the unit of work that flows through the pipeline: one query and
 * its candidate documents, in input order.
 *
 * Readers (input.c, trec.c) fill groups; scorers read them and fill a score
 * per candidate; writers (output.c) print them.  All strings live in the
 * group's arena and are valid until the reader refills the group. */
#ifndef RERANK_GROUP_H
#define RERANK_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

struct candidate {
    const char *docid;  /* text form of the document id; never NULL */
    bool docid_is_int;  /* the input spelled it as a JSON integer */
    const char *text;   /* UTF-8 document text, NUL-terminated; may be "" */
    size_t text_len;
    const char *raw;    /* the candidate's JSON object as read (compact
                           text), NULL when the input had no object */
    const char *source; /* file name for diagnostics ("<stdin>") */
    long line;          /* 1-based input line */
    double score;       /* set by the scorer */
    double first_score; /* the input's first-stage score (a JSON "score",
                           a TREC run's score), when has_first_score */
    bool has_first_score;
};

struct group {
    const char *qid;    /* NULL when the input gave none */
    bool qid_is_int;
    const char *query;  /* UTF-8, never NULL once the group is complete;
                           may hold U+0000 (JSON's \u0000) */
    size_t query_len;   /* bytes in query; see group_query_len */
    struct candidate *cands;
    size_t n_cands, cap_cands;
    const char *source;
    long first_line;
    long ordinal;       /* 1-based position of the group in the run */
    const char *error;  /* set when scoring failed and the run keeps going
                           (--keep-going): written without scores */
    bool skipped;       /* --skip-margin: first-stage scores, not scored */
    struct arena arena;
};

/* The field names a document's id and text may have in JSON input, in order
 * of preference; NULL-terminated.  One list for candidate lines and --docs
 * collections alike. */
extern const char *const docid_keys[];
extern const char *const text_keys[];
/* The field names of a query's id in a JSONL queries file (BEIR's
 * queries.jsonl uses "_id").  Candidate lines take "qid" only: "id" there
 * names the document. */
extern const char *const query_id_keys[];
/* Appends the names of keys for a message: "\"docid\", \"_id\" or \"id\"". */
void keys_describe(struct buf *b, const char *const *keys);

/* The length of g->query.  A reader that leaves query_len 0 gives a query
 * without NUL characters, whose length strlen finds. */
static inline size_t group_query_len(const struct group *g)
{
    return g->query_len ? g->query_len : strlen(g->query);
}

/* Empties the group for reuse, keeping its allocations. */
void group_reset(struct group *g);
void group_free(struct group *g);
/* Appends a zeroed candidate and returns it. */
struct candidate *group_add(struct group *g);
/* Makes sub the group of g's query holding the candidates idx[0..n), in that
 * order (copies; their strings stay g's).  For a scorer that hands part of
 * a group to another (cascade.c, cache.c). */
void group_subset(struct group *sub, const struct group *g, const size_t *idx, size_t n);

#endif
