/* main.c — wires options to the pipeline and owns every exit:
 *
 *   source (JSONL/plain lines, or TREC run+queries+docs) ──► groups
 *     ──► scorer (cross-encoder | API | bm25 | identity | random)
 *     ──► tail below --depth ──► writer (sort, top k, print, flush)
 *
 * `rerank eval ...` hands over to eval_main (src/eval_cli.c).  This is the
 * only file that prints diagnostics (all to stderr, prefixed "rerank:") and
 * decides the exit status (enum in cli.h). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cascade.h"
#include "cli.h"
#include "colbert.h"
#include "cpu.h"
#include "crossenc.h"
#include "eval.h"
#include "hub.h"
#include "input.h"
#include "llm.h"
#include "output.h"
#include "scorer.h"
#include "trec.h"

#define DEFAULT_MODEL "cross-encoder/ms-marco-MiniLM-L-6-v2"

/* ---- stderr: diagnostics and the progress line ------------------------ */

struct progress {
    bool on;
    double start, last;
    long groups, cands;
    bool shown;
};

static struct progress prog;

/* Clears the progress line so that a message starts on a clean line. */
static void progress_clear(void)
{
    if (prog.shown) {
        fputs("\r\033[K", stderr);
        prog.shown = false;
    }
}

static void progress_update(void)
{
    double t = now_seconds();
    if (!prog.on || t - prog.last < 0.25 || t - prog.start < 1.0)
        return;
    prog.last = t;
    fprintf(stderr, "\r\033[Krerank: %ld groups, %ld candidates, %.0f candidates/s",
            prog.groups, prog.cands, prog.cands / (t - prog.start));
    prog.shown = true;
}

static void say(const char *msg)
{
    progress_clear();
    fprintf(stderr, "rerank: %s\n", msg);
}

static void report_skip(const char *msg, void *ctx)
{
    progress_clear();
    fprintf(stderr, "rerank: %s (skipped)\n", msg);
}

/* A model download's progress, on a terminal. */
static void download_progress(void *ctx, const char *file, long long have, long long total)
{
    if (!*(const bool *)ctx)
        return;
    if (total > 0)
        fprintf(stderr, "\r\033[Krerank: downloading %s  %.1f / %.1f MB  %3.0f%%", file,
                have / 1e6, total / 1e6, 100.0 * (double)have / (double)total);
    else
        fprintf(stderr, "\r\033[Krerank: downloading %s  %.1f MB", file, have / 1e6);
    prog.shown = true;
}

static void api_notify(void *ctx, const char *line)
{
    say(line);
}

/* --dry-run --verbose: each request body that would have been sent. */
static void llm_body(void *ctx, const char *label, const char *body)
{
    progress_clear();
    fprintf(stderr, "rerank: dry run: %s: %s\n", label, body);
}

static void trec_warn(void *ctx, const char *msg)
{
    if (*(const bool *)ctx)
        say(msg);
}

/* ---- where groups come from ------------------------------------------- */

struct source {
    struct input *in;               /* JSON Lines or plain lines */
    struct trec_source *trec;       /* --run/--queries/--docs */
    struct trec_run run;
    struct trec_queries queries;
    struct trec_docs *docs;
    bool verbose;
};

