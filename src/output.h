/* output.h — writing scored groups: JSON Lines, TSV or TREC run lines.
 *
 * A writer sorts each group by score (highest first), leaves out the
 * candidates below --min-score, cuts it to the top k, writes it and flushes, so a consumer sees every group as soon as it is
 * done.  Ties keep input order, except in TREC output, where they are
 * ordered by docid descending (byte order) so that the printed rank is the
 * rank trec_eval computes.  Writers never compute scores. */
#ifndef RERANK_OUTPUT_H
#define RERANK_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "group.h"
#include "util.h"

struct encoding;   /* tokenizer.h: only --tokenize lines pass these through */
struct ids;

enum output_format { FORMAT_JSONL, FORMAT_TSV, FORMAT_TREC };

struct writer {
    FILE *f;
    enum output_format format;
    long top_k;            /* 0: all */
    bool has_min_score;    /* --min-score: candidates scoring below */
    double min_score;      /* min_score are left out */
    bool no_text;
    bool sync;             /* writer_finish fsyncs (-o FILE) */
    const char *run_tag;   /* TREC's last column */
    bool io_error;         /* the last failure was a write error ... */
    bool broken_pipe;      /* ... and EPIPE (the reader went away) */
    struct buf out;        /* one group's text */
    size_t *order;
    size_t cap_order;
};

/* Writes group g (scored, or failed with g->error set) and flushes.
 * Returns 0, or -1 with e filled: a write error (io_error set, and
 * broken_pipe when the reader closed the pipe), or a value that TREC output
 * cannot carry (nothing of the group is written then). */
int writer_group(struct writer *w, const struct group *g, struct err *e);

/* Appends one --tokenize line for candidate c of g: {"qid", "docid",
 * ["window",] "input_ids", "token_type_ids"} (window < 0: none).  Written
 * by the next writer_flush. */
void writer_encoding(struct writer *w, const struct group *g,
                     const struct candidate *c, long window,
                     const struct encoding *enc);

/* Appends one --tokenize line {"qid", "docid", keys[0]: lists[0], ...}
 * for candidate c of g (ColBERT's separate query and document inputs).
 * Written by the next writer_flush. */
void writer_id_lists(struct writer *w, const struct group *g,
                     const struct candidate *c, size_t n,
                     const char *const *keys, const struct ids *const *lists);

/* Writes what writer_encoding queued and flushes.  0 or -1 with e. */
int writer_flush(struct writer *w, struct err *e);

/* Flushes and checks the stream at the end of the run.  0 or -1 with e. */
int writer_finish(struct writer *w, struct err *e);

void writer_free(struct writer *w);

/* -o FILE: the output goes to a temporary file in FILE's directory, which
 * replaces FILE only when the run succeeded, so that a failed or killed run
 * never leaves a half-written FILE in place. */
struct out_file {
    char *path;   /* FILE */
    char *tmp;    /* the temporary file; NULL once renamed or removed */
};

/* Creates the temporary file (mode 0666 less the umask).  Returns it open
 * for writing, or NULL with e (ERR_IO). */
FILE *out_file_open(struct out_file *of, const char *path, struct err *e);

/* Renames the written and closed temporary file to FILE.  0 or -1 with e. */
int out_file_commit(struct out_file *of, struct err *e);

/* Removes the temporary file if it is still there; frees of. */
void out_file_free(struct out_file *of);

/* Parses "jsonl", "tsv" or "trec".  0 or -1. */
int output_format_parse(const char *s, enum output_format *out);

#endif
