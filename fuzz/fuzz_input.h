/* fuzz_input.h — the driver the two input targets share (fuzz_jsonl.c,
 * fuzz_lines.c): reads one file through src/input.c to its end, group by
 * group, the way main.c does, and checks what every group promises
 * (group.h).  A broken promise aborts, which libFuzzer reports. */
#ifndef RERANK_FUZZ_INPUT_H
#define RERANK_FUZZ_INPUT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

static inline void fuzz_check_group(const struct group *g)
{
    if (!g->query || !g->source || g->first_line < 1)
        abort();
    for (size_t i = 0; i < g->n_cands; i++) {
        const struct candidate *c = &g->cands[i];
        if (!c->docid || !c->text || c->text[c->text_len] != 0 || c->line < g->first_line)
            abort();
        if (c->raw && strlen(c->raw) == 0)
            abort();
    }
}

/* Reads path to its end; with skip, no line may stop the run. */
static inline void fuzz_read_groups(const char *path, enum input_mode mode,
                                    const char *query, size_t max_line, bool skip)
{
    char *files[] = {(char *)path};
    struct input_options o = {.mode = mode, .query = query, .max_line = max_line,
                              .skip_invalid = skip};
    struct err e;
    struct input *in = input_open(files, 1, &o, &e);
    if (!in)
        abort();
    struct group g = {0};
    int r;
    while ((r = input_next_group(in, &g, &e)) > 0)
        fuzz_check_group(&g);
    if (r < 0 && (skip || input_io_failed(in) || !e.msg[0]))
        abort();
    group_free(&g);
    input_close(in);
}

#endif
