/* test_llm.c — the LLM scorers and the cascade against
 * scripts/fake-llm-server.py.
 *
 * Pure parts first (the permutation parser, the token estimate, option and
 * key checks, the dry run's request bodies), then, with python3 on the
 * PATH, listwise and pointwise reranking over loopback.  Expected orders
 * are computed here, independently of src/net/llm.c: a plain simulation of the
 * sliding windows with explicitly listed windows, each sorted by the fake
 * server's hidden rule (a passage's relevance is the number of its tokens
 * that are query tokens; documents are built with a known count of "apple"
 * for the query "apple"), and hand-worked small cases. */
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cascade.h"
#include "check.h"
#include "fake_server.h"
#include "net/http.h"
#include "net/llm.h"

/* Starts with a long run of letters, so that jansson's "invalid token near
 * '...'" quotes a piece of it. */
#define KEY "LlmKeyQzWvXtRb-test-4e8b1d2a9c"

static char base[64]; /* "http://127.0.0.1:PORT" */

/* ---- helpers ---------------------------------------------------------- */

/* The fake server's endpoint with query string params (static). */
static const char *url_for(const char *params)
{
    static char url[512];
    snprintf(url, sizeof url, "%s/v1/chat/completions?%s", base, params);
    return url;
}

/* Lines the scorer hands to notify: of the last run, and of all runs. */
static struct buf lines, all_lines;
static int n_lines;

static void collect(void *ctx, const char *line)
{
    (void)ctx;
    buf_puts(&all_lines, line);
    buf_putc(&all_lines, '\n');
    buf_puts(&lines, line);
    buf_putc(&lines, '\n');
    buf_putc(&lines, 0);
    lines.len--;
    n_lines++;
}

static void lines_reset(void)
{
    lines.len = 0;
    buf_putc(&lines, 0);
    lines.len = 0;
    n_lines = 0;
}

/* Occurrences of needle in the last run's lines. */
static int lines_count(const char *needle)
{
    int k = 0;
    for (const char *p = lines.data; p && (p = strstr(p, needle)); p++)
        k++;
    return k;
}

/* Bodies the dry run hands to on_body. */
static json_t *bodies;

static void collect_body(void *ctx, const char *label, const char *body)
{
    (void)ctx;
    json_t *b = json_loads(body, JSON_ALLOW_NUL, NULL);
    CHECK_MSG(b != NULL, "%s: the body is not JSON", label);
    if (b)
        json_array_append_new(bodies, b);
}

/* Fills g with the query and texts; docids "d0".."d(n-1)"; scores -999. */
static void group_fill(struct group *g, const char *query, char **texts, size_t n)
{
    group_reset(g);
    g->qid = arena_strndup(&g->arena, "q1", 2);
    g->query = arena_strndup(&g->arena, query, strlen(query));
    for (size_t i = 0; i < n; i++) {
        struct candidate *c = group_add(g);
        char id[32];
        snprintf(id, sizeof id, "d%zu", i);
        c->docid = arena_strndup(&g->arena, id, strlen(id));
        c->text = arena_strndup(&g->arena, texts[i], strlen(texts[i]));
        c->text_len = strlen(texts[i]);
        c->score = -999;
    }
}

/* A document of relevance rel for the query "apple": rel times "apple"
 * among words that are not query tokens.  Caller frees. */
static char *doc_with(int rel, size_t i)
{
    struct buf b = {0};
    buf_printf(&b, "passage %zu about fruit", i);
    for (int k = 0; k < rel; k++)
        buf_puts(&b, k % 2 ? " Apple" : " apple,");
    buf_puts(&b, " and more words");
    return b.data;
}

/* Fills g with n documents of relevances rel[0..n) for the query "apple". */
static void group_rel(struct group *g, const int *rel, size_t n)
{
    char **texts = xcalloc(n, sizeof *texts);
    for (size_t i = 0; i < n; i++)
        texts[i] = doc_with(rel[i], i);
    group_fill(g, "apple", texts, n);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
}

/* The candidates of g by score, highest first, ties by input position. */
static void order_by_score(const struct group *g, size_t *order)
{
    size_t n = g->n_cands;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort: stable, obviously right */
        for (size_t j = i; j > 0 && g->cands[order[j]].score > g->cands[order[j - 1]].score; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

/* Listwise scores must be exactly n, n-1, ..., 1: every document once. */
static bool scores_are_ranks(const struct group *g)
{
    size_t n = g->n_cands;
    unsigned char *seen = xcalloc(n + 1, 1);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        double s = g->cands[i].score;
        if (s != floor(s) || s < 1 || s > (double)n || seen[(size_t)s]) {
            printf("  doc %zu: score %g is not a fresh rank in 1..%zu\n", i, s, n);
            ok = false;
        } else {
            seen[(size_t)s] = 1;
        }
    }
    free(seen);
    return ok;
}

/* The reference: a perfect (or, with reverse, worst-first) model applied to
 * the windows [w[k][0], w[k][1]) in turn, starting from the input order.
 * In a window, passages go by relevance, highest first, ties by their
 * position in the window, as the fake server ranks them. */
static void simulate(const int *rel, size_t n, const size_t (*w)[2], size_t n_w, bool reverse,
                     size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t k = 0; k < n_w; k++) {
        size_t lo = w[k][0], hi = w[k][1];
        for (size_t i = lo + 1; i < hi; i++) /* stable insertion sort */
            for (size_t j = i; j > lo && rel[order[j]] > rel[order[j - 1]]; j--) {
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        if (reverse)
            for (size_t a = lo, b = hi - 1; a < b; a++, b--) {
                size_t t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
    }
}

static bool same_order(const size_t *got, const size_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("  rank %zu: d%zu, want d%zu\n", i + 1, got[i], want[i]);
            return false;
        }
    return true;
}

static struct llm_options options(enum llm_mode mode, const char *url)
{
    struct llm_options o;
    llm_options_init(&o);
    o.mode = mode;
    o.url = url;
    o.model = "test-model";
    o.timeout = 3;
    o.retries = 2;
    o.backoff = 0.02;
    o.backoff_max = 0.1;
    o.retry_after_max = 2;
    o.notify = collect;
    return o;
}

/* Creates the scorer, scores g once, frees it.  Returns score()'s result. */
static int score_once(const struct llm_options *o, struct group *g, struct err *e)
{
    lines_reset();
    struct scorer *s = llm_scorer_new(o, e);
    CHECK_MSG(s != NULL, "llm_scorer_new: %s", e->msg);
    if (!s)
        return -2;
    int rc = s->score(s, g, e);
    scorer_free(s);
    return rc;
}

/* The server's counters for a tag. */
struct stats {
    long requests, max_inflight, max_words, sizes[64];
    size_t n_sizes;
};

static struct stats stats_for(const char *tag)
{
    struct stats st = {0};
    json_t *j = fake_server_stats(base, tag);
    CHECK_MSG(j != NULL, "no stats from the fake server for tag %s", tag);
    if (j) {
        st.requests = (long)json_integer_value(json_object_get(j, "requests"));
        st.max_inflight = (long)json_integer_value(json_object_get(j, "max_inflight"));
        st.max_words = (long)json_integer_value(json_object_get(j, "max_words"));
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "sizes"), i, v)
            if (st.n_sizes < 64)
                st.sizes[st.n_sizes++] = (long)json_integer_value(v);
        json_decref(j);
    }
    return st;
}

