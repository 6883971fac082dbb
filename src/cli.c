/* cli.c — the option table, defaults, value validation and --help text. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char cli_usage[] =
"Usage: rerank [OPTION]... [FILE]...\n"
"Score candidate documents against their query and print them best first.\n"
"Reads JSON Lines (or plain text lines with --query) from the FILEs, or from\n"
"standard input when there is none or FILE is -.  An option that does not\n"
"apply to the chosen input or scorer is an error.\n"
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
"      --text-field NAMES  score the comma-separated JSON fields NAMES,\n"
"                          as \"name: value\" lines (Cohere's rank_fields),\n"
"                          instead of the document text\n"
"\n"
"TREC batch input (instead of FILEs):\n"
"      --run FILE          a TREC run: qid Q0 docid rank score tag; several\n"
"                          --run are fused by reciprocal rank fusion (k 60)\n"
"                          before --depth\n"
"      --queries FILE      query texts: TSV qid<TAB>text, JSONL, or TREC topics\n"
"      --docs FILE         the collection: TSV docid<TAB>text or JSONL\n"
"      --depth N           rerank the top N of each query (default 100); the\n"
"                          rest follow in their original order\n"
"      --drop-tail         leave out the documents below --depth\n"
"      --topic-field NAME  title (default), desc or narr of TREC topics\n"
"\n"
"Scoring:\n"
"  -m, --method NAME       cross-encoder (default), bm25, identity or random\n"
"      --bm25-k1 X         BM25 term-frequency saturation (default 0.9)\n"
"      --bm25-b X          BM25 length normalisation (default 0.4)\n"
"      --seed N            seed of --method random (default 0)\n"
"      --skip-margin X     keep a group's first-stage order, unscored, when\n"
"                          its top first-stage score (JSON \"score\", or the\n"
"                          --run score) leads the second by X or more\n"
"\n"
"Cross-encoder:\n"
"      --model NAME        model directory, or ORG/NAME[@REVISION] from the\n"
"                          Hugging Face cache (downloaded when missing);\n"
"                          default cross-encoder/ms-marco-MiniLM-L-6-v2;\n"
"                          families: bert (BertForSequenceClassification:\n"
"                          ms-marco MiniLM/TinyBERT, BERT rerankers) and\n"
"                          xlm-roberta (XLMRobertaForSequenceClassification:\n"
"                          BAAI bge-reranker-base, -large, -v2-m3) and\n"
"                          modernbert (ModernBertForSequenceClassification\n"
"                          and the sentence-transformers layout: Ettin\n"
"                          rerankers, gte-reranker-modernbert-base) and\n"
"                          qwen (LLM rerankers: Qwen3-Reranker-0.6B/4B/8B,\n"
"                          score P(yes), and its seq-cls conversion;\n"
"                          mxbai-rerank-base/large-v2, logit(1) - logit(0)),\n"
"                          t5 (monoT5: castorini/monot5-base-msmarco@refs/pr/1,\n"
"                          score P(true)), deberta-v2 (DeBERTa-v3:\n"
"                          mixedbread-ai/mxbai-rerank-base-v1) and\n"
"                          jina-xlm-roberta (jina-reranker-v2-base-\n"
"                          multilingual);\n"
"                          a ColBERT directory (Stanford HF_ColBERT or\n"
"                          PyLate; BERT, XLM-R or ModernBERT base) scores by\n"
"                          MaxSim: sum over query tokens of the best\n"
"                          document token similarity\n"
"      --max-length N      tokens per pair (default: min(512, the model's))\n"
"                          (ColBERT: tokens per document, default the\n"
"                          model's doc_maxlen)\n"
"      --activation NAME   auto (default: what sentence-transformers'\n"
"                          CrossEncoder.predict applies: the model config's\n"
"                          activation, else sigmoid for one label and none\n"
"                          for several), none (the raw logit), sigmoid, or\n"
"                          softmax (over the labels)\n"
"      --label N           label whose logit is the score, for models with\n"
"                          several labels (default: the last)\n"
"  -t, --threads N         threads (default: all cores)\n"
"      --quantize MODE     fp32 (default) or int8: dense layers on int8\n"
"                          weights (per channel) and activations (per token),\n"
"                          about 2x faster with VNNI; logits move by a few\n"
"                          hundredths\n"
"      --long MODE         first (default): truncate long documents;\n"
"                          max: score overlapping windows, keep the best\n"
"      --stride N          tokens shared by consecutive windows of --long max\n"
"      --tokenize          print each pair's token ids instead of scoring\n"
"                          (ColBERT: query_ids, doc_ids and doc_mask)\n"
"      --instruction TEXT  the task an LLM reranker judges by (Qwen3-Reranker:\n"
"                          default \"Given a web search query, retrieve\n"
"                          relevant passages that answer the query\";\n"
"                          mxbai-rerank-v2: none by default)\n"
"      --t5 RECIPE         a T5 model's input and score: mono (default,\n"
"                          monoT5: P(true)) or rank (RankT5: the logit of\n"
"                          <extra_id_10>, no Relevant: suffix)\n"
"\n"
"Remote rerank APIs:\n"
"      --api NAME          cohere, cohere-v2, jina, voyage, mixedbread,\n"
"                          together, pinecone or tei (keys from the environment)\n"
"      --api-url URL       endpoint to post to (self-hosted servers, proxies)\n"
"      --api-model MODEL   the provider's model (default: the provider's)\n"
"      --api-batch N       documents per request (default: provider's limit)\n"
"      --api-concurrency N requests in flight at once (default 4)\n"
"      --timeout SECONDS   limit for each attempt of a request (default 60)\n"
"      --retries N         retries of transient failures (default 3)\n"
"      --cacert FILE       trust the CA certificates in FILE (PEM)\n"
"\n"
"LLM rerankers (OpenAI-compatible chat completions):\n"
"      --llm MODE          listwise (RankGPT sliding window) or pointwise\n"
"                          (yes/no log-probabilities)\n"
"      --llm-url URL       endpoint (default the OpenAI API)\n"
"      --llm-model NAME    model (default gpt-4o-mini at OpenAI)\n"
"      --window N          listwise: passages per request (default 20)\n"
"      --step N            listwise: window moves (default 10, or window/2)\n"
"      --passage-words N   passages cut to N words (default 300)\n"
"      --cascade N         score with the first scorer (cross-encoder, --model,\n"
"                          --api or --method), then the LLM (or --pairwise)\n"
"                          on its top N only\n"
"      --dry-run           send nothing and write no ranking; report the\n"
"                          requests and token estimates on stderr\n"
"      --pairwise MODEL    duoT5 pairwise reranking (castorini/duot5-base-\n"
"                          msmarco@refs/pr/1): every ordered pair of a group,\n"
"                          N*(N-1) encoder passes, so use it with --cascade N\n"
"\n"
"Score cache:\n"
"      --cache FILE        reuse the scores stored in FILE (SQLite; created\n"
"                          when missing) and store new ones; keyed by model,\n"
"                          scoring options, query and document text; for the\n"
"                          cross-encoder (ColBERT too, whose document\n"
"                          vectors FILE also keeps), --api and --llm pointwise\n"
"      --cache-readonly    read --cache FILE but never write it\n"
"\n"
"Output:\n"
"  -k, --top-k N           keep the best N candidates of each group\n"
"      --min-score X       leave out candidates scoring below X (ranks\n"
"                          count what is kept); with --run, needs --drop-tail\n"
"  -o, --output FILE       write to FILE, replaced only when the run ends\n"
"                          (a failed run leaves it as it was)\n"
"      --format FORMAT     jsonl (default), tsv or trec\n"
"      --no-text           leave the document text out of the output\n"
"      --run-tag TAG       last column of --format trec (default rerank)\n"
"\n"
"Messages:\n"
"      --quiet             no progress display and no warnings (errors are\n"
"                          still reported)\n"
"      --verbose           more detail on stderr\n"
"      --keep-going        write a group whose scoring failed with an\n"
"                          \"error\" field and go on\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 success; 1 bad input (every group before it was written);\n"
"2 usage error (also an option that does not apply); 3 bad lines were\n"
"skipped (--skip-invalid); 4 the model (or the --cache file) could not be\n"
"loaded; 5 scoring a group failed (groups before it were written); 6 some\n"
"groups failed\n"
"(--keep-going); 7 an eval threshold was missed; 8 an input file could not\n"
"be opened or read, or the output could not be written.  rerank eval exits\n"
"with the same statuses.\n"
"\n"
"Evaluation: rerank eval --qrels QRELS RUN... (see rerank eval --help).\n"
"Fusion: rerank fuse [--method rrf|combsum|combmnz] RUN... (see rerank fuse\n"
"--help).  Models: rerank models [--json] lists the Hugging Face cache's\n"
"models and whether rerank can run them.\n"
"Full documentation: man rerank\n";

enum {
    OPT_INPUT = 256, OPT_MAX_LINE, OPT_SKIP_INVALID, OPT_SHARD, OPT_BM25_K1,
    OPT_BM25_B, OPT_SEED, OPT_FORMAT, OPT_NO_TEXT, OPT_RUN_TAG, OPT_QUIET,
    OPT_VERBOSE, OPT_KEEP_GOING, OPT_VERSION, OPT_MODEL, OPT_MAX_LENGTH,
    OPT_ACTIVATION, OPT_LABEL, OPT_LONG, OPT_STRIDE, OPT_TOKENIZE, OPT_API,
    OPT_API_URL, OPT_API_MODEL, OPT_API_BATCH, OPT_API_CONCURRENCY,
    OPT_TIMEOUT, OPT_RETRIES, OPT_CACERT, OPT_RUN, OPT_QUERIES, OPT_DOCS,
    OPT_DEPTH, OPT_DROP_TAIL, OPT_TOPIC_FIELD, OPT_LLM, OPT_LLM_URL,
    OPT_LLM_MODEL, OPT_WINDOW, OPT_STEP, OPT_PASSAGE_WORDS, OPT_CASCADE,
    OPT_DRY_RUN, OPT_INSTRUCTION, OPT_MIN_SCORE, OPT_TEXT_FIELD, OPT_CACHE,
    OPT_CACHE_READONLY, OPT_SKIP_MARGIN, OPT_PAIRWISE, OPT_T5, OPT_QUANTIZE, OPT_END,
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
    {"min-score", required_argument, NULL, OPT_MIN_SCORE},
    {"output", required_argument, NULL, 'o'},
    {"text-field", required_argument, NULL, OPT_TEXT_FIELD},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"cache-readonly", no_argument, NULL, OPT_CACHE_READONLY},
    {"skip-margin", required_argument, NULL, OPT_SKIP_MARGIN},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"no-text", no_argument, NULL, OPT_NO_TEXT},
    {"run-tag", required_argument, NULL, OPT_RUN_TAG},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
    {"model", required_argument, NULL, OPT_MODEL},
    {"max-length", required_argument, NULL, OPT_MAX_LENGTH},
    {"activation", required_argument, NULL, OPT_ACTIVATION},
    {"label", required_argument, NULL, OPT_LABEL},
    {"threads", required_argument, NULL, 't'},
    {"quantize", required_argument, NULL, OPT_QUANTIZE},
    {"long", required_argument, NULL, OPT_LONG},
    {"stride", required_argument, NULL, OPT_STRIDE},
    {"instruction", required_argument, NULL, OPT_INSTRUCTION},
    {"t5", required_argument, NULL, OPT_T5},
    {"tokenize", no_argument, NULL, OPT_TOKENIZE},
    {"api", required_argument, NULL, OPT_API},
    {"api-url", required_argument, NULL, OPT_API_URL},
    {"api-model", required_argument, NULL, OPT_API_MODEL},
    {"api-batch", required_argument, NULL, OPT_API_BATCH},
    {"api-concurrency", required_argument, NULL, OPT_API_CONCURRENCY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"run", required_argument, NULL, OPT_RUN},
    {"queries", required_argument, NULL, OPT_QUERIES},
    {"docs", required_argument, NULL, OPT_DOCS},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"drop-tail", no_argument, NULL, OPT_DROP_TAIL},
    {"topic-field", required_argument, NULL, OPT_TOPIC_FIELD},
    {"llm", required_argument, NULL, OPT_LLM},
    {"llm-url", required_argument, NULL, OPT_LLM_URL},
    {"llm-model", required_argument, NULL, OPT_LLM_MODEL},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"step", required_argument, NULL, OPT_STEP},
    {"passage-words", required_argument, NULL, OPT_PASSAGE_WORDS},
    {"cascade", required_argument, NULL, OPT_CASCADE},
    {"pairwise", required_argument, NULL, OPT_PAIRWISE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
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
    o->method = METHOD_DEFAULT;
    o->bm25 = (struct bm25_params){0.9, 0.4};
    o->activation = "auto";
    o->quantize = "fp32";
    o->label = -1;
    o->long_mode = "first";
    o->api_concurrency = 4;
    o->retries = 3;
    o->timeout = 60;
    o->depth = 100;
    o->topic_field = "title";
}

/* Where an option applies; given anywhere else it is a usage error. */
enum scope {
    SCOPE_FILES,          /* FILE input, not --run */
    SCOPE_RUN,            /* --run */
    SCOPE_CROSS_ENCODER,  /* the cross-encoder runs (alone or before --cascade) */
    SCOPE_LOCAL_MODEL,    /* a local model runs: the cross-encoder or --pairwise */
    SCOPE_LONG_MAX,       /* --long max */
    SCOPE_BM25,           /* -m bm25 */
    SCOPE_RANDOM,         /* -m random */
    SCOPE_API,            /* --api */
    SCOPE_NETWORK,        /* --api or --llm */
    SCOPE_LLM,            /* --llm */
    SCOPE_LISTWISE,       /* --llm listwise */
    SCOPE_TREC_FORMAT,    /* --format trec */
    SCOPE_SCORES,         /* scores are written (not --tokenize) */
    SCOPE_SECOND_STAGE,   /* --llm or --pairwise (what --cascade runs) */
    SCOPE_POINTWISE,      /* a pointwise scorer really scores: the cross-
                             encoder, --api or --llm pointwise, alone */
    SCOPE_CACHE,          /* --cache */
};

