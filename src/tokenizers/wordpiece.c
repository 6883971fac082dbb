/* wordpiece.c — BERT's WordPiece tokenizer, id for id as Hugging Face's
 * Rust `tokenizers` (0.23) runs a BERT tokenizer.json.
 *
 * Loading: the vocabulary from vocab.txt (line number = id) or from
 * tokenizer.json (model.vocab), the normalizer options, and the added tokens
 * (special tokens such as [SEP], which are matched literally in the text).
 *
 * Tokenizing one text:
 *   1. split out added tokens typed literally ("[SEP]" → its id);
 *   2. BertNormalizer and BertPreTokenizer on each remaining piece: drop NUL,
 *      U+FFFD and control characters, whitespace → space, spaces around CJK
 *      ideographs, NFC, split on whitespace, then per word: lowercase one
 *      character at a time (İ → i̇; Σ → σ everywhere, with no final-sigma
 *      rule, unlike Python's str.lower), strip accents (NFD, drop Mn), split
 *      off every punctuation character;
 *   3. greedy longest-match WordPiece with "##" continuations; a word that
 *      cannot be covered, or is longer than 100 characters, is [UNK].
 * Each word and punctuation mark is one pre-token (ids_mark_word).
 *
 * The pair template and truncation are tokenizer.c's. */
#include "tokenizers/wordpiece.h"
#include "tokenizers/tokjson.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

/* ---- vocabulary: token bytes → id, open addressing ---------------------- */

struct vocab_slot {
    uint64_t hash;
    uint32_t off, len; /* key bytes in vocab.pool */
    int32_t id;        /* -1: empty slot */
};

struct vocab {
    struct buf pool;          /* all keys, back to back */
    struct vocab_slot *slots; /* mask + 1 of them, a power of two */
    size_t mask, n;
    size_t max_len;           /* longest key in bytes */
};

/* The slot holding key a‖b (hash h), or the empty slot where it would go. */
static struct vocab_slot *vocab_slot(const struct vocab *v, uint64_t h,
                                     const char *a, size_t na, const char *b,
                                     size_t nb)
{
    for (size_t i = hash_mix64(h) & v->mask;; i = (i + 1) & v->mask) {
        struct vocab_slot *s = &v->slots[i];
        if (s->id < 0)
            return s;
        const char *k = v->pool.data + s->off;
        if (s->hash == h && s->len == na + nb && memcmp(k, a, na) == 0 &&
            memcmp(k + na, b, nb) == 0)
            return s;
    }
}

static void vocab_rehash(struct vocab *v, size_t n_slots)
{
    struct vocab_slot *old = v->slots;
    size_t old_n = old ? v->mask + 1 : 0;
    v->slots = xreallocarray(NULL, n_slots, sizeof *v->slots);
    for (size_t i = 0; i < n_slots; i++)
        v->slots[i].id = -1;
    v->mask = n_slots - 1;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].id < 0)
            continue;
        size_t j = hash_mix64(old[i].hash) & v->mask;
        while (v->slots[j].id >= 0)
            j = (j + 1) & v->mask;
        v->slots[j] = old[i];
    }
    free(old);
}

/* Maps key → id; a key seen before takes the new id (as a Python dict does
 * when vocab.txt repeats a line).  -1 when the key pool would pass 4 GiB. */
static int vocab_put(struct vocab *v, const char *key, size_t len, int32_t id)
{
    if (!v->slots || (v->n + 1) * 2 > v->mask + 1)
        vocab_rehash(v, v->slots ? (v->mask + 1) * 2 : 1024);
    uint64_t h = hash_fnv_extend(HASH_FNV_BASIS, key, len);
    struct vocab_slot *s = vocab_slot(v, h, "", 0, key, len);
    if (s->id >= 0) {
        s->id = id;
        return 0;
    }
    if (len > UINT32_MAX || v->pool.len > UINT32_MAX - len)
        return -1;
    *s = (struct vocab_slot){h, (uint32_t)v->pool.len, (uint32_t)len, id};
    buf_put(&v->pool, key, len);
    v->n++;
    if (len > v->max_len)
        v->max_len = len;
    return 0;
}

/* Id of key a‖b whose hash is h, or -1. */
static int32_t vocab_find(const struct vocab *v, uint64_t h, const char *a,
                          size_t na, const char *b, size_t nb)
{
    if (!v->slots)
        return -1;
    return vocab_slot(v, h, a, na, b, nb)->id;
}