/* Opens the source.  Returns 0, or an exit status after printing why. */
static int source_open(struct source *s, struct options *o)
{
    struct err e = {{0}};
    memset(s, 0, sizeof *s);
    s->verbose = o->verbose && !o->quiet;
    if (!o->run) {
        o->in.on_skip = report_skip;
        s->in = input_open(o->files, o->n_files, &o->in, &e);
        if (!s->in) {
            say(e.msg);
            return EXIT_IO;
        }
        return 0;
    }
    enum trec_topic_field field = TREC_FIELD_TITLE;
    trec_topic_field_parse(o->topic_field, &field, NULL);
    if (trec_run_read(&s->run, o->run, &e) < 0 ||
        trec_queries_read(&s->queries, o->queries, field, &e) < 0 ||
        !(s->docs = trec_docs_open(o->docs, &e))) {
        say(e.msg);
        return EXIT_INPUT;
    }
    if (s->verbose && trec_docs_info(s->docs)->built)
        fprintf(stderr, "rerank: indexed %s into %s\n", o->docs,
                trec_docs_info(s->docs)->index_path);
    struct trec_source_opts to = {.depth = (size_t)o->depth, .warn = trec_warn,
                                  .warn_ctx = &s->verbose};
    s->trec = trec_source_open(&s->run, &s->queries, s->docs, &to);
    return 0;
}

static int source_next(struct source *s, struct group *g, struct err *e)
{
    return s->in ? input_next_group(s->in, g, e) : trec_source_next(s->trec, g, e);
}

static void source_close(struct source *s, bool quiet)
{
    if (s->trec) {
        const struct trec_source_stats *st = trec_source_stats(s->trec);
        if (!quiet && (st->n_missing_queries || st->n_missing_docs))
            fprintf(stderr, "rerank: the run has %zu quer%s without text in %s and %zu "
                    "document%s missing from %s%s\n",
                    st->n_missing_queries, st->n_missing_queries == 1 ? "y" : "ies",
                    s->queries.path ? s->queries.path : "the queries",
                    st->n_missing_docs, st->n_missing_docs == 1 ? "" : "s",
                    trec_docs_info(s->docs)->path,
                    s->verbose ? "" : " (--verbose names them)");
        trec_source_free(s->trec);
    }
    if (s->docs)
        trec_docs_free(s->docs);
    trec_queries_free(&s->queries);
    trec_run_free(&s->run);
    input_close(s->in);
}

/* The run entries below --depth follow the reranked ones in their original
 * order, with scores below every reranked score (so that sorting, --top-k
 * and trec_eval keep them there).  They are never scored or looked up. */
static void append_tail(struct source *s, struct group *g)
{
    const struct trec_doc *tail;
    size_t n;
    trec_source_tail(s->trec, &tail, &n);
    double floor = 0;
    for (size_t i = 0; i < g->n_cands; i++)
        if (i == 0 || g->cands[i].score < floor)
            floor = g->cands[i].score;
    for (size_t i = 0; i < n; i++) {
        struct candidate *c = group_add(g);
        c->docid = tail[i].docid;
        c->source = g->source;
        c->line = tail[i].line;
        c->score = floor - (double)(i + 1);
    }
}

/* ---- scorers ------------------------------------------------------------ */

static struct scorer *llm_make(const struct options *o, int *status)
{
    struct err e = {{0}};
    struct llm_options lo;
    llm_options_init(&lo);
    lo.mode = strcmp(o->llm, "pointwise") == 0 ? LLM_POINTWISE : LLM_LISTWISE;
    lo.url = o->llm_url;
    lo.model = o->llm_model;
    lo.cacert = o->cacert;
    if (o->window)
        lo.window = (int)o->window;
    if (o->step)
        lo.step = (int)o->step;
    if (o->passage_words)
        lo.passage_words = (int)o->passage_words;
    lo.retries = (int)o->retries;
    lo.timeout = o->timeout;
    lo.concurrency = (int)o->api_concurrency;
    lo.verbose = o->verbose;
    lo.quiet = o->quiet;
    lo.dry_run = o->dry_run;
    lo.notify = api_notify;
    if (o->verbose)
        lo.on_body = llm_body;
    struct scorer *s = llm_scorer_new(&lo, &e);
    if (!s) {
        say(e.msg);
        *status = EXIT_USAGE;
    }
    return s;
}

