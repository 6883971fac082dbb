/* input.h — reading candidates from JSON Lines or plain text into groups.
 *
 * The inputs are read as one stream (files in order, "-" is stdin).  A
 * group is a run of consecutive candidate lines with the same qid (or the
 * same query when there is no qid), or one group line with a "documents"
 * array, or all plain-text lines (with --query).  Groups are returned one at
 * a time as soon as they end, so memory is bounded by the largest group.
 * This module knows nothing of scoring or output. */
#ifndef RERANK_INPUT_H
#define RERANK_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "group.h"
#include "util.h"

enum input_mode { INPUT_AUTO, INPUT_JSONL, INPUT_LINES };

struct input_options {
    enum input_mode mode;
    const char *query;     /* --query: the query of plain lines, and of JSON
                              lines that have none */
    size_t max_line;       /* longest accepted line in bytes */
    const char *text_fields; /* --text-field: comma-separated JSON field
                              names whose values, as "name: value" lines,
                              are the text scored; NULL: text_keys */
    bool skip_invalid;     /* report bad lines through on_skip and go on */
    void (*on_skip)(const char *msg, void *ctx); /* "file:line: why" */
    void *ctx;
};

struct input;

/* Opens the inputs (NULL or none: stdin); checks every named file is
 * readable before anything is read.  NULL + e on failure. */
struct input *input_open(char *const *files, int n_files,
                         const struct input_options *o, struct err *e);

/* Fills g with the next complete group.  Returns 1 for a group, 0 at the
 * end of input, -1 on a bad line (when not skipping) or a read error, with e
 * holding "file:line: why".  After -1, g holds the incomplete group that the
 * bad line interrupted (possibly empty), for the caller to report. */
int input_next_group(struct input *in, struct group *g, struct err *e);

/* Lines skipped so far under skip_invalid. */
long input_skipped(const struct input *in);

/* Whether the last -1 was a read error (I/O) rather than bad data. */
bool input_io_failed(const struct input *in);

void input_close(struct input *in);

#endif