static int32_t vocab_get(const struct vocab *v, const char *key)
{
    size_t len = strlen(key);
    return vocab_find(v, hash_fnv_extend(HASH_FNV_BASIS, key, len), "", 0,
                      key, len);
}

static void vocab_free(struct vocab *v)
{
    buf_free(&v->pool);
    free(v->slots);
}

/* ---- the tokenizer state ------------------------------------------------ */

/* A token matched literally in the raw text before normalization. */
struct added_token {
    char *content;
    size_t len;
    int32_t id;
    bool single_word; /* only as a whole whitespace-separated word */
};

struct wordpiece {
    struct vocab vocab;
    struct added_token *added;
    size_t n_added;
    bool added_first[256];    /* first bytes of the added tokens */
    char *prefix;             /* continuation prefix, "##" */
    size_t prefix_len;
    uint64_t prefix_hash;
    size_t max_word_chars;    /* longer words are [UNK] */
    int32_t unk_id;
    bool clean_text, chinese_chars, lowercase, strip_accents;
};

/* Per-call scratch buffers, grown as needed and freed at the end of the
 * call, so that tokenizing allocates per text, never per character. */
struct scratch {
    struct buf clean;        /* the text as UTF-8 again, for NFC */
    int32_t *text;           /* NFC code points of clean */
    size_t text_cap;
    int32_t *word, *word2;   /* one word, lowercased / accent-stripped */
    size_t word_cap, word2_cap;
    char *utf8;              /* one WordPiece word as UTF-8 */
    size_t utf8_cap;
    size_t *bound;           /* byte offset of each of its characters */
    size_t bound_cap;
};

static void scratch_free(struct scratch *s)
{
    buf_free(&s->clean);
    free(s->utf8);
    free(s->text);
    free(s->word);
    free(s->word2);
    free(s->bound);
}

/* ---- character classes, as transformers' tokenization_bert.py ---------- */

static bool is_whitespace(int32_t c)
{
    if (c < 0x80)
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

/* Python's _is_control: every C* category (Cn, unassigned, included)
 * except tab, newline and carriage return, which count as whitespace. */
static bool is_control(int32_t c)
{
    if (c < 0x80)
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS: case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
        return true;
    default:
        return false;
    }
}

/* All ASCII non-alphanumerics count ("^", "$", "`" are not P* in Unicode). */
static bool is_punctuation(int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return true;
    if (c < 0x80)
        return false;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return true;
    default:
        return false;
    }
}

/* The CJK blocks of BasicTokenizer._is_chinese_char (not Hangul or kana). */
static bool is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* What Python's str.split() splits on once cleaning has turned all other
 * whitespace into spaces and dropped the C* characters: the line and
 * paragraph separators (Zl, Zp) survive cleaning. */
static bool is_split_space(int32_t c)
{
    return c == ' ' || c == 0x2028 || c == 0x2029;
}

/* ---- tokenizing --------------------------------------------------------- */

static void grow_cps(int32_t **p, size_t *cap, size_t need)
{
    grow((void **)p, cap, need, sizeof **p);
}

/* Greedy longest-match WordPiece of one word w[0..n) (normalized code
 * points, no whitespace, no punctuation inside) appended to out. */
static void wordpiece_pieces(const struct wordpiece *wp, const int32_t *w,
                             size_t n, struct scratch *s, struct ids *out)
{
    if (n > wp->max_word_chars) {
        ids_push(out, wp->unk_id);
        return;
    }
    grow((void **)&s->utf8, &s->utf8_cap, 4 * n, 1);
    grow((void **)&s->bound, &s->bound_cap, n + 1, sizeof *s->bound);
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        s->bound[i] = nb;
        nb += (size_t)utf8proc_encode_char(w[i], (uint8_t *)s->utf8 + nb);
    }
    s->bound[n] = nb;

    const char *u = s->utf8;
    size_t first = out->n;
    for (size_t start = 0; start < n;) {
        const char *pre = start ? wp->prefix : "";
        size_t npre = start ? wp->prefix_len : 0;
        uint64_t h0 = start ? wp->prefix_hash : HASH_FNV_BASIS;
        /* No key is longer than the longest in the vocabulary. */
        size_t end = n;
        while (end > start && npre + s->bound[end] - s->bound[start] >
                                  wp->vocab.max_len)
            end--;
        int32_t id = -1;
        for (; end > start; end--) {
            size_t len = s->bound[end] - s->bound[start];
            const char *b = u + s->bound[start];
            id = vocab_find(&wp->vocab, hash_fnv_extend(h0, b, len), pre,
                            npre, b, len);
            if (id >= 0)
                break;
        }
        if (id < 0) { /* one uncovered piece makes the whole word [UNK] */
            out->n = first;
            ids_push(out, wp->unk_id);
            return;
        }
        ids_push(out, id);
        start = end;
    }
}

