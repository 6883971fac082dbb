/* progress.h — the one-line progress display on standard error (a terminal):
 * groups and candidates done, of the totals when they are known (--run), the
 * rate, the group being scored (per batch), an ETA, and a one-line summary at
 * the end of a long run.  main.c owns the instance and decides when it is on
 * (stderr a terminal, no --quiet); this module only draws.  Every function
 * takes the time (now_seconds()) as an argument, so tests need no clock. */
#ifndef RERANK_PROGRESS_H
#define RERANK_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

struct progress {
    FILE *f;                 /* NULL: off */
    bool dumb;               /* TERM=dumb or unset: redraw with \r and spaces,
                                no escape sequences */
    double start;            /* run start: the display waits a second */
    double scoring_start;    /* first group started: rates and ETA count from here */
    double last;             /* last redraw */
    long groups;             /* groups finished */
    long long cands;         /* candidates of the finished groups */
    long total_groups;       /* -1: unknown */
    long long total_cands;   /* -1: unknown */
    size_t group_done, group_total; /* the group being scored (0/0: none) */
    size_t shown;            /* width of the line on screen; 0: none */
    const long long *cache_hits; /* --cache: candidates found there, or NULL */
};

/* Starts a display on f (NULL: off) at time now.  Totals unknown. */
void progress_init(struct progress *p, FILE *f, bool dumb, double now);
/* Known totals (queries and candidates of a --run), or -1. */
void progress_set_totals(struct progress *p, long groups, long long cands);
/* A group is about to be scored (the first one starts the rate's clock). */
void progress_group_begin(struct progress *p, double now);
/* Candidates done of the group being scored (a scorer's batch callback). */
void progress_in_group(struct progress *p, size_t done, size_t total, double now);
/* A group of n candidates finished. */
void progress_group_done(struct progress *p, size_t n, double now);
/* The status text, no control characters: "3/10 queries, 300/1000
 * candidates (250 cached), 120 candidates/s, ETA 5s" (what is known). */
void progress_text(const struct progress *p, double now, struct buf *out);
/* Replaces the line on screen with text (a download's progress). */
void progress_show(struct progress *p, const char *text);
/* Clears the line so that a message starts on a clean line. */
void progress_clear(struct progress *p);
/* Clears the line; when the run took 3 seconds or more, prints a summary
 * line: "rerank: 10 queries, 1000 candidates in 1m05s (15 candidates/s)". */
void progress_finish(struct progress *p, double now);

#endif
