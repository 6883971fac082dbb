/* test_trec.c — queries in three formats, collections (TSV and JSONL) with
 * their offset index, and the group source (depth, tail, missing queries and
 * documents).  Files are written to a temporary directory; the Cranfield
 * part reads ../shared through symlinks, so no index is ever written there. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trec/trec.h"

static char tmpdir[] = "/tmp/rerank-test-trec-XXXXXX";

static const char *tmp_path(const char *name)
{
    static char path[8][512];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static const char *write_tmp(const char *name, const char *text)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

static void check_error(int rc, const struct err *e, const char *want)
{
    CHECK_MSG(rc == -1 && strstr(e->msg, want), "want \"%s\" in \"%s\"", want,
              rc == -1 ? e->msg : "(no error)");
}

static void test_queries_tsv(void)
{
    struct trec_queries q;
    struct err e;
    const char *p = write_tmp("q.tsv", "1\tfirst query\r\n\n2\t  spaced\tand tabbed\n"
                                       "abc\t\n");
    CHECK(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e) == 0);
    CHECK(q.format == TREC_QUERIES_TSV);
    CHECK(q.n == 3);
    CHECK_STR(trec_queries_find(&q, "1", NULL), "first query");
    CHECK_STR(trec_queries_find(&q, "2", NULL), "  spaced\tand tabbed");
    CHECK_STR(trec_queries_find(&q, "abc", NULL), "");
    CHECK(trec_queries_find(&q, "3", NULL) == NULL);
    CHECK(q.n == 3 && q.lines[1] == 3);
    trec_queries_free(&q);

    char want[600];
    p = write_tmp("q-bad.tsv", "1\tok\n2 no tab\n");
    snprintf(want, sizeof want, "%s:2: expected qid<TAB>text", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e), &e, want);
    trec_queries_free(&q);

    p = write_tmp("q-dup.tsv", "1\tok\n2\tfine\n1\tagain\n");
    snprintf(want, sizeof want, "%s:3: query \"1\" defined twice (first on line 1)", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e), &e, want);
    trec_queries_free(&q);
}

static void test_queries_jsonl(void)
{
    struct trec_queries q;
    struct err e;
    /* BEIR queries.jsonl shape, plus the other accepted key spellings. */
    const char *p = write_tmp("q.jsonl",
        "{\"_id\": \"PLAIN-1\", \"text\": \"do cholesterol statins work\", "
        "\"metadata\": {}}\n"
        "{\"qid\": 42, \"query\": \"integer id\"}\n"
        "\n"
        "{\"id\": \"x\", \"query\": \"query wins\", \"text\": \"over text\"}\n");
    CHECK(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e) == 0);
    CHECK(q.format == TREC_QUERIES_JSONL);
    CHECK(q.n == 3);
    CHECK_STR(trec_queries_find(&q, "PLAIN-1", NULL), "do cholesterol statins work");
    CHECK_STR(trec_queries_find(&q, "42", NULL), "integer id");
    CHECK_STR(trec_queries_find(&q, "x", NULL), "query wins");
    trec_queries_free(&q);

    /* U+0000 in a query is kept, with the text's length. */
    p = write_tmp("q-nul.jsonl", "{\"qid\": \"n\", \"query\": \"a\\u0000b\"}\n");
    CHECK_MSG(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e) == 0, "%s", e.msg);
    size_t len = 0;
    const char *nul = trec_queries_find(&q, "n", &len);
    CHECK(nul && len == 3 && memcmp(nul, "a\0b", 3) == 0);
    trec_queries_free(&q);

    char want[600];
    p = write_tmp("q-bad.jsonl", "{\"qid\": \"1\", \"query\": \"a\"}\n{\"qid\": \"2\"}\n");
    snprintf(want, sizeof want, "%s:2: missing query text", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e), &e, want);
    trec_queries_free(&q);

    p = write_tmp("q-bad2.jsonl", "{\"qid\": \"1\", \"query\": \"a\"}\n{\"qid\": 1.5, "
                  "\"query\": \"b\"}\n");
    snprintf(want, sizeof want, "%s:2: missing query id", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e), &e, want);
    trec_queries_free(&q);

    p = write_tmp("q-bad3.jsonl", "{\"qid\": \"1\", \"query\": \"a\"}\n\n{\"qid\": \n");
    snprintf(want, sizeof want, "%s:3: ", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e), &e, want);
    trec_queries_free(&q);
}