/* The pieces of one pre-token, marked as one (ids_mark_word). */
static void wordpiece_word(const struct wordpiece *wp, const int32_t *w,
                           size_t n, struct scratch *s, struct ids *out)
{
    size_t first = out->n;
    wordpiece_pieces(wp, w, n, s, out);
    ids_mark_word(out, first);
}

/* Lowercases and strips the accents of one whitespace-separated word, as
 * the options say, then splits it on punctuation into WordPiece words. */
static void basic_word(const struct wordpiece *wp, const int32_t *w, size_t n,
                       struct scratch *s, struct ids *out)
{
    if (wp->lowercase) {
        grow_cps(&s->word, &s->word_cap, 2 * n);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (w[i] == 0x130) { /* İ: the one full lowercase mapping */
                s->word[k++] = 'i';
                s->word[k++] = 0x307;
            } else if (w[i] < 0x80) {
                s->word[k++] = w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i];
            } else {
                s->word[k++] = utf8proc_tolower(w[i]);
            }
        }
        w = s->word;
        n = k;
    }
    if (wp->strip_accents) {
        /* NFD without canonical reordering, which only moves non-starters
         * among themselves: once Mn marks are gone the result is the same.
         * A decomposition can yield several non-marks (a Hangul syllable
         * gives two or three jamo), so the output outruns the input: the
         * capacity always covers what is written so far plus one code point
         * for each character not yet read. */
        size_t k = 0;
        grow_cps(&s->word2, &s->word2_cap, n);
        for (size_t i = 0; i < n; i++) {
            if (w[i] < 0xC0) { /* no decomposition, no mark below U+00C0 */
                s->word2[k++] = w[i];
                continue;
            }
            int32_t d[8];
            utf8proc_ssize_t m = utf8proc_decompose_char(
                w[i], d, 8, UTF8PROC_DECOMPOSE, NULL);
            if (m < 0 || m > 8) { /* cannot happen: canonical ≤ 4 */
                d[0] = w[i];
                m = 1;
            }
            grow_cps(&s->word2, &s->word2_cap, k + (size_t)m + (n - i - 1));
            for (utf8proc_ssize_t j = 0; j < m; j++)
                if (utf8proc_category(d[j]) != UTF8PROC_CATEGORY_MN)
                    s->word2[k++] = d[j];
        }
        w = s->word2;
        n = k;
    }
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_punctuation(w[i]))
            continue;
        if (i > start)
            wordpiece_word(wp, w + start, i - start, s, out);
        wordpiece_word(wp, w + i, 1, s, out);
        start = i + 1;
    }
    if (n > start)
        wordpiece_word(wp, w + start, n - start, s, out);
}

static void put_cp(struct buf *b, int32_t c)
{
    uint8_t u[4];
    buf_put(b, u, (size_t)utf8proc_encode_char(c, u));
}

/* NFC of s->text[0..n) in place; returns the new length.  The code points
 * are valid (they came from utf8proc_iterate), so utf8proc cannot fail. */
static size_t nfc(struct scratch *s, size_t n)
{
    s->clean.len = 0;
    for (size_t i = 0; i < n; i++)
        put_cp(&s->clean, s->text[i]);
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    utf8proc_ssize_t m;
    for (;;) { /* decompose reports the size it needs when short */
        m = utf8proc_decompose((const uint8_t *)s->clean.data,
                               (utf8proc_ssize_t)s->clean.len, s->text,
                               (utf8proc_ssize_t)s->text_cap, opt);
        if (m < 0 || (size_t)m <= s->text_cap)
            break;
        grow_cps(&s->text, &s->text_cap, (size_t)m);
    }
    if (m > 0)
        m = utf8proc_normalize_utf32(s->text, m, opt);
    return m > 0 ? (size_t)m : 0;
}