static const struct {
    int opt;
    const char *name;
    enum scope scope;
} scopes[] = {
    {'q', "--query", SCOPE_FILES},
    {OPT_INPUT, "--input", SCOPE_FILES},
    {OPT_MAX_LINE, "--max-line-bytes", SCOPE_FILES},
    {OPT_SKIP_INVALID, "--skip-invalid", SCOPE_FILES},
    {OPT_DEPTH, "--depth", SCOPE_RUN},
    {OPT_DROP_TAIL, "--drop-tail", SCOPE_RUN},
    {OPT_TOPIC_FIELD, "--topic-field", SCOPE_RUN},
    {OPT_BM25_K1, "--bm25-k1", SCOPE_BM25},
    {OPT_BM25_B, "--bm25-b", SCOPE_BM25},
    {OPT_SEED, "--seed", SCOPE_RANDOM},
    {OPT_MAX_LENGTH, "--max-length", SCOPE_LOCAL_MODEL},
    {OPT_ACTIVATION, "--activation", SCOPE_CROSS_ENCODER},
    {OPT_LABEL, "--label", SCOPE_CROSS_ENCODER},
    {'t', "--threads", SCOPE_LOCAL_MODEL},
    {OPT_QUANTIZE, "--quantize", SCOPE_CROSS_ENCODER},
    {OPT_LONG, "--long", SCOPE_CROSS_ENCODER},
    {OPT_STRIDE, "--stride", SCOPE_LONG_MAX},
    {OPT_TOKENIZE, "--tokenize", SCOPE_CROSS_ENCODER},
    {OPT_INSTRUCTION, "--instruction", SCOPE_CROSS_ENCODER},
    {OPT_API_BATCH, "--api-batch", SCOPE_API},
    {OPT_API_CONCURRENCY, "--api-concurrency", SCOPE_NETWORK},
    {OPT_TIMEOUT, "--timeout", SCOPE_NETWORK},
    {OPT_RETRIES, "--retries", SCOPE_NETWORK},
    {OPT_CACERT, "--cacert", SCOPE_NETWORK},
    {OPT_LLM_URL, "--llm-url", SCOPE_LLM},
    {OPT_LLM_MODEL, "--llm-model", SCOPE_LLM},
    {OPT_PASSAGE_WORDS, "--passage-words", SCOPE_LLM},
    {OPT_CASCADE, "--cascade", SCOPE_SECOND_STAGE},
    {OPT_T5, "--t5", SCOPE_CROSS_ENCODER},
    {OPT_DRY_RUN, "--dry-run", SCOPE_LLM},
    {OPT_WINDOW, "--window", SCOPE_LISTWISE},
    {OPT_STEP, "--step", SCOPE_LISTWISE},
    {OPT_RUN_TAG, "--run-tag", SCOPE_TREC_FORMAT},
    {'k', "--top-k", SCOPE_SCORES},
    {OPT_MIN_SCORE, "--min-score", SCOPE_SCORES},
    {OPT_TEXT_FIELD, "--text-field", SCOPE_FILES},
    {OPT_CACHE, "--cache", SCOPE_POINTWISE},
    {OPT_CACHE_READONLY, "--cache-readonly", SCOPE_CACHE},
    {OPT_SKIP_MARGIN, "--skip-margin", SCOPE_SCORES},
    {OPT_FORMAT, "--format", SCOPE_SCORES},
    {OPT_NO_TEXT, "--no-text", SCOPE_SCORES},
    {OPT_KEEP_GOING, "--keep-going", SCOPE_SCORES},
};

