/* test_sentencepiece.c — the SentencePiece tokenizer against references:
 *   - shared golden pairs (tokenize-xlmr.jsonl) on
 *     tiny-xlmr-ce, through sentencepiece.bpe.model and tokenizer.json alike;
 *   - testdata/spm/{cases,stress}.jsonl on the multilingual model
 *     scripts/gen-spm-tests.py trains with spm_train, and
 *     testdata/xlmr-fast/tiny-xlmr-ce.jsonl on tiny-xlmr-ce, with ids from
 *     Hugging Face's fast tokenizer (scripts/gen-xlmr-fast-cases.js), through
 *     tokenizer.json alone and beside the .model; the *-converter.jsonl
 *     files through a lone .model (the pipeline transformers builds);
 *   - malformed and mutated model files (must fail cleanly or tokenize
 *     without touching memory they do not own);
 *   - a synthetic 250,000-piece model: load time, and ids of its pieces.
 * Each path is forced by copying one file, or both, into its own tests/out
 * directory. */
#include "check.h"
#include "tokenizers/sentencepiece.h"
#include "tokenizers/tokenizer.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

/* Writes n bytes to path; returns 0 or -1. */
static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Copies src_dir/file into dir, or removes dir/file when copy is false;
 * returns 0, or -1 when src_dir/file cannot be read or written. */
static int copy_or_remove(const char *dir, const char *src_dir,
                          const char *file, bool copy)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    remove(path);
    if (!copy)
        return 0;
    char src[1024];
    struct err e;
    size_t n;
    snprintf(src, sizeof src, "%s/%s", src_dir, file);
    char *data = read_file(src, &n, &e);
    if (!data)
        return -1;
    int rc = write_bytes(path, data, n);
    free(data);
    return rc;
}

/* The files a model directory holds. */
enum which { ONLY_MODEL, ONLY_JSON, BOTH };
static const char *const which_name[] = {"sentencepiece.bpe.model",
                                         "tokenizer.json", "both files"};

/* Makes tests/out/<name>/ holding copies of src_dir's
 * sentencepiece.bpe.model, tokenizer.json or both, so that
 * sentencepiece_load takes that path; returns the directory in a static
 * buffer, or NULL when a file cannot be copied. */
static const char *model_dir_with(const char *name, const char *src_dir,
                                  enum which w)
{
    static char dir[512];
    mkdir("tests/out", 0755);
    snprintf(dir, sizeof dir, "tests/out/%s", name);
    mkdir(dir, 0755);
    if (copy_or_remove(dir, src_dir, "sentencepiece.bpe.model", w != ONLY_JSON) ||
        copy_or_remove(dir, src_dir, "tokenizer.json", w != ONLY_MODEL))
        return NULL;
    return dir;
}

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

/* Every case of a JSON Lines file through t: {"text", "ids"} (the text
 * alone) or {"query", "text", "max_length", "input_ids"} (a pair, with
 * truncation).  Returns the number of cases, or 0 when path is absent. */
