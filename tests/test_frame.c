/* test_frame.c — unit tests of the frame: score formatting, UTF-8
 * validation, JSON text spans and escaping, arenas, and BM25 against values
 * worked out by hand from the formula in lexical.c. */
#include "check.h"

#include <stdint.h>

#include "group.h"
#include "input.h"
#include "jsontext.h"
#include "progress.h"
#include "scorer.h"
#include "util.h"

/* Whether s, a format_score text, has an exponent only where the plain
 * spelling of the same digits would be longer. */
static bool shortest_plain(const char *s)
{
    const char *e = strchr(s, 'e');
    if (!e)
        return true;
    long exp = strtol(e + 1, NULL, 10);
    size_t digits = 0;
    for (const char *p = s; p < e; p++)
        digits += *p >= '0' && *p <= '9';
    size_t plain = (s[0] == '-') + (exp >= 0 ? (size_t)exp + 1 + (digits > (size_t)exp + 1 ? digits - (size_t)exp : 0)
                                             : 2 + (size_t)(-exp - 1) + digits);
    return plain > strlen(s);
}

static void test_format_score(void)
{
    char b[32];
    format_score(b, 0.0);
    CHECK_STR(b, "0");
    format_score(b, (double)8.607138f);
    CHECK_STR(b, "8.607138");
    format_score(b, (double)-4.3200774f);
    CHECK_STR(b, "-4.3200774");
    format_score(b, 0.1); /* not a float32: printed as a double */
    CHECK_STR(b, "0.1");
    format_score(b, 1.0 / 3.0);
    CHECK_STR(b, "0.3333333333333333");
    format_score(b, (double)(1.0f / 3.0f));
    CHECK_STR(b, "0.33333334");
    format_score(b, 1e-5);
    CHECK_STR(b, "1e-05");
    /* No exponent where the plain form is as short or shorter. */
    static const struct { double x; const char *want; } plain[] = {
        {100, "100"}, {120, "120"}, {-120, "-120"}, {1000, "1000"},
        {10000, "10000"}, {100000, "1e+05"}, {123456, "123456"},
        {123456789, "123456789"}, {(double)123456789.0f, "123456790"},
        {(double)16777217.0f, "16777216"}, {1e9, "1e+09"}, {1e20, "1e+20"},
        {-1e20, "-1e+20"}, {1.5e10, "15000000000"}, {(double)1.5e10f, "1.5e+10"}, {0.0001, "0.0001"},
        {0.00012, "0.00012"}, {-2e-7, "-2e-07"}, {20, "20"}, {7, "7"},
        {1e15, "1e+15"}, {123456789012.0, "123456789012"},
        {1234567890123456.0, "1234567890123456"}, {12345678901234567.0, "12345678901234568"},
        {1e16 + 2, "10000000000000002"}, {3e300, "3e+300"},
    };
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        format_score(b, plain[i].x);
        CHECK_STR(b, plain[i].want);
    }
    /* Every float32 of a sweep reads back exactly. */
    int bad = 0;
    for (uint32_t i = 0; i < 2000000; i++) {
        uint32_t bits = i * 2147u + 12345u;
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f))
            continue;
        format_score(b, (double)f);
        bad += strtof(b, NULL) != f || !shortest_plain(b);
    }
    CHECK_MSG(bad == 0, "%d float32 values did not round-trip or kept an exponent", bad);
    /* Doubles over the whole exponent range, and integers n, n-1, ... as the
     * identity scorer gives them: read back exactly, exponent only when
     * shorter. */
    bad = 0;
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 1000000; i++) {
        r = hash_mix64(r);
        double x;
        memcpy(&x, &r, 8);
        if (!isfinite(x))
            continue;
        format_score(b, x);
        bad += strtod(b, NULL) != x || !shortest_plain(b);
    }
    for (int i = 1; i <= 300000; i++) {
        format_score(b, (double)i);
        long back = strtol(b, NULL, 10);
        bad += i < 100000 ? back != i : strtod(b, NULL) != (double)i || !shortest_plain(b);
    }
    CHECK_MSG(bad == 0, "%d doubles did not round-trip or kept an exponent", bad);
}

/* The whole of what f received. */
static void slurp(FILE *f, char *out, size_t n)
{
    fflush(f);
    rewind(f);
    size_t k = fread(out, 1, n - 1, f);
    out[k] = 0;
}

