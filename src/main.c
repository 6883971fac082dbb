/* main.c — wires options to the pipeline and owns every exit:
 *
 *   source (JSONL/plain lines, or TREC run+queries+docs) ──► groups
 *     ──► scorer (cross-encoder | API | bm25 | identity | random)
 *     ──► tail below --depth ──► writer (sort, top k, print, flush)
 *
 * `rerank eval ...` hands over to eval_main (src/trec/eval_cli.c), which returns
 * an error kind.  This file prints the main command's diagnostics (all to
 * stderr, prefixed "rerank:") and decides every exit status: exit_status()
 * maps error kinds (struct err, util.h) to the codes of cli.h. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/api.h"
#include "cache.h"
#include "cascade.h"
#include "cli.h"
#include "models/colbert.h"
#include "nn/cpu.h"
#include "crossenc.h"
#include "trec/eval.h"
#include "trec/fuse.h"
#include "trec/fuse_cli.h"
#include "net/hub.h"
#include "input.h"
#include "net/llm.h"
#include "models_cli.h"
#include "pairwise.h"
#include "output.h"
#include "progress.h"
#include "scorer.h"
#include "trec/trec.h"

#define DEFAULT_MODEL "cross-encoder/ms-marco-MiniLM-L-6-v2"

/* The one table from error kinds to exit statuses (documented in --help,
 * README and rerank(1)).  An error of unspecified kind takes the status of
 * the step that failed (`unspecified`). */
static int exit_status(enum err_kind kind, int unspecified)
{
    switch (kind) {
    case ERR_INPUT:
        return EXIT_INPUT;
    case ERR_USAGE:
        return EXIT_USAGE;
    case ERR_MODEL:
        return EXIT_MODEL;
    case ERR_SCORER:
        return EXIT_SCORER;
    case ERR_THRESHOLD:
        return EXIT_THRESHOLD;
    case ERR_IO:
        return EXIT_IO;
    case ERR_UNSPECIFIED:
    default:
        return unspecified;
    }
}

/* ---- stderr: diagnostics and the progress line ------------------------ */

static struct progress prog;

/* Clears the progress line so that a message starts on a clean line. */
static void clear_line(void)
{
    progress_clear(&prog);
}

/* A scorer's report within a group (per batch). */
static void group_progress(void *ctx, size_t done, size_t total)
{
    progress_in_group(&prog, done, total, now_seconds());
}

static void say(const char *msg)
{
    clear_line();
    fprintf(stderr, "rerank: %s\n", msg);
}

static void report_skip(const char *msg, void *ctx)
{
    clear_line();
    fprintf(stderr, "rerank: %s (skipped)\n", msg);
}

/* A model download's progress, on a terminal. */
static void download_progress(void *ctx, const char *file, long long have, long long total)
{
    char line[512];
    if (total > 0)
        snprintf(line, sizeof line, "downloading %.300s  %.1f / %.1f MB  %3.0f%%", file,
                 have / 1e6, total / 1e6, 100.0 * (double)have / (double)total);
    else
        snprintf(line, sizeof line, "downloading %.300s  %.1f MB", file, have / 1e6);
    progress_show(&prog, line);
}

static void api_notify(void *ctx, const char *line)
{
    say(line);
}