static size_t check_jsonl(const struct tokenizer *t, const char *path,
                          const char *label)
{
    FILE *f = fopen(path, "r");
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
        if (json_is_string(text) && !query) {
            tokenize(t, json_string_value(text), json_string_length(text), &d);
            CHECK_MSG(ids_equal_json(&d, json_object_get(c, "ids")),
                      "%s: %s:%zu differs: %s", label, path, n_cases, line);
        } else if (json_is_string(query) && json_is_string(text) &&
                   json_integer_value(max_length) > 4) {
            tokenize(t, json_string_value(query), json_string_length(query), &q);
            tokenize(t, json_string_value(text), json_string_length(text), &d);
            tokenizer_encode_ids(t, &q, &d,
                                 (size_t)json_integer_value(max_length), &pair);
            CHECK_MSG(ids_equal_json(&pair.input_ids,
                                     json_object_get(c, "input_ids")),
                      "%s: %s:%zu differs: %s", label, path, n_cases, line);
        } else {
            CHECK_MSG(false, "%s: %s:%zu malformed", label, path, n_cases);
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

/* Every golden pair of tokenize-xlmr.jsonl, and the fast tokenizer's
 * stress cases for tiny-xlmr-ce (those of the converter's pipeline for a
 * lone .model), through t. */
static void check_golden(const struct tokenizer *t, enum which w)
{
    const char *label = which_name[w];
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/tokenize-xlmr.jsonl", shared_dir());
    size_t n = check_jsonl(t, path, label);
    if (n == 0)
        SKIP("%s: %s not found", label, path);
    else
        CHECK_MSG(n == 281, "%s: %zu golden cases", label, n);
    const char *stress = w == ONLY_MODEL
                             ? "testdata/xlmr-fast/tiny-xlmr-ce-converter.jsonl"
                             : "testdata/xlmr-fast/tiny-xlmr-ce.jsonl";
    n = check_jsonl(t, stress, label);
    CHECK_MSG(n >= 600, "%s: %zu cases in %s", label, n, stress);
}

/* testdata/spm: cases.jsonl and stress.jsonl, or stress-converter.jsonl for
 * a lone .model (scripts/gen-xlmr-fast-cases.js, ids from Hugging Face's
 * fast tokenizer). */
static void check_cases(const struct tokenizer *t, enum which w)
{
    const char *label = which_name[w];
    if (w == ONLY_MODEL) {
        size_t n = check_jsonl(t, "testdata/spm/stress-converter.jsonl", label);
        CHECK_MSG(n >= 600, "%s: %zu converter cases", label, n);
        return;
    }
    size_t n = check_jsonl(t, "testdata/spm/cases.jsonl", label);
    CHECK_MSG(n >= 50, "%s: %zu cases in testdata/spm/cases.jsonl", label, n);
    n = check_jsonl(t, "testdata/spm/stress.jsonl", label);
    CHECK_MSG(n >= 600, "%s: %zu cases in testdata/spm/stress.jsonl", label, n);
}

static void check_fields(const struct tokenizer *t, size_t vocab_size)
{
    CHECK_STR(t->kind, "sentencepiece");
    CHECK(t->cls_id == 0 && t->pad_id == 1 && t->sep_id == 2 && t->unk_id == 3);
    CHECK(t->n_sep_middle == 2 && !t->second_type_one);
    CHECK_MSG(t->vocab_size == vocab_size, "vocab_size %zu, want %zu",
              t->vocab_size, vocab_size);
}

/* Loads testdata/spm and tiny-xlmr-ce from each file and both, and runs
 * check_cases / check_golden. */
static void check_model_files(void)
{
    char golden_dir[512];
    snprintf(golden_dir, sizeof golden_dir, "%s/golden/tiny-xlmr-ce", shared_dir());
    for (int i = 0; i < 3; i++) {
        enum which w = (enum which)i;
        struct err e = {0};
        char name[64];
        snprintf(name, sizeof name, "spm-testdata-%d", i);
        const char *dir = model_dir_with(name, "testdata/spm", w);
        CHECK_MSG(dir != NULL, "testdata/spm: %s missing", which_name[w]);
        struct tokenizer *t = dir ? sentencepiece_load(dir, &e) : NULL;
        CHECK_MSG(t != NULL, "load %s: %s", which_name[w], e.msg);
        if (t) {
            check_fields(t, 3002);
            check_cases(t, w);
            tokenizer_free(t);
        }

        snprintf(name, sizeof name, "spm-golden-%d", i);
        dir = model_dir_with(name, golden_dir, w);
        if (!dir) {
            SKIP("%s: %s not found", golden_dir, which_name[w]);
            continue;
        }
        t = sentencepiece_load(dir, &e);
        CHECK_MSG(t != NULL, "load golden %s: %s", which_name[w], e.msg);
        if (t) {
            check_fields(t, 3002);
            check_golden(t, w);
            tokenizer_free(t);
        }
    }
}

/* ---- building model files ------------------------------------------------ */

static void pb_varint(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    buf_putc(b, (char)v);
}

static void pb_bytes(struct buf *b, unsigned field, const void *p, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    buf_put(b, p, n);
}

/* Appends a ModelProto.SentencePiece field. */
static void pb_piece(struct buf *b, const char *s, size_t n, float score, int type)
{
    struct buf p = {0};
    uint32_t bits;
    memcpy(&bits, &score, 4);
    pb_bytes(&p, 1, s, n);
    pb_varint(&p, 2 << 3 | 5);
    for (int i = 0; i < 4; i++)
        buf_putc(&p, (char)(bits >> (8 * i)));
    if (type != 1) {
        pb_varint(&p, 3 << 3 | 0);
        pb_varint(&p, (uint64_t)type);
    }
    pb_bytes(b, 1, p.data, p.len);
    buf_free(&p);
}

/* The normalizer_spec field (3) of a ModelProto, or NULL/0. */
static const char *pb_find_normalizer(const char *m, size_t n, size_t *len)
{
    size_t i = 0;
    while (i < n) {
        uint64_t tag = 0, l = 0;
        for (unsigned s = 0; i < n; s += 7) {
            tag |= (uint64_t)(m[i] & 0x7f) << s;
            if (!(m[i++] & 0x80))
                break;
        }
        if ((tag & 7) != 2)
            return NULL;
        for (unsigned s = 0; i < n; s += 7) {
            l |= (uint64_t)(m[i] & 0x7f) << s;
            if (!(m[i++] & 0x80))
                break;
        }
        if (l > n - i)
            return NULL;
        if (tag >> 3 == 3) {
            *len = l;
            return m + i;
        }
        i += l;
    }
    return NULL;
}

static void put_utf8(struct buf *b, uint32_t c)
{
    char u[4];
    if (c < 0x80) {
        buf_putc(b, (char)c);
    } else if (c < 0x800) {
        u[0] = (char)(0xc0 | c >> 6);
        u[1] = (char)(0x80 | (c & 0x3f));
        buf_put(b, u, 2);
    } else {
        u[0] = (char)(0xe0 | c >> 12);
        u[1] = (char)(0x80 | (c >> 6 & 0x3f));
        u[2] = (char)(0x80 | (c & 0x3f));
        buf_put(b, u, 3);
    }
}

/* Piece i >= 3 of the synthetic vocabulary: an optional U+2581, i in
 * bijective base 58 over Latin and Cyrillic letters, one CJK character that
 * ends the number (so pieces are unique), then 0-5 letters of noise. */
static void synthetic_piece(struct buf *b, size_t i, uint64_t *rng)
{
    b->len = 0;
    if (i % 2)
        buf_put(b, "\xe2\x96\x81", 3);
    for (size_t k = i / 2 + 1; k > 0; k = (k - 1) / 58) {
        uint32_t d = (uint32_t)((k - 1) % 58);
        put_utf8(b, d < 26 ? 'a' + d : 0x430 + (d - 26));
    }
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    put_utf8(b, 0x4e00 + (uint32_t)(*rng >> 40) % 2000);
    for (uint64_t k = (*rng >> 20) % 6; k > 0; k--)
        put_utf8(b, 'a' + (uint32_t)((*rng >> (3 * k)) % 26));
}

/* A 250,000-piece XLM-R-layout model with testdata's normalizer: times the
 * load and checks that whole pieces come back as their ids. */
static void check_large_vocabulary(void)
{
    enum { N = 250000 };
    size_t n_src;
    struct err e = {0};
    char *src = read_file("testdata/spm/sentencepiece.bpe.model", &n_src, &e);
    size_t norm_len = 0;
    const char *norm = src ? pb_find_normalizer(src, n_src, &norm_len) : NULL;
    CHECK_MSG(norm != NULL, "no normalizer_spec in testdata model");
    if (!norm) {
        free(src);
        return;
    }
    struct buf model = {0}, piece = {0};
    uint64_t rng = 1;
    pb_piece(&model, "<unk>", 5, 0, 2);
    pb_piece(&model, "<s>", 3, 0, 3);
    pb_piece(&model, "</s>", 4, 0, 3);
    for (size_t i = 3; i < N; i++) {
        synthetic_piece(&piece, i, &rng);
        /* In [-1.9, -1.0]: one piece always beats two. */
        pb_piece(&model, piece.data, piece.len, -1.0f - (float)(i % 900) / 1000, 1);
    }
    pb_bytes(&model, 3, norm, norm_len);
    free(src);

    mkdir("tests/out", 0755);
    mkdir("tests/out/spm-250k", 0755);
    CHECK(write_bytes("tests/out/spm-250k/sentencepiece.bpe.model", model.data,
                      model.len) == 0);
    double t0 = now_seconds();
    struct tokenizer *t = sentencepiece_load("tests/out/spm-250k", &e);
    double ms = (now_seconds() - t0) * 1e3;
    CHECK_MSG(t != NULL, "load 250k: %s", e.msg);
    printf("250k-piece sentencepiece.bpe.model (%.1f MB): load %.1f ms\n",
           model.len / 1e6, ms);
    if (t) {
        CHECK(t->vocab_size == N + 2);
        struct ids got = {0};
        size_t bad = 0;
        rng = 1;
        for (size_t i = 3; i < N; i++) {
            synthetic_piece(&piece, i, &rng);
            if (i % 1994 != 1) /* a sample of the pieces with U+2581 */
                continue;
            /* The text is the piece with its U+2581 as the dummy prefix. */
            tokenize(t, piece.data + 3, piece.len - 3, &got);
            bad += !(got.n == 1 && got.v[0] == (int32_t)i + 1);
        }
        CHECK_MSG(bad == 0, "250k: %zu sampled pieces not found whole", bad);
        ids_free(&got);
        tokenizer_free(t);
    }
    buf_free(&model);
    buf_free(&piece);
}

/* ---- malformed input ------------------------------------------------------ */

static struct tokenizer *load_bytes(const char *file, const void *p, size_t n,
                                    struct err *e)
{
    mkdir("tests/out", 0755);
    mkdir("tests/out/spm-bad", 0755);
    remove("tests/out/spm-bad/sentencepiece.bpe.model");
    remove("tests/out/spm-bad/tokenizer.json");
    char path[256];
    snprintf(path, sizeof path, "tests/out/spm-bad/%s", file);
    if (write_bytes(path, p, n))
        return NULL;
    return sentencepiece_load("tests/out/spm-bad", e);
}

static void check_malformed(void)
{
    struct err e = {0};
    CHECK(sentencepiece_load("tests/out/no-such-model", &e) == NULL);
    CHECK(strstr(e.msg, "no sentencepiece.bpe.model or tokenizer.json") != NULL);

    size_t n;
    char *model = read_file("testdata/spm/sentencepiece.bpe.model", &n, &e);
    CHECK(model != NULL);
    if (!model)
        return;
    /* Truncated anywhere inside the piece list: a malformed protobuf. */
    size_t cuts[] = {1, 7, 100, 1001, 20000};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        struct tokenizer *t = load_bytes("sentencepiece.bpe.model", model, cuts[i], &e);
        CHECK_MSG(t == NULL, "truncated at %zu loaded", cuts[i]);
        tokenizer_free(t);
    }
    CHECK(strstr(e.msg, "sentencepiece.bpe.model") != NULL);
    /* With both files, the vocabulary comes from the .model and the
     * pipeline from tokenizer.json, which must be readable. */
    static const char *const beside[] = {
        "{", "[]", "{\"normalizer\": {\"type\": \"NFC\"}}",
        "{\"model\": {\"vocab\": [\"}]\\\"\", 1]}, \"pre_tokenizer\": 7}",
        "{\"added_tokens\": [{\"id\": -1, \"content\": \"x\"}], \"pre_tokenizer\": "
        "{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\"}}"};
    for (size_t i = 0; i < sizeof beside / sizeof *beside; i++) {
        struct tokenizer *both = load_bytes("tokenizer.json", beside[i],
                                            strlen(beside[i]), &e);
        CHECK(both == NULL);
        CHECK(write_bytes("tests/out/spm-bad/sentencepiece.bpe.model", model, n) == 0);
        both = sentencepiece_load("tests/out/spm-bad", &e);
        CHECK_MSG(both == NULL && strstr(e.msg, "tokenizer.json"),
                  "model beside broken tokenizer.json %zu: %s", i, e.msg);
        /* The vocabulary's tricky string is skipped, not taken for its end. */
        if (i == 3)
            CHECK_MSG(strstr(e.msg, "only Metaspace") != NULL, "%s", e.msg);
        tokenizer_free(both);
    }

    /* Random byte changes: a clean failure, or a tokenizer that works
     * (valgrind and ASan runs check that nothing reads out of bounds). */
    static const char sample[] = " Ünïcödé 東京 العربية x\xc3 😀 ｆｕｌｌ  end ";
    uint64_t rng = 7;
    int loaded = 0;
    for (int round = 0; round < 300; round++) {
        char *m = xmalloc(n);
        memcpy(m, model, n);
        for (int k = 0; k < 1 + round % 8; k++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            m[(rng >> 20) % n] ^= (char)(1 + (rng >> 8) % 255);
        }
        struct tokenizer *t = load_bytes("sentencepiece.bpe.model", m, n, &e);
        if (t) {
            struct ids got = {0};
            tokenize(t, sample, sizeof sample - 1, &got);
            loaded++;
            for (size_t i = 0; i < got.n; i++)
                if (got.v[i] < 0 || (size_t)got.v[i] >= t->vocab_size)
                    loaded = -10000;
            ids_free(&got);
            tokenizer_free(t);
        }
        free(m);
    }
    CHECK_MSG(loaded > 0, "mutated models: %d loaded and tokenized in range", loaded);

    /* Malformed UTF-8 (outside the tokenize contract): each bad byte is
     * read as U+FFFD (which this charsmap maps to a space), and every id
     * stays in range. */
    struct tokenizer *tm = load_bytes("sentencepiece.bpe.model", model, n, &e);
    CHECK_MSG(tm != NULL, "testdata model: %s", e.msg);
    static const char *const bad_utf8[] = {"ab\xff" "cd", "a\xc3(b", "\xf0\x9f\x98",
                                           "caf\xc3", "\xed\xa0\x80 x", "\xc0\xaf <s"};
    for (size_t i = 0; tm && i < sizeof bad_utf8 / sizeof *bad_utf8; i++) {
        struct ids got = {0};
        tokenize(tm, bad_utf8[i], strlen(bad_utf8[i]), &got);
        for (size_t k = 0; k < got.n; k++)
            CHECK(got.v[k] >= 0 && (size_t)got.v[k] < tm->vocab_size);
        ids_free(&got);
    }
    tokenizer_free(tm);
    free(model);

    /* The charsmap's trie size must fit its blob. */
    struct buf b = {0};
    pb_piece(&b, "<unk>", 5, 0, 2);
    pb_piece(&b, "<s>", 3, 0, 3);
    pb_piece(&b, "</s>", 4, 0, 3);
    pb_piece(&b, "\xe2\x96\x81", 3, -1, 1);
    struct buf norm = {0};
    pb_bytes(&norm, 2, "\xff\xff\x00\x00" "abcdefgh", 12);
    pb_bytes(&b, 3, norm.data, norm.len);
    CHECK(load_bytes("sentencepiece.bpe.model", b.data, b.len, &e) == NULL);
    CHECK(strstr(e.msg, "trie size") != NULL);
    /* A duplicate piece. */
    b.len = 0;
    pb_piece(&b, "<unk>", 5, 0, 2);
    pb_piece(&b, "<s>", 3, 0, 3);
    pb_piece(&b, "</s>", 4, 0, 3);
    pb_piece(&b, "ab", 2, -1, 1);
    pb_piece(&b, "ab", 2, -2, 1);
    CHECK(load_bytes("sentencepiece.bpe.model", b.data, b.len, &e) == NULL);
    CHECK(strstr(e.msg, "already defined") != NULL);
    /* Not the XLM-R layout. */
    b.len = 0;
    pb_piece(&b, "<s>", 3, 0, 3);
    pb_piece(&b, "<unk>", 5, 0, 2);
    pb_piece(&b, "</s>", 4, 0, 3);
    CHECK(load_bytes("sentencepiece.bpe.model", b.data, b.len, &e) == NULL);
    CHECK(strstr(e.msg, "XLM-RoBERTa layout") != NULL);
    buf_free(&b);
    buf_free(&norm);

    static const char *const bad_json[] = {
        "{",
        "{\"model\": {\"type\": \"BPE\"}}",
        "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 3, \"vocab\": "
        "[[\"<s>\", 0], [\"<pad>\", 0], [\"</s>\", 0], [\"<unk>\", 0], [\"a\"]]}}",
        "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 3, \"vocab\": "
        "[[\"<s>\", 0], [\"<pad>\", 0], [\"</s>\", 0], [\"<unk>\", 0], [\"a\", -1]]},"
        " \"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"@@@@\"},"
        " \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\"}}",
        "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 3, \"vocab\": "
        "[[\"<s>\", 0], [\"<pad>\", 0], [\"</s>\", 0], [\"<unk>\", 0], [\"a\", -1]]},"
        " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}",
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        e.msg[0] = 0;
        struct tokenizer *t = load_bytes("tokenizer.json", bad_json[i],
                                         strlen(bad_json[i]), &e);
        CHECK_MSG(t == NULL && strstr(e.msg, "tokenizer.json") != NULL,
                  "bad tokenizer.json %zu: \"%s\"", i, e.msg);
        tokenizer_free(t);
    }
}

int main(void)
{
    check_model_files();
    check_malformed();
    check_large_vocabulary();
    return check_report();
}
