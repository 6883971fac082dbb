/* fuse_cli.c — `rerank fuse [options] RUN...`: reads TREC runs, fuses them
 * (fuse.c) and writes the fused run as TREC lines, trec_eval order, ranks
 * from 1.  Options may follow the runs; "-" reads a run from stdin. */
#include "trec/fuse_cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trec/fuse.h"
#include "trec/trec.h"

static const char fuse_usage[] =
"Usage: rerank fuse [OPTION]... RUN...\n"
"Fuse TREC runs (qid Q0 docid rank score tag) into one, written to standard\n"
"output in trec_eval order (score descending, ties by docid descending).\n"
"\n"
"      --method NAME   rrf (default): sum of 1/(k + rank); combsum: sum of\n"
"                      the normalised scores; combmnz: combsum times the\n"
"                      number of runs holding the document\n"
"      --rrf-k K       the k of rrf (default 60)\n"
"      --norm NAME     combsum/combmnz: minmax (default), zscore or none,\n"
"                      per run and query\n"
"  -k, --top-k N       keep the best N of each query\n"
"      --run-tag TAG   last column (default fused)\n"
"  -h, --help          show this help\n"
"\n"
"Example: rerank fuse bm25.run dense.run > hybrid.run\n";

/* Parses a number: 0 or -1. */
static int number(const char *s, double min, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min)
        return -1;
    *out = v;
    return 0;
}

int fuse_cli_run(int argc, char **argv, FILE *out, FILE *errf)
{
    static const struct option longopts[] = {
        {"method", required_argument, NULL, 'M'},
        {"rrf-k", required_argument, NULL, 'K'},
        {"norm", required_argument, NULL, 'N'},
        {"top-k", required_argument, NULL, 'k'},
        {"run-tag", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fuse_options fo = {FUSE_RRF, FUSE_NORM_MINMAX, 60};
    bool norm_given = false, k_given = false;
    double top_k = 0;
    const char *tag = "fused";
    struct err e = {0};
    char **runs_arg = xcalloc((size_t)argc, sizeof *runs_arg);
    size_t n_runs = 0;
    opterr = 0;
    optind = 1;
    int status = 0;
    while (optind < argc && !status) {
        int c = getopt_long(argc, argv, "-:k:h", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 1:
            runs_arg[n_runs++] = optarg;
            break;
        case 'M':
            if (fuse_method_parse(optarg, &fo.method))
                status = err_set(&e, "--method must be rrf, combsum or combmnz, not '%s'",
                                 optarg);
            break;
        case 'K':
            k_given = true;
            if (number(optarg, 0, &fo.rrf_k))
                status = err_set(&e, "--rrf-k needs a number >= 0, not '%s'", optarg);
            break;
        case 'N':
            norm_given = true;
            if (fuse_norm_parse(optarg, &fo.norm))
                status = err_set(&e, "--norm must be none, minmax or zscore, not '%s'", optarg);
            break;
        case 'k':
            if (number(optarg, 1, &top_k) || top_k != floor(top_k))
                status = err_set(&e, "--top-k needs a positive integer, not '%s'", optarg);
            break;
        case 'T':
            if (!*optarg || strpbrk(optarg, " \t\n\r\v\f"))
                status = err_set(&e, "--run-tag must be one word, not '%s'", optarg);
            tag = optarg;
            break;
        case 'h':
            fputs(fuse_usage, out);
            free(runs_arg);
            return fflush(out) == 0 ? 0 : ERR_IO;
        case ':':
            status = err_set(&e, "option '%s' needs a value", argv[optind - 1]);
            break;
        default:
            status = err_set(&e, "unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    if (!status && n_runs == 0)
        status = err_set(&e, "rerank fuse needs at least one RUN");
    if (!status && fo.method == FUSE_RRF && norm_given)
        status = err_set(&e, "--norm applies to combsum and combmnz, not to rrf (which "
                         "uses ranks)");
    if (!status && fo.method != FUSE_RRF && k_given)
        status = err_set(&e, "--rrf-k applies only to --method rrf");
    if (status) {
        fprintf(errf, "rerank: %s\nTry 'rerank fuse --help' for more information.\n", e.msg);
        free(runs_arg);
        return ERR_USAGE;
    }
    struct trec_run *runs = xcalloc(n_runs, sizeof *runs);
    int kind = 0;
    size_t stdin_uses = 0;
    for (size_t i = 0; i < n_runs && !kind; i++) {
        if (strcmp(runs_arg[i], "-") == 0 && ++stdin_uses > 1) {
            fprintf(errf, "rerank: standard input (-) can be read only once\n");
            kind = ERR_USAGE;
        } else if (trec_run_read(&runs[i], runs_arg[i], &e) < 0) {
            fprintf(errf, "rerank: %s\n", e.msg);
            kind = e.kind ? (int)e.kind : ERR_INPUT;
        }
    }
    if (!kind) {
        struct trec_run fused;
        fuse_runs(runs, n_runs, &fo, &fused);
        struct buf b = {0};
        for (size_t t = 0; t < fused.n_topics; t++) {
            const struct trec_topic_run *tr = &fused.topics[t];
            size_t n = top_k > 0 && (size_t)top_k < tr->n_docs ? (size_t)top_k : tr->n_docs;
            for (size_t i = 0; i < n; i++) {
                char num[32];
                format_score(num, tr->docs[i].score);
                buf_printf(&b, "%s Q0 %s %zu %s %s\n", tr->qid, tr->docs[i].docid, i + 1, num,
                           tag);
            }
            errno = 0;
            if ((b.len && fwrite(b.data, 1, b.len, out) != b.len) || fflush(out) != 0) {
                if (errno != EPIPE) {
                    fprintf(errf, "rerank: write error: %s\n", strerror(errno ? errno : EIO));
                    kind = ERR_IO;
                }
                break;
            }
            b.len = 0;
        }
        buf_free(&b);
        trec_run_free(&fused);
    }
    for (size_t i = 0; i < n_runs; i++)
        trec_run_free(&runs[i]);
    free(runs);
    free(runs_arg);
    return kind;
}

int fuse_main(int argc, char **argv)
{
    return fuse_cli_run(argc, argv, stdout, stderr);
}
