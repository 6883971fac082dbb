/* test_bpe.c — the byte-level BPE tokenizer against references:
 *   - the shared golden pairs (tokenize-modernbert.jsonl, ids from Hugging
 *     Face's Rust `tokenizers`) on tiny-modernbert-ce's tokenizer.json, and
 *     qwen3-reranker-cases.jsonl's prompts through the model card's recipe;
 *   - testdata/bpe/ (scripts/gen-bpe-cases.js: hard texts through npm
 *     `tokenizers`, the same Rust library): on the golden ModernBERT, Qwen3
 *     and mxbai tokenizers (skipped without ../shared) and on tokenizers the
 *     script builds, which exercise the other options (prefix space,
 *     Llama-3 regex, added-token flags, unk, byte fallback, suffixes);
 *   - refusals of what is not implemented, by name;
 *   - a synthetic 50,000-token vocabulary: load time. */
#include "tokenizers/bpe.h"
#include "check.h"
#include "tokenizers/tokenizer.h"

#include <jansson.h>
#include <sys/stat.h>

static void tokenize(const struct tokenizer *t, const char *s, size_t n,
                     struct ids *out)
{
    out->n = 0;
    t->tokenize(t, s, n, out);
}

static bool ids_equal_json(const struct ids *a, const json_t *expected)
{
    if (!json_is_array(expected) || json_array_size(expected) != a->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (json_integer_value(json_array_get(expected, i)) != a->v[i])
            return false;
    return true;
}

/* Every line of a cases file through t: {"text", "ids"} is one text
 * without special tokens, {"query", "text", "max_length", "input_ids"} a
 * pair encoding.  Returns the number of cases. */
static size_t check_cases(const struct tokenizer *t, const char *path,
                          const char *label)
{
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s: %s missing", label, path);
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0, n_cases = 0;
    struct ids q = {0}, d = {0};
    struct encoding pair = {0};
    while (getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        json_t *c = json_loads(line, JSON_ALLOW_NUL, &jerr);
        const json_t *query = json_object_get(c, "query");
        const json_t *text = json_object_get(c, "text");
        const json_t *max_length = json_object_get(c, "max_length");
        n_cases++;
        if (!json_is_string(text)) {
            CHECK_MSG(0, "%s: line %zu malformed", label, n_cases);
        } else if (!query) {
            tokenize(t, json_string_value(text), json_string_length(text), &d);
            CHECK_MSG(ids_equal_json(&d, json_object_get(c, "ids")),
                      "%s: case %zu differs: %.200s", label, n_cases, line);
        } else if (!json_is_string(query) ||
                   json_integer_value(max_length) <=
                       (json_int_t)tokenizer_pair_specials(t)) {
            CHECK_MSG(0, "%s: line %zu malformed", label, n_cases);
        } else {
            tokenize(t, json_string_value(query), json_string_length(query), &q);
            tokenize(t, json_string_value(text), json_string_length(text), &d);
            tokenizer_encode_ids(t, &q, &d,
                                 (size_t)json_integer_value(max_length), &pair);
            CHECK_MSG(ids_equal_json(&pair.input_ids,
                                     json_object_get(c, "input_ids")),
                      "%s: case %zu differs: %.200s", label, n_cases, line);
        }
        json_decref(c);
    }
    free(line);
    fclose(f);
    ids_free(&q);
    ids_free(&d);
    encoding_free(&pair);
    return n_cases;
}

/* Appends the ids of s to out (which keeps what it had). */
static void append(const struct tokenizer *t, const char *s, struct ids *out)
{
    t->tokenize(t, s, strlen(s), out);
}

/* qwen3-reranker-cases.jsonl's input_ids (made by Hugging Face) through the
 * Qwen3-Reranker model card's recipe: prefix, the middle cut to fit, suffix,
 * each tokenized alone. */
static void check_qwen3_reranker(const struct tokenizer *t)
{
    static const char prefix[] =
        "<|im_start|>system\nJudge whether the Document meets the requirements "
        "based on the Query and the Instruct provided. Note that the answer can "
        "only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n";
    static const char suffix[] =
        "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/qwen3-reranker-cases.jsonl",
             shared_dir());
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s missing", path);
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0, n_cases = 0;
    struct ids got = {0}, mid = {0}, suf = {0};
    struct buf m = {0};
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *c = json_loads(line, 0, &je);
        const char *ins = json_string_value(json_object_get(c, "instruction"));
        m.len = 0;
        buf_printf(&m, "<Instruct>: %s\n<Query>: %s\n<Document>: %s",
                   ins ? ins : "Given a web search query, retrieve relevant "
                               "passages that answer the query",
                   json_string_value(json_object_get(c, "query")) ?: "",
                   json_string_value(json_object_get(c, "text")) ?: "");
        got.n = mid.n = suf.n = 0;
        append(t, prefix, &got);
        append(t, suffix, &suf);
        append(t, m.data, &mid);
        size_t max = (size_t)json_integer_value(json_object_get(c, "max_length"));
        size_t room = max > got.n + suf.n ? max - got.n - suf.n : 0;
        for (size_t i = 0; i < mid.n && i < room; i++)
            ids_push(&got, mid.v[i]);
        for (size_t i = 0; i < suf.n; i++)
            ids_push(&got, suf.v[i]);
        CHECK_MSG(ids_equal_json(&got, json_object_get(c, "input_ids")),
                  "qwen3-reranker-cases.jsonl: row %zu differs", n_cases + 1);
        json_decref(c);
        n_cases++;
    }
    CHECK_MSG(n_cases == 152, "%zu qwen3 reranker rows", n_cases);
    free(line);
    fclose(f);
    ids_free(&got);
    ids_free(&mid);
    ids_free(&suf);
    buf_free(&m);
}