/* Relevances that make the windows matter: many levels, many ties. */
static int *rels(size_t n)
{
    int *rel = xcalloc(n, sizeof *rel);
    for (size_t i = 0; i < n; i++)
        rel[i] = (int)((i * 7 + 3) % 11);
    return rel;
}

/* ---- tests without a server ------------------------------------------- */

static void check_parse(const char *text, size_t m, const size_t *want, size_t want_ids)
{
    size_t perm[32];
    size_t got = llm_parse_permutation(text, m, perm);
    bool same = got == want_ids;
    for (size_t i = 0; i < m; i++)
        same &= perm[i] == want[i];
    CHECK_MSG(same, "parse \"%s\" (m=%zu): %zu ids, perm %zu %zu %zu ...", text, m, got,
              perm[0], m > 1 ? perm[1] : 0, m > 2 ? perm[2] : 0);
}

static void test_parse(void)
{
    check_parse("[3] > [1] > [2]", 3, (size_t[]){2, 0, 1}, 3);
    check_parse("[2] > [2] > [9] > [1]", 3, (size_t[]){1, 0, 2}, 2);
    check_parse("I think 2 then 1", 3, (size_t[]){1, 0, 2}, 2);
    check_parse("", 3, (size_t[]){0, 1, 2}, 0);
    check_parse("I cannot rank these.", 3, (size_t[]){0, 1, 2}, 0);
    check_parse("[0] > [4]", 3, (size_t[]){0, 1, 2}, 0);
    check_parse("<think>[1] > [2] > [3]</think>\n[3] > [2]", 3, (size_t[]){2, 1, 0}, 2);
    check_parse("<think>a</think><think>[1]</think>[2]", 3, (size_t[]){1, 0, 2}, 1);
    check_parse("\xef\xbc\xbb\xef\xbc\x92\xef\xbc\xbd > [1]", 2, (size_t[]){1, 0}, 2); /* ［２］ */
    check_parse("\xc2\xb2 > \xc2\xb9", 3, (size_t[]){1, 0, 2}, 2);           /* ² > ¹ */
    check_parse("\xc2\xb2\xc2\xb9", 3, (size_t[]){0, 1, 2}, 0);              /* ²¹ = 21 */
    check_parse("\xe2\x91\xa2 \xe2\x9d\xb6", 3, (size_t[]){2, 0, 1}, 2);      /* ③ ❶ */
    check_parse("[99999999999999999999999999] > [1]", 3, (size_t[]){0, 1, 2}, 1);
    check_parse("[10] > [1] > [12]", 12, (size_t[]){9, 0, 11, 1, 2, 3, 4, 5, 6, 7, 8, 10}, 3);
    check_parse("\xff[2]\xfe[1]", 2, (size_t[]){1, 0}, 2);
    check_parse("[1]>[2]>[3]", 3, (size_t[]){0, 1, 2}, 3);
    check_parse("2", 1, (size_t[]){0}, 0);
}

/* Answers read without a server (llm_parse_answer, the scorer's own path). */
static void test_parse_answer(void)
{
    struct http_options ho;
    http_options_init(&ho);
    struct err e;
    struct http_client *http = http_client_new(&ho, &e);
    const char *fmt = "{\"choices\":[{\"message\":{\"content\":\"Yes\"},\"logprobs\":"
                      "{\"content\":[{\"token\":\"Yes\",\"logprob\":-0.1,\"top_logprobs\":"
                      "[{\"token\":\"Yes\",\"logprob\":%s},{\"token\":\" no\",\"logprob\":"
                      "-2.3},{\"token\":\"yes\",\"logprob\":-4}]}]}}]}";
    char body[512];
    size_t perm[1];
    double score = -1;
    snprintf(body, sizeof body, fmt, "-0.1");
    CHECK(llm_parse_answer(LLM_POINTWISE, http, body, strlen(body), 1, perm, &score, &e) == 1);
    double yes = exp(-0.1) + exp(-4.0), no = exp(-2.3);
    CHECK_NEAR(score, yes / (yes + no), 1e-12);
    /* A "log-probability" above 0 is not one: that entry is left out, and
     * the score stays a probability (it was NaN: exp(1000) overflows). */
    snprintf(body, sizeof body, fmt, "1000");
    CHECK(llm_parse_answer(LLM_POINTWISE, http, body, strlen(body), 1, perm, &score, &e) == 1);
    yes = exp(-4.0);
    CHECK_NEAR(score, yes / (yes + no), 1e-12);
    http_client_free(http);
}