/* --dry-run --verbose: each request body that would have been sent. */
static void llm_body(void *ctx, const char *label, const char *body)
{
    clear_line();
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

/* Reads --run, or fuses several --run by RRF (k 60) into run.  0 or -1
 * with e; run is freed with trec_run_free either way. */
static int runs_read(struct trec_run *run, const struct options *o, struct err *e)
{
    if (o->n_runs == 1)
        return trec_run_read(run, o->run, e);
    struct trec_run parts[sizeof o->runs / sizeof *o->runs];
    int rc = 0, n = 0;
    memset(run, 0, sizeof *run);
    for (; n < o->n_runs && rc == 0; n++)
        rc = trec_run_read(&parts[n], o->runs[n], e);
    if (rc == 0) {
        struct fuse_options fo = {FUSE_RRF, FUSE_NORM_NONE, 60};
        fuse_runs(parts, (size_t)n, &fo, run);
    }
    for (int i = 0; i < n; i++)
        trec_run_free(&parts[i]);
    return rc;
}

/* Opens the source.  Returns 0, or an exit status after printing why. */
static int source_open(struct source *s, struct options *o)
{
    struct err e = {0};
    memset(s, 0, sizeof *s);
    s->verbose = o->verbose && !o->quiet;
    if (!o->run) {
        o->in.on_skip = o->quiet ? NULL : report_skip;
        s->in = input_open(o->files, o->n_files, &o->in, &e);
        if (!s->in) {
            say(e.msg);
            return exit_status(e.kind, EXIT_IO);
        }
        return 0;
    }
    enum trec_topic_field field = TREC_FIELD_TITLE;
    trec_topic_field_parse(o->topic_field, &field, NULL);
    if (runs_read(&s->run, o, &e) < 0 ||
        trec_queries_read(&s->queries, o->queries, field, &e) < 0 ||
        !(s->docs = trec_docs_open(o->docs, &e))) {
        say(e.msg);
        return exit_status(e.kind, EXIT_INPUT);
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

/* The score cache's identity of a scorer: its name and every option that
 * changes a score, one "name=value" line each (cache.h).  Options left at
 * their defaults are written as given ("(default)"), which names the same
 * scores as long as the defaults stay. */
static void ident_put(struct buf *ident, const char *name, const char *value)
{
    /* Length-prefixed, so that no value (an instruction holding a newline)
     * can read as another option. */
    if (ident && value)
        buf_printf(ident, "%s=%zu:%s\n", name, strlen(value), value);
    else if (ident)
        buf_printf(ident, "%s=(default)\n", name);
}

static struct scorer *llm_make(const struct options *o, struct buf *ident, int *status)
{
    struct err e = {0};
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
        *status = exit_status(e.kind, EXIT_USAGE);
    }
    char words[32];
    snprintf(words, sizeof words, "%d", lo.passage_words);
    ident_put(ident, "scorer", "llm");
    ident_put(ident, "mode", o->llm);
    ident_put(ident, "url", o->llm_url);
    ident_put(ident, "model", o->llm_model);
    ident_put(ident, "passage_words", words);
    return s;
}

/* The directory of model name (a directory, or a hub name looked up and
 * downloaded), or NULL after printing why (*status set). */
static char *model_resolve(const struct options *o, const char *name, int *status)
{
    struct err e = {0};
    struct hub_report report = {o->quiet ? NULL : download_progress,
                                o->quiet ? NULL : api_notify, NULL};
    char *dir = hub_resolve(name, &report, &e);
    clear_line();
    if (!dir) {
        say(e.msg);
        *status = exit_status(e.kind, EXIT_MODEL);
    }
    return dir;
}

/* The duoT5 scorer of --pairwise, or NULL after printing why.  It has no
 * cache identity: pairwise scores depend on the whole group. */
static struct scorer *pairwise_make(const struct options *o, struct buf *ident, int *status)
{
    struct err e = {0};
    char *dir = model_resolve(o, o->pairwise, status);
    if (!dir)
        return NULL;
    struct scorer *s = pairwise_scorer_new(dir, (size_t)o->max_length, (int)o->threads, &e);
    if (!s) {
        say(e.msg);
        *status = exit_status(e.kind, EXIT_MODEL);
    }
    free(dir);
    return s;
}

/* The scorer the method options choose (--method, --model, --api); its
 * cache identity appended to ident when not NULL. */
static struct scorer *first_stage_make(const struct options *o, struct buf *ident,
                                       int *status)
{
    struct err e = {0};
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
            *status = exit_status(e.kind, EXIT_USAGE);
        }
        ident_put(ident, "scorer", "api");
        ident_put(ident, "provider", o->api);
        ident_put(ident, "url", o->api_url);
        ident_put(ident, "model", o->api_model);
        return s;
    }
    case METHOD_CROSS_ENCODER:
    default: {
        char *dir = model_resolve(o, o->model ? o->model : DEFAULT_MODEL, status);
        if (!dir)
            return NULL;
        struct crossenc_options co = {
            .model_dir = dir,
            .max_length = (size_t)o->max_length,
            .activation = (enum activation)activation_from_name(o->activation),
            .label = o->label,
            .threads = (int)o->threads,
            .quantize = (enum quantize)quantize_from_name(o->quantize),
            .long_mode = strcmp(o->long_mode, "max") == 0 ? LONG_MAX : LONG_FIRST,
            .stride = (size_t)o->stride,
            .instruction = o->instruction,
            .variant = o->t5,
        };
        bool colbert = colbert_is_model(dir);
        struct scorer *s = colbert ? colbert_scorer_new(&co, &e) : crossenc_scorer_new(&co, &e);
        if (!s) {
            say(e.msg);
            *status = exit_status(e.kind, EXIT_MODEL);
        } else if (ident) {
            char num[64];
            ident_put(ident, "scorer", colbert ? "colbert" : "cross-encoder");
            buf_puts(ident, "model=");
            if (cache_model_identity(dir, ident, &e) < 0) {
                say(e.msg);
                *status = exit_status(e.kind, EXIT_MODEL);
                scorer_free(s);
                free(dir);
                return NULL;
            }
            buf_putc(ident, '\n');
            snprintf(num, sizeof num, "%zu",
                     colbert ? colbert_max_length(s) : crossenc_max_length(s));
            ident_put(ident, "max_length", num);
            ident_put(ident, "activation", o->activation);
            snprintf(num, sizeof num, "%ld", o->label);
            ident_put(ident, "label", num);
            ident_put(ident, "long", o->long_mode);
            snprintf(num, sizeof num, "%ld", o->stride);
            ident_put(ident, "stride", num);
            ident_put(ident, "instruction", o->instruction);
            ident_put(ident, "t5", o->t5);
        }
        free(dir);
        return s;
    }
    }
}