/* The scorer that runs when the cross-encoder does not, for messages. */
static const char *other_scorer(const struct options *o)
{
    if (o->llm && !o->cascade)
        return "--llm (without --cascade)";
    if (o->pairwise && !o->cascade)
        return "--pairwise (without --cascade)";
    switch (o->method) {
    case METHOD_BM25:
        return "-m bm25";
    case METHOD_IDENTITY:
        return "-m identity";
    case METHOD_RANDOM:
        return "-m random";
    case METHOD_API:
        return "--api";
    default:
        return "this scorer";
    }
}

/* Whether scope s holds for the settled options o; otherwise fills e for the
 * option named name and returns -1. */
static int scope_check(const struct options *o, enum scope s, const char *name,
                       struct err *e)
{
    bool cross_encoder = o->method == METHOD_CROSS_ENCODER &&
                         ((!o->llm && !o->pairwise) || o->cascade);
    switch (s) {
    case SCOPE_FILES:
        return o->run ? err_set(e, "%s applies to FILE input, not to --run "
                                "(queries come from --queries)", name) : 0;
    case SCOPE_RUN:
        return o->run ? 0 : err_set(e, "%s applies only to --run", name);
    case SCOPE_CROSS_ENCODER:
        return cross_encoder ? 0 : err_set(e, "%s applies to the cross-encoder, not to %s",
                                           name, other_scorer(o));
    case SCOPE_LOCAL_MODEL:
        return cross_encoder || o->pairwise
                   ? 0 : err_set(e, "%s applies to a local model (the cross-encoder or "
                                 "--pairwise), not to %s", name, other_scorer(o));
    case SCOPE_LONG_MAX:
        return strcmp(o->long_mode, "max") == 0 && cross_encoder
                   ? 0 : err_set(e, "%s needs --long max", name);
    case SCOPE_BM25:
        return o->method == METHOD_BM25 ? 0 : err_set(e, "%s needs -m bm25", name);
    case SCOPE_RANDOM:
        return o->method == METHOD_RANDOM ? 0 : err_set(e, "%s needs -m random", name);
    case SCOPE_API:
        return o->api ? 0 : err_set(e, "%s needs --api NAME", name);
    case SCOPE_NETWORK:
        return o->api || o->llm ? 0 : err_set(e, "%s needs --api or --llm", name);
    case SCOPE_LLM:
        return o->llm ? 0 : err_set(e, "%s needs --llm listwise|pointwise", name);
    case SCOPE_SECOND_STAGE:
        return o->llm || o->pairwise
                   ? 0 : err_set(e, "%s needs --llm listwise|pointwise or --pairwise MODEL", name);
    case SCOPE_LISTWISE:
        return o->llm && strcmp(o->llm, "listwise") == 0
                   ? 0 : err_set(e, "%s needs --llm listwise", name);
    case SCOPE_TREC_FORMAT:
        return o->format == FORMAT_TREC ? 0 : err_set(e, "%s needs --format trec", name);
    case SCOPE_SCORES:
        return o->tokenize ? err_set(e, "%s does not apply to --tokenize "
                                     "(which prints token ids, not scores)", name) : 0;
    case SCOPE_POINTWISE:
        if (o->tokenize || o->dry_run)
            return err_set(e, "%s does not apply to %s (nothing is scored)", name,
                           o->tokenize ? "--tokenize" : "--dry-run");
        if (o->cascade || o->pairwise || (o->llm && strcmp(o->llm, "pointwise") != 0) ||
            (!o->llm && o->method != METHOD_CROSS_ENCODER && o->method != METHOD_API))
            return err_set(e, "%s applies to scorers that score each pair alone (the "
                           "cross-encoder, --api, --llm pointwise), not to %s", name,
                           o->cascade ? "--cascade" : o->llm ? "--llm listwise"
                                                             : other_scorer(o));
        return 0;
    case SCOPE_CACHE:
        return o->cache ? 0 : err_set(e, "%s needs --cache FILE", name);
    }
    return 0;
}

