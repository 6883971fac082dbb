/* test_tokjson — tokenizer.json's split reading (src/tokenizers/tokjson.c)
 * against jansson on the same texts (tests/tokjson_diff.h): real
 * tokenizer.json files of the three kinds, then the corners a hand-written
 * JSON scanner gets wrong. */
#include "check.h"
#include "tokjson_diff.h"

#include <sys/stat.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *n)
{
    struct err e;
    return read_file(path, n, &e);
}

static void check_text(const char *what, const char *text)
{
    const char *why = tokjson_diff("tests/out/tokjson.json", text, strlen(text));
    CHECK_MSG(!why, "%s: %s", what, why);
}

int main(void)
{
    static const char *const golden[] = {
        "golden/tiny-bert-ce-f32/tokenizer.json",    /* WordPiece */
        "golden/tiny-mxbai-rerank-v2/tokenizer.json", /* BPE */
        "golden/tiny-xlmr-ce/tokenizer.json",         /* Unigram */
    };
    mkdir("tests/out", 0777);
    for (size_t i = 0; i < sizeof golden / sizeof *golden; i++) {
        char path[512];
        size_t n;
        snprintf(path, sizeof path, "%s/%s", shared_dir(), golden[i]);
        char *text = slurp(path, &n);
        if (!text) {
            SKIP("%s: not there", path);
            continue;
        }
        const char *why = tokjson_diff("tests/out/tokjson.json", text, n);
        CHECK_MSG(!why, "%s: %s", golden[i], why);
        struct tokjson t;
        struct err e;
        CHECK(tokjson_read("tests/out/tokjson.json", &t, &e) == 0 && t.split);
        if (i == 0)
            CHECK(t.has_entries && t.n_entries == 30522);
        tokjson_free(&t);
        free(text);
    }

    /* Texts that split, with entries. */
    check_text("plain", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 1}}}");
    check_text("escapes", "{\"model\": {\"vocab\": {\"\\u00e9\\/\\\\\\\"\\b\\f\\n\\r\\t\": 1, "
                          "\"\\ud83d\\ude00\": 2, \"\\u4E2D\": 3, \"\": 4}}}");
    check_text("raw UTF-8", "{\"model\": {\"vocab\": {\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\": 7}}}");
    check_text("repeated key", "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"a\": 2}}}");
    check_text("escaped names", "{\"mod\\u0065l\": {\"voc\\u0061b\": {\"a\": 5}}}");
    check_text("-0 and the largest id", "{\"model\": {\"vocab\": {\"a\": -0, \"b\": 2147483646}}}");
    check_text("newlines kept", "{\n\"model\": {\n\"vocab\": {\n\"a\": 0,\n\"b\": 1\n}\n},\n\"x\": [1, 2,]\n}");
    check_text("vocab last", "{\"added_tokens\": [], \"model\": {\"x\": {\"vocab\": 1}, \"vocab\": {}}}");
    /* Split without entries: values a WordPiece id cannot be. */
    check_text("INT32_MAX", "{\"model\": {\"vocab\": {\"a\": 2147483647}}}");
    check_text("negative", "{\"model\": {\"vocab\": {\"a\": -1}}}");
    check_text("real id", "{\"model\": {\"vocab\": {\"a\": 1.0, \"b\": 2e0}}}");
    check_text("string id", "{\"model\": {\"vocab\": {\"a\": \"1\", \"b\": null, \"c\": [1]}}}");
    check_text("Unigram array", "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.5], [\"b\", 0.0], [\"c\", -1e-07]]}}");
    check_text("one-byte vocab", "{\"model\": {\"vocab\": 5}}");
    /* Left to jansson whole: what it may refuse, or where the split is
     * ambiguous. */
    check_text("19-digit id", "{\"model\": {\"vocab\": {\"a\": 1234567890123456789}}}");
    check_text("19-digit overflow", "{\"model\": {\"vocab\": {\"a\": 9999999999999999999}}}");
    check_text("too big id", "{\"model\": {\"vocab\": {\"a\": 99999999999999999999}}}");
    check_text("real overflow", "{\"model\": {\"vocab\": [[\"a\", 1e400]]}}");
    check_text("real overflow by digits", "{\"model\": {\"vocab\": [1e300, 10e299, 0.5e301]}}");
    check_text("two models", "{\"model\": {\"vocab\": {\"a\": 0}}, \"model\": {\"vocab\": {\"b\": 1}}}");
    check_text("two vocabs", "{\"model\": {\"vocab\": {\"a\": 0}, \"vocab\": {\"b\": 1}}}");
    check_text("no vocab", "{\"model\": {\"type\": \"WordPiece\"}}");
    check_text("model not an object", "{\"model\": [{\"vocab\": {}}]}");
    check_text("top-level array", "[{\"model\": {\"vocab\": {}}}]");
    check_text("NUL escape", "{\"model\": {\"vocab\": {\"a\\u0000b\": 0}}}");
    check_text("lone high surrogate", "{\"model\": {\"vocab\": {\"\\ud83d\": 0}}}");
    check_text("lone low surrogate", "{\"model\": {\"vocab\": {\"\\ude00\": 0}}}");
    check_text("bad escape", "{\"model\": {\"vocab\": {\"\\x41\": 0}}}");
    check_text("bad hex", "{\"model\": {\"vocab\": {\"\\u00g1\": 0}}}");
    check_text("short escape", "{\"model\": {\"vocab\": {\"\\u00");
    check_text("overlong UTF-8", "{\"model\": {\"vocab\": {\"\xc0\xaf\": 0}}}");
    check_text("UTF-8 surrogate", "{\"model\": {\"vocab\": {\"\xed\xa0\x80\": 0}}}");
    check_text("truncated UTF-8", "{\"model\": {\"vocab\": {\"\xe4\xb8\": 0}}}");
    check_text("control byte", "{\"model\": {\"vocab\": {\"a\tb\": 0}}}");
    check_text("trailing comma", "{\"model\": {\"vocab\": {\"a\": 0,}}}");
    check_text("leading zero", "{\"model\": {\"vocab\": {\"a\": 01}}}");
    check_text("bare minus", "{\"model\": {\"vocab\": {\"a\": -}}}");
    check_text("bare dot", "{\"model\": {\"vocab\": {\"a\": 1.}}}");
    check_text("bare exponent", "{\"model\": {\"vocab\": {\"a\": 1e}}}");
    check_text("garbage after", "{\"model\": {\"vocab\": {\"a\": 0}}} x");
    check_text("unclosed", "{\"model\": {\"vocab\": {\"a\": 0}");
    check_text("empty", "");
    check_text("BOM", "\xef\xbb\xbf{\"model\": {\"vocab\": {}}}");
    check_text("bad literal", "{\"model\": {\"vocab\": {\"a\": tru}}}");
    check_text("error after the vocab", "{\"model\": {\"vocab\": {\n\"a\": 0\n}}, \"x\": nul}");
    check_text("big number elsewhere", "{\"model\": {\"vocab\": {\"a\": 0}}, \"x\": 123456789012345678901}");
    char deep[2100];
    size_t d = 0;
    d += (size_t)snprintf(deep, sizeof deep, "{\"model\": {\"vocab\": {\"a\": ");
    for (int k = 0; k < 600; k++)
        deep[d++] = '[';
    for (int k = 0; k < 600; k++)
        deep[d++] = ']';
    snprintf(deep + d, sizeof deep - d, "}}}");
    check_text("deep nesting", deep);
    return check_report();
}