/* Makes the scorer: the method's, the LLM's or duoT5's (--pairwise), or
 * one of those after the method's (--cascade).  Returns it, or NULL after
 * printing why (*status set). */
static struct scorer *scorer_make(const struct options *o, struct buf *ident, int *status)
{
    struct scorer *(*make_second)(const struct options *, struct buf *, int *) =
        o->pairwise ? pairwise_make : o->llm ? llm_make : NULL;
    if (!make_second)
        return first_stage_make(o, ident, status);
    if (!o->cascade)
        return make_second(o, ident, status);
    struct scorer *first = first_stage_make(o, NULL, status);
    if (!first)
        return NULL;
    first->progress = group_progress;   /* the cascade reports none of its own */
    struct scorer *second = make_second(o, NULL, status);
    if (!second) {
        scorer_free(first);
        return NULL;
    }
    return cascade_scorer_new(first, second, (size_t)o->cascade);
}

/* ---- the run ------------------------------------------------------------- */

/* Whether the group keyed key (its qid, else its query) is in --shard K/N. */
static bool in_shard(const struct options *o, const char *key)
{
    return !o->shard_n ||
           hash_bytes(key, strlen(key), 0) % (uint64_t)o->shard_n == (uint64_t)o->shard_k;
}

/* The queries and candidates a --run will score (those with query text, in
 * the shard), for the progress display's totals and ETA. */
