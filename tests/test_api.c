/* test_api.c — the API scorer and http.c against scripts/fake-rerank-server.py.
 *
 * Pure parts first (Retry-After parsing, transient statuses, redaction,
 * option and key checks), then, with python3 on the PATH, every provider's
 * wire format and every fault the fake server can play, over loopback with
 * short timeouts and backoff.  The server is stopped at exit; should this
 * program die, the server notices its parent is gone and stops itself. */
#include <ctype.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/api.h"
#include "check.h"
#include "fake_server.h"
#include "net/http.h"

/* Starts with a long run of letters, so that jansson's "invalid token near
 * '...'" quotes a piece of it. */
#define KEY "REIgKpaUnArlQz-test-7f3a9c1e5b2d"

static char base[64];     /* "http://127.0.0.1:PORT" */
static char tls_base[64]; /* "https://127.0.0.1:PORT", "" without openssl */
#define TLS_DIR "tests/out/api-tls"

/* ---- helpers ---------------------------------------------------------- */

static const struct {
    const char *name, *path;
} paths[] = {
    {"cohere", "/v1/rerank"},   {"cohere-v2", "/v2/rerank"},      {"jina", "/v1/rerank"},
    {"voyage", "/v1/rerank"},   {"mixedbread", "/v1/reranking"},  {"together", "/v1/rerank"},
    {"pinecone", "/rerank"},    {"tei", "/rerank"},
};
#define N_PATHS (sizeof paths / sizeof paths[0])

/* The fake server's URL for provider with query string params (static). */
static const char *url_for(const char *provider, const char *params)
{
    static char url[512];
    const char *path = "/none";
    for (size_t i = 0; i < N_PATHS; i++)
        if (strcmp(paths[i].name, provider) == 0)
            path = paths[i].path;
    snprintf(url, sizeof url, "%s/%s%s?%s", base, provider, path, params);
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
    n_lines++;
}

static void lines_reset(void)
{
    lines.len = 0;
    buf_putc(&lines, 0);
    lines.len = 0;
    n_lines = 0;
}

/* Fills g with query and docs, strings in its arena; scores set to -999. */
static void group_fill(struct group *g, const char *qid, const char *query,
                       const char *const *docs, size_t n)
{
    group_reset(g);
    g->qid = qid ? arena_strndup(&g->arena, qid, strlen(qid)) : NULL;
    g->query = arena_strndup(&g->arena, query, strlen(query));
    for (size_t i = 0; i < n; i++) {
        struct candidate *c = group_add(g);
        char id[32];
        snprintf(id, sizeof id, "d%zu", i);
        c->docid = arena_strndup(&g->arena, id, strlen(id));
        c->text = arena_strndup(&g->arena, docs[i], strlen(docs[i]));
        c->text_len = strlen(docs[i]);
        c->score = -999;
    }
}

/* ASCII letter/digit runs of s, lowercased, into toks (at most cap). */
static size_t tokenize(const char *s, char toks[][32], size_t cap)
{
    size_t n = 0;
    while (*s) {
        while (*s && !isalnum((unsigned char)*s))
            s++;
        size_t k = 0;
        char t[32];
        while (isalnum((unsigned char)*s)) {
            if (k < 31)
                t[k++] = (char)tolower((unsigned char)*s);
            s++;
        }
        t[k] = 0;
        if (k && n < cap)
            strcpy(toks[n++], t);
    }
    return n;
}

/* The fake server's score: |Q ∩ set(D)| + 1 / (2 + len(D)) + shift. */
static double expected_score(const char *query, const char *doc, double shift)
{
    char q[64][32], d[256][32];
    size_t nq = tokenize(query, q, 64), nd = tokenize(doc, d, 256);
    int overlap = 0;
    for (size_t i = 0; i < nq; i++) {
        bool dup = false, in = false;
        for (size_t j = 0; j < i; j++)
            dup |= strcmp(q[i], q[j]) == 0;
        for (size_t j = 0; j < nd; j++)
            in |= strcmp(q[i], d[j]) == 0;
        overlap += !dup && in;
    }
    return ((double)overlap + 1.0 / (2 + (double)nd)) + shift;
}

static bool scores_match(const struct group *g, double shift)
{
    bool ok = true;
    for (size_t i = 0; i < g->n_cands; i++) {
        double want = expected_score(g->query, g->cands[i].text, shift);
        if (g->cands[i].score != want) {
            printf("  doc %zu: score %.17g, want %.17g\n", i, g->cands[i].score, want);
            ok = false;
        }
    }
    return ok;
}

static bool scores_untouched(const struct group *g)
{
    for (size_t i = 0; i < g->n_cands; i++)
        if (g->cands[i].score != -999)
            return false;
    return true;
}