/* BasicTokenizer + WordPiece on text[0..len) that holds no added token. */
static void basic_text(const struct wordpiece *wp, const char *text,
                       size_t len, struct scratch *s, struct ids *out)
{
    /* Clean and space out CJK ideographs.  Invalid UTF-8 bytes (the
     * caller promises none) are dropped one by one. */
    size_t n = 0;
    int32_t max_cp = 0;
    grow_cps(&s->text, &s->text_cap, 3 * len); /* ≤ 3 code points a byte */
    for (size_t i = 0; i < len;) {
        int32_t c;
        utf8proc_ssize_t m = utf8proc_iterate((const uint8_t *)text + i,
                                              (utf8proc_ssize_t)(len - i), &c);
        if (m <= 0) {
            i++;
            continue;
        }
        i += (size_t)m;
        if (wp->clean_text) {
            if (c == 0 || c == 0xFFFD || is_control(c))
                continue;
            if (is_whitespace(c))
                c = ' ';
        }
        if (wp->chinese_chars && is_cjk(c)) {
            s->text[n++] = ' ';
            s->text[n++] = c;
            s->text[n++] = ' ';
        } else {
            s->text[n++] = c;
        }
        if (c > max_cp)
            max_cp = c;
    }
    /* NFC changes nothing below U+0300, where the first combining mark and
     * the first character that NFC replaces lie. */
    if (max_cp >= 0x300)
        n = nfc(s, n);

    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !is_split_space(s->text[i]))
            continue;
        if (i > start)
            basic_word(wp, s->text + start, i - start, s, out);
        start = i + 1;
    }
}

/* The longest added token at text[i], or NULL.  A single_word token counts
 * only with a space or the text's edge on both sides. */
static const struct added_token *added_at(const struct wordpiece *wp,
                                          const char *text, size_t len,
                                          size_t i)
{
    if (!wp->added_first[(unsigned char)text[i]])
        return NULL;
    const struct added_token *best = NULL;
    for (size_t k = 0; k < wp->n_added; k++) {
        const struct added_token *a = &wp->added[k];
        if (a->len > len - i || memcmp(text + i, a->content, a->len) != 0)
            continue;
        if (a->single_word &&
            ((i > 0 && text[i - 1] != ' ') ||
             (i + a->len < len && text[i + a->len] != ' ')))
            continue;
        if (!best || a->len > best->len)
            best = a;
    }
    return best;
}

static void wordpiece_tokenize(const struct tokenizer *t, const char *text,
                               size_t len, struct ids *out)
{
    const struct wordpiece *wp = t->state;
    struct scratch s = {0};
    size_t start = 0;
    for (size_t i = 0; i < len;) {
        const struct added_token *a = added_at(wp, text, len, i);
        if (!a) {
            i++;
            continue;
        }
        basic_text(wp, text + start, i - start, &s, out);
        ids_push_added(out, a->id);
        i += a->len;
        start = i;
    }
    basic_text(wp, text + start, len - start, &s, out);
    scratch_free(&s);
}

static void wordpiece_free(struct tokenizer *t)
{
    struct wordpiece *wp = t->state;
    vocab_free(&wp->vocab);
    for (size_t i = 0; i < wp->n_added; i++)
        free(wp->added[i].content);
    free(wp->added);
    free(wp->prefix);
    free(wp);
    free(t);
}

/* ---- loading ------------------------------------------------------------ */

static char *path_join(const char *dir, const char *name)
{
    struct buf b = {0};
    buf_printf(&b, "%s/%s", dir, name);
    return b.data;
}

/* Parses the optional JSON object file path: a new reference, or NULL with
 * *absent set when there is no such file, or NULL + e when it is malformed. */
static json_t *json_read(const char *path, bool *absent, struct err *e)
{
    *absent = access(path, F_OK) != 0;
    if (*absent)
        return NULL;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        err_set(e, "%s:%d: %s", path, je.line, je.text);
    else if (!json_is_object(j)) {
        err_set(e, "%s: not a JSON object", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Reads an optional boolean member; 0, or -1 + e when it is not a bool. */
static int json_opt_bool(const json_t *o, const char *key, bool *out,
                         const char *file, struct err *e)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return err_set(e, "%s: %s must be true or false", file, key);
    *out = json_is_true(v);
    return 0;
}

/* Python's strip_accents=None means "strip when lowercasing". */
static int json_strip_accents(const json_t *o, const char *key,
                              struct wordpiece *wp, const char *file,
                              struct err *e)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        wp->strip_accents = wp->lowercase;
    else if (json_is_boolean(v))
        wp->strip_accents = json_is_true(v);
    else
        return err_set(e, "%s: %s must be true, false or null", file, key);
    return 0;
}

/* The token text of a special-token entry: a string, or an object with a
 * "content" string (an AddedToken).  Borrowed; NULL when absent or null. */
static int special_name(const json_t *o, const char *key, const char **out,
                        const char *file, struct err *e)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (!json_is_string(v))
        return err_set(e, "%s: %s must be a token string", file, key);
    *out = json_string_value(v);
    return 0;
}