/* The golden ModernBERT tokenizer: template fields, the 250 golden pairs,
 * then the generated hard cases; and the golden Qwen3 tokenizer. */
static void check_golden(void)
{
    char path[1024], cases[1024];
    struct err e = {0};
    snprintf(path, sizeof path, "%s/golden/tiny-modernbert-ce/tokenizer.json",
             shared_dir());
    struct stat st;
    if (stat(path, &st) != 0) {
        SKIP("%s not found", path);
        return;
    }
    struct tokenizer *t = bpe_load(path, &e);
    CHECK_MSG(t != NULL, "load %s: %s", path, e.msg);
    if (!t)
        return;
    CHECK_STR(t->kind, "bpe");
    CHECK(t->cls_id == 2285 && t->sep_id == 2286 && t->n_sep_middle == 1 &&
          t->second_type_one && t->unk_id == -1);
    CHECK_MSG(t->vocab_size == 2304, "vocab_size %zu", t->vocab_size);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny-modernbert-ce", shared_dir());
    struct tokenizer *via_dir = tokenizer_load(dir, &e);
    CHECK_MSG(via_dir && strcmp(via_dir->kind, "bpe") == 0,
              "tokenizer_load %s: %s", dir, via_dir ? via_dir->kind : e.msg);
    tokenizer_free(via_dir);
    snprintf(cases, sizeof cases, "%s/golden/tokenize-modernbert.jsonl",
             shared_dir());
    size_t n = check_cases(t, cases, "tokenize-modernbert.jsonl");
    CHECK_MSG(n == 250, "%zu golden cases", n);
    n = check_cases(t, "testdata/bpe/modernbert-cases.jsonl", "modernbert");
    CHECK_MSG(n >= 100, "only %zu modernbert cases", n);
    tokenizer_free(t);

    static const char *const qwen[][2] = {{"tiny-qwen3-reranker", "qwen3"},
                                           {"tiny-mxbai-rerank-v2", "mxbai"}};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/golden/%s/tokenizer.json",
                 shared_dir(), qwen[i][0]);
        snprintf(cases, sizeof cases, "testdata/bpe/%s-cases.jsonl", qwen[i][1]);
        t = bpe_load(path, &e);
        CHECK_MSG(t != NULL, "load %s: %s", path, e.msg);
        if (!t)
            continue;
        CHECK(t->cls_id == -1 && t->sep_id == -1);
        n = check_cases(t, cases, qwen[i][1]);
        CHECK_MSG(n >= 100, "only %zu %s cases", n, qwen[i][1]);
        if (i == 0)
            check_qwen3_reranker(t);
        tokenizer_free(t);
    }
}

