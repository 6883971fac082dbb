/* test_wordpiece.c — the WordPiece tokenizer against Hugging Face's ids,
 * the pair template and longest_first truncation, and load errors.
 *
 * The golden cases (shared golden/tokenize-bert-uncased-hf023.jsonl) run twice:
 * once with the tokenizer loaded from vocab.txt (+ tokenizer_config.json,
 * special_tokens_map.json) and once from tokenizer.json alone; each form is
 * forced by a directory under tests/out/ holding symlinks to just those
 * files. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "group.h"
#include "input.h"
#include "tokenizers/tokenizer.h"

#define OUT "tests/out/wordpiece"

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        printf("cannot create %s\n", path);
        exit(2);
    }
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        printf("cannot write %s\n", path);
        exit(2);
    }
}

/* A fresh directory OUT/name holding links to the given model files. */
static const char *link_dir(const char *name, const char *model,
                            const char *const *files)
{
    static char dir[512];
    char src[1024], dst[1024], cwd[512];
    snprintf(dir, sizeof dir, "%s/%s", OUT, name);
    make_dir(dir);
    if (!getcwd(cwd, sizeof cwd))
        exit(2);
    for (; *files; files++) {
        snprintf(dst, sizeof dst, "%s/%s", dir, *files);
        unlink(dst);
        /* shared_dir() may be relative to the worktree root. */
        if (model[0] == '/')
            snprintf(src, sizeof src, "%s/%s", model, *files);
        else
            snprintf(src, sizeof src, "%s/%s/%s", cwd, model, *files);
        if (symlink(src, dst) != 0) {
            printf("cannot link %s\n", dst);
            exit(2);
        }
    }
    return dir;
}

static void print_ids(const char *label, const int32_t *v, size_t n)
{
    printf("    %s:", label);
    for (size_t i = 0; i < n; i++)
        printf(" %d", v[i]);
    printf("\n");
}

/* Compares one golden case; returns whether it matched, printing it when
 * it did not. */
static bool golden_case(const struct tokenizer *t, const json_t *c, size_t line,
                        const char *form)
{
    /* The texts may hold NUL characters, which the tokenizer drops. */
    json_t *jq = json_object_get(c, "query"), *jt = json_object_get(c, "text");
    const char *query = json_string_value(jq), *text = json_string_value(jt);
    json_t *want = json_object_get(c, "input_ids");
    json_t *want_types = json_object_get(c, "token_type_ids");
    json_int_t max_length = json_integer_value(json_object_get(c, "max_length"));
    if (!query || !text || !json_is_array(want) || !json_is_array(want_types) ||
        max_length <= 0) {
        printf("  line %zu: malformed golden case\n", line);
        return false;
    }
    struct ids q = {0}, d = {0};
    struct encoding enc = {0};
    t->tokenize(t, query, json_string_length(jq), &q);
    t->tokenize(t, text, json_string_length(jt), &d);
    tokenizer_encode_ids(t, &q, &d, (size_t)max_length, &enc);

    bool ok = enc.input_ids.n == json_array_size(want) &&
              enc.type_ids.n == json_array_size(want_types);
    for (size_t i = 0; ok && i < enc.input_ids.n; i++)
        ok = enc.input_ids.v[i] == json_integer_value(json_array_get(want, i)) &&
             enc.type_ids.v[i] ==
                 json_integer_value(json_array_get(want_types, i));
    if (!ok) {
        printf("  %s line %zu: max_length %lld\n    query: %.120s\n"
               "    text: %.120s\n", form, line, (long long)max_length, query,
               text);
        printf("    want:");
        for (size_t i = 0; i < json_array_size(want); i++)
            printf(" %lld", (long long)json_integer_value(json_array_get(want, i)));
        printf("\n");
        print_ids("got ", enc.input_ids.v, enc.input_ids.n);
        print_ids("types", enc.type_ids.v, enc.type_ids.n);
    }
    ids_free(&q);
    ids_free(&d);
    encoding_free(&enc);
    return ok;
}