static int32_t token_id(const struct wordpiece *wp, const char *name)
{
    for (size_t i = 0; i < wp->n_added; i++)
        if (strcmp(wp->added[i].content, name) == 0)
            return wp->added[i].id;
    return vocab_get(&wp->vocab, name);
}

/* Adds (or, for content seen before, re-ids) an added token. */
static int added_put(struct wordpiece *wp, const char *content, json_int_t id,
                     bool single_word, const char *file, struct err *e)
{
    size_t len = strlen(content);
    if (len == 0)
        return err_set(e, "%s: empty added token", file);
    if (id < 0 || id >= INT32_MAX)
        return err_set(e, "%s: added token \"%s\": id %lld out of range", file,
                       content, (long long)id);
    for (size_t i = 0; i < wp->n_added; i++) {
        if (strcmp(wp->added[i].content, content) == 0) {
            wp->added[i].id = (int32_t)id;
            wp->added[i].single_word = single_word;
            return 0;
        }
    }
    wp->added = xreallocarray(wp->added, wp->n_added + 1, sizeof *wp->added);
    wp->added[wp->n_added++] = (struct added_token){
        xstrdup(content), len, (int32_t)id, single_word};
    wp->added_first[(unsigned char)content[0]] = true;
    return 0;
}

/* One AddedToken object ({"content", "single_word", ...}) with id. */
static int added_put_json(struct wordpiece *wp, const json_t *tok,
                          json_int_t id, const char *file, struct err *e)
{
    const json_t *c = json_object_get(tok, "content");
    if (!json_is_object(tok) || !json_is_string(c))
        return err_set(e, "%s: added token %lld has no content", file,
                       (long long)id);
    bool single_word = false;
    if (json_opt_bool(tok, "single_word", &single_word, file, e))
        return -1;
    /* lstrip/rstrip only remove whitespace next to the token, which BERT's
     * tokenizer drops anyway; "normalized" tokens are matched in the raw
     * text too, as Python's tokenizer does. */
    return added_put(wp, json_string_value(c), id, single_word, file, e);
}

/* vocab.txt: one token a line, id = line number from 0; lines end at \n,
 * \r\n or \r (Python's universal newlines). */
static int vocab_read_txt(struct vocab *v, const char *path, struct err *e)
{
    size_t len;
    char *data = read_file(path, &len, e);
    if (!data)
        return -1;
    size_t line = 0;
    for (size_t i = 0; i < len; line++) {
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        if (utf8_invalid_at(data + i, j - i) >= 0) {
            free(data);
            return err_set(e, "%s:%zu: invalid UTF-8", path, line + 1);
        }
        if (line >= INT32_MAX || vocab_put(v, data + i, j - i, (int32_t)line)) {
            free(data);
            return err_set(e, "%s: vocabulary too large", path);
        }
        if (j + 1 < len && data[j] == '\r' && data[j + 1] == '\n')
            j++;
        i = j + 1;
    }
    free(data);
    if (line == 0)
        return err_set(e, "%s: empty vocabulary", path);
    return 0;
}

/* The special-token names a BertTokenizer is configured with. */
struct special_names {
    const char *unk, *cls, *sep, *pad, *mask;
};

static int special_names_read(const json_t *o, struct special_names *sn,
                              const char *file, struct err *e)
{
    if (special_name(o, "unk_token", &sn->unk, file, e) ||
        special_name(o, "cls_token", &sn->cls, file, e) ||
        special_name(o, "sep_token", &sn->sep, file, e) ||
        special_name(o, "pad_token", &sn->pad, file, e) ||
        special_name(o, "mask_token", &sn->mask, file, e))
        return -1;
    return 0;
}

/* A special token named in the config becomes an added token with its
 * vocabulary id.  One the vocabulary lacks is left out: a required one
 * ([UNK], [CLS], [SEP], [PAD]) fails the load later, and Hugging Face's
 * answer for the others (a new id past the vocabulary) would index past
 * the model's embedding table anyway. */
static int special_put(struct wordpiece *wp, const char *name,
                       const char *file, struct err *e)
{
    int32_t id = token_id(wp, name);
    return id < 0 ? 0 : added_put(wp, name, id, false, file, e);
}

/* The vocab.txt form: vocab.txt, then tokenizer_config.json,
 * special_tokens_map.json (whose names win) and added_tokens.json, all but
 * the first optional.  Fills names with borrowed strings from *keep. */