static struct api_options options(const char *provider, const char *url)
{
    struct api_options o;
    api_options_init(&o);
    o.provider = provider;
    o.url = url;
    o.model = strcmp(provider, "tei") == 0 ? NULL : "test-model";
    o.timeout = 2;
    o.retries = 2;
    o.backoff = 0.05;
    o.backoff_max = 0.2;
    o.retry_after_max = 5;
    o.notify = collect;
    return o;
}

/* Creates the scorer, scores g once, frees it.  Returns score()'s result;
 * the time taken in *seconds when not NULL. */
static int score_once(const struct api_options *o, struct group *g, struct err *e,
                      double *seconds)
{
    lines_reset();
    struct scorer *s = api_scorer_new(o, e);
    CHECK_MSG(s != NULL, "api_scorer_new(%s): %s", o->provider, e->msg);
    if (!s)
        return -2;
    double t0 = now_seconds();
    int rc = s->score(s, g, e);
    if (seconds)
        *seconds = now_seconds() - t0;
    scorer_free(s);
    return rc;
}

/* The server's counters for a tag: requests, most in flight at once, and
 * the documents per request (sorted ascending into batches[0..*n_batches)). */
struct stats {
    long requests, max_inflight, batches[64];
    size_t n_batches;
};

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static struct stats stats_for(const char *tag)
{
    struct stats st = {0};
    json_t *j = fake_server_stats(base, tag);
    CHECK_MSG(j != NULL, "no stats from the fake server for tag %s", tag);
    if (j) {
        st.requests = (long)json_integer_value(json_object_get(j, "requests"));
        st.max_inflight = (long)json_integer_value(json_object_get(j, "max_inflight"));
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "batches"), i, v)
            if (st.n_batches < 64)
                st.batches[st.n_batches++] = (long)json_integer_value(v);
        qsort(st.batches, st.n_batches, sizeof *st.batches, cmp_long);
        json_decref(j);
    }
    return st;
}

static const char *const docs7[] = {
    "The quick brown fox jumps over the lazy dog",
    "A fox",
    "Nothing relevant here at all",
    "brown dogs and brown foxes, quick ones",
    "quick quick quick",
    "",
    "Über den Fuchs: the FOX is quick and brown",
};
#define QUERY "quick brown fox"

/* ---- tests without a server ------------------------------------------- */

static void test_retry_after(void)
{
    double d = -1;
    CHECK(http_parse_retry_after("2", 0, &d) == 0 && d == 2);
    CHECK(http_parse_retry_after(" 1.5 ", 0, &d) == 0 && d == 1.5);
    time_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    CHECK(http_parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now, &d) == 0 && d == 30);
    CHECK(http_parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now, &d) == 0 && d == 0);
    CHECK(http_parse_retry_after("soon", now, &d) == -1);
    CHECK(http_parse_retry_after("5s", now, &d) == -1);
    CHECK(http_parse_retry_after("", now, &d) == -1);
}

static void test_transient(void)
{
    CHECK(http_status_is_transient(408));
    CHECK(http_status_is_transient(429));
    CHECK(http_status_is_transient(500));
    CHECK(http_status_is_transient(503));
    CHECK(!http_status_is_transient(501));
    long final[] = {200, 400, 401, 403, 404, 422};
    for (size_t i = 0; i < sizeof final / sizeof *final; i++)
        CHECK_MSG(!http_status_is_transient(final[i]), "%ld is final", final[i]);
}