static void test_progress(void)
{
    struct progress p;
    struct buf b = {0};
    char got[1024];
    /* Totals known (--run): counts of totals, rate, the group's batches, ETA. */
    progress_init(&p, NULL, false, 100.0);
    progress_set_totals(&p, 4, 400);
    progress_group_begin(&p, 102.0);
    progress_in_group(&p, 50, 100, 107.0);
    progress_text(&p, 107.0, &b);
    CHECK_STR(b.data, "0/4 groups, 50/400 candidates, 10 candidates/s, this group 50/100, ETA 35s");
    progress_group_done(&p, 100, 112.0);
    b.len = 0;
    progress_text(&p, 112.0, &b);
    CHECK_STR(b.data, "1/4 groups, 100/400 candidates, 10 candidates/s, ETA 30s");
    progress_group_done(&p, 100, 3837.0);   /* 3725 s for 100 more */
    progress_in_group(&p, 1, 200, 3837.0);
    b.len = 0;
    progress_text(&p, 3837.0, &b);
    CHECK_STR(b.data, "2/4 groups, 201/400 candidates, 0.1 candidates/s, this group 1/200, ETA 1h01m38s");
    /* Unknown totals: no ETA. */
    progress_init(&p, NULL, false, 0.0);
    progress_group_begin(&p, 0.0);
    progress_group_done(&p, 1, 2.0);
    b.len = 0;
    progress_text(&p, 2.0, &b);
    CHECK_STR(b.data, "1 group, 1 candidate, 0.5 candidates/s");
    buf_free(&b);

    /* Drawing: nothing in the first second; then a line; TERM=dumb redraws
     * and clears with spaces, never an escape sequence. */
    FILE *f = tmpfile();
    progress_init(&p, f, true, 0.0);
    progress_group_begin(&p, 0.0);
    progress_group_done(&p, 10, 0.5);
    slurp(f, got, sizeof got);
    CHECK_STR(got, "");
    progress_group_done(&p, 10, 1.5);
    progress_show(&p, "x");
    progress_clear(&p);
    slurp(f, got, sizeof got);
    const char *line = "rerank: 2 groups, 20 candidates, 13 candidates/s";
    char want[256];
    snprintf(want, sizeof want, "\r%s\rrerank: x%*s\r%*s\r", line, (int)strlen(line) - 9, "",
             (int)strlen(line), "");
    CHECK_STR(got, want);
    CHECK(strchr(got, 0x1b) == NULL);
    /* A run under 3 s leaves no summary; a longer one does. */
    progress_finish(&p, 2.9);
    slurp(f, got, sizeof got);
    CHECK(strstr(got, "in ") == NULL);
    progress_finish(&p, 65.0);
    slurp(f, got, sizeof got);
    CHECK(strstr(got, "rerank: 2 groups, 20 candidates in 1m05s (0.3 candidates/s)\n") != NULL);
    fclose(f);
    f = tmpfile();
    progress_init(&p, f, false, 0.0);
    progress_show(&p, "downloading");
    progress_clear(&p);
    slurp(f, got, sizeof got);
    CHECK_STR(got, "\r\033[Krerank: downloading\r\033[K");
    fclose(f);
}

static void test_utf8(void)
{
    CHECK(utf8_invalid_at("plain", 5) == -1);
    CHECK(utf8_invalid_at("caf\xc3\xa9", 5) == -1);
    CHECK(utf8_invalid_at("\xf0\x9f\x98\x80", 4) == -1);   /* U+1F600 */
    CHECK(utf8_invalid_at("ab\xff", 3) == 2);
    CHECK(utf8_invalid_at("\xc0\xaf", 2) == 0);            /* overlong */
    CHECK(utf8_invalid_at("\xed\xa0\x80", 3) == 0);        /* surrogate */
    CHECK(utf8_invalid_at("\xf4\x90\x80\x80", 4) == 0);    /* > U+10FFFF */
    CHECK(utf8_invalid_at("x\xc3", 2) == 1);               /* truncated */
}

struct collected {
    char keys[8][32];
    char values[8][64];
    int n;
};

static void collect(struct json_span k, struct json_span v, void *ctx)
{
    struct collected *c = ctx;
    snprintf(c->keys[c->n], 32, "%.*s", (int)k.n, k.p);
    snprintf(c->values[c->n], 64, "%.*s", (int)v.n, v.p);
    c->n++;
}

static void test_jsontext(void)
{
    const char *obj = "{ \"a\" : 0.1, \"b\":[1, {\"c\":\"}\"}], \"d\\u0065\":\"x\\\"y\" }";
    struct collected c = {0};
    CHECK(jsontext_members(obj, strlen(obj), collect, &c) == 0);
    CHECK(c.n == 3);
    CHECK_STR(c.values[0], "0.1");
    CHECK_STR(c.values[1], "[1, {\"c\":\"}\"}]");
    CHECK_STR(c.values[2], "\"x\\\"y\"");
    struct json_span k = {c.keys[2], strlen(c.keys[2])};
    CHECK(jsontext_key_is(k, "de"));
    CHECK(!jsontext_key_is(k, "d"));

    struct buf b = {0};
    jsontext_put_string(&b, "a\"b\\c\n\x01\xc3\xa9", 9);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
    buf_free(&b);
}