/* Checks the options against each other and settles the method; given[c]
 * says whether option c was on the command line. */
static int cli_check(struct options *o, const bool *given, struct err *e)
{
    if (o->in.mode == INPUT_LINES && !o->in.query && !o->run)
        return err_set(e, "--input lines needs --query");
    if (o->in.mode == INPUT_LINES && o->in.text_fields)
        return err_set(e, "--text-field needs JSON Lines input, not --input lines");
    if (o->has_min_score && o->run && !o->drop_tail)
        return err_set(e, "--min-score with --run needs --drop-tail (the documents "
                       "below --depth are not scored)");
    bool trec = o->run || o->queries || o->docs;
    if (trec && !(o->run && o->queries && o->docs))
        return err_set(e, "--run, --queries and --docs go together");
    if (trec && o->n_files)
        return err_set(e, "--run reads no FILE arguments ('%s')", o->files[0]);
    if (o->api && o->model)
        return err_set(e, "--api and --model are two different scorers; choose one");
    if (o->api) {
        if (o->method != METHOD_DEFAULT)
            return err_set(e, "--api and --method are two different scorers; choose one");
        o->method = METHOD_API;
    } else if (o->api_url || o->api_model) {
        return err_set(e, "%s needs --api NAME (the wire format)",
                       o->api_url ? "--api-url" : "--api-model");
    }
    if (o->model && o->method == METHOD_DEFAULT)
        o->method = METHOD_CROSS_ENCODER;
    if (o->model && o->method != METHOD_CROSS_ENCODER)
        return err_set(e, "--model needs the cross-encoder, not --method %s",
                       o->method == METHOD_BM25 ? "bm25" :
                       o->method == METHOD_IDENTITY ? "identity" : "random");
    if (o->method == METHOD_DEFAULT)
        o->method = METHOD_CROSS_ENCODER;
    if (o->pairwise) {
        if (o->llm)
            return err_set(e, "--pairwise and --llm do not go together");
        if (o->tokenize)
            return err_set(e, "--tokenize and --pairwise do not go together");
        if (!o->cascade && (o->model || o->api || o->method_given))
            return err_set(e, "--pairwise replaces the scorer; use --cascade N to run it after %s",
                           o->model ? "--model" : o->api ? "--api" : "--method");
    }
    if (o->llm && o->tokenize)
        return err_set(e, "--tokenize and --llm do not go together");
    if (o->llm && !o->cascade && (o->model || o->api || o->method_given))
        return err_set(e, "--llm replaces the scorer; use --cascade N to run it after %s",
                       o->model ? "--model" : o->api ? "--api" : "--method");
    for (size_t i = 0; i < sizeof scopes / sizeof *scopes; i++)
        if (given[scopes[i].opt] && scope_check(o, scopes[i].scope, scopes[i].name, e) < 0)
            return -1;
    if (!o->llm)
        return 0;
    if (o->window && !o->step)
        o->step = o->window / 2 ? o->window / 2 : 1;
    if (o->step > (o->window ? o->window : 20))
        return err_set(e, "--step %ld is larger than the window (%ld)", o->step,
                       o->window ? o->window : 20L);
    return 0;
}