static void test_redact(void)
{
    struct http_options o;
    http_options_init(&o);
    const char *secrets[] = {"s3cr3t-key", "", "abc", KEY, NULL};
    o.secrets = secrets;
    struct err e;
    struct http_client *c = http_client_new(&o, &e);
    CHECK(c != NULL);
    if (!c)
        return;
    char *r = http_redact(c, "a s3cr3t-key b s3cr3t-keys3cr3t-key");
    CHECK_STR(r, "a [redacted] b [redacted][redacted]");
    free(r);
    /* A piece of 6 or more bytes, wherever it is; a whole short secret. */
    r = http_redact(c, "cut off: s3cr3t");
    CHECK_STR(r, "cut off: [redacted]");
    free(r);
    r = http_redact(c, "near 'REIgKpaUnArl' and 3cr3t-k and -key, abc, ab");
    CHECK_STR(r, "near '[redacted]' and [redacted] and -key, [redacted], ab");
    free(r);
    r = http_redact(c, "short s3c");
    CHECK_STR(r, "short s3c");
    free(r);

    /* A key straddling every cut point: nothing of it shows, before the
     * 300-byte cut of a server's message or the 80-byte one of an answer. */
    size_t k = strlen(KEY);
    for (size_t at = 0; at <= 300 + k; at++) {
        struct buf body = {0};
        buf_puts(&body, "{\"message\": \"");
        for (size_t i = 0; i < at; i++)
            buf_putc(&body, "wxyz"[i % 4]);
        buf_printf(&body, "%s and more text after it\"}", KEY);
        char *msg = http_error_message(c, body.data, body.len);
        CHECK_MSG(msg && !shows_piece(msg, KEY) && strlen(msg) <= 303, "at %zu: %s", at, msg);
        CHECK_MSG(at + k > 300 || strstr(msg, "[redacted]"), "at %zu: %s", at, msg);
        free(msg);
        if (at <= 80 + k) {
            char *text = body.data + 13;
            msg = http_one_line(c, text, strlen(text), 80);
            char *whole = http_redact(c, text);
            bool cut = strlen(whole) > 80;
            free(whole);
            CHECK_MSG(!shows_piece(msg, KEY) && strlen(msg) <= 83 &&
                          cut == (strcmp(msg + strlen(msg) - 3, "...") == 0),
                      "at %zu: %s", at, msg);
            free(msg);
        }
        buf_free(&body);
    }
    /* An uncut line is left whole. */
    r = http_one_line(c, "line\none", 8, 80);
    CHECK_STR(r, "line one");
    free(r);
    http_client_free(c);

    /* A URL's userinfo: its password, as written and decoded, and the
     * Basic credentials libcurl makes of it; a lone user name (a token). */
    static const struct {
        const char *url, *text, *want;
    } userinfo[] = {
        {"https://me:p%40ss-w0rd@example.com/v1/rerank",
         "p%40ss-w0rd p@ss-w0rd Basic bWU6cEBzcy13MHJk me@example.com",
         "[redacted] [redacted] Basic [redacted] me@example.com"},
        {"https://tok-1234567@example.com/", "tok-1234567 dG9rLTEyMzQ1Njc6",
         "[redacted] [redacted]"},
    };
    o.secrets = NULL;
    for (size_t i = 0; i < sizeof userinfo / sizeof *userinfo; i++) {
        o.secret_url = userinfo[i].url;
        c = http_client_new(&o, &e);
        r = http_redact(c, userinfo[i].text);
        CHECK_STR(r, userinfo[i].want);
        free(r);
        http_client_free(c);
    }
}

static void test_options(void)
{
    struct api_options o;
    struct err e = {0};
    static const char *vars[] = {"RERANK_API_KEY", "COHERE_API_KEY", "JINA_API_KEY",
                                 "VOYAGE_API_KEY", "MXBAI_API_KEY", "TOGETHER_API_KEY",
                                 "PINECONE_API_KEY"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);

    api_options_init(&o);
    o.provider = "nope";
    CHECK(api_scorer_new(&o, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "unknown API \"nope\"") && strstr(e.msg, "pinecone"), "%s", e.msg);

    /* Hosted providers need a key before any request; each names its own. */
    for (size_t i = 0; api_provider_name(i); i++) {
        const char *name = api_provider_name(i);
        api_options_init(&o);
        o.provider = name;
        struct scorer *s = api_scorer_new(&o, &e);
        if (strcmp(name, "tei") == 0) {
            CHECK_MSG(s != NULL, "tei needs no key: %s", e.msg);
        } else {
            CHECK_MSG(s == NULL && strstr(e.msg, "needs an API key") &&
                          strstr(e.msg, "RERANK_API_KEY"),
                      "%s without a key: %s", name, s ? "created" : e.msg);
        }
        scorer_free(s);
    }
    api_options_init(&o);
    o.provider = "pinecone";
    api_scorer_new(&o, &e);
    CHECK_MSG(strstr(e.msg, "PINECONE_API_KEY") != NULL, "%s", e.msg);

    setenv("COHERE_API_KEY", "abc", 1);
    o.provider = "cohere";
    struct scorer *s = api_scorer_new(&o, &e);
    CHECK_MSG(s != NULL, "COHERE_API_KEY set: %s", e.msg);
    scorer_free(s);
    o.provider = "voyage";
    CHECK(api_scorer_new(&o, &e) == NULL); /* another provider's key does not count */
    setenv("COHERE_API_KEY", "abc\r\nX-Evil: 1", 1);
    o.provider = "cohere";
    CHECK(api_scorer_new(&o, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "COHERE_API_KEY contains a control character") != NULL, "%s",
              e.msg);
    CHECK(strstr(e.msg, "X-Evil") == NULL);
    unsetenv("COHERE_API_KEY");

    /* A custom URL may run keyless. */
    o.url = "http://127.0.0.1:1/v1/rerank";
    s = api_scorer_new(&o, &e);
    CHECK_MSG(s != NULL, "keyless custom url: %s", e.msg);
    scorer_free(s);

    o.url = "ftp://example.com/rerank";
    CHECK(api_scorer_new(&o, &e) == NULL && strstr(e.msg, "--api-url"));
    o.url = NULL;
    o.provider = "tei";
    o.model = "some-model";
    CHECK(api_scorer_new(&o, &e) == NULL && strstr(e.msg, "--api-model does not apply"));
    o.model = NULL;
    o.timeout = 0;
    CHECK(api_scorer_new(&o, &e) == NULL && strstr(e.msg, "timeout"));
    api_options_init(&o);
    o.provider = "tei";
    o.concurrency = 0;
    CHECK(api_scorer_new(&o, &e) == NULL && strstr(e.msg, "concurrency"));
    api_options_init(&o);
    o.provider = "tei";
    o.batch = -1;
    CHECK(api_scorer_new(&o, &e) == NULL && strstr(e.msg, "--api-batch"));
}

