/* main.c — wires options to the pipeline and owns every exit:
 *
 *   input (groups) ──► scorer ──► writer (sort, top k, print, flush)
 *
 * It is the only place that prints diagnostics (all of them to stderr,
 * prefixed "rerank:") and decides the exit status (enum in cli.h). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "output.h"
#include "scorer.h"

struct progress {
    bool on;
    double start, last;
    long groups, cands;
    bool shown;
};

static void progress_update(struct progress *p, bool final)
{
    if (!p->on)
        return;
    double t = now_seconds();
    if (!final && (t - p->last < 0.25 || t - p->start < 1.0))
        return;
    p->last = t;
    if (final) {
        if (p->shown)
            fputs("\r\033[K", stderr);
        return;
    }
    double rate = p->cands / (t - p->start);
    fprintf(stderr, "\r\033[Krerank: %ld groups, %ld candidates, %.0f candidates/s",
            p->groups, p->cands, rate);
    p->shown = true;
}

static void report_skip(const char *msg, void *ctx)
{
    struct progress *p = ctx;
    if (p->shown) {
        fputs("\r\033[K", stderr);
        p->shown = false;
    }
    fprintf(stderr, "rerank: %s (skipped)\n", msg);
}

static struct scorer *make_scorer(const struct options *o)
{
    switch (o->method) {
    case METHOD_IDENTITY:
        return identity_scorer_new();
    case METHOD_RANDOM:
        return random_scorer_new(o->seed);
    case METHOD_BM25:
    default:
        return bm25_scorer_new(o->bm25);
    }
}

static bool in_shard(const struct options *o, const struct group *g)
{
    if (!o->shard_n)
        return true;
    const char *key = g->qid ? g->qid : g->query;
    return hash_bytes(key, strlen(key), 0) % (uint64_t)o->shard_n == (uint64_t)o->shard_k;
}

/* A scorer must leave a finite score on every candidate. */
static int check_scores(const struct group *g, struct err *e)
{
    for (size_t i = 0; i < g->n_cands; i++)
        if (!isfinite(g->cands[i].score))
            return err_set(e, "%s:%ld: the scorer gave docid \"%s\" a non-finite score",
                           g->cands[i].source, g->cands[i].line, g->cands[i].docid);
    return 0;
}

static int run(struct options *o)
{
    struct err e = {{0}};
    struct progress prog = {.on = !o->quiet && isatty(STDERR_FILENO)};
    prog.start = prog.last = now_seconds();
    o->in.on_skip = report_skip;
    o->in.ctx = &prog;

    struct input *in = input_open(o->files, o->n_files, &o->in, &e);
    if (!in) {
        fprintf(stderr, "rerank: %s\n", e.msg);
        return EXIT_IO;
    }
    struct scorer *sc = make_scorer(o);
    struct writer w = {.f = stdout, .format = o->format, .top_k = o->top_k,
                       .no_text = o->no_text, .run_tag = o->run_tag};
    struct group g = {0};
    int status = EXIT_OK;
    long failed = 0, ordinal = 0;

    for (;;) {
        int r = input_next_group(in, &g, &e);
        if (r == 0)
            break;
        if (r < 0) {
            progress_update(&prog, true);
            fprintf(stderr, "rerank: %s\n", e.msg);
            if (g.n_cands)
                fprintf(stderr, "rerank: stopped; the group that starts at %s:%ld was not written\n",
                        g.source, g.first_line);
            status = input_io_failed(in) ? EXIT_IO : EXIT_INPUT;
            break;
        }
        g.ordinal = ++ordinal;
        if (!in_shard(o, &g))
            continue;
        if (sc->score(sc, &g, &e) < 0 || check_scores(&g, &e) < 0) {
            progress_update(&prog, true);
            fprintf(stderr, "rerank: %s\n", e.msg);
            if (!o->keep_going) {
                fprintf(stderr, "rerank: stopped; the group that starts at %s:%ld was not written\n",
                        g.source, g.first_line);
                status = EXIT_SCORER;
                break;
            }
            g.error = e.msg;
            failed++;
        }
        if (writer_group(&w, &g, &e) < 0) {
            if (w.broken_pipe)
                goto quiet_exit;
            progress_update(&prog, true);
            fprintf(stderr, "rerank: %s\n", e.msg);
            if (!w.io_error)
                fprintf(stderr, "rerank: stopped; the group that starts at %s:%ld was not written\n",
                        g.source, g.first_line);
            status = w.io_error ? EXIT_IO : EXIT_INPUT;
            break;
        }
        prog.groups++;
        prog.cands += (long)g.n_cands;
        progress_update(&prog, false);
    }
    progress_update(&prog, true);
    if (!w.io_error && writer_finish(&w, &e) < 0) {
        if (w.broken_pipe)
            goto quiet_exit;
        fprintf(stderr, "rerank: %s\n", e.msg);
        status = EXIT_IO;
    }
    if (status == EXIT_OK && failed)
        status = EXIT_PARTIAL;
    else if (status == EXIT_OK && input_skipped(in))
        status = EXIT_SKIPPED;
    if (o->verbose && !o->quiet)
        fprintf(stderr, "rerank: %ld groups, %ld candidates, %ld lines skipped, %ld groups failed\n",
                prog.groups, prog.cands, input_skipped(in), failed);
    goto done;
quiet_exit:
    /* The reader went away (`rerank ... | head`): end quietly. */
    status = EXIT_OK;
done:
    group_free(&g);
    writer_free(&w);
    scorer_free(sc);
    input_close(in);
    return status;
}

int main(int argc, char **argv)
{
    /* A closed pipe shows up as EPIPE from write, handled above, instead of
     * killing the process (and network code never dies of SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);

    struct options o;
    struct err e = {{0}};
    if (cli_parse(argc, argv, &o, &e) < 0) {
        fprintf(stderr, "rerank: %s\nTry 'rerank --help' for more information.\n", e.msg);
        return EXIT_USAGE;
    }
    if (o.help) {
        fputs(cli_usage, stdout);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_IO;
    }
    if (o.version) {
        puts("rerank " RERANK_VERSION);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_IO;
    }
    return run(&o);
}