static int load_vocab_txt(struct wordpiece *wp, const char *dir,
                          struct special_names *names, json_t **keep,
                          struct err *e)
{
    char *vpath = path_join(dir, "vocab.txt");
    char *cpath = path_join(dir, "tokenizer_config.json");
    char *mpath = path_join(dir, "special_tokens_map.json");
    char *apath = path_join(dir, "added_tokens.json");
    int rc = -1;
    bool absent;
    json_t *config = NULL, *map = NULL, *added = NULL;

    if (vocab_read_txt(&wp->vocab, vpath, e))
        goto out;
    config = json_read(cpath, &absent, e);
    if (!config && !absent)
        goto out;
    map = json_read(mpath, &absent, e);
    if (!map && !absent)
        goto out;
    added = json_read(apath, &absent, e);
    if (!added && !absent)
        goto out;

    wp->lowercase = true;
    wp->chinese_chars = true;
    if (config) {
        if (json_opt_bool(config, "do_lower_case", &wp->lowercase, cpath, e) ||
            json_opt_bool(config, "tokenize_chinese_chars", &wp->chinese_chars,
                          cpath, e) ||
            json_strip_accents(config, "strip_accents", wp, cpath, e) ||
            special_names_read(config, names, cpath, e))
            goto out;
    } else {
        wp->strip_accents = wp->lowercase;
    }
    if (map && special_names_read(map, names, mpath, e))
        goto out;

    const json_t *dec = config ? json_object_get(config, "added_tokens_decoder")
                               : NULL;
    if (dec && !json_is_object(dec)) {
        err_set(e, "%s: added_tokens_decoder must be an object", cpath);
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)dec, key, val) {
        char *end;
        errno = 0;
        long long id = strtoll(key, &end, 10);
        if (errno || *key == 0 || *end != 0) {
            err_set(e, "%s: added_tokens_decoder: bad id \"%s\"", cpath, key);
            goto out;
        }
        if (added_put_json(wp, val, id, cpath, e))
            goto out;
    }
    json_object_foreach(added, key, val) {
        if (!json_is_integer(val)) {
            err_set(e, "%s: \"%s\": id must be an integer", apath, key);
            goto out;
        }
        if (added_put(wp, key, json_integer_value(val), false, apath, e))
            goto out;
    }
    /* BertTokenizer's defaults for the names no file gives. */
    if (!names->unk)
        names->unk = "[UNK]";
    if (!names->cls)
        names->cls = "[CLS]";
    if (!names->sep)
        names->sep = "[SEP]";
    if (!names->pad)
        names->pad = "[PAD]";
    if (!names->mask)
        names->mask = "[MASK]";
    if (special_put(wp, names->unk, cpath, e) ||
        special_put(wp, names->cls, cpath, e) ||
        special_put(wp, names->sep, cpath, e) ||
        special_put(wp, names->pad, cpath, e) ||
        special_put(wp, names->mask, cpath, e))
        goto out;
    wp->prefix = xstrdup("##");
    wp->max_word_chars = 100;
    rc = 0;
out:
    json_decref(added);
    /* names point into config and map: keep them alive for the caller. */
    keep[0] = config;
    keep[1] = map;
    if (rc) {
        json_decref(config);
        json_decref(map);
        keep[0] = keep[1] = NULL;
    }
    free(vpath);
    free(cpath);
    free(mpath);
    free(apath);
    return rc;
}

/* The [CLS] and [SEP] ids of a post_processor: BertProcessing, or a
 * TemplateProcessing whose pair is  X:0 $A:0 Y:0 $B:t Y:t. */