/* ---- the fake server -------------------------------------------------- */

/* A self-signed certificate for 127.0.0.1 in TLS_DIR; 0 or -1. */
static int make_certificate(void)
{
    if (!on_path("openssl"))
        return -1;
    mkdir("tests/out", 0777);
    mkdir(TLS_DIR, 0777);
    return system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
                  " -addext subjectAltName=IP:127.0.0.1 -keyout " TLS_DIR "/key.pem"
                  " -out " TLS_DIR "/cert.pem 2>/dev/null") == 0 ? 0 : -1;
}

/* Starts the server (with an HTTPS port when tls) and reads its ports;
 * 0 or -1. */
static int server_start(bool tls)
{
    char *plain[] = {"scripts/fake-rerank-server.py", "--key", KEY, "--idle", "20", NULL};
    char *with_tls[] = {"scripts/fake-rerank-server.py", "--key", KEY, "--idle", "20",
                        "--tls-cert", TLS_DIR "/cert.pem", "--tls-key", TLS_DIR "/key.pem", NULL};
    long ports[2];
    if (fake_server_start(tls ? with_tls : plain, ports, 2) != (tls ? 2 : 1))
        return -1;
    snprintf(base, sizeof base, "http://127.0.0.1:%ld", ports[0]);
    if (tls)
        snprintf(tls_base, sizeof tls_base, "https://127.0.0.1:%ld", ports[1]);
    return 0;
}

static void test_providers(void)
{
    struct group g = {0};
    struct err e;
    for (size_t i = 0; i < N_PATHS; i++) {
        const char *name = paths[i].name;
        char params[64];
        snprintf(params, sizeof params, "tag=ok-%s", name);
        struct api_options o = options(name, url_for(name, params));
        group_fill(&g, "q1", QUERY, docs7, 7);
        int rc = score_once(&o, &g, &e, NULL);
        CHECK_MSG(rc == 0, "%s: %s", name, e.msg);
        CHECK_MSG(rc == 0 && scores_match(&g, 0), "%s scores", name);
        struct stats st = stats_for(params + 4);
        CHECK_MSG(st.requests == 1 && st.n_batches == 1 && st.batches[0] == 7,
                  "%s: %ld requests", name, st.requests);
        CHECK_MSG(n_lines == 0, "%s: unexpected lines: %s", name, lines.data);
    }

    /* Result order does not matter; raw logits may be negative. */
    const char *orders[] = {"order=input", "order=reverse", "order=shuffle"};
    for (size_t i = 0; i < 3; i++) {
        struct api_options o = options("cohere", url_for("cohere", orders[i]));
        group_fill(&g, "q1", QUERY, docs7, 7);
        CHECK_MSG(score_once(&o, &g, &e, NULL) == 0 && scores_match(&g, 0), "%s", orders[i]);
    }
    struct api_options o = options("jina", url_for("jina", "shift=-5&order=input"));
    group_fill(&g, "q1", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == 0 && scores_match(&g, -5));

    /* An empty group sends nothing. */
    o = options("cohere", url_for("cohere", "tag=empty"));
    group_fill(&g, "q1", QUERY, docs7, 0);
    CHECK(score_once(&o, &g, &e, NULL) == 0);
    CHECK(stats_for("empty").requests == 0);

    /* A query holding U+0000 is sent whole: "apple" after it counts. */
    static const char *const fruit[] = {"an apple", "a pear"};
    o = options("cohere", url_for("cohere", "tag=nul"));
    group_fill(&g, "q1", QUERY, fruit, 2);
    g.query = arena_strndup(&g.arena, "zzz\0apple", 9);
    g.query_len = 9;
    CHECK_MSG(score_once(&o, &g, &e, NULL) == 0, "%s", e.msg);
    CHECK_MSG(g.cands[0].score == 1.25 && g.cands[1].score == 0.25,
              "NUL query: scores %g %g", g.cands[0].score, g.cands[1].score);

    /* Invalid UTF-8 is refused before any request. */
    static const char *const bad[] = {"ok", "bad \xff byte"};
    o = options("cohere", url_for("cohere", "tag=utf8"));
    group_fill(&g, "q1", QUERY, bad, 2);
    CHECK(score_once(&o, &g, &e, NULL) == -1 && strstr(e.msg, "document d1 is not valid UTF-8"));
    CHECK(stats_for("utf8").requests == 0);
    group_free(&g);
}