/* The scorer the method options choose (--method, --model, --api). */
static struct scorer *first_stage_make(const struct options *o, int *status)
{
    struct err e = {{0}};
    switch (o->method) {
    case METHOD_IDENTITY:
        return identity_scorer_new();
    case METHOD_RANDOM:
        return random_scorer_new(o->seed);
    case METHOD_BM25:
        return bm25_scorer_new(o->bm25);
    case METHOD_API: {
        struct api_options ao;
        api_options_init(&ao);
        ao.provider = o->api;
        ao.url = o->api_url;
        ao.model = o->api_model;
        ao.cacert = o->cacert;
        ao.batch = (int)o->api_batch;
        ao.concurrency = (int)o->api_concurrency;
        ao.retries = (int)o->retries;
        ao.timeout = o->timeout;
        ao.verbose = o->verbose;
        ao.quiet = o->quiet;
        ao.notify = api_notify;
        struct scorer *s = api_scorer_new(&ao, &e);
        if (!s) {
            say(e.msg);
            *status = EXIT_USAGE;
        }
        return s;
    }
    case METHOD_CROSS_ENCODER:
    default: {
        const char *name = o->model ? o->model : DEFAULT_MODEL;
        bool bar = !o->quiet && isatty(STDERR_FILENO);
        struct hub_report report = {download_progress, api_notify, &bar};
        char *dir = hub_resolve(name, &report, &e);
        progress_clear();
        if (!dir) {
            say(e.msg);
            *status = EXIT_MODEL;
            return NULL;
        }
        struct crossenc_options co = {
            .model_dir = dir,
            .max_length = (size_t)o->max_length,
            .activation = (enum activation)activation_from_name(o->activation),
            .label = o->label,
            .threads = (int)o->threads,
            .long_mode = strcmp(o->long_mode, "max") == 0 ? LONG_MAX : LONG_FIRST,
            .stride = (size_t)o->stride,
        };
        struct scorer *s = colbert_is_model(dir) ? colbert_scorer_new(&co, &e)
                                                 : crossenc_scorer_new(&co, &e);
        if (!s) {
            say(e.msg);
            *status = EXIT_MODEL;
        }
        free(dir);
        return s;
    }
    }
}

/* Makes the scorer: the method's, the LLM's, or the LLM after the method's
 * (--cascade).  Returns it, or NULL after printing why (*status set). */
static struct scorer *scorer_make(const struct options *o, int *status)
{
    if (!o->llm)
        return first_stage_make(o, status);
    if (!o->cascade)
        return llm_make(o, status);
    struct scorer *first = first_stage_make(o, status);
    if (!first)
        return NULL;
    struct scorer *second = llm_make(o, status);
    if (!second) {
        scorer_free(first);
        return NULL;
    }
    return cascade_scorer_new(first, second, (size_t)o->cascade);
}

/* ---- the run ------------------------------------------------------------- */

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

struct tokenize_ctx {
    struct writer *w;
    const struct group *g;
    bool windows;
};

static void write_encoding(size_t cand, size_t window, const struct encoding *enc, void *ctx)
{
    struct tokenize_ctx *t = ctx;
    writer_encoding(t->w, t->g, &t->g->cands[cand], t->windows ? (long)window : -1, enc);
}

static void write_colbert_ids(size_t cand, const struct ids *q, const struct ids *d,
                              const struct ids *keep, void *ctx)
{
    static const char *const keys[] = {"query_ids", "doc_ids", "doc_mask"};
    const struct ids *lists[] = {q, d, keep};
    struct tokenize_ctx *t = ctx;
    writer_id_lists(t->w, t->g, &t->g->cands[cand], 3, keys, lists);
}

static void stopped(const struct group *g)
{
    fprintf(stderr, "rerank: stopped; the group that starts at %s:%ld was not written\n",
            g->source, g->first_line);
}