static const char topics_text[] =
    "<top>\n"
    "<num> Number: 301\n"
    "<title> International Organized Crime\n"
    "\n"
    "<desc> Description:\n"
    "Identify organizations that participate in international\n"
    "criminal activity.\n"
    "\n"
    "<narr> Narrative:\n"
    "A relevant document must as a minimum identify the organization.\n"
    "</top>\n"
    "\n"
    "<top>\n"
    "<num> Number: 302 \n"
    "<title> Topic:  Poliomyelitis and Post-Polio\n"
    "<desc> Description:\n"
    "Is the disease of Poliomyelitis (polio) under control?\n"
    "<narr> Narrative:\n"
    "Relevant documents should contain data.\n"
    "</top>\n";

static void test_queries_topics(void)
{
    struct trec_queries q;
    struct err e;
    const char *p = write_tmp("topics.txt", topics_text);
    CHECK(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e) == 0);
    CHECK(q.format == TREC_QUERIES_TOPICS);
    CHECK(q.n == 2);
    CHECK_STR(trec_queries_find(&q, "301", NULL), "International Organized Crime");
    CHECK_STR(trec_queries_find(&q, "302", NULL), "Poliomyelitis and Post-Polio");
    CHECK(q.n == 2 && q.lines[1] == 13);
    trec_queries_free(&q);

    CHECK(trec_queries_read(&q, p, TREC_FIELD_DESC, &e) == 0);
    CHECK_STR(trec_queries_find(&q, "301", NULL), "Identify organizations that "
              "participate in international criminal activity.");
    trec_queries_free(&q);
    CHECK(trec_queries_read(&q, p, TREC_FIELD_NARR, &e) == 0);
    CHECK_STR(trec_queries_find(&q, "302", NULL), "Relevant documents should contain data.");
    trec_queries_free(&q);

    enum trec_topic_field f;
    CHECK(trec_topic_field_parse("desc", &f, &e) == 0 && f == TREC_FIELD_DESC);
    CHECK(trec_topic_field_parse("body", &f, &e) == -1);

    char want[600];
    p = write_tmp("topics-nonum.txt", "<top>\n<num> Number: 1\n<title> a\n</top>\n"
                  "\n<top>\n<title> b\n</top>\n");
    snprintf(want, sizeof want, "%s:6: topic without <num>", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e), &e, want);
    trec_queries_free(&q);

    p = write_tmp("topics-open.txt", "<top>\n<num> Number: 1\n<title> a\n</top>\n"
                  "<top>\n<num> Number: 2\n<title> b\n");
    snprintf(want, sizeof want, "%s:5: <top> without </top>", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e), &e, want);
    trec_queries_free(&q);

    p = write_tmp("topics-nodesc.txt", "<top>\n<num> Number: 7\n<title> a\n</top>\n");
    snprintf(want, sizeof want, "%s:1: topic 7 has no <desc>", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_DESC, &e), &e, want);
    trec_queries_free(&q);

    p = write_tmp("topics-junk.txt", "<top>\n<num> Number: 7\n<title> a\n</top>\n"
                  "stray text\n");
    snprintf(want, sizeof want, "%s:5: expected <top>", p);
    check_error(trec_queries_read(&q, p, TREC_FIELD_TITLE, &e), &e, want);
    trec_queries_free(&q);
}

/* Looks docid up and checks the text (NULL: expect it missing). */
static void check_doc(struct trec_docs *d, const char *docid, const char *want)
{
    struct arena a = {0};
    const char *text = NULL;
    size_t len = 0;
    struct err e;
    int rc = trec_docs_get(d, docid, &a, &text, &len, &e);
    if (want) {
        CHECK_MSG(rc == 1 && strcmp(text, want) == 0 && len == strlen(want),
                  "doc %s: rc %d text \"%s\"", docid, rc, rc == 1 ? text : "");
    } else {
        CHECK_MSG(rc == 0, "doc %s: rc %d, want missing", docid, rc);
    }
    arena_free(&a);
}