static void test_batches(void)
{
    struct group g = {0};
    struct err e;
    char texts[75][64];
    const char *docs[75];
    for (int i = 0; i < 75; i++) {
        snprintf(texts[i], sizeof texts[i], "document %d about a %s fox%s", i,
                 i % 3 ? "quick" : "slow", i % 5 ? "" : " that is brown");
        docs[i] = texts[i];
    }

    /* TEI's default of 32 documents per request. */
    struct api_options o = options("tei", url_for("tei", "tag=tei75"));
    group_fill(&g, "q2", QUERY, docs, 75);
    CHECK_MSG(score_once(&o, &g, &e, NULL) == 0, "%s", e.msg);
    CHECK(scores_match(&g, 0));
    struct stats st = stats_for("tei75");
    CHECK(st.n_batches == 3 && st.batches[0] == 11 && st.batches[1] == 32 &&
          st.batches[2] == 32);
    /* Past TEI's limit the server says so (422) and nothing is retried. */
    o.batch = 40;
    o.url = url_for("tei", "tag=tei40");
    group_fill(&g, "q2", QUERY, docs, 75);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "HTTP 422: batch size 40 > maximum allowed batch size 32"), "%s",
              e.msg);
    CHECK_MSG(strstr(e.msg, "request 1 of 2 (documents 1-40)") ||
                  strstr(e.msg, "request 2 of 2 (documents 41-75)"), "%s", e.msg);
    CHECK(stats_for("tei40").requests == 2);

    /* --api-batch and --api-concurrency: 8 requests, at most 3 at a time. */
    o = options("jina", url_for("jina", "tag=conc&fault=slow&delay=0.2"));
    o.batch = 10;
    o.concurrency = 3;
    group_fill(&g, "q2", QUERY, docs, 75);
    CHECK_MSG(score_once(&o, &g, &e, NULL) == 0, "%s", e.msg);
    CHECK(scores_match(&g, 0));
    st = stats_for("conc");
    CHECK_MSG(st.requests == 8 && st.max_inflight >= 2 && st.max_inflight <= 3,
              "%ld requests, %ld at once", st.requests, st.max_inflight);
    group_free(&g);
}

/* Runs provider against the fault in params; returns score()'s result. */
static int fault_run(const char *provider, const char *params, struct api_options *o,
                     struct group *g, struct err *e, double *seconds)
{
    *o = options(provider, url_for(provider, params));
    group_fill(g, "q3", QUERY, docs7, 7);
    return score_once(o, g, e, seconds);
}