static int post_processor_read(const json_t *pp, struct tokenizer *t,
                               const char *file, struct err *e)
{
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (type && strcmp(type, "BertProcessing") == 0) {
        json_t *cls = json_object_get(pp, "cls"), *sep = json_object_get(pp, "sep");
        json_t *ci = json_array_get(cls, 1), *si = json_array_get(sep, 1);
        if (!json_is_integer(ci) || !json_is_integer(si) ||
            json_integer_value(ci) < 0 || json_integer_value(ci) >= INT32_MAX ||
            json_integer_value(si) < 0 || json_integer_value(si) >= INT32_MAX)
            return err_set(e, "%s: post_processor: bad cls/sep", file);
        t->cls_id = (int32_t)json_integer_value(ci);
        t->sep_id = (int32_t)json_integer_value(si);
        t->second_type_one = true;
        return 0;
    }
    if (!type || strcmp(type, "TemplateProcessing") != 0)
        return err_set(e, "%s: post_processor %s is not supported", file,
                       type ? type : "null");

    static const char *const shape[5] = {"SpecialToken", "Sequence",
                                         "SpecialToken", "Sequence",
                                         "SpecialToken"};
    const json_t *pair = json_object_get(pp, "pair");
    const char *ids[5];
    json_int_t types[5];
    if (json_array_size(pair) != 5)
        goto bad_template;
    for (size_t i = 0; i < 5; i++) {
        json_t *item = json_object_get(json_array_get(pair, i), shape[i]);
        json_t *ty = json_object_get(item, "type_id");
        ids[i] = json_string_value(json_object_get(item, "id"));
        if (!ids[i] || !json_is_integer(ty))
            goto bad_template;
        types[i] = json_integer_value(ty);
    }
    if (strcmp(ids[1], "A") || strcmp(ids[3], "B") || strcmp(ids[2], ids[4]) ||
        types[0] || types[1] || types[2] || types[3] != types[4] ||
        (types[3] != 0 && types[3] != 1))
        goto bad_template;
    const json_t *specials = json_object_get(pp, "special_tokens");
    int32_t out[2];
    for (int k = 0; k < 2; k++) {
        const char *name = ids[2 * k]; /* X, then Y */
        json_t *v = json_array_get(
            json_object_get(json_object_get(specials, name), "ids"), 0);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= INT32_MAX)
            return err_set(e, "%s: post_processor: no id for %s", file, name);
        out[k] = (int32_t)json_integer_value(v);
    }
    t->cls_id = out[0];
    t->sep_id = out[1];
    t->second_type_one = types[3] == 1;
    return 0;
bad_template:
    return err_set(e, "%s: post_processor pair template is not "
                      "[CLS] $A [SEP] $B [SEP]", file);
}

/* The tokenizer.json form (model.type already known to be WordPiece). */
static int load_tokenizer_json(struct wordpiece *wp, struct tokenizer *t,
                               const char *dir, const struct tokjson *tokjson,
                               struct special_names *names, struct err *e)
{
    char *path = path_join(dir, "tokenizer.json");
    int rc = -1;
    const json_t *tj = tokjson->root;
    const json_t *model = json_object_get(tj, "model");
    const json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab)) {
        err_set(e, "%s: model.vocab must be an object", path);
        goto out;
    }
    /* Split off by tokjson_read: the same members, ids checked, in file
     * order (a repeated key's later id wins in vocab_put as in jansson). */
    for (size_t i = 0; tokjson->split && i < tokjson->n_entries; i++) {
        const struct tokjson_entry *en = &tokjson->entries[i];
        if (vocab_put(&wp->vocab, tokjson->keys.data + en->off, en->len,
                      en->id)) {
            err_set(e, "%s: vocabulary too large", path);
            goto out;
        }
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || id >= INT32_MAX) {
            err_set(e, "%s: model.vocab: \"%s\": bad id", path, key);
            goto out;
        }
        if (vocab_put(&wp->vocab, key, strlen(key), (int32_t)id)) {
            err_set(e, "%s: vocabulary too large", path);
            goto out;
        }
    }
    names->unk = json_string_value(json_object_get(model, "unk_token"));
    const json_t *pre = json_object_get(model, "continuing_subword_prefix");
    const json_t *mx = json_object_get(model, "max_input_chars_per_word");
    if ((pre && !json_is_string(pre)) ||
        (mx && (!json_is_integer(mx) || json_integer_value(mx) < 1))) {
        err_set(e, "%s: model: bad continuing_subword_prefix or "
                   "max_input_chars_per_word", path);
        goto out;
    }
    wp->prefix = xstrdup(pre ? json_string_value(pre) : "##");
    wp->max_word_chars = mx ? (size_t)json_integer_value(mx) : 100;

    const json_t *norm = json_object_get(tj, "normalizer");
    if (norm && !json_is_null(norm)) {
        const char *type = json_string_value(json_object_get(norm, "type"));
        if (!type || strcmp(type, "BertNormalizer") != 0) {
            err_set(e, "%s: normalizer %s is not supported", path,
                    type ? type : "without type");
            goto out;
        }
        wp->clean_text = wp->chinese_chars = wp->lowercase = true;
        if (json_opt_bool(norm, "clean_text", &wp->clean_text, path, e) ||
            json_opt_bool(norm, "handle_chinese_chars", &wp->chinese_chars,
                          path, e) ||
            json_opt_bool(norm, "lowercase", &wp->lowercase, path, e) ||
            json_strip_accents(norm, "strip_accents", wp, path, e))
            goto out;
    }
    const char *pt = json_string_value(
        json_object_get(json_object_get(tj, "pre_tokenizer"), "type"));
    if (!pt || strcmp(pt, "BertPreTokenizer") != 0) {
        err_set(e, "%s: pre_tokenizer %s is not supported", path,
                pt ? pt : "null");
        goto out;
    }

    const json_t *added = json_object_get(tj, "added_tokens");
    size_t i;
    json_array_foreach(added, i, val) {
        json_t *id = json_object_get(val, "id");
        if (!json_is_integer(id)) {
            err_set(e, "%s: added_tokens[%zu]: id must be an integer", path, i);
            goto out;
        }
        if (added_put_json(wp, val, json_integer_value(id), path, e))
            goto out;
    }
    if (post_processor_read(json_object_get(tj, "post_processor"), t, path, e))
        goto out;
    rc = 0;
