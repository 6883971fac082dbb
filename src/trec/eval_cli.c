/* eval_cli.c — `rerank eval`: option parsing, reading qrels and runs,
 * trec_eval-style text or JSON output, run comparisons and --fail-under.
 * Measures and the significance test are eval.c's; file readers are
 * trec.c's.  This is a command-line layer, so it prints — but it returns its
 * exit status instead of exiting, leaving that to main.c. */
#include "trec/eval.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char usage[] =
    "Usage: rerank eval --qrels QRELS [OPTION]... RUN...\n"
    "\n"
    "Evaluates TREC run files (qid Q0 docid rank score tag) against qrels\n"
    "(qid iter docid rel) with trec_eval 10.0 semantics: documents ranked by\n"
    "score, ties by docid descending; the rank column is ignored.  A RUN or\n"
    "QRELS of - is standard input (once).  Options may follow the RUNs.\n"
    "\n"
    "Options:\n"
    "  --qrels FILE        relevance judgements (required)\n"
    "  -m, --measure NAME  measure to report; repeatable.  trec_eval names:\n"
    "                      ndcg_cut_K, ndcg, recip_rank, map, gm_map, Rprec,\n"
    "                      bpref, recall_K, P_K, success_K, iprec_at_recall_X,\n"
    "                      num_ret, num_rel, num_rel_ret (summed, not\n"
    "                      averaged), set_P, set_recall, set_F (set_F.BETA),\n"
    "                      and mrr_K (recip_rank within the top K);\n"
    "                      ndcg_cut.5,10 and bare ndcg_cut, recall, P,\n"
    "                      success, iprec_at_recall (trec_eval's cutoffs)\n"
    "                      also work; official is trec_eval's default set.\n"
    "                      Default: ndcg_cut_10 recip_rank mrr_10 map\n"
    "                      recall_100 recall_1000 P_10\n"
    "  -q                  also print each query's values\n"
    "  -c                  average over every judged query; queries a run\n"
    "                      lacks score 0 (default: they are left out)\n"
    "  -l N                lowest qrels value that counts as relevant (1)\n"
    "  -M N                use only the top N documents of each query\n"
    "  --json              one JSON object instead of text\n"
    "  --fail-under M=V    exit 7 when a run's mean for measure M is below V;\n"
    "                      repeatable\n"
    "  --correction METHOD adjust the p-values of the comparisons with the\n"
    "                      first run, per measure, for multiple testing:\n"
    "                      holm, bonferroni or none (default none)\n"
    "  --permutations N    randomization-test permutations (10000)\n"
    "  --seed N            randomization-test seed (0)\n"
    "  --quiet             no warnings (queries without results or judgements)\n"
    "  -h, --help          this text\n"
    "\n"
    "Text output is trec_eval's: one \"measure<TAB>qid|all<TAB>value\" line per\n"
    "value, the measure name padded to 22 columns, measures in the order\n"
    "asked (-m official: trec_eval's order).  With several runs, each\n"
    "block starts with \"# RUN\", and each later run is compared with the first:\n"
    "the difference of means over the queries both runs have, the p-value of a\n"
    "two-sided paired randomization test (p), and the t statistic and p-value\n"
    "of a two-sided paired t-test (t, p_t).  Judged queries without results\n"
    "are reported on stderr.  A gzip-compressed file is refused: decompress it\n"
    "(zcat run.gz | rerank eval --qrels QRELS -).\n"
    "\n"
    "Examples:\n"
    "  rerank eval --qrels qrels -m official run          trec_eval's default\n"
    "  rerank eval --qrels qrels -q -m ndcg -m Rprec -m bpref -m success run\n"
    "  rerank eval --qrels qrels -m set_F.0.5 -M 10 run   F(beta 0.5) of top 10\n"
    "  rerank eval --qrels qrels -m map --correction holm base.run a.run b.run\n"
    "\n"
    "Exit status, as for rerank: 0 success; 1 malformed input; 2 usage error;\n"
    "7 a --fail-under threshold not met; 8 a file could not be read or the\n"
    "output could not be written.  A closed output pipe ends quietly (0).\n";

struct threshold {
    char name[32];
    double min;
};

struct eval_cli {
    const char *qrels_path;
    struct eval_measures ms;
    struct eval_opts opts;
    bool per_query, json;
    struct threshold *thresholds;
    size_t n_thresholds, cap_thresholds;
    enum eval_correction correction;
    size_t n_perm;
    uint64_t seed;
    bool quiet;
    FILE *out, *err;
};