static void test_retries(void)
{
    struct group g = {0};
    struct err e;
    struct api_options o;
    double t;

    /* 429 with Retry-After in seconds: waited, said, then success. */
    CHECK(fault_run("cohere", "tag=ra1&fault=429&times=1&retry_after=1", &o, &g, &e, &t) == 0);
    CHECK(scores_match(&g, 0));
    CHECK_MSG(n_lines == 1 && strstr(lines.data, "cohere for query q3: HTTP 429; retry 1 of 2 "
                                                 "in 1.00 s (Retry-After)"), "%s", lines.data);
    CHECK_MSG(t >= 0.95 && t < 3, "%.3f s", t);
    CHECK(stats_for("ra1").requests == 2);

    /* Retry-After as an HTTP-date. */
    CHECK(fault_run("voyage", "tag=ra2&fault=429&times=1&retry_after=date:2", &o, &g, &e,
                    &t) == 0);
    CHECK_MSG(n_lines == 1 && strstr(lines.data, "(Retry-After)"), "%s", lines.data);
    CHECK_MSG(t >= 0.9 && t < 4, "%.3f s", t);

    /* A Retry-After past the cap is cut to it. */
    o = options("mixedbread", url_for("mixedbread", "tag=ra3&fault=429&times=1&retry_after=100"));
    o.retry_after_max = 0.3;
    group_fill(&g, "q3", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, &t) == 0 && t < 2);
    CHECK_MSG(strstr(lines.data, "in 0.30 s (Retry-After)"), "%s", lines.data);

    /* Without Retry-After: backoff. */
    CHECK(fault_run("together", "tag=ra4&fault=429&times=1&retry_after=none", &o, &g, &e,
                    &t) == 0);
    CHECK_MSG(n_lines == 1 && !strstr(lines.data, "Retry-After"), "%s", lines.data);

    /* 500 twice, then success, within 2 retries. */
    CHECK(fault_run("pinecone", "tag=r500&fault=500&times=2", &o, &g, &e, NULL) == 0);
    CHECK(scores_match(&g, 0));
    CHECK_MSG(n_lines == 2 && strstr(lines.data, "HTTP 500; retry 2 of 2"), "%s", lines.data);
    CHECK(stats_for("r500").requests == 3);

    /* 503 for ever: the error names provider, status, the body's message. */
    CHECK(fault_run("cohere", "tag=r503&fault=503", &o, &g, &e, NULL) == -1);
    CHECK_STR(e.msg, "cohere for query q3: HTTP 503 after 2 retries: service unavailable");
    CHECK(stats_for("r503").requests == 3);
    CHECK(scores_untouched(&g));

    /* --quiet drops retry lines, not retries. */
    o = options("cohere", url_for("cohere", "tag=quiet&fault=503&times=1"));
    o.quiet = true;
    group_fill(&g, "q3", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == 0 && n_lines == 0);
    CHECK(stats_for("quiet").requests == 2);

    /* A dropped connection is retried. */
    CHECK(fault_run("jina", "tag=drop&fault=drop&times=1", &o, &g, &e, NULL) == 0);
    CHECK(scores_match(&g, 0));
    CHECK_MSG(n_lines == 1 && strstr(lines.data, "retry 1 of 2"), "%s", lines.data);

    /* A slow answer times out and is retried. */
    o = options("tei", url_for("tei", "tag=slow1&fault=slow&delay=2&times=1"));
    o.timeout = 0.4;
    group_fill(&g, "q3", QUERY, docs7, 7);
    CHECK_MSG(score_once(&o, &g, &e, &t) == 0, "%s", e.msg);
    CHECK(scores_match(&g, 0));
    CHECK_MSG(n_lines == 1 && strstr(lines.data, "timed out"), "%s", lines.data);
    CHECK_MSG(t < 1.5, "%.3f s", t);

    /* Always too slow: fails with a hint. */
    o = options("tei", url_for("tei", "tag=slow2&fault=slow&delay=2"));
    o.timeout = 0.3;
    o.retries = 1;
    group_fill(&g, "q3", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "timed out") && strstr(e.msg, "after 1 retry") &&
                  strstr(e.msg, "no answer within --timeout 0.3 s"), "%s", e.msg);

    /* 429 to the end: the hint says what to change. */
    o = options("cohere-v2", url_for("cohere-v2", "tag=r429&fault=429&retry_after=0"));
    o.retries = 1;
    group_fill(&g, "q3", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "HTTP 429 after 1 retry: You are past the per minute request "
                            "limit") && strstr(e.msg, "lower --api-concurrency"), "%s", e.msg);

    /* Nobody listening: connection errors are retried, then reported. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &alen);
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d/rerank", ntohs(a.sin_port));
    close(fd);
    o = options("tei", dead);
    o.retries = 1;
    group_fill(&g, "q3", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "onnect") && strstr(e.msg, "after 1 retry") && n_lines == 1,
              "%s", e.msg);
    group_free(&g);
}

static void test_bad_answers(void)
{
    struct group g = {0};
    struct err e;
    struct api_options o;
    static const struct {
        const char *provider, *params, *want;
    } cases[] = {
        {"cohere", "tag=b1&fault=malformed", "cohere for query q3: the answer is not JSON: "},
        {"cohere", "tag=b2&fault=nokey", "cohere for query q3: the answer has no \"results\" array"},
        {"voyage", "tag=b3&fault=nokey", "voyage for query q3: the answer has no \"data\" array"},
        {"tei", "tag=b4&fault=missing", "tei for query q3: 1 of the 7 documents sent have no result"},
        {"jina", "tag=b5&fault=repeat", "jina for query q3: index 0 appears twice"},
        {"mixedbread", "tag=b6&fault=range", "has index 7, outside the 7 documents sent"},
        {"pinecone", "tag=b7&fault=badscore", "has no numeric \"score\""},
        {"together", "tag=b8&fault=badscore", "has no numeric \"relevance_score\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK(fault_run(cases[i].provider, cases[i].params, &o, &g, &e, NULL) == -1);
        CHECK_MSG(strstr(e.msg, cases[i].want), "%s: %s", cases[i].params, e.msg);
        CHECK(scores_untouched(&g));
        CHECK(stats_for(cases[i].params + 4).requests == 1); /* never retried */
    }
    group_free(&g);
}