static void test_golden(const char *form, const char *dir, json_t *cases)
{
    struct err e = {0};
    double t0 = now_seconds();
    struct tokenizer *t = tokenizer_load(dir, &e);
    double t1 = now_seconds();
    CHECK_MSG(t != NULL, "%s: %s", form, e.msg);
    if (!t)
        return;
    CHECK_STR(t->kind, "wordpiece");
    CHECK(t->cls_id == 101 && t->sep_id == 102 && t->pad_id == 0 &&
          t->unk_id == 100 && t->vocab_size == 30522);

    size_t matched = 0;
    double t2 = now_seconds();
    for (size_t i = 0; i < json_array_size(cases); i++)
        matched += golden_case(t, json_array_get(cases, i), i + 1, form);
    double t3 = now_seconds();
    CHECK_MSG(matched == json_array_size(cases), "%s: %zu/%zu golden cases",
              form, matched, json_array_size(cases));
    printf("%s: %zu/%zu golden cases; load %.2f ms, 300 pairs %.2f ms\n", form,
           matched, json_array_size(cases), (t1 - t0) * 1e3, (t3 - t2) * 1e3);
    tokenizer_free(t);
}

/* Golden cases, a JSON array of objects (a new reference), or NULL. */
static json_t *golden_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    json_t *cases = json_array();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *c = json_loads(line, JSON_ALLOW_NUL, &je);
        CHECK_MSG(c != NULL, "%s:%zu: %s", path, json_array_size(cases) + 1,
                  je.text);
        if (c)
            json_array_append_new(cases, c);
    }
    free(line);
    fclose(f);
    return cases;
}

/* Ids of one text under t, as a fresh vector. */
static struct ids tok(const struct tokenizer *t, const char *text)
{
    struct ids out = {0};
    t->tokenize(t, text, strlen(text), &out);
    return out;
}