static int run(struct options *o)
{
    struct err e = {{0}};
    prog = (struct progress){.on = !o->quiet && isatty(STDERR_FILENO)};
    prog.start = prog.last = now_seconds();

    struct source src;
    int status = source_open(&src, o);
    if (status) {
        source_close(&src, true);
        return status;
    }
    struct scorer *sc = scorer_make(o, &status);
    if (!sc) {
        source_close(&src, true);
        return status;
    }
    if (o->cache) {
        bool colbert = strcmp(sc->name, "colbert") == 0;
        if (!colbert || colbert_use_cache(sc, o->cache, &e) < 0) {
            say(colbert ? e.msg : "--cache: only a ColBERT model's document vectors are cached");
            scorer_free(sc);
            source_close(&src, true);
            return colbert ? EXIT_MODEL : EXIT_USAGE;
        }
    }
    struct writer w = {.f = stdout, .format = o->format, .top_k = o->top_k,
                       .no_text = o->no_text, .run_tag = o->run_tag};
    struct group g = {0};
    long failed = 0, ordinal = 0;

    for (;;) {
        int r = source_next(&src, &g, &e);
        if (r == 0)
            break;
        if (r < 0) {
            say(e.msg);
            if (g.n_cands)
                stopped(&g);
            status = src.in && !input_io_failed(src.in) ? EXIT_INPUT : EXIT_IO;
            break;
        }
        g.ordinal = ++ordinal;
        if (!in_shard(o, &g))
            continue;
        if (o->tokenize) {
            struct tokenize_ctx t = {&w, &g, strcmp(o->long_mode, "max") == 0};
            if (strcmp(sc->name, "colbert") == 0)
                colbert_encode_group(sc, &g, write_colbert_ids, &t, &e);
            else
                crossenc_encode_group(sc, &g, write_encoding, &t, &e);
        } else if (sc->score(sc, &g, &e) < 0 || check_scores(&g, &e) < 0) {
            say(e.msg);
            if (!o->keep_going) {
                stopped(&g);
                status = EXIT_SCORER;
                break;
            }
            g.error = e.msg;
            failed++;
        }
        if (src.trec && !o->drop_tail && !o->tokenize)
            append_tail(&src, &g);
        if ((o->tokenize ? writer_flush(&w, &e) : writer_group(&w, &g, &e)) < 0) {
            if (w.broken_pipe)
                goto quiet_exit;
            say(e.msg);
            if (!w.io_error)
                stopped(&g);
            status = w.io_error ? EXIT_IO : EXIT_INPUT;
            break;
        }
        prog.groups++;
        prog.cands += (long)g.n_cands;
        progress_update();
    }
    progress_clear();
    if (!w.io_error && writer_finish(&w, &e) < 0) {
        if (w.broken_pipe)
            goto quiet_exit;
        say(e.msg);
        status = EXIT_IO;
    }
    long skipped = src.in ? input_skipped(src.in) : 0;
    if (status == EXIT_OK && failed)
        status = EXIT_PARTIAL;
    else if (status == EXIT_OK && skipped)
        status = EXIT_SKIPPED;
    if (o->verbose && !o->quiet)
        fprintf(stderr, "rerank: %ld groups, %ld candidates, %ld lines skipped, %ld groups failed\n",
                prog.groups, prog.cands, skipped, failed);
    goto done;
quiet_exit:
    /* The reader went away (`rerank ... | head`): end quietly. */
    status = EXIT_OK;
done:
    group_free(&g);
    writer_free(&w);
    scorer_free(sc);
    source_close(&src, o->quiet);
    return status;
}

int main(int argc, char **argv)
{
    /* A closed pipe shows up as EPIPE from write, handled above, instead of
     * killing the process (and network code never dies of SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);

    if (argc > 1 && strcmp(argv[1], "eval") == 0)
        return eval_main(argc - 1, argv + 1);

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
    /* Before anything is read: the model's matrix products want the best
     * kernels, and a re-exec must not lose input. */
    if (o.method == METHOD_CROSS_ENCODER && (!o.llm || o.cascade))
        cpu_prepare_blas(argv);
    return run(&o);
}