static void test_http_errors(void)
{
    struct group g = {0};
    struct err e;
    struct api_options o;
    static const struct {
        const char *provider, *params, *want;
    } cases[] = {
        {"cohere", "tag=h1&fault=401",
         "cohere for query q3: HTTP 401: invalid api token; check RERANK_API_KEY"},
        {"together", "tag=h2&fault=400", "HTTP 400: invalid request: fake bad request"},
        {"pinecone", "tag=h3&fault=404", "HTTP 404: model not found; check --api-url and --api-model"},
        {"voyage", "tag=h4&fault=422", "HTTP 422: fake unprocessable request"},
        {"tei", "tag=h5&fault=401", "tei for query q3: HTTP 401; check RERANK_API_KEY"},
        {"mixedbread", "tag=h6&fault=502html", "mixedbread for query q3: HTTP 502 after 2 retries"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK(fault_run(cases[i].provider, cases[i].params, &o, &g, &e, NULL) == -1);
        CHECK_MSG(strstr(e.msg, cases[i].want), "%s: %s", cases[i].params, e.msg);
        CHECK_MSG(!strstr(e.msg, "<html>"), "%s", e.msg);
        long want = strstr(cases[i].params, "502") ? 3 : 1; /* only 5xx is retried */
        CHECK(stats_for(cases[i].params + 4).requests == want);
    }

    /* A wrong key: the server's own message, the variable to check. */
    setenv("RERANK_API_KEY", "sk-wrong-key-123", 1);
    CHECK(fault_run("jina", "tag=h7", &o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "HTTP 401: invalid api token; check RERANK_API_KEY"), "%s", e.msg);
    setenv("RERANK_API_KEY", KEY, 1);
    group_free(&g);
}

static void test_keys(void)
{
    struct group g = {0};
    struct err e;
    struct api_options o;

    /* A server echoing the key in its error, with --verbose: the key shows
     * nowhere. */
    o = options("cohere", url_for("cohere", "tag=leak&fault=leak"));
    o.verbose = true;
    group_fill(&g, "q4", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "invalid api token: Bearer [redacted]"), "%s", e.msg);
    CHECK(!shows_piece(e.msg, KEY));
    CHECK_MSG(n_lines == 1 && strstr(lines.data, "POST http://127.0.0.1:") &&
                  strstr(lines.data, "/cohere/v1/rerank?tag=leak&fault=leak: HTTP 401, ") &&
                  strstr(lines.data, "0 retries"), "%s", lines.data);

    o = options("pinecone", url_for("pinecone", "tag=leak2&fault=leak"));
    o.verbose = true;
    group_fill(&g, "q4", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "invalid api token: [redacted]") && !strstr(e.msg, KEY), "%s",
              e.msg);

    /* The echoed key straddling the cut of the server's message, at every
     * point: nothing of it shows. */
    for (int pad = 240; pad <= 300; pad++) {
        char params[64];
        snprintf(params, sizeof params, "tag=leakpad&fault=leak&pad=%d", pad);
        o = options("cohere", url_for("cohere", params));
        group_fill(&g, "q4", QUERY, docs7, 7);
        CHECK(score_once(&o, &g, &e, NULL) == -1);
        CHECK_MSG(strstr(e.msg, "HTTP 401: invalid api token: xxx") && !shows_piece(e.msg, KEY),
                  "pad %d: %s", pad, e.msg);
    }
    /* An answer that is not JSON and starts with the key: jansson's "near
     * '...'" quotes a piece of it, which is redacted. */
    o = options("cohere", url_for("cohere", "tag=leakjson&fault=leakjson"));
    group_fill(&g, "q4", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "the answer is not JSON: '[' or '{' expected near '[redacted]'") &&
                  !shows_piece(e.msg, KEY), "%s", e.msg);

    /* A password in --api-url is a secret: libcurl sends it as Basic
     * credentials, which a server may echo. */
    char leak_url[256];
    snprintf(leak_url, sizeof leak_url,
             "http://me:pw-9d8e7f%%21@127.0.0.1:%s/cohere/v1/rerank?tag=basic&fault=leak",
             strrchr(base, ':') + 1);
    unsetenv("RERANK_API_KEY");
    o = options("cohere", leak_url);
    group_fill(&g, "q4", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "invalid api token: Basic [redacted]") &&
                  !shows_piece(e.msg, "pw-9d8e7f!") && !shows_piece(e.msg, "bWU6cHctOWQ4ZTdmIQ=="),
              "%s", e.msg);
    setenv("RERANK_API_KEY", KEY, 1);

    /* A key in the URL's userinfo is not shown either. */
    char url[256];
    snprintf(url, sizeof url, "http://user:pw-9d8e7f@127.0.0.1:%s/cohere/v1/rerank?tag=ui",
             strrchr(base, ':') + 1);
    o = options("cohere", url);
    o.verbose = true;
    group_fill(&g, "q4", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == 0);
    CHECK_MSG(!strstr(lines.data, "pw-9d8e7f") && strstr(lines.data, "HTTP 200"), "%s",
              lines.data);

    /* A provider's own variable is never sent to an --api-url: a keyless
     * self-hosted server (which refuses credentials) works. */
    unsetenv("RERANK_API_KEY");
    setenv("JINA_API_KEY", KEY, 1);
    o = options("jina", url_for("jina", "tag=self&selfhosted=1"));
    o.model = NULL;
    group_fill(&g, "q4", QUERY, docs7, 7);
    CHECK_MSG(score_once(&o, &g, &e, NULL) == 0, "%s", e.msg);
    CHECK(scores_match(&g, 0));
    /* ... and a server that wants one is told why none came. */
    CHECK(fault_run("jina", "tag=nokey", &o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "HTTP 401: no api key supplied; no key was sent (JINA_API_KEY goes "
                            "only to https://api.jina.ai/v1/rerank); set RERANK_API_KEY"),
              "%s", e.msg);
    CHECK(!strstr(e.msg, KEY));
    unsetenv("JINA_API_KEY");
    setenv("RERANK_API_KEY", KEY, 1);
    group_free(&g);
}