static bool ids_eq(const struct ids *a, const int32_t *want, size_t n)
{
    if (a->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (a->v[i] != want[i])
            return false;
    return true;
}

#define CHECK_IDS(t, text, ...)                                              \
    do {                                                                     \
        const int32_t want_[] = {__VA_ARGS__};                               \
        struct ids got_ = tok(t, text);                                      \
        CHECK_MSG(ids_eq(&got_, want_, sizeof want_ / sizeof *want_),        \
                  "tokenize(\"%s\")", text);                                 \
        if (!ids_eq(&got_, want_, sizeof want_ / sizeof *want_))             \
            print_ids("got", got_.v, got_.n);                                \
        ids_free(&got_);                                                     \
    } while (0)

/* Behaviour the golden file does not pin down, on the real vocabulary. */
static void test_behaviour(const char *dir)
{
    struct err e = {0};
    struct tokenizer *t = tokenizer_load(dir, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (!t)
        return;
    /* Special tokens typed in the text are the special ids, matched
     * case-sensitively before normalization. */
    CHECK_IDS(t, "a [SEP] b", 1037, 102, 1038);
    CHECK_IDS(t, "x[MASK]y", 1060, 103, 1061);
    CHECK_IDS(t, "[sep]", 1031, 19802, 1033);
    /* max_input_chars_per_word: 100 characters pass, 101 are [UNK]. */
    char word[102];
    memset(word, 'a', 101);
    word[101] = 0;
    CHECK_IDS(t, word, 100);
    word[100] = 0;
    struct ids w = tok(t, word);
    CHECK(w.n > 1 && w.v[0] != 100);
    ids_free(&w);
    /* Empty and whitespace-only texts give nothing. */
    struct ids empty = tok(t, "");
    CHECK(empty.n == 0);
    ids_free(&empty);
    empty = tok(t, " \t\n\xe2\x80\xa8");
    CHECK(empty.n == 0);
    ids_free(&empty);
    /* Lowercasing is per character, as the Rust library does: a final Σ
     * becomes σ, never ς (ids from npm tokenizers 0.23.2). */
    CHECK_IDS(t, "\xce\x9f\xce\xa3", 1169, 29733);      /* ΟΣ → ο ##σ */
    CHECK_IDS(t, "\xce\xbf\xcf\x82", 1169, 19579);      /* ος → ο ##ς */
    /* Strip accents: a Hangul syllable decomposes into three jamo, none of
     * them a mark, so the word grows (ids from npm tokenizers 0.23.2). */
    CHECK_IDS(t, "\xea\xb0\x81\xea\xb0\x81\xea\xb0\x81\xea\xb0\x81"
                 "aaaaaaaaaaaa", /* 각각각각aaaaaaaaaaaa */
              1455, 30006, 30020, 29991, 30006, 30020, 29991, 30006, 30020,
              29991, 30006, 30020, 11057, 11057, 11057, 11057, 11057, 11057);
    tokenizer_free(t);
}

/* Words that grow under strip_accents (Hangul syllables into jamo) wrote
 * past the word buffer: checked on the repository's tiny model, so that a
 * sanitizer build catches it without ../shared. */
static void test_decomposition_growth(void)
{
    struct err e = {0};
    struct tokenizer *t = tokenizer_load("testdata/tiny-bert", &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (!t)
        return;
    CHECK_IDS(t, "kakaka \xea\xb0\x81\xea\xb0\x81\xea\xb0\x81\xea\xb0\x81"
                 "aaaaaaaaaaaa kalolo", 5, 1, 9);
    /* 1,365 x U+AC01 then 2,731 x A: 4,096 code points in, 6,826 out. */
    struct buf text = {0};
    buf_puts(&text, "kakaka ");
    for (int i = 0; i < 1365; i++)
        buf_puts(&text, "\xea\xb0\x81");
    for (int i = 0; i < 2731; i++)
        buf_putc(&text, 'A');
    buf_puts(&text, " kalolo");
    struct ids got = {0};
    t->tokenize(t, text.data, text.len, &got);
    const int32_t want[] = {5, 1, 9};
    CHECK_MSG(ids_eq(&got, want, 3), "4,096-code-point Hangul word");
    ids_free(&got);
    buf_free(&text);
    tokenizer_free(t);
}

/* Ids of text[0..n) under the tokenizer of dir. */
static bool ids_of(const char *dir, const char *text, size_t n,
                   const int32_t *want, size_t n_want)
{
    struct err e = {0};
    struct tokenizer *t = tokenizer_load(dir, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (!t)
        return false;
    struct ids got = {0};
    t->tokenize(t, text, n, &got);
    bool ok = ids_eq(&got, want, n_want);
    if (!ok)
        print_ids("got", got.v, got.n);
    ids_free(&got);
    tokenizer_free(t);
    return ok;
}

/* JSON's \u0000 in query and text reaches the tokenizers whole (not cut
 * at the NUL): BERT's drops it, SentencePiece keeps it as an unknown
 * character (ids from npm tokenizers 0.23.2; python3-sentencepiece agrees on
 * testdata/spm). */
static void test_nul_escape(void)
{
    const char *path = OUT "/nul.jsonl";
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("{\"query\":\"loka\\u0000ka\",\"text\":\"hello\\u0000world\"}\n", f);
    fclose(f);
    char *files[] = {(char *)path};
    struct input_options o = {.mode = INPUT_JSONL, .max_line = 1 << 20};
    struct err e = {0};
    struct input *in = input_open(files, 1, &o, &e);
    struct group g = {0};
    CHECK_MSG(in && input_next_group(in, &g, &e) == 1, "%s", e.msg);
    if (in && g.n_cands == 1) {
        CHECK(group_query_len(&g) == 7 && g.cands[0].text_len == 11);
        const int32_t bert_q[] = {35}; /* lokaka */
        CHECK_MSG(ids_of("testdata/tiny-bert", g.query, group_query_len(&g),
                         bert_q, 1), "tiny-bert query with U+0000");
        const int32_t spm_d[] = {108, 12, 550, 244, 3, 846, 556};
        CHECK_MSG(ids_of("testdata/spm", g.cands[0].text,
                         g.cands[0].text_len, spm_d, 7),
                  "SentencePiece text with U+0000");
    }
    group_free(&g);
    if (in)
        input_close(in);
}

/* A bare tokenizer for the pair template; tokenize is never called. */
static struct tokenizer pair_tokenizer(int n_sep_middle, bool second_type_one)
{
    return (struct tokenizer){.kind = "test", .cls_id = 1, .sep_id = 2,
                              .n_sep_middle = n_sep_middle,
                              .second_type_one = second_type_one};
}

/* Encodes nq query ids (10, 11, ...) and nd document ids (50, 51, ...)
 * and checks the kept lengths, the layout and the type ids. */
static void check_pair(const struct tokenizer *t, size_t nq, size_t nd,
                       size_t max_length, size_t want_q, size_t want_d)
{
    int32_t q[64], d[64];
    for (size_t i = 0; i < 64; i++) {
        q[i] = (int32_t)(10 + i);
        d[i] = (int32_t)(50 + i) + 100;
    }
    struct encoding enc = {0};
    tokenizer_encode_pair(t, q, nq, d, nd, max_length, &enc);
    size_t mid = (size_t)t->n_sep_middle;
    size_t n = 1 + want_q + mid + want_d + 1;
    bool ok = enc.input_ids.n == n && enc.type_ids.n == n;
    for (size_t i = 0; ok && i < n; i++) {
        int32_t want_id, want_type = 0;
        if (i == 0)
            want_id = t->cls_id;
        else if (i <= want_q)
            want_id = q[i - 1];
        else if (i <= want_q + mid)
            want_id = t->sep_id;
        else {
            want_id = i < n - 1 ? d[i - 1 - want_q - mid] : t->sep_id;
            want_type = t->second_type_one;
        }
        ok = enc.input_ids.v[i] == want_id && enc.type_ids.v[i] == want_type;
    }
    CHECK_MSG(ok, "pair nq=%zu nd=%zu max_length=%zu: want %zu+%zu", nq, nd,
              max_length, want_q, want_d);
    if (!ok) {
        print_ids("got  ", enc.input_ids.v, enc.input_ids.n);
        print_ids("types", enc.type_ids.v, enc.type_ids.n);
    }
    encoding_free(&enc);
}

static void test_truncation(void)
{
    struct tokenizer bert = pair_tokenizer(1, true);
    CHECK(tokenizer_pair_specials(&bert) == 3);
    check_pair(&bert, 3, 4, 10, 3, 4);     /* fits exactly */
    check_pair(&bert, 3, 20, 10, 3, 4);    /* shorter fits: longer gets rest */
    check_pair(&bert, 20, 3, 10, 4, 3);
    check_pair(&bert, 4, 20, 11, 4, 4);    /* budget 8: 4 is exactly half */
    check_pair(&bert, 5, 20, 11, 4, 4);    /* 5 > half: 8/2 and 8/2 */
    check_pair(&bert, 5, 20, 10, 3, 4);    /* odd budget 7: longer gets +1 */
    check_pair(&bert, 20, 5, 10, 4, 3);
    check_pair(&bert, 10, 10, 10, 3, 4);   /* equal: the query is "shorter" */
    check_pair(&bert, 5, 5, 4, 0, 1);      /* budget 1 */
    check_pair(&bert, 5, 6, 5, 1, 1);      /* budget 2 */
    check_pair(&bert, 0, 50, 16, 0, 13);   /* empty query */
    check_pair(&bert, 50, 0, 16, 13, 0);   /* empty document */
    check_pair(&bert, 0, 0, 16, 0, 0);
    check_pair(&bert, 0, 0, 3, 0, 0);
    check_pair(&bert, 5, 5, 3, 0, 0);      /* no room: specials only */
    check_pair(&bert, 5, 5, 1, 0, 0);

    struct tokenizer roberta = pair_tokenizer(2, false);
    CHECK(tokenizer_pair_specials(&roberta) == 4);
    check_pair(&roberta, 3, 20, 11, 3, 4);
    check_pair(&roberta, 20, 20, 12, 4, 4);
    check_pair(&roberta, 0, 0, 4, 0, 0);

    struct encoding enc = {0};
    /* The encoding is replaced, not appended to. */
    int32_t q[] = {7}, d[] = {8, 9};
    tokenizer_encode_pair(&bert, q, 1, d, 2, 512, &enc);
    tokenizer_encode_pair(&bert, q, 1, d, 2, 512, &enc);
    CHECK(enc.input_ids.n == 6 && enc.type_ids.n == 6);
    encoding_free(&enc);
}

/* Appends n pre-tokens of len ids each to a (ids base + position). */
static void push_words(struct ids *a, int32_t base, size_t n, size_t len)
{
    for (size_t w = 0; w < n; w++) {
        size_t first = a->n;
        for (size_t i = 0; i < len; i++)
            ids_push(a, base + (int32_t)a->n);
        ids_mark_word(a, first);
    }
}

/* tokenizer_encode_ids of q and d must keep want_q and want_d ids. */
static void check_kept(const struct tokenizer *t, const struct ids *q,
                       const struct ids *d, size_t max_length, size_t want_q,
                       size_t want_d, const char *what)
{
    struct encoding enc = {0};
    tokenizer_encode_ids(t, q, d, max_length, &enc);
    const int32_t *v = enc.input_ids.v;
    CHECK_MSG(enc.input_ids.n == want_q + want_d + 3 &&
                  v[want_q] == q->v[want_q - 1] && v[want_q + 1] == t->sep_id &&
                  v[want_q + 2] == d->v[0],
              "early exit: %s: want %zu+%zu", what, want_q, want_d);
    encoding_free(&enc);
}

/* Hugging Face's early exit (tokenizers 0.23): each text stops after the
 * pre-token that reaches max_length, which decides which text is the
 * shorter, and so which gets the odd token of an odd budget.  max_length
 * 10, budget 7 throughout. */
static void test_early_exit(void)
{
    struct tokenizer bert = pair_tokenizer(1, true);
    struct ids q = {0}, d = {0};
    /* 13 one-id words stop at 10; one 11-id word keeps 11: the query is
     * the shorter (comparing 13 with 11 would make it the longer). */
    push_words(&q, 10, 13, 1);
    push_words(&d, 50, 1, 11);
    check_kept(&bert, &q, &d, 10, 3, 4, "one-id words against one word");
    /* A word straddling max_length is kept whole: words of 8 and 5 ids
     * stop at 13, not 10, against 12 one-id words stopping at 10. */
    q.n = d.n = 0;
    push_words(&q, 10, 1, 8);
    push_words(&q, 10, 1, 5);
    push_words(&d, 50, 12, 1);
    check_kept(&bert, &q, &d, 10, 4, 3, "a straddling word");
    /* An added token counts but does not end it: nine words, [SEP] typed
     * in the text (reaching 10), a two-id word and two more stop at 12. */
    q.n = 0;
    push_words(&q, 10, 9, 1);
    ids_push_added(&q, 2);
    push_words(&q, 10, 1, 2);
    push_words(&q, 10, 2, 1);
    check_kept(&bert, &q, &d, 10, 4, 3, "an added token");
    ids_free(&q);
    ids_free(&d);
}

/* Loading dir must fail with a message containing each of the needles. */
static void check_load_error(const char *dir, const char *needle1,
                             const char *needle2)
{
    struct err e = {0};
    struct tokenizer *t = tokenizer_load(dir, &e);
    CHECK_MSG(t == NULL, "%s: loaded but should fail", dir);
    tokenizer_free(t);
    CHECK_MSG(strstr(e.msg, needle1) && (!needle2 || strstr(e.msg, needle2)),
              "%s: error \"%s\" lacks \"%s\"", dir, e.msg, needle1);
}

static void test_errors(void)
{
    check_load_error(OUT "/none", "no tokenizer", NULL);
    make_dir(OUT "/empty");
    check_load_error(OUT "/empty", "no tokenizer", NULL);

    static const struct {
        const char *name, *vocab, *missing;
    } lacking[] = {
        {"no-cls", "[PAD]\n[UNK]\n[SEP]\nhello\n", "[CLS]"},
        {"no-sep", "[PAD]\n[UNK]\n[CLS]\nhello\n", "[SEP]"},
        {"no-unk", "[PAD]\n[CLS]\n[SEP]\nhello\n", "[UNK]"},
        {"no-pad", "[UNK]\n[CLS]\n[SEP]\nhello\n", "[PAD]"},
        {"blank", "", "empty vocabulary"},
    };
    char dir[256], path[300];
    for (size_t i = 0; i < sizeof lacking / sizeof *lacking; i++) {
        snprintf(dir, sizeof dir, OUT "/%s", lacking[i].name);
        make_dir(dir);
        snprintf(path, sizeof path, "%s/vocab.txt", dir);
        write_text(path, lacking[i].vocab);
        check_load_error(dir, lacking[i].missing, "vocab.txt");
    }

    /* A minimal valid vocabulary loads, CRLF line ends included, and the
     * ids are line numbers. */
    make_dir(OUT "/tiny");
    write_text(OUT "/tiny/vocab.txt",
               "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n!\r\n");
    struct err e = {0};
    struct tokenizer *t = tokenizer_load(OUT "/tiny", &e);
    CHECK_MSG(t != NULL, "tiny: %s", e.msg);
    if (t) {
        CHECK(t->pad_id == 0 && t->unk_id == 1 && t->cls_id == 2 &&
              t->sep_id == 3 && t->vocab_size == 7);
        CHECK_IDS(t, "Hellos HELLO!? hellx", 4, 5, 4, 6, 1, 1);
        tokenizer_free(t);
    }

    /* tokenizer.json options: cased (strip_accents null follows lowercase
     * = false), another prefix, a 5-character word limit, an added token. */
    make_dir(OUT "/cased");
    write_text(OUT "/cased/tokenizer.json",
        "{\"added_tokens\": [{\"id\": 5, \"content\": \"<x>\"}],"
        " \"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": false,"
        " \"strip_accents\": null},"
        " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
        " \"post_processor\": {\"type\": \"BertProcessing\","
        " \"sep\": [\"[SEP]\", 3], \"cls\": [\"[CLS]\", 2]},"
        " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\","
        " \"continuing_subword_prefix\": \"@@\", \"max_input_chars_per_word\": 5,"
        " \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3,"
        " \"H\\u00e9\": 4, \"@@llo\": 6, \"h\\u00e9\": 7}}}");
    t = tokenizer_load(OUT "/cased", &e);
    CHECK_MSG(t != NULL, "cased: %s", e.msg);
    if (t) {
        CHECK(t->pad_id == 0 && t->unk_id == 1 && t->cls_id == 2 &&
              t->sep_id == 3 && t->vocab_size == 8);
        CHECK_IDS(t, "H\xc3\xa9llo he\xcc\x81llo<x>H\xc3\xa9 abcdef", 4, 6, 7, 6,
                  5, 4, 1);
        tokenizer_free(t);
    }
    make_dir(OUT "/json-no-unk");
    write_text(OUT "/json-no-unk/tokenizer.json",
        "{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
        " \"post_processor\": {\"type\": \"BertProcessing\","
        " \"sep\": [\"[SEP]\", 1], \"cls\": [\"[CLS]\", 0]},"
        " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\","
        " \"vocab\": {\"[CLS]\": 0, \"[SEP]\": 1, \"[PAD]\": 2}}}");
    check_load_error(OUT "/json-no-unk", "tokenizer.json", "[UNK]");

    make_dir(OUT "/badjson");
    write_text(OUT "/badjson/tokenizer.json", "{\"model\": ");
    check_load_error(OUT "/badjson", "tokenizer.json", NULL);
    make_dir(OUT "/bpe");
    write_text(OUT "/bpe/tokenizer.json", "{\"model\": {\"type\": \"BPE\"}}");
    check_load_error(OUT "/bpe", "tokenizer.json", "model.vocab");
    make_dir(OUT "/badcfg");
    write_text(OUT "/badcfg/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    write_text(OUT "/badcfg/tokenizer_config.json", "{\"do_lower_case\": 1}");
    check_load_error(OUT "/badcfg", "tokenizer_config.json", "do_lower_case");
    make_dir(OUT "/badutf8");
    write_text(OUT "/badutf8/vocab.txt", "[PAD]\n[UNK]\n\xff\n[CLS]\n[SEP]\n");
    check_load_error(OUT "/badutf8", "vocab.txt:3", "UTF-8");
}

int main(void)
{
    make_dir("tests/out");
    make_dir(OUT);
    test_decomposition_growth();
    test_nul_escape();
    test_truncation();
    test_early_exit();
    test_errors();

    char model[512], golden[512];
    snprintf(model, sizeof model, "%s/golden/tiny-bert-ce-f32", shared_dir());
    snprintf(golden, sizeof golden, "%s/golden/tokenize-bert-uncased-hf023.jsonl",
             shared_dir());
    json_t *cases = golden_read(golden);
    if (!cases || access(model, F_OK) != 0) {
        SKIP("golden WordPiece cases: %s not found", shared_dir());
    } else {
        static const char *const txt[] = {"vocab.txt", "tokenizer_config.json",
                                          "special_tokens_map.json", NULL};
        static const char *const tj[] = {"tokenizer.json", NULL};
        CHECK(json_array_size(cases) == 300);
        test_golden("vocab.txt", link_dir("txt", model, txt), cases);
        test_golden("tokenizer.json", link_dir("json", model, tj), cases);
        test_behaviour(model);

        /* XLM-R's directory is SentencePiece's: loaded as such, or refused
         * by name while this build has no SentencePiece tokenizer. */
        char xlmr[512];
        snprintf(xlmr, sizeof xlmr, "%s/golden/tiny-xlmr-ce", shared_dir());
        struct err e = {0};
        struct tokenizer *t = tokenizer_load(xlmr, &e);
        CHECK_MSG(t ? strcmp(t->kind, "sentencepiece") == 0
                    : strstr(e.msg, "SentencePiece") != NULL,
                  "tiny-xlmr-ce: %s", t ? t->kind : e.msg);
        tokenizer_free(t);
    }
    json_decref(cases);
    return check_report();
}