static void run_totals(const struct options *o, const struct source *src)
{
    long groups = 0;
    long long cands = 0;
    for (size_t i = 0; i < src->run.n_topics; i++) {
        const struct trec_topic_run *t = &src->run.topics[i];
        if (!trec_queries_find(&src->queries, t->qid, NULL) || !in_shard(o, t->qid))
            continue;
        groups++;
        cands += (long long)(t->n_docs < (size_t)o->depth ? t->n_docs : (size_t)o->depth);
    }
    progress_set_totals(&prog, groups, cands);
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

/* --skip-margin: whether g's first stage is confident (its top first-stage
 * score leads the second by margin or more); then its scores become the
 * first stage's.  A candidate without a first-stage score is an error
 * (usage: the option needs them).  Returns 1 (skip), 0 (score) or -1. */
static int confident_skip(struct group *g, double margin, struct err *e)
{
    double top = -HUGE_VAL, second = -HUGE_VAL;
    for (size_t i = 0; i < g->n_cands; i++) {
        const struct candidate *c = &g->cands[i];
        if (!c->has_first_score)
            return err_setk(e, ERR_USAGE, "%s:%ld: --skip-margin needs first-stage scores, "
                            "and docid \"%s\" has no numeric \"score\"", c->source, c->line,
                            c->docid);
        if (c->first_score > top) {
            second = top;
            top = c->first_score;
        } else if (c->first_score > second) {
            second = c->first_score;
        }
    }
    if (g->n_cands < 2 || !(top - second >= margin))
        return 0;
    for (size_t i = 0; i < g->n_cands; i++)
        g->cands[i].score = g->cands[i].first_score;
    g->skipped = true;
    return 1;
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
    struct err e = {0};
    const char *term = getenv("TERM");
    progress_init(&prog, !o->quiet && isatty(STDERR_FILENO) ? stderr : NULL,
                  !term || strcmp(term, "dumb") == 0, now_seconds());

    struct source src;
    int status = source_open(&src, o);
    if (status) {
        source_close(&src, true);
        return status;
    }
    if (src.trec)
        run_totals(o, &src);
    struct cache *cache = NULL;
    struct cache_stats cache_stats = {0};
    if (o->cache && !(cache = cache_open(o->cache, o->cache_readonly, &e))) {
        say(e.msg);
        source_close(&src, true);
        return exit_status(e.kind, EXIT_IO);
    }
    struct buf ident = {0};
    struct scorer *sc = scorer_make(o, cache ? &ident : NULL, &status);
    if (!sc) {
        buf_free(&ident);
        cache_close(cache);
        source_close(&src, true);
        return status;
    }
    /* A ColBERT model scores each pair alone: its scores go through the
     * score cache like the cross-encoder's, and the misses' document
     * vectors are looked up in the same file. */
    struct scorer *colbert = strcmp(sc->name, "colbert") == 0 ? sc : NULL;
    if (cache && colbert && colbert_use_cache(sc, cache, &ident, &e) < 0) {
        say(e.msg);
        buf_free(&ident);
        scorer_free(sc);
        cache_close(cache);
        source_close(&src, true);
        return exit_status(e.kind, EXIT_MODEL);
    }
    if (cache) {
        sc = cache_scorer_new(sc, cache, ident.data, &cache_stats);
        prog.cache_hits = &cache_stats.hits;
    }
    buf_free(&ident);
    sc->progress = group_progress;
    struct writer w = {.f = stdout, .format = o->format, .top_k = o->top_k,
                       .has_min_score = o->has_min_score, .min_score = o->min_score,
                       .no_text = o->no_text, .run_tag = o->run_tag};
    struct out_file of = {0};
    if (o->output) {
        w.f = out_file_open(&of, o->output, &e);
        w.sync = true;
        if (!w.f) {
            say(e.msg);
            scorer_free(sc);
            cache_close(cache);
            source_close(&src, true);
            return exit_status(e.kind, EXIT_IO);
        }
    }
    struct group g = {0};
    long failed = 0, ordinal = 0, n_skipped = 0;

    for (;;) {
        int r = source_next(&src, &g, &e);
        if (r == 0)
            break;
        if (r < 0) {
            say(e.msg);
            if (g.n_cands)
                stopped(&g);
            status = exit_status(e.kind, src.in && !input_io_failed(src.in) ? EXIT_INPUT
                                                                            : EXIT_IO);
            break;
        }
        g.ordinal = ++ordinal;
        if (!in_shard(o, g.qid ? g.qid : g.query))
            continue;
        progress_group_begin(&prog, now_seconds());
        int skip = o->has_skip_margin ? confident_skip(&g, o->skip_margin, &e) : 0;
        if (skip < 0) {
            say(e.msg);
            stopped(&g);
            status = exit_status(e.kind, EXIT_USAGE);
            break;
        }
        n_skipped += skip;
        if (skip) {
            /* first-stage scores in place: nothing to score */
        } else if (o->tokenize) {
            struct tokenize_ctx t = {&w, &g, strcmp(o->long_mode, "max") == 0};
            if (strcmp(sc->name, "colbert") == 0)
                colbert_encode_group(sc, &g, write_colbert_ids, &t, &e);
            else
                crossenc_encode_group(sc, &g, write_encoding, &t, &e);
        } else if (sc->score(sc, &g, &e) < 0 || check_scores(&g, &e) < 0) {
            say(e.msg);
            if (!o->keep_going) {
                stopped(&g);
                status = exit_status(e.kind, EXIT_SCORER);
                break;
            }
            g.error = e.msg;
            failed++;
        }
        if (o->dry_run) {
            /* The report went to stderr; the scores are placeholders, and
             * a cron job must not take them for a ranking. */
            progress_group_done(&prog, g.n_cands, now_seconds());
            continue;
        }
        size_t n_scored = g.n_cands;
        if (src.trec && !o->drop_tail && !o->tokenize)
            append_tail(&src, &g);
        if ((o->tokenize ? writer_flush(&w, &e) : writer_group(&w, &g, &e)) < 0) {
            if (w.broken_pipe)
                goto quiet_exit;
            say(e.msg);
            if (!w.io_error)
                stopped(&g);
            status = exit_status(e.kind, w.io_error ? EXIT_IO : EXIT_INPUT);
            break;
        }
        progress_group_done(&prog, n_scored, now_seconds());
    }
    progress_finish(&prog, now_seconds());
    if (!w.io_error && writer_finish(&w, &e) < 0) {
        if (w.broken_pipe)
            goto quiet_exit;
        say(e.msg);
        status = exit_status(e.kind, EXIT_IO);
    }
    long skipped = src.in ? input_skipped(src.in) : 0;
    if (status == EXIT_OK && failed)
        status = EXIT_PARTIAL;
    else if (status == EXIT_OK && skipped)
        status = EXIT_SKIPPED;
    /* A run that finished (even with skipped lines or failed groups) has
     * written all it will: -o FILE gets it. */
    bool finished = status == EXIT_OK || status == EXIT_SKIPPED || status == EXIT_PARTIAL;
    if (of.tmp && finished && out_file_commit(&of, &e) < 0) {
        say(e.msg);
        status = exit_status(e.kind, EXIT_IO);
    }
    if (o->verbose && !o->quiet)
        fprintf(stderr, "rerank: %ld groups, %ld candidates, %ld lines skipped, %ld groups failed\n",
                prog.groups, (long)prog.cands, skipped, failed);
    if (o->has_skip_margin && o->verbose && !o->quiet)
        fprintf(stderr, "rerank: --skip-margin: %ld group%s kept the first-stage order\n",
                n_skipped, n_skipped == 1 ? "" : "s");
    if (cache && o->verbose && !o->quiet)
        fprintf(stderr, "rerank: score cache: %lld hits, %lld misses, %lld scorer calls, "
                "%lld scores stored\n", cache_stats.hits, cache_stats.misses,
                cache_stats.calls, cache_stats.stored);
    /* The score cache's misses went to the ColBERT scorer, which took each
     * document's vectors from the cache or ran the encoder. */
    if (cache && colbert && o->verbose && !o->quiet)
        fprintf(stderr, "rerank: ColBERT document vectors: %zu from the cache, %zu "
                "computed\n", colbert_n_cached(colbert), colbert_n_encoded(colbert));
    goto done;
quiet_exit:
    /* The reader went away (`rerank ... | head`): end quietly. */
    status = EXIT_OK;
done:
    if (w.f && w.f != stdout)
        fclose(w.f);   /* a failed -o run: the temporary file goes */
    out_file_free(&of);
    group_free(&g);
    writer_free(&w);
    scorer_free(sc);
    cache_close(cache);
    source_close(&src, o->quiet);
    return status;
}

int main(int argc, char **argv)
{
    /* A closed pipe shows up as EPIPE from write, handled above, instead of
     * killing the process (and network code never dies of SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);

    if (argc > 1 && strcmp(argv[1], "eval") == 0) {
        int kind = eval_main(argc - 1, argv + 1);
        return kind ? exit_status((enum err_kind)kind, EXIT_INPUT) : EXIT_OK;
    }
    if (argc > 1 && strcmp(argv[1], "models") == 0) {
        int kind = models_main(argc - 1, argv + 1);
        return kind ? exit_status((enum err_kind)kind, EXIT_IO) : EXIT_OK;
    }
    if (argc > 1 && strcmp(argv[1], "fuse") == 0) {
        int kind = fuse_main(argc - 1, argv + 1);
        return kind ? exit_status((enum err_kind)kind, EXIT_INPUT) : EXIT_OK;
    }

    struct options o;
    struct err e = {0};
    if (cli_parse(argc, argv, &o, &e) < 0) {
        fprintf(stderr, "rerank: %s\nTry 'rerank --help' for more information.\n", e.msg);
        return exit_status(ERR_USAGE, EXIT_USAGE);
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
     * kernels, and a re-exec must not lose input.  --tokenize multiplies
     * nothing, so it does not pay for a second start. */
    if (((o.method == METHOD_CROSS_ENCODER && (!o.llm || o.cascade)) || o.pairwise) &&
        !o.tokenize)
        cpu_prepare_blas(argv);
    return run(&o);
}
