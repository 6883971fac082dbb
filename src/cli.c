/* cli.c — the option table, defaults, value validation and --help text. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char cli_usage[] =
"Usage: rerank [OPTION]... [FILE]...\n"
"Score candidate documents against their query and print them best first.\n"
"Reads JSON Lines (or plain text lines with --query) from the FILEs, or from\n"
"standard input when there is none or FILE is -.\n"
"\n"
"Input:\n"
"  -q, --query TEXT        the query for plain-text lines; also fills in a\n"
"                          missing \"query\" on JSON lines\n"
"      --input FORMAT      jsonl or lines (default: detected per file)\n"
"      --max-line-bytes N  longest accepted input line (default 16777216);\n"
"                          K, M and G suffixes allowed\n"
"      --skip-invalid      report and skip bad lines instead of stopping\n"
"      --shard K/N         only the groups whose qid (or query) hashes to\n"
"                          shard K of N (0 <= K < N)\n"
"\n"
"Scoring:\n"
"  -m, --method NAME       bm25 (default), identity or random\n"
"      --bm25-k1 X         BM25 term-frequency saturation (default 0.9)\n"
"      --bm25-b X          BM25 length normalisation (default 0.4)\n"
"      --seed N            seed of --method random (default 0)\n"
"\n"
"Output:\n"
"  -k, --top-k N           keep the best N candidates of each group\n"
"      --format FORMAT     jsonl (default), tsv or trec\n"
"      --no-text           leave the document text out of the output\n"
"      --run-tag TAG       last column of --format trec (default rerank)\n"
"\n"
"Messages:\n"
"      --quiet             no progress display and no warnings\n"
"      --verbose           more detail on stderr\n"
"      --keep-going        write a group whose scoring failed with an\n"
"                          \"error\" field and go on\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 success; 1 bad input (every group before it was written);\n"
"2 usage error; 3 bad lines were skipped (--skip-invalid); 4 the model could\n"
"not be loaded; 5 scoring a group failed (groups before it were written);\n"
"6 some groups failed (--keep-going); 7 an eval threshold was missed;\n"
"8 an input could not be read or the output could not be written.\n"
"\n"
"Full documentation: man rerank\n";

enum {
    OPT_INPUT = 256, OPT_MAX_LINE, OPT_SKIP_INVALID, OPT_SHARD, OPT_BM25_K1,
    OPT_BM25_B, OPT_SEED, OPT_FORMAT, OPT_NO_TEXT, OPT_RUN_TAG, OPT_QUIET,
    OPT_VERBOSE, OPT_KEEP_GOING, OPT_VERSION,
};

static const struct option long_options[] = {
    {"query", required_argument, NULL, 'q'},
    {"input", required_argument, NULL, OPT_INPUT},
    {"max-line-bytes", required_argument, NULL, OPT_MAX_LINE},
    {"skip-invalid", no_argument, NULL, OPT_SKIP_INVALID},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"method", required_argument, NULL, 'm'},
    {"bm25-k1", required_argument, NULL, OPT_BM25_K1},
    {"bm25-b", required_argument, NULL, OPT_BM25_B},
    {"seed", required_argument, NULL, OPT_SEED},
    {"top-k", required_argument, NULL, 'k'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"no-text", no_argument, NULL, OPT_NO_TEXT},
    {"run-tag", required_argument, NULL, OPT_RUN_TAG},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Parses a whole decimal integer in [min, max]. */
static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

/* A byte count with an optional K, M or G (binary) suffix. */
static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (*end || v == 0 || v > (SIZE_MAX >> 1) >> shift)
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

static void defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    o->in.mode = INPUT_AUTO;
    o->in.max_line = 16u << 20;
    o->format = FORMAT_JSONL;
    o->run_tag = "rerank";
    o->method = METHOD_BM25;
    o->bm25 = (struct bm25_params){0.9, 0.4};
}

int cli_parse(int argc, char **argv, struct options *o, struct err *e)
{
    defaults(o);
    opterr = 0;
    optind = 1;
    int c;
    long v;
    double d;
    while ((c = getopt_long(argc, argv, ":q:m:k:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'q':
            o->in.query = optarg;
            break;
        case OPT_INPUT:
            if (strcmp(optarg, "jsonl") == 0)
                o->in.mode = INPUT_JSONL;
            else if (strcmp(optarg, "lines") == 0)
                o->in.mode = INPUT_LINES;
            else
                return err_set(e, "--input must be jsonl or lines, not '%s'", optarg);
            break;
        case OPT_MAX_LINE:
            if (parse_size(optarg, &o->in.max_line))
                return err_set(e, "--max-line-bytes needs a positive size, not '%s'", optarg);
            break;
        case OPT_SKIP_INVALID:
            o->in.skip_invalid = true;
            break;
        case OPT_SHARD: {
            char *slash = strchr(optarg, '/');
            long k, n;
            if (!slash || (*slash = 0, parse_long(optarg, 0, LONG_MAX, &k)) ||
                parse_long(slash + 1, 1, LONG_MAX, &n) || k >= n) {
                if (slash)
                    *slash = '/';
                return err_set(e, "--shard needs K/N with 0 <= K < N, not '%s'", optarg);
            }
            *slash = '/';
            o->shard_k = k;
            o->shard_n = n;
            break;
        }
        case 'm':
            if (strcmp(optarg, "bm25") == 0)
                o->method = METHOD_BM25;
            else if (strcmp(optarg, "identity") == 0)
                o->method = METHOD_IDENTITY;
            else if (strcmp(optarg, "random") == 0)
                o->method = METHOD_RANDOM;
            else
                return err_set(e, "unknown --method '%s' (bm25, identity, random)", optarg);
            break;
        case OPT_BM25_K1:
            if (parse_double(optarg, 0, 1e6, &d))
                return err_set(e, "--bm25-k1 needs a number >= 0, not '%s'", optarg);
            o->bm25.k1 = d;
            break;
        case OPT_BM25_B:
            if (parse_double(optarg, 0, 1, &d))
                return err_set(e, "--bm25-b needs a number in [0, 1], not '%s'", optarg);
            o->bm25.b = d;
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || *optarg == '-')
                return err_set(e, "--seed needs a non-negative integer, not '%s'", optarg);
            break;
        }
        case 'k':
            if (parse_long(optarg, 1, LONG_MAX, &v))
                return err_set(e, "--top-k needs a positive integer, not '%s'", optarg);
            o->top_k = v;
            break;
        case OPT_FORMAT:
            if (output_format_parse(optarg, &o->format))
                return err_set(e, "--format must be jsonl, tsv or trec, not '%s'", optarg);
            break;
        case OPT_NO_TEXT:
            o->no_text = true;
            break;
        case OPT_RUN_TAG:
            if (!*optarg || strpbrk(optarg, " \t\n\r\v\f"))
                return err_set(e, "--run-tag must be one word, not '%s'", optarg);
            o->run_tag = optarg;
            break;
        case OPT_QUIET:
            o->quiet = true;
            break;
        case OPT_VERBOSE:
            o->verbose = true;
            break;
        case OPT_KEEP_GOING:
            o->keep_going = true;
            break;
        case 'h':
            o->help = true;
            return 0;
        case OPT_VERSION:
            o->version = true;
            return 0;
        case ':':
            return err_set(e, "option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt)
                return err_set(e, "unknown option '-%c'", optopt);
            return err_set(e, "unknown option '%s'", argv[optind - 1]);
        }
    }
    o->files = argv + optind;
    o->n_files = argc - optind;
    if (o->in.mode == INPUT_LINES && !o->in.query)
        return err_set(e, "--input lines needs --query");
    return 0;
}