/* The tokenizers scripts/gen-bpe-cases.js builds, on their cases. */
static void check_generated(void)
{
    static const char *const names[] = {"gpt2", "llama", "char", "spm", "drop"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[256], cases[256];
        struct err e = {0};
        snprintf(path, sizeof path, "testdata/bpe/%s/tokenizer.json", names[i]);
        snprintf(cases, sizeof cases, "testdata/bpe/%s-cases.jsonl", names[i]);
        struct tokenizer *t = bpe_load(path, &e);
        CHECK_MSG(t != NULL, "load %s: %s", path, e.msg);
        if (!t)
            continue;
        size_t n = check_cases(t, cases, names[i]);
        CHECK_MSG(n >= 500, "only %zu %s cases", n, names[i]);
        tokenizer_free(t);
    }
}

/* ---- small tokenizers built here ------------------------------------------ */

/* A minimal valid tokenizer.json: vocabulary a b c ab bc abc, merges
 * "b c" (rank 0), "a b", "a bc", no normalizer or pre-tokenizer.  New. */
static json_t *tiny_json(void)
{
    json_error_t je;
    return json_loads(
        "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null,"
        " \"pre_tokenizer\": null, \"post_processor\": null,"
        " \"model\": {\"type\": \"BPE\", \"dropout\": null,"
        "  \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4,"
        "   \"abc\": 5}, \"merges\": [\"b c\", \"a b\", \"a bc\"]}}",
        0, &je);
}

/* Loads `tj` (stolen) and returns the tokenizer, or NULL with e filled. */
static struct tokenizer *load_json(json_t *tj, struct err *e)
{
    struct tokenizer *t = bpe_load_json(tj, "test.json", e);
    json_decref(tj);
    return t;
}

/* Ids of s through t as a string "1 2 3", in a static buffer. */
static const char *ids_of(const struct tokenizer *t, const char *s, size_t n)
{
    static char out[256];
    struct ids ids = {0};
    t->tokenize(t, s, n, &ids);
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < ids.n && k < sizeof out - 16; i++)
        k += (size_t)snprintf(out + k, sizeof out - k, "%s%d", i ? " " : "",
                              ids.v[i]);
    ids_free(&ids);
    return out;
}

/* Merges go by rank, not position: "abc" merges b c (rank 0) first, then
 * a bc; "abab" merges a b twice. Worked by hand from the merge list. */
static void check_tiny(void)
{
    struct err e = {0};
    struct tokenizer *t = load_json(tiny_json(), &e);
    CHECK_MSG(t != NULL, "tiny: %s", e.msg);
    if (!t)
        return;
    CHECK_STR(ids_of(t, "abc", 3), "5");
    CHECK_STR(ids_of(t, "abab", 4), "3 3");
    CHECK_STR(ids_of(t, "cab", 3), "2 3");
    CHECK_STR(ids_of(t, "abx", 3), "3");  /* no unk token: x is dropped */
    CHECK_STR(ids_of(t, "", 0), "");
    CHECK(t->cls_id == -1 && t->sep_id == -1 && t->vocab_size == 6);
    tokenizer_free(t);

    /* ignore_merges takes a whole word that is in the vocabulary */
    json_t *tj = tiny_json();
    json_t *m = json_object_get(tj, "model");
    json_object_set_new(json_object_get(m, "vocab"), "abcab", json_integer(6));
    json_object_set_new(m, "ignore_merges", json_true());
    t = load_json(tj, &e);
    CHECK_MSG(t != NULL, "tiny ignore_merges: %s", e.msg);
    if (t) {
        CHECK_STR(ids_of(t, "abcab", 5), "6");
        CHECK_STR(ids_of(t, "abcabc", 6), "5 5");
        tokenizer_free(t);
    }
}