/* Parses a whole decimal integer in [lo, hi]. */
static int parse_long(const char *s, long lo, long hi, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

/* "M=V": the measure must name exactly one measure; it is added to the set
 * so that its value is computed and shown. */
static int add_threshold(struct eval_cli *c, const char *arg, struct err *e)
{
    const char *eq = strrchr(arg, '=');
    if (!eq || eq == arg)
        return err_set(e, "--fail-under %s: expected MEASURE=VALUE", arg);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
    struct eval_measures one = {0};
    if (eval_measures_add(&one, name, e) || one.n != 1) {
        if (one.n > 1)
            err_set(e, "--fail-under %s: name a single measure", arg);
        eval_measures_free(&one);
        return -1;
    }
    char *end;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !isfinite(v)) {
        eval_measures_free(&one);
        return err_set(e, "--fail-under %s: value is not a number", arg);
    }
    grow((void **)&c->thresholds, &c->cap_thresholds, c->n_thresholds + 1,
         sizeof *c->thresholds);
    struct threshold *t = &c->thresholds[c->n_thresholds++];
    snprintf(t->name, sizeof t->name, "%s", one.v[0].name);
    t->min = v;
    eval_measures_add(&c->ms, name, NULL);
    eval_measures_free(&one);
    return 0;
}

/* Parses options into c (options may follow operands).  Returns the index of
 * the first run argument in the permuted argv, 0 for --help, or -1 with e
 * holding a usage error. */
static int parse_args(struct eval_cli *c, int argc, char **argv, struct err *e)
{
    enum { OPT_QRELS = 256, OPT_JSON, OPT_FAIL, OPT_PERM, OPT_SEED, OPT_CORR,
           OPT_QUIET };
    static const struct option longopts[] = {
        {"qrels", required_argument, NULL, OPT_QRELS},
        {"measure", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, OPT_JSON},
        {"fail-under", required_argument, NULL, OPT_FAIL},
        {"correction", required_argument, NULL, OPT_CORR},
        {"permutations", required_argument, NULL, OPT_PERM},
        {"seed", required_argument, NULL, OPT_SEED},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long v;
    optind = 0;  /* full reinitialisation (glibc), so eval_main can rerun */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":m:qcl:M:h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_QRELS:
            c->qrels_path = optarg;
            break;
        case 'm':
            if (eval_measures_add(&c->ms, optarg, e))
                return -1;
            break;
        case 'q':
            c->per_query = true;
            break;
        case 'c':
            c->opts.complete = true;
            break;
        case 'l':
            if (parse_long(optarg, -127, 127, &v))
                return err_set(e, "-l %s: expected an integer in -127..127", optarg);
            c->opts.rel_level = (int)v;
            break;
        case 'M':
            if (parse_long(optarg, 1, LONG_MAX, &v))
                return err_set(e, "-M %s: expected a positive integer", optarg);
            c->opts.max_docs = v;
            break;
        case OPT_JSON:
            c->json = true;
            break;
        case OPT_FAIL:
            if (add_threshold(c, optarg, e))
                return -1;
            break;
        case OPT_CORR:
            if (strcmp(optarg, "holm") == 0) {
                c->correction = EVAL_CORRECT_HOLM;
            } else if (strcmp(optarg, "bonferroni") == 0) {
                c->correction = EVAL_CORRECT_BONFERRONI;
            } else if (strcmp(optarg, "none") == 0) {
                c->correction = EVAL_CORRECT_NONE;
            } else {
                return err_setk(e, ERR_USAGE, "--correction %s: expected holm, "
                                "bonferroni or none", optarg);
            }
            break;
        case OPT_PERM:
            if (parse_long(optarg, 1, 100000000, &v))
                return err_set(e, "--permutations %s: expected an integer in "
                               "1..100000000", optarg);
            c->n_perm = (size_t)v;
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (end == optarg || *end || errno || optarg[0] == '-')
                return err_set(e, "--seed %s: expected a non-negative integer", optarg);
            c->seed = s;
            break;
        }
        case OPT_QUIET:
            c->quiet = true;
            break;
        case 'h':
            return 0;
        case ':':
            return err_set(e, "option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt)
                return err_set(e, "unknown option '-%c'", optopt);
            return err_set(e, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!c->qrels_path)
        return err_set(e, "--qrels QRELS is required");
    if (optind >= argc)
        return err_set(e, "no run file given");
    int stdin_uses = strcmp(c->qrels_path, "-") == 0;
    for (int i = optind; i < argc; i++)
        stdin_uses += strcmp(argv[i], "-") == 0;
    if (stdin_uses > 1)
        return err_set(e, "standard input (-) can be read only once");
    if (!c->ms.n)
        eval_measures_default(&c->ms);
    return optind;
}

/* One trec_eval line: counts as integers, the rest with 4 decimals. */
static void print_value(FILE *out, const struct eval_measure *m,
                        const char *qid, double v)
{
    if (eval_measure_is_count(m))
        fprintf(out, "%-22s\t%s\t%ld\n", m->name, qid, (long)v);
    else
        fprintf(out, "%-22s\t%s\t%6.4f\n", m->name, qid, v);
}

static void print_text(const struct eval_cli *c, const char *path,
                       const struct trec_run *run, const struct eval_result *r,
                       bool several)
{
    if (several)
        fprintf(c->out, "# %s\n", path);
    if (c->per_query)
        for (size_t q = 0; q < r->n_queries; q++)
            for (size_t k = 0; k < c->ms.n; k++)
                if (eval_measure_per_query(&c->ms.v[k]))
                    print_value(c->out, &c->ms.v[k], r->qids[q],
                                r->values[q * c->ms.n + k]);
    fprintf(c->out, "%-22s\t%s\t%s\n", "runid", "all", run->tag);
    fprintf(c->out, "%-22s\t%s\t%zu\n", "num_q", "all", r->n_queries);
    for (size_t k = 0; k < c->ms.n; k++)
        print_value(c->out, &c->ms.v[k], "all", r->means[k]);
}

/* A new JSON object {measure: value} for row q (or the means when q < 0). */
static json_t *json_values(const struct eval_cli *c,
                           const struct eval_result *r, long q)
{
    json_t *o = json_object();
    for (size_t k = 0; k < c->ms.n; k++) {
        if (q >= 0 && !eval_measure_per_query(&c->ms.v[k]))
            continue;
        double v = q < 0 ? r->means[k] : r->values[(size_t)q * c->ms.n + k];
        json_object_set_new(o, c->ms.v[k].name,
                            eval_measure_is_count(&c->ms.v[k])
                                ? json_integer((json_int_t)v) : json_real(v));
    }
    return o;
}

/* A new JSON object describing one run's evaluation. */
static json_t *json_run(const struct eval_cli *c, const char *path,
                        const struct trec_run *run, const struct eval_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "runid", json_string(run->tag));
    json_object_set_new(o, "num_q", json_integer((json_int_t)r->n_queries));
    json_object_set_new(o, "all", json_values(c, r, -1));
    if (c->per_query) {
        json_t *qs = json_object();
        for (size_t q = 0; q < r->n_queries; q++)
            json_object_set_new(qs, r->qids[q], json_values(c, r, (long)q));
        json_object_set_new(o, "queries", qs);
    }
    json_t *missing = json_array();
    for (size_t i = 0; i < r->n_unretrieved; i++)
        json_array_append_new(missing, json_string(r->unretrieved[i]));
    json_object_set_new(o, "judged_without_results", missing);
    return o;
}