static void test_docs_tsv(void)
{
    struct err e;
    const char *p = write_tmp("c.tsv", "d1\tfirst passage\n"
                                       "d2\tsecond\twith a tab\r\n"
                                       "\n"
                                       "10\t\n"
                                       "d3\tlast line without newline");
    struct trec_docs *d = trec_docs_open(p, &e);
    CHECK(d != NULL);
    if (!d)
        return;
    const struct trec_docs_info *info = trec_docs_info(d);
    CHECK(info->built && info->n_docs == 4 && info->format == TREC_DOCS_TSV);
    char want[600];
    snprintf(want, sizeof want, "%s.rrx", p);
    CHECK_STR(info->index_path, want);
    check_doc(d, "d1", "first passage");
    check_doc(d, "d2", "second\twith a tab");
    check_doc(d, "10", "");
    check_doc(d, "d3", "last line without newline");
    check_doc(d, "d4", NULL);
    check_doc(d, "d", NULL);
    check_doc(d, "", NULL);
    trec_docs_free(d);

    /* Reused when unchanged. */
    d = trec_docs_open(p, &e);
    CHECK(d && !trec_docs_info(d)->built && trec_docs_info(d)->n_docs == 4);
    trec_docs_free(d);

    /* Rebuilt when the size changes. */
    FILE *f = fopen(p, "a");
    fputs("\nd5\tappended\n", f);
    fclose(f);
    d = trec_docs_open(p, &e);
    CHECK(d && trec_docs_info(d)->built && trec_docs_info(d)->n_docs == 5);
    if (d)
        check_doc(d, "d5", "appended");
    trec_docs_free(d);

    /* Rebuilt when only the mtime changes (same size, different bytes). */
    f = fopen(p, "r+");
    fputs("d9", f);                       /* "d1" becomes "d9" */
    fclose(f);
    struct stat st;
    stat(p, &st);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    times[1].tv_sec += 5;
    CHECK(utimensat(AT_FDCWD, p, times, 0) == 0);
    d = trec_docs_open(p, &e);
    CHECK(d && trec_docs_info(d)->built);
    if (d) {
        check_doc(d, "d9", "first passage");
        check_doc(d, "d1", NULL);
    }
    trec_docs_free(d);

    /* A corrupt index (wrong size) is rebuilt, not trusted. */
    snprintf(want, sizeof want, "%s.rrx", p);
    f = fopen(want, "a");
    fputs("junk", f);
    fclose(f);
    d = trec_docs_open(p, &e);
    CHECK(d && trec_docs_info(d)->built && trec_docs_info(d)->n_docs == 5);
    trec_docs_free(d);
}

static void test_docs_jsonl(void)
{
    struct err e;
    const char *p = write_tmp("corpus.jsonl",
        "{\"_id\": \"b1\", \"title\": \"Statins\", \"text\": \"lower cholesterol.\", "
        "\"metadata\": {}}\n"
        "{\"_id\": \"b2\", \"title\": \"\", \"text\": \"no title\"}\n"
        "{\"docid\": 7, \"contents\": \"pyserini style \\u00e9\"}\n"
        "{\"id\": \"b4\", \"text\": \"escaped \\\"quote\\\"\\nnewline\", \"title\": null}\n");
    struct trec_docs *d = trec_docs_open(p, &e);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK(trec_docs_info(d)->format == TREC_DOCS_JSONL && trec_docs_info(d)->n_docs == 4);
    check_doc(d, "b1", "Statins lower cholesterol.");   /* BEIR: title + " " + text */
    check_doc(d, "b2", "no title");
    check_doc(d, "7", "pyserini style \xc3\xa9");
    check_doc(d, "b4", "escaped \"quote\"\nnewline");
    check_doc(d, "b3", NULL);
    trec_docs_free(d);

    /* U+0000 in a text is kept; in a docid it is refused. */
    p = write_tmp("corpus-nul.jsonl", "{\"_id\": \"z\", \"text\": \"a\\u0000b\"}\n");
    d = trec_docs_open(p, &e);
    CHECK_MSG(d != NULL, "%s", e.msg);
    if (d) {
        struct arena a = {0};
        const char *text = NULL;
        size_t len = 0;
        CHECK(trec_docs_get(d, "z", &a, &text, &len, &e) == 1 && len == 3 &&
              memcmp(text, "a\0b", 3) == 0);
        arena_free(&a);
        trec_docs_free(d);
    }
    p = write_tmp("corpus-nul-id.jsonl", "{\"_id\": \"z\\u0000y\", \"text\": \"t\"}\n");
    d = trec_docs_open(p, &e);
    CHECK(d == NULL && strstr(e.msg, "missing docid") != NULL);
    trec_docs_free(d);
}