/* Peers are always verified; --cacert names whom to trust. */
static void test_tls(void)
{
    if (!tls_base[0]) {
        SKIP("openssl not on PATH: TLS tests");
        return;
    }
    struct group g = {0};
    struct err e;
    char url[128];
    snprintf(url, sizeof url, "%s/cohere/v1/rerank?tag=tls1", tls_base);
    struct api_options o = options("cohere", url);
    group_fill(&g, "q5", QUERY, docs7, 7);
    CHECK(score_once(&o, &g, &e, NULL) == -1);
    CHECK_MSG(strstr(e.msg, "certificate") && !strstr(e.msg, "retr") && n_lines == 0, "%s",
              e.msg);
    CHECK(stats_for("tls1").requests == 0);

    snprintf(url, sizeof url, "%s/cohere/v1/rerank?tag=tls2", tls_base);
    o = options("cohere", url);
    o.cacert = TLS_DIR "/cert.pem";
    group_fill(&g, "q5", QUERY, docs7, 7);
    CHECK_MSG(score_once(&o, &g, &e, NULL) == 0, "%s", e.msg);
    CHECK(scores_match(&g, 0));
    CHECK(stats_for("tls2").requests == 1);

    o.cacert = TLS_DIR "/missing.pem";
    CHECK(api_scorer_new(&o, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "cannot read the CA bundle " TLS_DIR "/missing.pem"), "%s", e.msg);
    group_free(&g);
}

static void progress_seen(void *ctx, long long have, long long total)
{
    long long *seen = ctx;
    seen[0] = have;
    seen[1] = total;
}

static void test_http_direct(void)
{
    struct http_options ho;
    http_options_init(&ho);
    ho.timeout = 5;
    struct err e;
    struct http_client *c = http_client_new(&ho, &e);
    char url[128];
    snprintf(url, sizeof url, "%s/_stats?tag=ok-cohere", base);

    /* A GET into a file, with progress and the response headers. */
    FILE *f = tmpfile();
    long long seen[2] = {-2, -2};
    struct http_request r = {.method = "GET", .url = url, .dest = f, .keep_headers = true,
                             .progress = progress_seen, .progress_ctx = seen};
    CHECK(http_run(c, &r, 1, &e) == 0 && r.ok && r.status == 200);
    char value[64];
    CHECK(http_header(&r, "content-type", value, sizeof value));
    CHECK_STR(value, "application/json");
    CHECK(!http_header(&r, "X-Nothing", value, sizeof value) && !value[0]);
    CHECK_MSG(seen[0] > 0 && seen[0] == (long long)ftello(f) && seen[1] == seen[0],
              "progress %lld of %lld", seen[0], seen[1]);
    buf_free(&r.resp_headers);
    rewind(f);
    char text[256] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    CHECK_MSG(strstr(text, "\"requests\": 1"), "%s", text);
    CHECK(r.response.len == 0);
    fclose(f);

    /* An error body stays out of the file, in `response`. */
    snprintf(url, sizeof url, "%s/nothing", base);
    f = tmpfile();
    struct http_request miss = {.method = "GET", .url = url, .dest = f};
    CHECK(http_run(c, &miss, 1, &e) == 1 && miss.status == 405 && ftello(f) == 0);
    CHECK_STR(miss.response.data, "{\"message\":\"rerank endpoints take POST\"}");
    buf_free(&miss.response);
    fclose(f);
    snprintf(url, sizeof url, "%s/_stats?tag=ok-cohere", base);

    /* The size cap fails the request, without retries. */
    struct http_request small = {.method = "GET", .url = url, .max_bytes = 8};
    CHECK(http_run(c, &small, 1, &e) == 1 && !small.ok);
    CHECK_STR(small.error, "response larger than 8 bytes");
    CHECK(small.n_retries == 0);
    buf_free(&small.response);
    http_client_free(c);
}

int main(void)
{
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    test_retry_after();
    test_transient();
    test_redact();
    test_options();

    if (!on_path("python3")) {
        SKIP("python3 not on PATH: fake rerank server tests");
        return check_report();
    }
    if (server_start(make_certificate() == 0) != 0) {
        CHECK_MSG(0, "cannot start scripts/fake-rerank-server.py");
        return check_report();
    }
    setenv("RERANK_API_KEY", KEY, 1);
    double t0 = now_seconds();
    test_providers();
    test_batches();
    test_retries();
    test_bad_answers();
    test_http_errors();
    test_keys();
    test_tls();
    test_http_direct();
    buf_putc(&all_lines, 0);
    CHECK_MSG(!shows_piece(all_lines.data, KEY), "a line shows the key");
    CHECK(strstr(all_lines.data, "(Retry-After)") != NULL); /* the check above saw lines */
    printf("server tests took %.1f s\n", now_seconds() - t0);
    fake_server_stop();
    buf_free(&lines);
    buf_free(&all_lines);
    return check_report();
}