int cli_parse(int argc, char **argv, struct options *o, struct err *e)
{
    defaults(o);
    opterr = 0;
    optind = 1;
    int c;
    long v;
    double d;
    bool given[OPT_END] = {false};
    while ((c = getopt_long(argc, argv, ":q:m:k:t:o:h", long_options, NULL)) != -1) {
        if (c > 0 && c < OPT_END)
            given[c] = true;
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
            o->method_given = true;
            if (strcmp(optarg, "bm25") == 0)
                o->method = METHOD_BM25;
            else if (strcmp(optarg, "identity") == 0)
                o->method = METHOD_IDENTITY;
            else if (strcmp(optarg, "random") == 0)
                o->method = METHOD_RANDOM;
            else if (strcmp(optarg, "cross-encoder") == 0)
                o->method = METHOD_CROSS_ENCODER;
            else
                return err_set(e, "unknown --method '%s' (cross-encoder, bm25, identity, random)",
                               optarg);
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
        case OPT_MIN_SCORE:
            if (parse_double(optarg, -HUGE_VAL, HUGE_VAL, &o->min_score))
                return err_set(e, "--min-score needs a number, not '%s'", optarg);
            o->has_min_score = true;
            break;
        case 'o':
            if (!*optarg)
                return err_set(e, "-o needs a file name");
            o->output = optarg;
            break;
        case OPT_TEXT_FIELD:
            if (!*optarg || *optarg == ',' || strstr(optarg, ",,") ||
                optarg[strlen(optarg) - 1] == ',')
                return err_set(e, "--text-field needs NAME[,NAME...], not '%s'", optarg);
            o->in.text_fields = optarg;
            break;
        case OPT_CACHE:
            if (!*optarg)
                return err_set(e, "--cache needs a file name");
            o->cache = optarg;
            break;
        case OPT_CACHE_READONLY:
            o->cache_readonly = true;
            break;
        case OPT_SKIP_MARGIN:
            if (parse_double(optarg, 0, HUGE_VAL, &o->skip_margin))
                return err_set(e, "--skip-margin needs a number >= 0, not '%s'", optarg);
            o->has_skip_margin = true;
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
        case OPT_MODEL:
            o->model = optarg;
            break;
        case OPT_MAX_LENGTH:
            if (parse_long(optarg, 1, 1 << 20, &o->max_length))
                return err_set(e, "--max-length needs a positive integer, not '%s'", optarg);
            break;
        case OPT_ACTIVATION:
            if (strcmp(optarg, "auto") && strcmp(optarg, "none") &&
                strcmp(optarg, "sigmoid") && strcmp(optarg, "softmax"))
                return err_set(e, "--activation must be auto, none, sigmoid or softmax, not '%s'",
                               optarg);
            o->activation = optarg;
            break;
        case OPT_LABEL:
            if (parse_long(optarg, 0, INT_MAX, &o->label))
                return err_set(e, "--label needs a label number >= 0, not '%s'", optarg);
            break;
        case 't':
            if (parse_long(optarg, 1, 1024, &o->threads))
                return err_set(e, "--threads needs a number from 1 to 1024, not '%s'", optarg);
            break;
        case OPT_QUANTIZE:
            if (strcmp(optarg, "fp32") && strcmp(optarg, "int8"))
                return err_set(e, "--quantize must be fp32 or int8, not '%s'", optarg);
            o->quantize = optarg;
            break;
        case OPT_LONG:
            if (strcmp(optarg, "first") && strcmp(optarg, "max"))
                return err_set(e, "--long must be first or max, not '%s'", optarg);
            o->long_mode = optarg;
            break;
        case OPT_STRIDE:
            if (parse_long(optarg, 1, 1 << 20, &o->stride))
                return err_set(e, "--stride needs a positive integer, not '%s'", optarg);
            break;
        case OPT_TOKENIZE:
            o->tokenize = true;
            break;
        case OPT_T5:
            if (strcmp(optarg, "mono") != 0 && strcmp(optarg, "rank") != 0)
                return err_set(e, "--t5 must be mono or rank, not '%s'", optarg);
            o->t5 = optarg;
            break;
        case OPT_INSTRUCTION:
            o->instruction = optarg;
            break;
        case OPT_API:
            o->api = optarg;
            break;
        case OPT_API_URL:
            o->api_url = optarg;
            break;
        case OPT_API_MODEL:
            o->api_model = optarg;
            break;
        case OPT_API_BATCH:
            if (parse_long(optarg, 1, INT_MAX, &o->api_batch))
                return err_set(e, "--api-batch needs a positive integer, not '%s'", optarg);
            break;
        case OPT_API_CONCURRENCY:
            if (parse_long(optarg, 1, 256, &o->api_concurrency))
                return err_set(e, "--api-concurrency needs a number from 1 to 256, not '%s'", optarg);
            break;
        case OPT_TIMEOUT:
            if (parse_double(optarg, 0.001, 86400, &o->timeout))
                return err_set(e, "--timeout needs a number of seconds > 0, not '%s'", optarg);
            break;
        case OPT_RETRIES:
            if (parse_long(optarg, 0, 100, &o->retries))
                return err_set(e, "--retries needs a number from 0 to 100, not '%s'", optarg);
            break;
        case OPT_CACERT:
            o->cacert = optarg;
            break;
        case OPT_RUN:
            if (o->n_runs == (int)(sizeof o->runs / sizeof *o->runs))
                return err_set(e, "at most %d --run options", o->n_runs);
            o->runs[o->n_runs++] = optarg;
            o->run = o->runs[0];
            break;
        case OPT_QUERIES:
            o->queries = optarg;
            break;
        case OPT_DOCS:
            o->docs = optarg;
            break;
        case OPT_DEPTH:
            if (parse_long(optarg, 1, LONG_MAX, &o->depth))
                return err_set(e, "--depth needs a positive integer, not '%s'", optarg);
            break;
        case OPT_DROP_TAIL:
            o->drop_tail = true;
            break;
        case OPT_TOPIC_FIELD:
            if (strcmp(optarg, "title") && strcmp(optarg, "desc") && strcmp(optarg, "narr"))
                return err_set(e, "--topic-field must be title, desc or narr, not '%s'", optarg);
            o->topic_field = optarg;
            break;
        case OPT_LLM:
            if (strcmp(optarg, "listwise") && strcmp(optarg, "pointwise"))
                return err_set(e, "--llm must be listwise or pointwise, not '%s'", optarg);
            o->llm = optarg;
            break;
        case OPT_LLM_URL:
            o->llm_url = optarg;
            break;
        case OPT_LLM_MODEL:
            o->llm_model = optarg;
            break;
        case OPT_WINDOW:
            if (parse_long(optarg, 2, 10000, &o->window))
                return err_set(e, "--window needs a number from 2 to 10000, not '%s'", optarg);
            break;
        case OPT_STEP:
            if (parse_long(optarg, 1, 10000, &o->step))
                return err_set(e, "--step needs a positive integer, not '%s'", optarg);
            break;
        case OPT_PASSAGE_WORDS:
            if (parse_long(optarg, 1, 1000000, &o->passage_words))
                return err_set(e, "--passage-words needs a positive integer, not '%s'", optarg);
            break;
        case OPT_PAIRWISE:
            o->pairwise = optarg;
            break;
        case OPT_CASCADE:
            if (parse_long(optarg, 1, LONG_MAX, &o->cascade))
                return err_set(e, "--cascade needs a positive integer, not '%s'", optarg);
            break;
        case OPT_DRY_RUN:
            o->dry_run = true;
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
    return cli_check(o, given, e);
}