static void test_estimate(void)
{
    CHECK(llm_estimate_tokens(NULL, 0) == 3);
    /* 3 + (0+3) + (1+3) + (1+3) + (2+3): ceil(bytes / 4) + 3 each. */
    CHECK(llm_estimate_tokens((size_t[]){0, 1, 4, 5}, 4) == 19);
    CHECK(llm_estimate_tokens((size_t[]){400}, 1) == 106);
}

static void test_options(void)
{
    struct llm_options o;
    struct err e = {0};
    unsetenv("OPENAI_API_KEY");
    unsetenv("RERANK_LLM_API_KEY");

    llm_options_init(&o);
    CHECK(o.window == 20 && o.step == 10 && o.passage_words == 300 && o.retries == 3 &&
          o.mode == LLM_LISTWISE && o.concurrency == 4 && o.timeout == 60);
    CHECK(llm_scorer_new(&o, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "OPENAI_API_KEY") && strstr(e.msg, "RERANK_LLM_API_KEY"), "%s",
              e.msg);
    o.dry_run = true; /* sends nothing, needs no key */
    struct scorer *s = llm_scorer_new(&o, &e);
    CHECK_MSG(s != NULL, "dry run without a key: %s", e.msg);
    scorer_free(s);
    o.dry_run = false;
    setenv("OPENAI_API_KEY", "abc", 1);
    s = llm_scorer_new(&o, &e);
    CHECK_MSG(s != NULL, "OPENAI_API_KEY set: %s", e.msg);
    scorer_free(s);
    setenv("OPENAI_API_KEY", "abc\r\nX-Evil: 1", 1);
    CHECK(llm_scorer_new(&o, &e) == NULL && strstr(e.msg, "OPENAI_API_KEY contains a control"));
    CHECK(strstr(e.msg, "X-Evil") == NULL);
    unsetenv("OPENAI_API_KEY");

    o.url = "http://127.0.0.1:1/v1/chat/completions"; /* keyless custom url */
    s = llm_scorer_new(&o, &e);
    CHECK_MSG(s != NULL, "keyless custom url: %s", e.msg);
    scorer_free(s);

    struct { int window, step, words; const char *url, *model, *want; } bad[] = {
        {1, 1, 300, NULL, NULL, "--window"},
        {20, 0, 300, NULL, NULL, "--step"},
        {20, 21, 300, NULL, NULL, "--step"},
        {20, 10, 0, NULL, NULL, "--passage-words"},
        {20, 10, 300, "ftp://x/v1", NULL, "--llm-url"},
        {20, 10, 300, "http://a b", NULL, "--llm-url"},
        {20, 10, 300, NULL, "", "--llm-model"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        llm_options_init(&o);
        o.url = bad[i].url ? bad[i].url : "http://127.0.0.1:1/";
        o.model = bad[i].model;
        o.window = bad[i].window;
        o.step = bad[i].step;
        o.passage_words = bad[i].words;
        s = llm_scorer_new(&o, &e);
        CHECK_MSG(s == NULL && strstr(e.msg, bad[i].want), "case %zu: %s", i,
                  s ? "created" : e.msg);
        scorer_free(s);
    }
    llm_options_init(&o);
    o.url = "http://127.0.0.1:1/";
    o.timeout = 0;
    CHECK(llm_scorer_new(&o, &e) == NULL && strstr(e.msg, "timeout"));
}

/* The dry run: bodies exactly as RankGPT's prompt and rank_llm's request,
 * passages cut to their first N words, nothing sent, input order kept. */
static void test_dry_run(void)
{
    struct group g = {0};
    struct err e;
    /* 30 documents: the first has 7 words spread by every kind of space. */
    char *texts[30];
    texts[0] = xstrdup("  one\ttwo \xc2\xa0three\nfour\xe3\x80\x80" "five\xe2\x80\xa9six seven ");
    for (size_t i = 1; i < 30; i++)
        texts[i] = doc_with((int)i % 4, i);
    group_fill(&g, "what is \"rank\"?", texts, 30);
    for (size_t i = 0; i < 30; i++)
        free(texts[i]);

    bodies = json_array();
    struct llm_options o = options(LLM_LISTWISE, url_for("tag=dry"));
    o.dry_run = true;
    o.on_body = collect_body;
    o.passage_words = 5;
    int rc = score_once(&o, &g, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK(json_array_size(bodies) == 2); /* windows 11-30, 1-20 */
    for (size_t i = 0; i < g.n_cands; i++)
        CHECK(g.cands[i].score == (double)(30 - i));
    CHECK_MSG(lines_count("dry run: llm for query q1: 2 requests, ~") == 1 &&
                  lines_count("so far 1 query, 2 requests") == 1, "%s", lines.data);

    /* The window 1-20: every message of RankGPT's prompt, in order. */
    json_t *b = json_array_get(bodies, 1), *msgs = json_object_get(b, "messages");
    CHECK_STR(json_string_value(json_object_get(b, "model")), "test-model");
    CHECK(json_is_integer(json_object_get(b, "temperature")) &&
          json_integer_value(json_object_get(b, "temperature")) == 0);
    CHECK(json_object_size(b) == 3 && json_array_size(msgs) == 44);
#define MSG(i, field) json_string_value(json_object_get(json_array_get(msgs, i), field))
    CHECK_STR(MSG(0, "role"), "system");
    CHECK_STR(MSG(0, "content"), "You are RankGPT, an intelligent assistant that can rank "
              "passages based on their relevancy to the query.");
    CHECK_STR(MSG(1, "role"), "user");
    CHECK_STR(MSG(1, "content"), "I will provide you with 20 passages, each indicated by "
              "number identifier []. \nRank the passages based on their relevance to query: "
              "what is \"rank\"?.");
    CHECK_STR(MSG(2, "role"), "assistant");
    CHECK_STR(MSG(2, "content"), "Okay, please provide the passages.");
    CHECK_STR(MSG(3, "role"), "user");
    CHECK_STR(MSG(3, "content"), "[1] one two three four five");
    CHECK_STR(MSG(4, "content"), "Received passage [1].");
    CHECK_STR(MSG(5, "content"), "[2] passage 1 about fruit apple,");
    CHECK_STR(MSG(42, "content"), "Received passage [20].");
    CHECK_STR(MSG(43, "role"), "user");
    CHECK_STR(MSG(43, "content"), "Search Query: what is \"rank\"?. \nRank the 20 passages "
              "above based on their relevance to the search query. The passages should be "
              "listed in descending order using identifiers. The most relevant passages "
              "should be listed first. The output format should be [] > [], e.g., [1] > [2]. "
              "Only response the ranking results, do not say any word or explain.");
    /* The first body is the bottom window, 11-30, with documents d10... */
    msgs = json_object_get(json_array_get(bodies, 0), "messages");
    CHECK_STR(MSG(3, "content"), "[1] passage 10 about fruit apple,");
#undef MSG
    json_decref(bodies);

    /* A query holding U+0000 goes into the prompts whole. */
    struct group gn = {0};
    char *two[2] = {xstrdup("first"), xstrdup("second")};
    group_fill(&gn, "x", two, 2);
    gn.query = arena_strndup(&gn.arena, "a\0b", 3);
    gn.query_len = 3;
    free(two[0]);
    free(two[1]);
    bodies = json_array();
    CHECK(score_once(&o, &gn, &e) == 0);
    o.mode = LLM_POINTWISE;
    CHECK(score_once(&o, &gn, &e) == 0);
    o.mode = LLM_LISTWISE;
    CHECK(json_array_size(bodies) == 3);
#define NUL_PART(s) {s, sizeof s - 1}
    static const struct { const char *s; size_t n; } nul_in[] = {
        NUL_PART("query: a\0b."), NUL_PART("Query: a\0b. \nRank"),
        NUL_PART("\nQuery: a\0b\nDoes")};
#undef NUL_PART
    for (size_t i = 0; i < 3; i++) {
        json_t *ms = json_object_get(json_array_get(bodies, i == 2 ? 2 : 0), "messages");
        json_t *c = json_object_get(json_array_get(ms, i == 0 ? 1 : i == 1 ? 7 : 0),
                                    "content");
        const char *t = json_string_value(c);
        size_t n = json_string_length(c), k = nul_in[i].n;
        bool found = false;
        for (size_t j = 0; t && j + k <= n && !found; j++)
            found = memcmp(t + j, nul_in[i].s, k) == 0;
        CHECK_MSG(found, "NUL query: message %zu", i);
    }
    json_decref(bodies);
    group_free(&gn);

    /* Pointwise: one request per document, rank_llm's fields. */
    bodies = json_array();
    o.mode = LLM_POINTWISE;
    o.passage_words = 300;
    o.verbose = true;
    rc = score_once(&o, &g, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK(json_array_size(bodies) == 30);
    CHECK_MSG(lines_count("dry run: llm for query q1, document d") == 30, "%s", lines.data);
    CHECK(lines_count("dry run: llm for query q1: 30 requests, ~") == 1);
    b = json_array_get(bodies, 0);
    CHECK(json_integer_value(json_object_get(b, "max_tokens")) == 1 &&
          json_is_true(json_object_get(b, "logprobs")) &&
          json_integer_value(json_object_get(b, "top_logprobs")) == 20 &&
          json_object_size(b) == 6);
    msgs = json_object_get(b, "messages");
    CHECK(json_array_size(msgs) == 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
              "Given a passage and a question, predict whether the passage includes an answer "
              "to the question by producing either `Yes` or `No`.\nPassage: one two three four "
              "five six seven\nQuery: what is \"rank\"?\nDoes the passage answer the query?\n"
              "Answer:");
    json_decref(bodies);
    bodies = NULL;
    group_free(&g);
}

/* ---- the fake server -------------------------------------------------- */

/* Starts the server and reads its port; 0 or -1. */
static int server_start(void)
{
    char *argv[] = {"scripts/fake-llm-server.py", "--key", KEY, "--idle", "20", NULL};
    long port;
    if (fake_server_start(argv, &port, 1) != 1)
        return -1;
    snprintf(base, sizeof base, "http://127.0.0.1:%ld", port);
    return 0;
}

/* Scores n documents of relevances rel with the window/step given and
 * checks the order against the reference simulation over windows w. */
static void check_windows(const char *tag, const int *rel, size_t n, int window, int step,
                          const size_t (*w)[2], size_t n_w, const long *sizes)
{
    struct group g = {0};
    struct err e;
    char params[64];
    snprintf(params, sizeof params, "tag=%s", tag);
    struct llm_options o = options(LLM_LISTWISE, url_for(params));
    o.window = window;
    o.step = step;
    group_rel(&g, rel, n);
    int rc = score_once(&o, &g, &e);
    CHECK_MSG(rc == 0, "%s: %s", tag, e.msg);
    size_t *got = xmalloc(n * sizeof *got), *want = xmalloc(n * sizeof *want);
    order_by_score(&g, got);
    simulate(rel, n, w, n_w, false, want);
    CHECK_MSG(rc == 0 && scores_are_ranks(&g) && same_order(got, want, n), "%s order", tag);
    struct stats st = stats_for(tag);
    bool sizes_ok = st.requests == (long)n_w && st.n_sizes == n_w;
    for (size_t k = 0; k < st.n_sizes && sizes_ok; k++)
        sizes_ok = st.sizes[k] == sizes[k];
    CHECK_MSG(sizes_ok, "%s: %ld requests", tag, st.requests);
    CHECK_MSG(n_lines == 0, "%s: unexpected lines: %s", tag, lines.data);
    free(got);
    free(want);
    group_free(&g);
}

static void test_listwise(void)
{
    int *rel = rels(100);
    /* 30 = windows 11-30 then 1-20 (the one at the top ends it). */
    check_windows("w30", rel, 30, 20, 10, (const size_t[][2]){{10, 30}, {0, 20}}, 2,
                  (const long[]){20, 20});
    /* 25: the last window is shorter: 6-25, then 1-15. */
    check_windows("w25", rel, 25, 20, 10, (const size_t[][2]){{5, 25}, {0, 15}}, 2,
                  (const long[]){20, 15});
    /* 100: RankGPT's 9 windows, 81-100, 71-90, ..., 1-20. */
    size_t w100[9][2];
    long s100[9];
    for (size_t k = 0; k < 9; k++) {
        w100[k][0] = 80 - 10 * k;
        w100[k][1] = 100 - 10 * k;
        s100[k] = 20;
    }
    check_windows("w100", rel, 100, 20, 10, (const size_t(*)[2])w100, 9, s100);
    /* Fewer than a window: one request.  Disjoint windows: step = window. */
    check_windows("w7", rel, 7, 20, 10, (const size_t[][2]){{0, 7}}, 1, (const long[]){7});
    check_windows("w9s3", rel, 9, 3, 3, (const size_t[][2]){{6, 9}, {3, 6}, {0, 3}}, 3,
                  (const long[]){3, 3, 3});
    /* One document: nothing to ask. */
    check_windows("w1", rel, 1, 20, 10, NULL, 0, NULL);

    /* With a perfect model, the top `step` are the best 10 of all 30. */
    struct group g = {0};
    struct err e;
    struct llm_options o = options(LLM_LISTWISE, url_for("tag=top"));
    group_rel(&g, rel, 30);
    CHECK(score_once(&o, &g, &e) == 0);
    size_t got[30];
    order_by_score(&g, got);
    int sorted[30];
    memcpy(sorted, rel, sizeof sorted);
    for (size_t i = 1; i < 30; i++)
        for (size_t j = i; j > 0 && sorted[j] > sorted[j - 1]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    bool top_ok = true;
    for (size_t r = 0; r < 10; r++)
        top_ok &= rel[got[r]] == sorted[r];
    CHECK(top_ok);

    /* An imperfect model, worked by hand: relevances 1 4 0 3 2, window 3,
     * step 2, the model ranks worst first.
     *   window 3-5 (d2 d3 d4 → worst first d2 d4 d3): d0 d1 d2 d4 d3
     *   window 1-3 (d0 d1 d2 → worst first d2 d0 d1): d2 d0 d1 d4 d3 */
    int hand[] = {1, 4, 0, 3, 2};
    o = options(LLM_LISTWISE, url_for("tag=reverse&order=reverse"));
    o.window = 3;
    o.step = 2;
    group_rel(&g, hand, 5);
    CHECK(score_once(&o, &g, &e) == 0);
    CHECK(g.cands[2].score == 5 && g.cands[0].score == 4 && g.cands[1].score == 3 &&
          g.cands[4].score == 2 && g.cands[3].score == 1);
    size_t want[5];
    simulate(hand, 5, (const size_t[][2]){{2, 5}, {0, 3}}, 2, true, want);
    order_by_score(&g, got);
    CHECK(same_order(got, want, 5));
    group_free(&g);
    free(rel);
}

/* Answers repaired as rank_llm does, and malformed ones asked again. */
static void test_repairs(void)
{
    int *rel = rels(30);
    struct group g = {0};
    struct err e;
    size_t got[30], want[30];
    const size_t w30[][2] = {{10, 30}, {0, 20}};
    simulate(rel, 30, w30, 2, false, want);

    /* Repeats, an id out of range, prose, a <think> block, full-width
     * digits: the same ranking as a clean answer, at one request a window. */
    static const char *const same[] = {"repeat", "range", "prose", "think", "fancy"};
    for (size_t k = 0; k < sizeof same / sizeof *same; k++) {
        char params[64];
        snprintf(params, sizeof params, "tag=fix-%s&fault=%s", same[k], same[k]);
        struct llm_options o = options(LLM_LISTWISE, url_for(params));
        group_rel(&g, rel, 30);
        int rc = score_once(&o, &g, &e);
        CHECK_MSG(rc == 0, "%s: %s", same[k], e.msg);
        order_by_score(&g, got);
        CHECK_MSG(scores_are_ranks(&g) && same_order(got, want, 30), "%s order", same[k]);
        CHECK_MSG(stats_for(params + 4).requests == 2 && n_lines == 0, "%s: %s", same[k],
                  lines.data);
    }

    /* The best id left out goes last, worked by hand: relevances 1 4 0 3 2,
     * one window; the answer "[4] > [5] > [1] > [3]" misses [2] (d1). */
    int hand[] = {1, 4, 0, 3, 2};
    struct llm_options o = options(LLM_LISTWISE, url_for("tag=fix-missing&fault=missing"));
    o.verbose = true;
    group_rel(&g, hand, 5);
    CHECK(score_once(&o, &g, &e) == 0);
    CHECK(g.cands[3].score == 5 && g.cands[4].score == 4 && g.cands[0].score == 3 &&
          g.cands[2].score == 2 && g.cands[1].score == 1);
    CHECK_MSG(lines_count("window 1-5: the answer ranks 4 of 5 passages") == 1, "%s",
              lines.data);

    /* An empty answer once: asked again, then the clean ranking. */
    o = options(LLM_LISTWISE, url_for("tag=empty1&fault=empty&times=1"));
    group_rel(&g, rel, 30);
    CHECK(score_once(&o, &g, &e) == 0);
    order_by_score(&g, got);
    CHECK(scores_are_ranks(&g) && same_order(got, want, 30));
    CHECK(stats_for("empty1").requests == 3);
    CHECK_MSG(n_lines == 1 && lines_count("window 11-30: no ranking in the answer \"\"; "
                                          "asking again (1 of 2)") == 1, "%s", lines.data);

    /* Never a ranking: every window asked 1 + retries times, then left as
     * it was, with a warning each: the input order. */
    static const char *const never[] = {"nonumbers", "nullcontent", "empty"};
    for (size_t k = 0; k < 3; k++) {
        char params[64];
        snprintf(params, sizeof params, "tag=never-%s&fault=%s", never[k], never[k]);
        o = options(LLM_LISTWISE, url_for(params));
        group_rel(&g, rel, 30);
        int rc = score_once(&o, &g, &e);
        CHECK_MSG(rc == 0, "%s: %s", never[k], e.msg);
        for (size_t i = 0; i < 30; i++)
            CHECK(g.cands[i].score == (double)(30 - i));
        CHECK(stats_for(params + 4).requests == 6);
        CHECK_MSG(lines_count("asking again") == 4 &&
                      lines_count("after every retry; the window keeps its order") == 2,
                  "%s: %s", never[k], lines.data);
    }
    /* --quiet drops the warnings, not the behaviour. */
    o = options(LLM_LISTWISE, url_for("tag=never-quiet&fault=nonumbers"));
    o.quiet = true;
    o.retries = 0;
    group_rel(&g, rel, 30);
    CHECK(score_once(&o, &g, &e) == 0 && n_lines == 0 && g.cands[0].score == 30);
    CHECK(stats_for("never-quiet").requests == 2);
    group_free(&g);
    free(rel);
}

static void test_pointwise(void)
{
    struct group g = {0};
    struct err e;
    int rel[] = {0, 1, 2, 3, 5, 8, 0, 13, 4, 1};
    size_t n = sizeof rel / sizeof *rel;

    /* P(yes) / (P(yes) + P(no)) from the fake's top_logprobs: rel/(rel+2). */
    struct llm_options o = options(LLM_POINTWISE, url_for("tag=pw&fault=slow&delay=0.2"));
    o.concurrency = 3;
    group_rel(&g, rel, n);
    double t0 = now_seconds();
    int rc = score_once(&o, &g, &e);
    double took = now_seconds() - t0;
    CHECK_MSG(rc == 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++)
        CHECK_NEAR(g.cands[i].score, rel[i] / (rel[i] + 2.0), 1e-9);
    struct stats st = stats_for("pw");
    CHECK(st.requests == (long)n && st.n_sizes == n && st.sizes[0] == 1);
    CHECK_MSG(st.max_inflight == 3, "max in flight %ld", st.max_inflight);
    CHECK_MSG(took < 0.2 * (double)n * 0.75, "%.2f s: not concurrent", took);
    CHECK_MSG(n_lines == 0, "%s", lines.data);

    /* Without logprobs: the answer text (Yes when rel >= 2). */
    o = options(LLM_POINTWISE, url_for("tag=pw-text&logprobs=none"));
    group_rel(&g, rel, n);
    CHECK(score_once(&o, &g, &e) == 0);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(g.cands[i].score == (rel[i] >= 2 ? 1 : 0), "doc %zu: %g", i,
                  g.cands[i].score);
    CHECK(n_lines == 0);

    /* Neither logprobs nor yes/no: 0.5, and one line for the group. */
    o = options(LLM_POINTWISE, url_for("tag=pw-maybe&answer=maybe"));
    group_rel(&g, rel, n);
    CHECK(score_once(&o, &g, &e) == 0);
    for (size_t i = 0; i < n; i++)
        CHECK(g.cands[i].score == 0.5);
    CHECK_MSG(n_lines == 1 && lines_count("10 of 10 answers had no log-probabilities and were "
                                          "neither yes nor no; scored 0.5") == 1, "%s",
              lines.data);

    /* Passages are cut to passage_words before they are sent. */
    char *long_doc[2];
    struct buf b = {0};
    for (int k = 0; k < 400; k++)
        buf_printf(&b, "%sw%d", k ? " " : "", k);
    long_doc[0] = b.data;
    long_doc[1] = "apple";
    group_fill(&g, "apple", long_doc, 2);
    o = options(LLM_POINTWISE, url_for("tag=pw-cut"));
    CHECK(score_once(&o, &g, &e) == 0);
    CHECK(stats_for("pw-cut").max_words == 300);
    o = options(LLM_LISTWISE, url_for("tag=lw-cut"));
    o.passage_words = 17;
    CHECK(score_once(&o, &g, &e) == 0);
    CHECK(stats_for("lw-cut").max_words == 17 && g.cands[1].score == 2);
    buf_free(&b);
    group_free(&g);
}

static void test_http_faults(void)
{
    struct group g = {0};
    struct err e;
    int *rel = rels(30);

    /* 429 with Retry-After, then success. */
    struct llm_options o = options(LLM_LISTWISE,
                                   url_for("tag=r429&fault=429&times=1&retry_after=0.3"));
    group_rel(&g, rel, 30);
    double t0 = now_seconds();
    CHECK(score_once(&o, &g, &e) == 0 && scores_are_ranks(&g));
    CHECK(now_seconds() - t0 >= 0.3);
    CHECK(stats_for("r429").requests == 3);
    CHECK_MSG(lines_count("llm for query q1, window 11-30: HTTP 429; retry 1 of 2 in 0.30 s "
                          "(Retry-After)") == 1, "%s", lines.data);

    /* 500 twice, then success (pointwise: every request on its own). */
    o = options(LLM_POINTWISE, url_for("tag=r500&fault=500&times=2"));
    group_rel(&g, rel, 4);
    CHECK(score_once(&o, &g, &e) == 0);
    CHECK(stats_for("r500").requests == 6 && lines_count("HTTP 500; retry") == 2);
    CHECK_NEAR(g.cands[1].score, rel[1] / (rel[1] + 2.0), 1e-9);

    /* 500 for good: the group fails, saying what the server said. */
    o = options(LLM_LISTWISE, url_for("tag=r500all&fault=500"));
    o.retries = 1;
    group_rel(&g, rel, 30);
    CHECK(score_once(&o, &g, &e) == -1);
    CHECK_STR(e.msg, "llm for query q1, window 11-30: HTTP 500 after 1 retry: The server had "
              "an error while processing your request.");
    for (size_t i = 0; i < 30; i++)
        CHECK(g.cands[i].score == -999);

    /* Answers that are not chat completions fail the group. */
    o = options(LLM_LISTWISE, url_for("tag=notjson&fault=notjson"));
    group_rel(&g, rel, 5);
    CHECK(score_once(&o, &g, &e) == -1 && strstr(e.msg, "window 1-5: the answer is not JSON"));
    o = options(LLM_POINTWISE, url_for("tag=nochoices&fault=nochoices"));
    CHECK(score_once(&o, &g, &e) == -1 &&
          strstr(e.msg, "document d0: the answer has no choices[0].message"));

    /* A timeout. */
    o = options(LLM_LISTWISE, url_for("tag=slow&fault=slow&delay=2"));
    o.timeout = 0.3;
    o.retries = 0;
    CHECK(score_once(&o, &g, &e) == -1 && strstr(e.msg, "no answer within --timeout 0.3 s"));
    group_free(&g);
    free(rel);
}

static void test_keys(void)
{
    struct group g = {0};
    struct err e;
    int rel[] = {2, 0, 1};
    group_rel(&g, rel, 3);

    /* RERANK_LLM_API_KEY goes to any url. */
    struct llm_options o = options(LLM_LISTWISE, url_for("tag=k1"));
    CHECK(score_once(&o, &g, &e) == 0);
    /* A key the server does not know: 401 and what to check. */
    setenv("RERANK_LLM_API_KEY", "sk-wrong-key-123456", 1);
    CHECK(score_once(&o, &g, &e) == -1);
    CHECK_STR(e.msg, "llm for query q1, window 1-3: HTTP 401: Incorrect API key provided.; "
              "check RERANK_LLM_API_KEY");
    /* A server that echoes the key: redacted. */
    setenv("RERANK_LLM_API_KEY", KEY, 1);
    o = options(LLM_LISTWISE, url_for("tag=leak&fault=leak"));
    CHECK(score_once(&o, &g, &e) == -1);
    CHECK_MSG(strstr(e.msg, "Bearer [redacted]") && !shows_piece(e.msg, KEY), "%s", e.msg);
    /* ... also where it straddles the cut of the server's message, at every
     * point, and in jansson's quote of an answer that is not JSON. */
    for (int pad = 240; pad <= 300; pad++) {
        char params[64];
        snprintf(params, sizeof params, "tag=leakpad&fault=leak&pad=%d", pad);
        o = options(LLM_LISTWISE, url_for(params));
        CHECK(score_once(&o, &g, &e) == -1);
        CHECK_MSG(strstr(e.msg, "Incorrect API key provided: xxx") && !shows_piece(e.msg, KEY),
                  "pad %d: %s", pad, e.msg);
    }
    o = options(LLM_LISTWISE, url_for("tag=leakjson&fault=leakjson"));
    CHECK(score_once(&o, &g, &e) == -1);
    CHECK_MSG(strstr(e.msg, "the answer is not JSON: '[' or '{' expected near '[redacted]'") &&
                  !shows_piece(e.msg, KEY), "%s", e.msg);

    /* OPENAI_API_KEY never goes to a custom url. */
    unsetenv("RERANK_LLM_API_KEY");
    setenv("OPENAI_API_KEY", KEY, 1);
    o = options(LLM_LISTWISE, url_for("tag=k2&selfhosted=1"));
    o.model = NULL; /* and no model field: the server's own */
    CHECK_MSG(score_once(&o, &g, &e) == 0, "%s", e.msg);
    CHECK(g.cands[0].score == 3 && g.cands[2].score == 2);
    o = options(LLM_LISTWISE, url_for("tag=k3"));
    CHECK(score_once(&o, &g, &e) == -1);
    CHECK_MSG(strstr(e.msg, "HTTP 401: You didn't provide an API key.; no key was sent "
                     "(OPENAI_API_KEY goes only to https://api.openai.com/v1/chat/completions);"
                     " set RERANK_LLM_API_KEY"), "%s", e.msg);
    unsetenv("OPENAI_API_KEY");
    setenv("RERANK_LLM_API_KEY", KEY, 1);
    group_free(&g);
}

/* bm25 over every document, the LLM over bm25's top 5. */
static void test_cascade(void)
{
    struct group g = {0};
    struct err e;
    /* Short documents with one "apple" beat long ones with several for bm25;
     * the fake LLM counts. */
    static const char *texts[] = {
        "apple",
        "apple apple apple in a rather long passage with many other words here",
        "nothing",
        "apple pie",
        "apple apple",
        "apple and apple and apple and apple, a long passage about many things",
        "apple apple apple apple apple apple apple apple apple apple apple apple",
        "pear",
        "apple tree apple orchard",
        "green apple",
        "plum",
        "one apple among a great many words that are not about it at all really",
    };
    size_t n = sizeof texts / sizeof *texts;
    group_fill(&g, "apple", (char **)texts, n);

    /* bm25 alone gives the first stage's order. */
    struct scorer *bm = bm25_scorer_new((struct bm25_params){0.9, 0.4});
    CHECK(bm->score(bm, &g, &e) == 0);
    size_t first[12];
    order_by_score(&g, first);
    scorer_free(bm);
    int rel[12];
    for (size_t i = 0; i < n; i++) {
        rel[i] = 0;
        for (const char *p = texts[i]; (p = strstr(p, "apple")); p++)
            rel[i]++;
    }
    /* Expected: the top 5 of bm25 sorted by rel (ties by bm25 rank), then
     * the rest in bm25 order. */
    size_t want[12];
    memcpy(want, first, sizeof want);
    for (size_t i = 1; i < 5; i++)
        for (size_t j = i; j > 0 && rel[want[j]] > rel[want[j - 1]]; j--) {
            size_t t = want[j];
            want[j] = want[j - 1];
            want[j - 1] = t;
        }
    bool differs = false; /* the test means something only if the LLM reorders */
    for (size_t i = 0; i < 5; i++)
        differs |= want[i] != first[i];
    CHECK(differs);

    struct llm_options o = options(LLM_LISTWISE, url_for("tag=cascade"));
    lines_reset();
    struct scorer *llm = llm_scorer_new(&o, &e);
    struct scorer *c = cascade_scorer_new(bm25_scorer_new((struct bm25_params){0.9, 0.4}), llm,
                                          5);
    CHECK_STR(c->name, "bm25>llm-listwise");
    for (int round = 0; round < 2; round++) { /* the scorer is reusable */
        group_fill(&g, "apple", (char **)texts, n);
        CHECK_MSG(c->score(c, &g, &e) == 0, "%s", e.msg);
        size_t got[12];
        order_by_score(&g, got);
        CHECK(same_order(got, want, n));
        /* The top 5 keep the LLM's scores 5..1; the rest, below, decrease. */
        for (size_t r = 0; r < 5; r++)
            CHECK(g.cands[want[r]].score == (double)(5 - r));
        for (size_t r = 5; r < n; r++)
            CHECK(g.cands[want[r]].score == -(double)(r - 5));
    }
    struct stats st = stats_for("cascade");
    CHECK(st.requests == 2 && st.sizes[0] == 5 && st.sizes[1] == 5);
    scorer_free(c);

    /* Pointwise second stage: its probabilities untouched, the rest below
     * the lowest of them; top_n past the group size takes everything. */
    o = options(LLM_POINTWISE, url_for("tag=cascade-pw"));
    c = cascade_scorer_new(bm25_scorer_new((struct bm25_params){0.9, 0.4}),
                           llm_scorer_new(&o, &e), 3);
    group_fill(&g, "apple", (char **)texts, n);
    CHECK(c->score(c, &g, &e) == 0);
    double low = 1;
    for (size_t r = 0; r < 3; r++) {
        double s = g.cands[first[r]].score;
        CHECK_NEAR(s, rel[first[r]] / (rel[first[r]] + 2.0), 1e-9);
        low = s < low ? s : low;
    }
    CHECK(g.cands[first[3]].score == low - 1 && g.cands[first[11]].score == low - 9);
    CHECK(stats_for("cascade-pw").requests == 3);
    scorer_free(c);
    o = options(LLM_LISTWISE, url_for("tag=cascade-all"));
    c = cascade_scorer_new(bm25_scorer_new((struct bm25_params){0.9, 0.4}),
                           llm_scorer_new(&o, &e), 100);
    group_fill(&g, "apple", (char **)texts, n);
    CHECK(c->score(c, &g, &e) == 0 && scores_are_ranks(&g));
    CHECK(stats_for("cascade-all").sizes[0] == 12);
    scorer_free(c);

    /* Ties in the first stage go by input order: no term matches. */
    o = options(LLM_LISTWISE, url_for("tag=cascade-ties"));
    c = cascade_scorer_new(bm25_scorer_new((struct bm25_params){0.9, 0.4}),
                           llm_scorer_new(&o, &e), 3);
    group_fill(&g, "zebra", (char **)texts, n);
    CHECK(c->score(c, &g, &e) == 0);
    /* The fake finds nothing relevant either: d0 d1 d2 keep their order. */
    CHECK(g.cands[0].score == 3 && g.cands[1].score == 2 && g.cands[2].score == 1);
    for (size_t i = 3; i < n; i++)
        CHECK(g.cands[i].score == -(double)(i - 3));
    scorer_free(c);

    /* A failing second stage fails the group. */
    o = options(LLM_LISTWISE, url_for("tag=cascade-fail&fault=500"));
    o.retries = 0;
    c = cascade_scorer_new(bm25_scorer_new((struct bm25_params){0.9, 0.4}),
                           llm_scorer_new(&o, &e), 5);
    group_fill(&g, "apple", (char **)texts, n);
    CHECK(c->score(c, &g, &e) == -1 && strstr(e.msg, "HTTP 500"));
    scorer_free(c);
    group_free(&g);
}

/* The cascade's arithmetic on scores of any size, with stub stages. */
static int stub_big(struct scorer *s, struct group *g, struct err *e)
{
    for (size_t i = 0; i < g->n_cands; i++)
        g->cands[i].score = 1e300 * (double)(i + 1);
    return 0;
}

static void stub_free(struct scorer *s)
{
    free(s);
}

static struct scorer *stub_new(const char *name)
{
    struct scorer *s = xcalloc(1, sizeof *s);
    *s = (struct scorer){.name = name, .score = stub_big, .free = stub_free};
    return s;
}

static void test_cascade_floor(void)
{
    struct group g = {0};
    struct err e;
    char *texts[6] = {"a", "b", "c", "d", "e", "f"};
    group_fill(&g, "q", texts, 6);
    struct scorer *c = cascade_scorer_new(stub_new("one"), stub_new("two"), 2);
    CHECK(c->score(c, &g, &e) == 0);
    /* First stage: d5 > d4 > ...; the second stage sees d5, d4 and gives
     * them 1e300 and 2e300; the rest stay strictly below 1e300 (where
     * subtracting 1 changes nothing), in first-stage order. */
    CHECK(g.cands[5].score == 1e300 && g.cands[4].score == 2e300);
    CHECK(g.cands[3].score < 1e300 && g.cands[2].score < g.cands[3].score &&
          g.cands[1].score < g.cands[2].score && g.cands[0].score < g.cands[1].score);
    scorer_free(c);
    group_free(&g);
}

int main(void)
{
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    test_parse();
    test_parse_answer();
    test_estimate();
    test_options();
    test_cascade_floor();
    setenv("RERANK_LLM_API_KEY", KEY, 1);

    if (!on_path("python3")) {
        SKIP("python3 not on PATH: fake LLM server tests");
        return check_report();
    }
    if (server_start() != 0) {
        CHECK_MSG(0, "cannot start scripts/fake-llm-server.py");
        return check_report();
    }
    double t0 = now_seconds();
    test_dry_run();
    CHECK(stats_for("dry").requests == 0); /* the dry runs sent nothing */
    test_listwise();
    test_repairs();
    test_pointwise();
    test_http_faults();
    test_keys();
    test_cascade();
    buf_putc(&all_lines, 0);
    CHECK_MSG(!shows_piece(all_lines.data, KEY), "a line shows the key");
    printf("server tests took %.1f s\n", now_seconds() - t0);
    fake_server_stop();
    buf_free(&lines);
    buf_free(&all_lines);
    return check_report();
}