out:
    free(path);
    return rc;
}

struct tokenizer *wordpiece_load(const char *model_dir,
                                 const struct tokjson *tokjson, struct err *e)
{
    const json_t *tokenizer_json = tokjson ? tokjson->root : NULL;
    struct wordpiece *wp = xcalloc(1, sizeof *wp);
    struct tokenizer *t = xcalloc(1, sizeof *t);
    *t = (struct tokenizer){.kind = "wordpiece", .tokenize = wordpiece_tokenize,
                            .free = wordpiece_free, .state = wp,
                            .n_sep_middle = 1, .second_type_one = true};
    wp->clean_text = true;
    struct special_names names = {0};
    json_t *keep[3] = {NULL, NULL, NULL};
    const char *file = tokenizer_json ? "tokenizer.json" : "vocab.txt";

    if (tokenizer_json) {
        /* The pad token is no part of tokenizer.json (unless padding is
         * set); tokenizer_config.json names it when present. */
        char *cpath = path_join(model_dir, "tokenizer_config.json");
        bool absent;
        keep[2] = json_read(cpath, &absent, e);
        if (!keep[2] && !absent) {
            free(cpath);
            goto fail;
        }
        if (keep[2] && special_name(keep[2], "pad_token", &names.pad, cpath, e)) {
            free(cpath);
            goto fail;
        }
        free(cpath);
        if (load_tokenizer_json(wp, t, model_dir, tokjson, &names, e))
            goto fail;
        const json_t *pad = json_object_get(
            json_object_get(tokenizer_json, "padding"), "pad_token");
        if (json_is_string(pad))
            names.pad = json_string_value(pad);
    } else {
        if (load_vocab_txt(wp, model_dir, &names, keep, e))
            goto fail;
    }
    const char *unk = names.unk ? names.unk : "[UNK]";
    const char *pad = names.pad ? names.pad : "[PAD]";
    wp->unk_id = vocab_get(&wp->vocab, unk);
    if (wp->unk_id < 0) {
        err_set(e, "%s/%s: the vocabulary lacks the unknown token %s",
                model_dir, file, unk);
        goto fail;
    }
    if (!tokenizer_json) {
        const char *cls = names.cls ? names.cls : "[CLS]";
        const char *sep = names.sep ? names.sep : "[SEP]";
        t->cls_id = token_id(wp, cls);
        t->sep_id = token_id(wp, sep);
        if (t->cls_id < 0 || t->sep_id < 0) {
            err_set(e, "%s/%s: the vocabulary lacks %s", model_dir, file,
                    t->cls_id < 0 ? cls : sep);
            goto fail;
        }
    }
    t->pad_id = token_id(wp, pad);
    t->unk_id = wp->unk_id;
    if (t->pad_id < 0) {
        err_set(e, "%s/%s: the vocabulary lacks the padding token %s",
                model_dir, file, pad);
        goto fail;
    }
    wp->prefix_len = strlen(wp->prefix);
    wp->prefix_hash =
        hash_fnv_extend(HASH_FNV_BASIS, wp->prefix, wp->prefix_len);

    /* Every id a text can produce must index the embedding table. */
    int32_t max_id = t->cls_id > t->sep_id ? t->cls_id : t->sep_id;
    for (size_t i = 0; i <= wp->vocab.mask; i++)
        if (wp->vocab.slots[i].id > max_id)
            max_id = wp->vocab.slots[i].id;
    for (size_t i = 0; i < wp->n_added; i++)
        if (wp->added[i].id > max_id)
            max_id = wp->added[i].id;
    t->vocab_size = (size_t)max_id + 1;
    for (int i = 0; i < 3; i++)
        json_decref(keep[i]);
    return t;
fail:
    for (int i = 0; i < 3; i++)
        json_decref(keep[i]);
    wordpiece_free(t);
    return NULL;
}