static const char *const correction_names[] = {"none", "bonferroni", "holm"};

/* Tests every later run against the first for every measure: a new array
 * (n_runs - 1, n_measures) row-major, p-values adjusted per measure by
 * c->correction; raw (the same shape, new) keeps them unadjusted. */
static struct eval_comparison *compare_all(const struct eval_cli *c,
                                           const struct eval_result *res,
                                           size_t n_runs,
                                           struct eval_comparison **raw)
{
    size_t n_cmp = n_runs - 1, n_m = c->ms.n;
    struct eval_comparison *adj = xcalloc(n_cmp * n_m + 1, sizeof *adj);
    *raw = xcalloc(n_cmp * n_m + 1, sizeof **raw);
    double *p = xcalloc(n_cmp + 1, sizeof *p), *p_t = xcalloc(n_cmp + 1, sizeof *p_t);
    for (size_t k = 0; k < n_m; k++) {
        for (size_t i = 0; i < n_cmp; i++) {
            struct eval_comparison *x = &(*raw)[i * n_m + k];
            eval_compare(&res[0], &res[i + 1], k, c->n_perm, c->seed, x);
            p[i] = x->p;
            p_t[i] = x->p_t;
        }
        eval_correct(p, n_cmp, c->correction);
        eval_correct(p_t, n_cmp, c->correction);
        for (size_t i = 0; i < n_cmp; i++) {
            adj[i * n_m + k] = (*raw)[i * n_m + k];
            adj[i * n_m + k].p = p[i];
            adj[i * n_m + k].p_t = p_t[i];
        }
    }
    free(p);
    free(p_t);
    return adj;
}