static void test_arena(void)
{
    struct arena a = {0};
    char *big = arena_alloc(&a, 1 << 20);
    memset(big, 1, 1 << 20);
    const char *s = arena_strndup(&a, "hello", 5);
    CHECK_STR(s, "hello");
    arena_reset(&a);
    s = arena_strndup(&a, "again", 5);
    CHECK_STR(s, "again");
    arena_free(&a);
}

static void add(struct group *g, const char *docid, const char *text)
{
    struct candidate *c = group_add(g);
    c->docid = docid;
    c->text = text;
    c->text_len = strlen(text);
}

/* N = 3 documents, avgdl = (3 + 2 + 4) / 3 = 3, k1 = 0.9, b = 0.4.
 * "cat": df 2, idf = ln(1 + 1.5/2.5) = ln 1.6; "dog": df 1, idf = ln(1 +
 * 2.5/1.5) = ln(8/3).  Document lengths 3, 2 and 4 (see below). */
static void test_bm25(void)
{
    struct group g = {0};
    g.query = "cat dog";
    add(&g, "1", "Cat, cat DOG");        /* cat 2, dog 1, |d| 3 */
    add(&g, "2", "the bird");            /* nothing, |d| 2 */
    add(&g, "3", "a CAT sat down");      /* cat 1, |d| 4 */
    struct scorer *s = bm25_scorer_new((struct bm25_params){0.9, 0.4});
    CHECK(s->score(s, &g, NULL) == 0);
    double k1 = 0.9, b = 0.4, avgdl = 3.0;
    double idf_cat = log(1.6), idf_dog = log(8.0 / 3.0);
    double n1 = k1 * (1 - b + b * 3 / avgdl), n3 = k1 * (1 - b + b * 4 / avgdl);
    double d1 = idf_cat * 2 * (k1 + 1) / (2 + n1) + idf_dog * 1 * (k1 + 1) / (1 + n1);
    double d3 = idf_cat * 1 * (k1 + 1) / (1 + n3);
    CHECK_NEAR(g.cands[0].score, d1, 1e-12);
    CHECK_NEAR(g.cands[1].score, 0.0, 0);
    CHECK_NEAR(g.cands[2].score, d3, 1e-12);

    /* Case folding and compatibility forms: "ÉTÉ" matches "été", "ﬁle"
     * (U+FB01 ligature) matches "file"; CJK splits per ideograph. */
    group_reset(&g);
    g.query = "ÉTÉ file 東京";
    add(&g, "1", "été");
    add(&g, "2", "\xef\xac\x81le");
    add(&g, "3", "東京都");
    add(&g, "4", "nothing");
    CHECK(s->score(s, &g, NULL) == 0);
    CHECK(g.cands[0].score > 0);
    CHECK(g.cands[1].score > 0);
    CHECK(g.cands[2].score > 0);
    CHECK(g.cands[3].score == 0);
    scorer_free(s);
    group_free(&g);
}

/* err_prefix puts "PREFIX: " before the message and cuts the old text to
 * what fits, the NUL included: a prefix of every length near the end of
 * the buffer (one such case wrote the NUL one byte past msg, found by
 * fuzz_tokenizer_json). */
static void test_err_prefix(void)
{
    for (size_t plen = 0; plen < sizeof ((struct err *)0)->msg + 4; plen++) {
        struct {
            struct err e;
            char guard[8];
        } g;
        memset(&g, 0x5a, sizeof g);
        memset(g.e.msg, 'm', sizeof g.e.msg - 1);
        g.e.msg[sizeof g.e.msg - 1] = 0;
        g.e.kind = ERR_MODEL;
        char prefix[sizeof g.e.msg + 8];
        memset(prefix, 'p', plen);
        prefix[plen] = 0;
        err_prefix(&g.e, "%s", prefix);
        size_t len = strnlen(g.e.msg, sizeof g.e.msg);
        CHECK_MSG(len < sizeof g.e.msg, "prefix of %zu: message not terminated", plen);
        CHECK_MSG(g.e.kind == ERR_MODEL, "prefix of %zu: the kind was overwritten", plen);
        bool intact = true;
        for (size_t i = 0; i < sizeof g.guard; i++)
            intact &= g.guard[i] == 0x5a;
        CHECK_MSG(intact, "prefix of %zu: bytes past the error written", plen);
        if (plen + 3 < sizeof g.e.msg)
            CHECK_MSG(strncmp(g.e.msg + plen, ": m", 3) == 0, "prefix of %zu: no \": \"", plen);
    }
}

int main(void)
{
    test_format_score();
    test_err_prefix();
    test_progress();
    test_utf8();
    test_jsontext();
    test_arena();
    test_bm25();
    return check_report();
}