static void test_docs_malformed(void)
{
    struct err e;
    char want[600];
    struct {
        const char *name, *text, *msg;
    } cases[] = {
        {"m1.tsv", "d1\tok\nd2 no tab\n", ":2: expected docid<TAB>text"},
        {"m2.tsv", "d1\tok\n\td2\n", ":2: empty docid"},
        {"m3.tsv", "d1\tok\nd2\tbad \xc3\x28 utf8\n", ":2: invalid UTF-8"},
        {"m4.tsv", "d1\tok\nd2\tx\nd1\tagain\n", ":3: docid \"d1\" also on line 1"},
        {"m5.jsonl", "{\"_id\": \"a\", \"text\": \"t\"}\n{\"_id\": \"b\"}\n",
         ":2: missing document text"},
        {"m6.jsonl", "{\"_id\": \"a\", \"text\": \"t\"}\n[1]\n", ":2: expected a JSON object"},
        {"m7.jsonl", "{\"_id\": \"a\", \"text\": \"t\"}\n{\"text\": \"t\"}\n",
         ":2: missing docid"},
        {"m8.jsonl", "{\"_id\": \"a\", \"text\": \"t\", \"title\": 3}\n",
         ":1: \"title\" must be a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *p = write_tmp(cases[i].name, cases[i].text);
        snprintf(want, sizeof want, "%s%s", p, cases[i].msg);
        struct trec_docs *d = trec_docs_open(p, &e);
        CHECK_MSG(!d && strstr(e.msg, want), "%s: want \"%s\" in \"%s\"",
                  cases[i].name, want, d ? "(opened)" : e.msg);
        trec_docs_free(d);
    }
    CHECK(trec_docs_open(tmpdir, &e) == NULL && strstr(e.msg, "not a regular file"));
    CHECK(trec_docs_open("/nonexistent/c.tsv", &e) == NULL &&
          strstr(e.msg, "No such file"));
}

/* Without write access beside the collection the index goes to
 * $XDG_CACHE_HOME/rerank.  Root ignores permissions, so this needs a user. */
static void test_docs_cache_dir(void)
{
    if (geteuid() == 0) {
        SKIP("cache-directory index: running as root, permissions not enforced");
        return;
    }
    struct err e;
    const char *dir = tmp_path("ro");
    mkdir(dir, 0755);
    char coll[600], cache[600];
    snprintf(coll, sizeof coll, "%s/c.tsv", dir);
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    FILE *f = fopen(coll, "w");
    fputs("a\tx\n", f);
    fclose(f);
    chmod(dir, 0555);
    setenv("XDG_CACHE_HOME", cache, 1);
    struct trec_docs *d = trec_docs_open(coll, &e);
    CHECK(d && trec_docs_info(d)->built);
    if (d) {
        CHECK(strncmp(trec_docs_info(d)->index_path, cache, strlen(cache)) == 0);
        check_doc(d, "a", "x");
    }
    trec_docs_free(d);
    d = trec_docs_open(coll, &e);
    CHECK(d && !trec_docs_info(d)->built);
    trec_docs_free(d);
    chmod(dir, 0755);
    unsetenv("XDG_CACHE_HOME");
}

struct warnings {
    char msgs[8][512];
    size_t n;
};

static void collect_warning(void *ctx, const char *msg)
{
    struct warnings *w = ctx;
    if (w->n < 8)
        snprintf(w->msgs[w->n], sizeof w->msgs[w->n], "%s", msg);
    w->n++;
}

static void test_source(void)
{
    struct err e;
    const char *run_path = write_tmp("s.run",
        "q2 Q0 d1 1 3 t\n"
        "q1 Q0 d3 1 9 t\n"
        "q1 Q0 d1 2 8 t\n"
        "q1 Q0 dX 3 7 t\n"   /* not in the collection */
        "q1 Q0 d2 4 6 t\n"
        "q9 Q0 d1 1 1 t\n"   /* query not in the queries file */
        "q1 Q0 d4 5 5 t\n"
        "q1 Q0 d5 6 5 t\n"); /* tie with d4: d5 first */
    const char *q_path = write_tmp("s.tsv", "q1\tquery one\nq2\tquery two\n");
    const char *c_path = write_tmp("s.tsv.docs", "d1\tone\nd2\ttwo\nd3\tthree\n"
                                                  "d4\tfour\nd5\tfive\n");
    struct trec_run run;
    struct trec_queries q;
    CHECK(trec_run_read(&run, run_path, &e) == 0);
    CHECK(trec_queries_read(&q, q_path, TREC_FIELD_TITLE, &e) == 0);
    struct trec_docs *docs = trec_docs_open(c_path, &e);
    CHECK(docs != NULL);
    if (!docs)
        return;
    struct warnings w = {0};
    struct trec_source_opts opts = {.depth = 4, .warn = collect_warning, .warn_ctx = &w};
    struct trec_source *src = trec_source_open(&run, &q, docs, &opts);
    struct group g = {0};
    const struct trec_doc *tail;
    size_t n_tail;

    /* q2 first: order of first appearance in the run. */
    CHECK(trec_source_next(src, &g, &e) == 1);
    CHECK_STR(g.qid, "q2");
    CHECK_STR(g.query, "query two");
    CHECK(g.n_cands == 1 && g.ordinal == 1 && g.first_line == 1);
    CHECK_STR(g.source, run_path);
    trec_source_tail(src, &tail, &n_tail);
    CHECK(n_tail == 0);

    /* q1: top 4 by score are d3 d1 dX d2; dX is missing; tail is d5, d4. */
    CHECK(trec_source_next(src, &g, &e) == 1);
    CHECK_STR(g.qid, "q1");
    CHECK(g.n_cands == 3 && g.ordinal == 2 && g.first_line == 2);
    const char *ids[] = {"d3", "d1", "d2"}, *texts[] = {"three", "one", "two"};
    long lines[] = {2, 3, 5};
    for (size_t i = 0; i < 3 && i < g.n_cands; i++) {
        CHECK_STR(g.cands[i].docid, ids[i]);
        CHECK_STR(g.cands[i].text, texts[i]);
        CHECK(g.cands[i].text_len == strlen(texts[i]));
        CHECK(g.cands[i].line == lines[i]);
        CHECK_STR(g.cands[i].source, run_path);
    }
    trec_source_tail(src, &tail, &n_tail);
    CHECK(n_tail == 2);
    if (n_tail == 2) {
        CHECK_STR(tail[0].docid, "d5");
        CHECK_STR(tail[1].docid, "d4");
        CHECK(tail[0].score == 5 && tail[0].line == 8);
    }
    /* q9 is skipped with a warning: end. */
    CHECK(trec_source_next(src, &g, &e) == 0);
    const struct trec_source_stats *st = trec_source_stats(src);
    CHECK(st->n_groups == 2 && st->n_candidates == 4 && st->n_tail == 2);
    CHECK(st->n_missing_docs == 1 && st->n_missing_queries == 1);
    CHECK(w.n == 2);
    char want[600];
    snprintf(want, sizeof want, "%s:4: document \"dX\" is not in %s; left out",
             run_path, c_path);
    CHECK_STR(w.msgs[0], want);
    snprintf(want, sizeof want, "%s:6: query \"q9\" is not in %s; skipped",
             run_path, q_path);
    CHECK_STR(w.msgs[1], want);
    trec_source_free(src);

    /* Default depth 100 and no callback: everything is a candidate. */
    src = trec_source_open(&run, &q, docs, NULL);
    CHECK(trec_source_next(src, &g, &e) == 1);
    CHECK(trec_source_next(src, &g, &e) == 1 && g.n_cands == 5);
    trec_source_tail(src, &tail, &n_tail);
    CHECK(n_tail == 0);
    CHECK(trec_source_next(src, &g, &e) == 0);
    CHECK(trec_source_stats(src)->n_missing_queries == 1);
    trec_source_free(src);
    trec_queries_free(&q);
    trec_run_free(&run);

    /* A JSONL query holding U+0000 reaches the group whole. */
    run_path = write_tmp("s-nul.run", "n Q0 d1 1 1 t\n");
    q_path = write_tmp("s-nul.jsonl", "{\"qid\": \"n\", \"query\": \"a\\u0000b\"}\n");
    CHECK(trec_run_read(&run, run_path, &e) == 0);
    CHECK(trec_queries_read(&q, q_path, TREC_FIELD_TITLE, &e) == 0);
    src = trec_source_open(&run, &q, docs, NULL);
    CHECK(trec_source_next(src, &g, &e) == 1);
    CHECK(group_query_len(&g) == 3 && memcmp(g.query, "a\0b", 3) == 0);
    trec_source_free(src);

    group_free(&g);
    trec_docs_free(docs);
    trec_queries_free(&q);
    trec_run_free(&run);
}

/* The shared Cranfield collection through symlinks (the index is written in
 * the temporary directory), with the BM25 run of testdata/eval. */
static void test_cranfield(void)
{
    char src_path[512];
    snprintf(src_path, sizeof src_path, "%s/collections/cranfield", shared_dir());
    if (access(src_path, R_OK) != 0) {
        SKIP("cranfield: %s not found", src_path);
        return;
    }
    const char *names[] = {"docs.jsonl", "docs.tsv", "queries.tsv"};
    char target[600], *abs = realpath(src_path, NULL);
    for (size_t i = 0; abs && i < 3; i++) {
        snprintf(target, sizeof target, "%s/%s", abs, names[i]);
        if (symlink(target, tmp_path(names[i])) != 0 && errno != EEXIST)
            CHECK_MSG(0, "symlink %s: %s", target, strerror(errno));
    }
    free(abs);
    struct err e;
    struct trec_docs *jd = trec_docs_open(tmp_path("docs.jsonl"), &e);
    struct trec_docs *td = trec_docs_open(tmp_path("docs.tsv"), &e);
    CHECK_MSG(jd && td, "cranfield collections: %s", e.msg);
    if (!jd || !td) {
        trec_docs_free(jd);
        trec_docs_free(td);
        return;
    }
    CHECK(trec_docs_info(jd)->n_docs == 1400 && trec_docs_info(td)->n_docs == 1400);
    /* docs.tsv's text repeats the title; JSONL joins title and text. */
    struct arena a = {0};
    const char *t1, *t2;
    size_t n1, n2;
    CHECK(trec_docs_get(jd, "1", &a, &t1, &n1, &e) == 1);
    CHECK(trec_docs_get(td, "1", &a, &t2, &n2, &e) == 1);
    const char *joined = "experimental investigation of the aerodynamics of a "
                         "wing in a slipstream . experimental investigation";
    CHECK(strncmp(t1, joined, strlen(joined)) == 0);
    CHECK(strncmp(t2, "experimental investigation", 26) == 0 && n2 < n1);
    arena_free(&a);

    struct trec_run run;
    struct trec_queries q;
    CHECK(trec_run_read(&run, "testdata/eval/cranfield-bm25.run", &e) == 0);
    CHECK(trec_queries_read(&q, tmp_path("queries.tsv"), TREC_FIELD_TITLE, &e) == 0);
    struct trec_source_opts opts = {.depth = 25};
    struct trec_source *src = trec_source_open(&run, &q, jd, &opts);
    struct group g = {0};
    int rc;
    size_t tails = 0;
    while ((rc = trec_source_next(src, &g, &e)) == 1) {
        CHECK(g.n_cands == 25);
        const struct trec_doc *tail;
        size_t n_tail;
        trec_source_tail(src, &tail, &n_tail);
        tails += n_tail;
    }
    CHECK(rc == 0);
    const struct trec_source_stats *st = trec_source_stats(src);
    /* 200 judged queries of the run plus "1000", which queries.tsv lacks. */
    CHECK(st->n_groups == 200 && st->n_missing_queries == 1);
    CHECK(st->n_missing_docs == 0 && tails == 200 * 15 && st->n_tail == tails);
    trec_source_free(src);
    group_free(&g);
    trec_queries_free(&q);
    trec_run_free(&run);
    trec_docs_free(jd);
    trec_docs_free(td);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_queries_tsv();
    test_queries_jsonl();
    test_queries_topics();
    test_docs_tsv();
    test_docs_jsonl();
    test_docs_malformed();
    test_docs_cache_dir();
    test_source();
    test_cranfield();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("warning: could not remove %s\n", tmpdir);
    return check_report();
}