/* Reports run b against baseline a for every measure from cmp and raw
 * (n_measures each, from compare_all): text lines, or a new JSON object
 * when as_json. */
static json_t *compare(const struct eval_cli *c, const char *path_a,
                       const char *path_b, const struct eval_comparison *cmp,
                       const struct eval_comparison *raw, size_t n_cmp,
                       bool as_json)
{
    bool corrected = c->correction != EVAL_CORRECT_NONE;
    json_t *o = NULL, *measures = NULL;
    if (as_json) {
        o = json_object();
        json_object_set_new(o, "baseline", json_string(path_a));
        json_object_set_new(o, "run", json_string(path_b));
        json_object_set_new(o, "num_q", json_integer((json_int_t)cmp[0].n_queries));
        json_object_set_new(o, "permutations", json_integer((json_int_t)c->n_perm));
        json_object_set_new(o, "seed", json_integer((json_int_t)c->seed));
        json_object_set_new(o, "correction",
                            json_string(correction_names[c->correction]));
        json_object_set_new(o, "comparisons", json_integer((json_int_t)n_cmp));
        measures = json_object();
        json_object_set_new(o, "measures", measures);
    } else {
        fprintf(c->out, "\n# %s vs %s: %zu paired queries, two-sided "
                "randomization test, %zu permutations, seed %llu; paired "
                "t-test", path_b, path_a, cmp[0].n_queries, c->n_perm,
                (unsigned long long)c->seed);
        if (corrected)
            fprintf(c->out, "; p-values %s-corrected over %zu comparison%s",
                    c->correction == EVAL_CORRECT_HOLM ? "Holm" : "Bonferroni",
                    n_cmp, n_cmp == 1 ? "" : "s");
        fputc('\n', c->out);
    }
    for (size_t k = 0; k < c->ms.n; k++) {
        if (as_json) {
            json_t *m = json_object();
            json_object_set_new(m, "baseline", json_real(cmp[k].mean_a));
            json_object_set_new(m, "run", json_real(cmp[k].mean_b));
            json_object_set_new(m, "diff", json_real(cmp[k].diff));
            json_object_set_new(m, "p", json_real(cmp[k].p));
            /* JSON has no infinity: an infinite t is null. */
            json_object_set_new(m, "t", isfinite(cmp[k].t) ? json_real(cmp[k].t)
                                                           : json_null());
            json_object_set_new(m, "p_t", json_real(cmp[k].p_t));
            if (corrected) {
                json_object_set_new(m, "p_uncorrected", json_real(raw[k].p));
                json_object_set_new(m, "p_t_uncorrected", json_real(raw[k].p_t));
            }
            json_object_set_new(measures, c->ms.v[k].name, m);
        } else {
            fprintf(c->out, "%-22s\tdiff\t%+.4f\tp\t%6.4f\tt\t%+.4f\tp_t\t%6.4f\n",
                    c->ms.v[k].name, cmp[k].diff, cmp[k].p, cmp[k].t, cmp[k].p_t);
        }
    }
    return o;
}

/* Stderr notes about queries the run and qrels do not share. */
static void warn_coverage(const struct eval_cli *c, const char *path,
                          const struct eval_result *r)
{
    if (c->quiet)
        return;
    if (r->n_unretrieved) {
        fprintf(c->err, "rerank: warning: %s: %zu judged %s no results (%s):",
                path, r->n_unretrieved,
                r->n_unretrieved == 1 ? "query has" : "queries have",
                c->opts.complete ? "scored 0 under -c" : "left out; -c scores them 0");
        for (size_t i = 0; i < r->n_unretrieved && i < 10; i++)
            fprintf(c->err, " %s", r->unretrieved[i]);
        fputs(r->n_unretrieved > 10 ? " ...\n" : "\n", c->err);
    }
    if (r->n_unjudged)
        fprintf(c->err, "rerank: warning: %s: %zu %s no judgements (left out)\n",
                path, r->n_unjudged, r->n_unjudged == 1 ? "query has" : "queries have");
}

/* How a run or qrels argument is named in output and messages. */
static const char *display_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