/* Bytes that are not UTF-8 count as U+FFFD, like the replacement character
 * itself, wherever they fall. */
static void check_invalid_utf8(void)
{
    struct err e = {0};
    struct tokenizer *t = bpe_load("testdata/bpe/gpt2/tokenizer.json", &e);
    CHECK_MSG(t != NULL, "gpt2: %s", e.msg);
    if (!t)
        return;
    static const struct {
        const char *bad, *good;
    } cases[] = {
        {"a\xff" "b", "a\xef\xbf\xbd" "b"},
        {"\xe6\x97", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"x \xc3", "x \xef\xbf\xbd"},
        {"\xed\xa0\x80<mask>", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd<mask>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char want[256];
        snprintf(want, sizeof want, "%s",
                 ids_of(t, cases[i].good, strlen(cases[i].good)));
        CHECK_STR(ids_of(t, cases[i].bad, strlen(cases[i].bad)), want);
    }
    tokenizer_free(t);
}

/* What is not implemented is refused, naming it. */
static void check_refusals(void)
{
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        {"normalizer", "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"a+\"},"
                       " \"content\": \"b\"}", "only a non-empty String pattern"},
        {"normalizer", "{\"type\": \"BertNormalizer\"}",
         "normalizer BertNormalizer is not supported"},
        {"normalizer", "{\"type\": \"Sequence\", \"normalizers\": [{\"type\":"
                       " \"NFC\"}, {\"type\": \"StripAccents\"}]}",
         "normalizer StripAccents is not supported"},
        {"pre_tokenizer", "{\"type\": \"Whitespace\"}",
         "pre_tokenizer Whitespace is not supported"},
        {"pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+\"},"
                          " \"behavior\": \"Isolated\", \"invert\": false}",
         "pattern \\s+ is not supported"},
        {"pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"String\": \" \"},"
                          " \"behavior\": \"Removed\", \"invert\": false}",
         "only behavior Isolated"},
        {"post_processor", "{\"type\": \"Metaspace\"}",
         "post_processor Metaspace is not supported"},
        {"post_processor", "{\"type\": \"TemplateProcessing\", \"pair\": []}",
         "pair template is not"},
        {"added_tokens", "[{\"id\": 9, \"content\": \"x\"}, {\"id\": 10, "
                         "\"content\": \"x\", \"special\": true}]", NULL},
        {"added_tokens", "[{\"id\": 9, \"content\": \"\\u00c5\"}, {\"id\": 10, "
                         "\"content\": \"A\\u030a\"}]", "matches the same text"},
        {"model.merges", "[\"a b c\"]", "merges[0]: \"a b c\" is not two tokens"},
        {"model.merges", "[\"a c\"]", "merged token \"ac\" is not in"},
        {"model.merges", "[[\"a\", \"x\"]]", "\"x\" is not in the vocabulary"},
        {"model.merges", "[\"a b\", [\"b\", \"c\"]]", "mixes strings and pairs"},
        {"model.dropout", "0.1", "dropout"},
        {"model.unk_token", "\"<unk>\"", "unk_token \"<unk>\" is not in"},
        {"model.type", "\"WordPiece\"", "model.type must be BPE"},
        {"model.vocab", "{\"a\": -1}", "\"a\": bad id"},
        {"model.vocab", "{\"a\": \"0\"}", "\"a\": bad id"},
        {"model.vocab", "[]", "model.vocab must be an object"},
        {"model.merges", "{}", "model.merges must be an array"},
        {"model.fuse_unk", "1", "model.fuse_unk must be a boolean"},
        {"added_tokens", "{}", "added_tokens must be an array"},
        {"added_tokens", "[{\"id\": 1}]", "content must be a string"},
        {"post_processor", "{\"type\": \"TemplateProcessing\", \"pair\": ["
                           "{\"SpecialToken\": {\"id\": \"X\", \"type_id\": 0}},"
                           "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
                           "{\"SpecialToken\": {\"id\": \"Y\", \"type_id\": 0}},"
                           "{\"Sequence\": {\"id\": \"B\", \"type_id\": 1}},"
                           "{\"SpecialToken\": {\"id\": \"Y\", \"type_id\": 1}}],"
                           " \"special_tokens\": {}}", "X must have one id"},
        {"post_processor", "{\"type\": \"BertProcessing\", \"sep\": [\"s\"],"
                           " \"cls\": [\"c\", 1]}", "cls and sep must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *tj = tiny_json(), *obj = tj;
        const char *key = cases[i].key;
        if (strncmp(key, "model.", 6) == 0) {
            obj = json_object_get(tj, "model");
            key += 6;
        }
        json_error_t je;
        json_t *v = json_loads(cases[i].value, JSON_DECODE_ANY, &je);
        CHECK_MSG(v != NULL, "refusal %zu: bad JSON: %s", i, je.text);
        json_object_set_new(obj, key, v);
        if (strcmp(key, "normalizer") != 0)
            json_object_set_new(tj, "normalizer", json_pack("{s:s}", "type", "NFC"));
        struct err e = {0};
        struct tokenizer *t = load_json(tj, &e);
        if (!cases[i].message) { /* accepted: the later entry wins */
            CHECK_MSG(t != NULL, "refusal %zu: %s", i, e.msg);
        } else {
            CHECK_MSG(!t && strstr(e.msg, cases[i].message) &&
                          strncmp(e.msg, "test.json: ", 11) == 0,
                      "refusal %zu: \"%s\" lacks \"%s\"", i, e.msg,
                      cases[i].message);
        }
        tokenizer_free(t);
    }
    struct err e = {0};
    CHECK(bpe_load("tests/test_bpe.c", &e) == NULL &&
          strncmp(e.msg, "tests/test_bpe.c:", 17) == 0);
}

/* Random bytes, with pieces of added tokens and whitespace runs, through
 * every generated tokenizer: ids stay inside the vocabulary (and, under
 * `make asan`, memory stays clean). */
static void check_random_bytes(void)
{
    static const char *const names[] = {"gpt2", "llama", "char", "spm", "drop"};
    static const char *const bits[] = {"<mask>", "[WORD]", "<|eot|>", "<|l|>",
                                       "[RS]", "  ", "\t\n", "'s", "\xc3\xa9",
                                       "\xe6\x97\xa5", "\xf0\x9f\x98\x80"};
    uint64_t rng = 7;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char path[256];
        struct err e = {0};
        snprintf(path, sizeof path, "testdata/bpe/%s/tokenizer.json", names[k]);
        struct tokenizer *t = bpe_load(path, &e);
        if (!t)
            continue; /* reported by check_generated */
        struct ids ids = {0};
        size_t bad = 0;
        for (int i = 0; i < 300; i++) {
            char s[256];
            size_t n = 0;
            while (n < 200) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                unsigned r = (unsigned)(rng >> 33);
                const char *b = bits[r % (sizeof bits / sizeof *bits)];
                if (r & 0x10000 && n + strlen(b) < sizeof s) {
                    memcpy(s + n, b, strlen(b));
                    n += strlen(b);
                } else {
                    s[n++] = (char)(r >> 8);
                }
            }
            tokenize(t, s, n, &ids);
            for (size_t j = 0; j < ids.n; j++)
                bad += ids.v[j] < 0 || (size_t)ids.v[j] >= t->vocab_size;
        }
        CHECK_MSG(bad == 0, "%s: %zu ids outside the vocabulary", names[k], bad);
        ids_free(&ids);
        tokenizer_free(t);
    }
}