int eval_cli_run(int argc, char **argv, FILE *out, FILE *errf)
{
    struct eval_cli c = {
        .opts = {.rel_level = 1},
        .n_perm = EVAL_PERMUTATIONS,
        .out = out,
        .err = errf,
    };
    struct err e = {0};
    int first = parse_args(&c, argc, argv, &e);
    if (first <= 0) {
        if (first < 0)
            fprintf(errf, "rerank: %s\nTry 'rerank eval --help' for more information.\n",
                    e.msg);
        else
            fputs(usage, out);
        eval_measures_free(&c.ms);
        free(c.thresholds);
        return first < 0 ? ERR_USAGE : 0;
    }
    size_t n_runs = (size_t)(argc - first);
    const char **names = xcalloc(n_runs, sizeof *names);
    for (size_t i = 0; i < n_runs; i++)
        names[i] = display_name(argv[first + (int)i]);
    const char *qrels_name = display_name(c.qrels_path);
    struct trec_qrels qrels;
    struct trec_run *runs = xcalloc(n_runs, sizeof *runs);
    struct eval_result *res = xcalloc(n_runs, sizeof *res);
    int status = 0;
    if (trec_qrels_read(&qrels, c.qrels_path, &e)) {
        fprintf(errf, "rerank: %s\n", e.msg);
        status = e.kind ? e.kind : ERR_INPUT;
    } else if (!qrels.n_topics) {
        fprintf(errf, "rerank: %s: no judgements\n", qrels_name);
        status = ERR_INPUT;
    }
    for (size_t i = 0; i < n_runs && !status; i++) {
        if (trec_run_read(&runs[i], argv[first + (int)i], &e)) {
            fprintf(errf, "rerank: %s\n", e.msg);
            status = e.kind ? e.kind : ERR_INPUT;
            break;
        }
        eval_run(&runs[i], &qrels, c.ms.v, c.ms.n, &c.opts, &res[i]);
        warn_coverage(&c, names[i], &res[i]);
        if (!res[i].n_queries) {
            fprintf(errf, "rerank: %s: no query has both results and "
                    "judgements in %s\n", names[i], qrels_name);
            status = ERR_INPUT;
        }
    }
    if (!status) {
        errno = 0;  /* a failed write leaves EPIPE or its cause here */
        json_t *doc = NULL, *jruns = NULL, *jcmp = NULL;
        if (c.json) {
            doc = json_object();
            jruns = json_array();
            jcmp = json_array();
            json_object_set_new(doc, "runs", jruns);
            json_object_set_new(doc, "comparisons", jcmp);
        }
        for (size_t i = 0; i < n_runs; i++) {
            if (c.json)
                json_array_append_new(jruns, json_run(&c, names[i], &runs[i], &res[i]));
            else
                print_text(&c, names[i], &runs[i], &res[i], n_runs > 1);
            if (!c.json && i + 1 < n_runs)
                fputc('\n', out);
        }
        if (n_runs > 1) {
            struct eval_comparison *raw, *adj = compare_all(&c, res, n_runs, &raw);
            for (size_t i = 1; i < n_runs; i++) {
                json_t *o = compare(&c, names[0], names[i],
                                    &adj[(i - 1) * c.ms.n], &raw[(i - 1) * c.ms.n],
                                    n_runs - 1, c.json);
                if (o)
                    json_array_append_new(jcmp, o);
            }
            free(adj);
            free(raw);
        }
        if (doc) {
            json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', out);
            json_decref(doc);
        }
        bool write_failed = fflush(out) != 0 || ferror(out);
        if (write_failed && errno == EPIPE) {
            /* The reader went away (`rerank eval ... | head`): end quietly. */
        } else if (write_failed) {
            fprintf(errf, "rerank: write error: %s\n", strerror(errno ? errno : EIO));
            status = ERR_IO;
        } else {
            for (size_t t = 0; t < c.n_thresholds; t++) {
                long k = eval_measures_find(&c.ms, c.thresholds[t].name);
                for (size_t i = 0; i < n_runs; i++)
                    if (res[i].means[k] < c.thresholds[t].min) {
                        fprintf(errf, "rerank: %s: %s %.4f is below %g\n", names[i],
                                c.thresholds[t].name, res[i].means[k], c.thresholds[t].min);
                        status = ERR_THRESHOLD;
                    }
            }
        }
    }
    for (size_t i = 0; i < n_runs; i++) {
        eval_result_free(&res[i]);
        trec_run_free(&runs[i]);
    }
    free(res);
    free(runs);
    free(names);
    trec_qrels_free(&qrels);
    eval_measures_free(&c.ms);
    free(c.thresholds);
    return status;
}

int eval_main(int argc, char **argv)
{
    return eval_cli_run(argc, argv, stdout, stderr);
}