/* tokenizer_load picks this tokenizer for model.type BPE and reads the
 * RoBERTa post-processor as <s> A </s></s> B </s>. */
static void check_dispatch(void)
{
    struct err e = {0};
    struct tokenizer *t = tokenizer_load("testdata/bpe/gpt2", &e);
    CHECK_MSG(t != NULL, "tokenizer_load gpt2: %s", e.msg);
    if (!t)
        return;
    CHECK_STR(t->kind, "bpe");
    CHECK(t->n_sep_middle == 2 && !t->second_type_one && t->cls_id >= 0 &&
          t->sep_id >= 0 && t->cls_id != t->sep_id);
    tokenizer_free(t);
    t = tokenizer_load("testdata/bpe/char", &e);
    CHECK_MSG(t != NULL, "tokenizer_load char: %s", e.msg);
    if (t) {
        CHECK(t->cls_id == 1 && t->sep_id == 2 && t->n_sep_middle == 1 &&
              t->second_type_one && t->unk_id == 0);
        tokenizer_free(t);
    }
}

/* A 50,000-token byte-level vocabulary (256 bytes and 49,744 two-byte
 * merges): load time, and two-byte words found whole. */
static void check_load_50k(void)
{
    json_t *vocab = json_object(), *merges = json_array();
    char ch[256][3], key[8];
    for (int c = 0, n = 0; c < 256; c++) {
        bool keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) ||
                    (c >= 0xAE && c <= 0xFF);
        int32_t cp = keep ? c : 256 + n++;
        memset(ch[c], 0, 3);
        if (cp < 0x80) {
            ch[c][0] = (char)cp;
        } else {
            ch[c][0] = (char)(0xC0 | cp >> 6);
            ch[c][1] = (char)(0x80 | (cp & 0x3F));
        }
        json_object_set_new(vocab, ch[c], json_integer(c));
    }
    const int n_vocab = 50000;
    for (int k = 256; k < n_vocab; k++) {
        int a = (k - 256) / 256, b = (k - 256) % 256;
        snprintf(key, sizeof key, "%s%s", ch[a], ch[b]);
        json_object_set_new(vocab, key, json_integer(k));
        char m[8];
        snprintf(m, sizeof m, "%s %s", ch[a], ch[b]);
        json_array_append_new(merges, json_string(m));
    }
    json_t *tj = json_pack("{s:s, s:[], s:n, s:{s:s, s:b, s:b, s:b}, s:n,"
                           " s:{s:s, s:o, s:o}}",
                           "version", "1.0", "added_tokens", "normalizer",
                           "pre_tokenizer", "type", "ByteLevel",
                           "add_prefix_space", 0, "use_regex", 0,
                           "trim_offsets", 0, "post_processor", "model",
                           "type", "BPE", "vocab", vocab, "merges", merges);
    mkdir("tests/out", 0755);
    const char *path = "tests/out/bpe-50k.json";
    CHECK(tj && json_dump_file(tj, path, JSON_COMPACT) == 0);
    json_decref(tj);
    struct err e = {0};
    double t0 = now_seconds();
    struct tokenizer *t = bpe_load(path, &e);
    double ms = (now_seconds() - t0) * 1e3;
    CHECK_MSG(t != NULL, "load 50k: %s", e.msg);
    if (!t)
        return;
    printf("50k-token BPE tokenizer.json: load %.1f ms\n", ms);
    CHECK(t->vocab_size == (size_t)n_vocab);
    size_t bad = 0;
    for (int k = 256; k < n_vocab; k += 97) {
        char s[2] = {(char)((k - 256) / 256), (char)((k - 256) % 256)};
        if ((unsigned char)s[0] >= 0x80 || (unsigned char)s[1] >= 0x80)
            continue; /* a lone byte past 0x7F is not UTF-8 */
        char want[16];
        snprintf(want, sizeof want, "%d", k);
        bad += strcmp(ids_of(t, s, 2), want) != 0;
    }
    CHECK_MSG(bad == 0, "50k: %zu two-byte words not found whole", bad);
    tokenizer_free(t);
}

int main(void)
{
    check_tiny();
    check_invalid_utf8();
    check_refusals();
    check_dispatch();
    check_load_50k();
    check_generated();
    check_random_bytes();
    check_golden();
    return check_report();
}
