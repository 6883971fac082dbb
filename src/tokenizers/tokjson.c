/* tokjson.c — see tokjson.h.
 *
 * The scanner below is a strict JSON checker (RFC 8259, less what jansson
 * refuses without JSON_ALLOW_NUL: \u0000) that also decodes the strings
 * the split needs: the keys of the top-level object and of "model", and
 * model.vocab's keys.  It only ever answers "certainly the same as
 * jansson" or "ask jansson": every `false` below ends in jansson reading
 * the whole text. */
#include "tokenizers/tokjson.h"

#include <stdlib.h>
#include <string.h>

/* Deeper nesting goes to jansson (whose own limit is 2048), and keeps the
 * scanner's recursion short. */
#define MAX_DEPTH 512

struct scan {
    const char *s;
    size_t n, i;
    int depth;
    bool doubtful;  /* a number jansson might refuse was seen */
};

enum level { LEVEL_TOP, LEVEL_MODEL, LEVEL_VOCAB, LEVEL_OTHER };

/* What the scan found of model.vocab. */
struct found {
    int n_model, n_vocab;
    size_t vocab_off, vocab_end;
    bool vocab_doubtful;
    bool entries_ok;
    struct buf *keys;
    struct tokjson_entry *entries;
    size_t n_entries, cap_entries;
};

static void skip_ws(struct scan *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
                           c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char ch = p[k];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static void put_utf8(struct buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_put(b, u, n);
}

/* The string at s[i] (its opening quote): checked, and its decoded bytes
 * appended to out when out is not NULL. */
static bool scan_string(struct scan *c, struct buf *out)
{
    const char *s = c->s;
    size_t i = c->i + 1, n = c->n;
    for (;;) {
        size_t run = i;
        while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' &&
               s[i] != '\\' && (unsigned char)s[i] < 0x80)
            i++;
        if (out && i > run)
            buf_put(out, s + run, i - run);
        if (i >= n)
            return false;
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"') {
            c->i = i + 1;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch >= 0x80) {
            size_t len = utf8_char_len(s + i, n - i);
            if (len == 0)
                return false;
            if (out)
                buf_put(out, s + i, len);
            i += len;
            continue;
        }
        /* a backslash */
        if (i + 1 >= n)
            return false;
        char esc = s[i + 1];
        const char *plain = strchr("\"\\/bfnrt", esc);
        if (esc != 0 && plain) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            if (out)
                buf_putc(out, decoded[plain - "\"\\/bfnrt"]);
            i += 2;
            continue;
        }
        if (esc != 'u' || n - i < 6)
            return false;
        int cp = hex4(s + i + 2);
        i += 6;
        if (cp <= 0 || (cp >= 0xdc00 && cp <= 0xdfff))
            return false;   /* bad hex, \u0000 or a lone low surrogate */
        if (cp >= 0xd800 && cp <= 0xdbff) {
            int lo = n - i >= 6 && s[i] == '\\' && s[i + 1] == 'u'
                         ? hex4(s + i + 2) : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
        }
        if (out)
            put_utf8(out, (unsigned)cp);
    }
}

/* The number at s[i].  *id is its value when it is an integer in
 * [0, INT32_MAX), else -1.  Sets c->doubtful for a number jansson might
 * refuse: an integer of more than 18 digits (json_int_t), a real that
 * might overflow a double. */
static bool scan_number(struct scan *c, int64_t *id)
{
    const char *s = c->s;
    size_t i = c->i, n = c->n;
    bool neg = false, is_int = true;
    *id = -1;
    if (i < n && s[i] == '-')
        neg = true, i++;
    size_t d0 = i;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    size_t digits = i - d0;
    if (i < n && s[i] == '.') {
        is_int = false;
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return false;
    }
    long exp10 = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_int = false;
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        size_t f = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (s[i] - '0');
            i++;
        }
        if (i == f)
            return false;
        if (eneg)
            exp10 = -exp10;
    }
    if (is_int ? digits > 18 : (long)digits + exp10 > 300)
        c->doubtful = true;
    if (is_int && digits <= 18) {
        int64_t v = 0;
        for (size_t k = d0; k < d0 + digits; k++)
            v = v * 10 + (s[k] - '0');
        if ((!neg || v == 0) && v < INT32_MAX)
            *id = v;
    }
    c->i = i;
    return true;
}

static bool scan_value(struct scan *c, enum level level, struct found *f);

static bool scan_literal(struct scan *c, const char *word)
{
    size_t len = strlen(word);
    if (c->n - c->i < len || memcmp(c->s + c->i, word, len) != 0)
        return false;
    c->i += len;
    return true;
}

static bool scan_array(struct scan *c, struct found *f)
{
    c->i++;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == ']') {
        c->i++;
        return true;
    }
    for (;;) {
        if (!scan_value(c, LEVEL_OTHER, f))
            return false;
        skip_ws(c);
        if (c->i >= c->n)
            return false;
        if (c->s[c->i++] == ']')
            return true;
        if (c->s[c->i - 1] != ',')
            return false;
        skip_ws(c);
    }
}

static bool key_is(const struct buf *k, const char *name)
{
    size_t len = strlen(name);
    return k->len == len && memcmp(k->data, name, len) == 0;
}

/* A member of model.vocab whose key scan_object decoded to f->keys from
 * off: it becomes an entry while all members are "key": id, id in range. */
static bool scan_vocab_member(struct scan *c, struct found *f, size_t off)
{
    size_t len = f->keys->len - off;
    int64_t id = -1;
    if (c->i < c->n && (c->s[c->i] == '-' ||
                        (c->s[c->i] >= '0' && c->s[c->i] <= '9'))) {
        if (!scan_number(c, &id))
            return false;
    } else if (!scan_value(c, LEVEL_OTHER, f)) {
        return false;
    }
    if (id < 0 || off > UINT32_MAX || len > UINT32_MAX)
        f->entries_ok = false;
    if (f->entries_ok) {
        grow((void **)&f->entries, &f->cap_entries, f->n_entries + 1,
             sizeof *f->entries);
        f->entries[f->n_entries++] =
            (struct tokjson_entry){(uint32_t)off, (uint32_t)len, (int32_t)id};
    }
    return true;
}

/* model.vocab's value, noted in f. */
static bool scan_vocab(struct scan *c, struct found *f)
{
    f->n_vocab++;
    f->vocab_off = c->i;
    bool was = c->doubtful;
    c->doubtful = false;
    f->entries_ok = c->i < c->n && c->s[c->i] == '{';
    if (!scan_value(c, f->entries_ok ? LEVEL_VOCAB : LEVEL_OTHER, f))
        return false;
    f->vocab_end = c->i;
    f->vocab_doubtful = c->doubtful;
    c->doubtful = was;
    return true;
}

/* An object; at LEVEL_TOP its "model" member, at LEVEL_MODEL its "vocab"
 * member and at LEVEL_VOCAB all its members are noted in f. */
static bool scan_object(struct scan *c, enum level level, struct found *f)
{
    struct buf key = {0};
    bool ok = false;
    c->i++;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == '}') {
        c->i++;
        return true;
    }
    for (;;) {
        if (c->i >= c->n || c->s[c->i] != '"')
            goto out;
        key.len = 0;
        size_t off = f->keys->len;
        if (!scan_string(c, level == LEVEL_VOCAB ? f->keys
                            : level == LEVEL_OTHER ? NULL : &key))
            goto out;
        skip_ws(c);
        if (c->i >= c->n || c->s[c->i++] != ':')
            goto out;
        skip_ws(c);
        bool member_ok;
        if (level == LEVEL_VOCAB)
            member_ok = scan_vocab_member(c, f, off);
        else if (level == LEVEL_TOP && key_is(&key, "model"))
            member_ok = (f->n_model++, scan_value(c, LEVEL_MODEL, f));
        else if (level == LEVEL_MODEL && key_is(&key, "vocab"))
            member_ok = scan_vocab(c, f);
        else
            member_ok = scan_value(c, LEVEL_OTHER, f);
        if (!member_ok)
            goto out;
        skip_ws(c);
        if (c->i >= c->n)
            goto out;
        if (c->s[c->i] == '}') {
            c->i++;
            ok = true;
            goto out;
        }
        if (c->s[c->i++] != ',')
            goto out;
        skip_ws(c);
    }
out:
    buf_free(&key);
    return ok;
}

static bool scan_value(struct scan *c, enum level level, struct found *f)
{
    if (c->i >= c->n)
        return false;
    bool ok;
    int64_t ignored;
    switch (c->s[c->i]) {
    case '{':
    case '[':
        if (++c->depth > MAX_DEPTH)
            return false;
        ok = c->s[c->i] == '{' ? scan_object(c, level, f) : scan_array(c, f);
        c->depth--;
        return ok;
    case '"':
        return scan_string(c, NULL);
    case 't':
        return scan_literal(c, "true");
    case 'f':
        return scan_literal(c, "false");
    case 'n':
        return scan_literal(c, "null");
    default:
        return scan_number(c, &ignored);
    }
}

/* Jansson's reading of text[0..n) with its error as callers print it. */
static json_t *jansson_read(const char *text, size_t n, const char *path,
                            struct err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, n, 0, &je);
    if (!root)
        err_set(e, "%s:%d: %s", path, je.line, je.text);
    return root;
}

int tokjson_read(const char *path, struct tokjson *t, struct err *e)
{
    memset(t, 0, sizeof *t);
    if (!(t->text = read_file(path, &t->len, e)))
        return -1;
    struct found f = {.keys = &t->keys};
    struct scan c = {t->text, t->len, 0, 0, false};
    skip_ws(&c);
    bool ok = c.i < c.n && c.s[c.i] == '{' && scan_value(&c, LEVEL_TOP, &f);
    skip_ws(&c);
    /* Split only what the checks above leave no doubt about.  Jansson gets
     * the text with the value replaced by {} and the value's newlines. */
    bool split = ok && c.i == c.n && f.n_model == 1 && f.n_vocab == 1 &&
                 !f.vocab_doubtful;
    if (split) {
        struct buf rest = {0};
        buf_put(&rest, t->text, f.vocab_off);
        buf_puts(&rest, "{}");
        for (size_t i = f.vocab_off; i < f.vocab_end; i++)
            if (t->text[i] == '\n')
                buf_putc(&rest, '\n');
        buf_put(&rest, t->text + f.vocab_end, t->len - f.vocab_end);
        t->root = jansson_read(rest.data, rest.len, path, e);
        buf_free(&rest);
    } else {
        t->root = jansson_read(t->text, t->len, path, e);
    }
    if (t->root && split) {
        t->split = true;
        t->vocab_off = f.vocab_off;
        t->vocab_len = f.vocab_end - f.vocab_off;
        if ((t->has_entries = f.entries_ok)) {
            t->entries = f.entries;
            t->n_entries = f.n_entries;
            f.entries = NULL;
        }
    }
    free(f.entries);
    if (!t->has_entries)
        buf_free(&t->keys);
    if (!t->root) {
        tokjson_free(t);
        return -1;
    }
    return 0;
}

int tokjson_restore_vocab(struct tokjson *t, const char *path, struct err *e)
{
    if (!t->split)
        return 0;
    /* The scan checked this text, so jansson reads it as in the whole
     * document; the errors are for completeness. */
    json_error_t je;
    json_t *v = json_loadb(t->text + t->vocab_off, t->vocab_len,
                           JSON_DECODE_ANY, &je);
    if (!v)
        return err_set(e, "%s: model.vocab: %s", path, je.text);
    if (json_object_set_new(json_object_get(t->root, "model"), "vocab", v))
        return err_set(e, "%s: model.vocab cannot be restored", path);
    t->split = false;
    return 0;
}

void tokjson_free(struct tokjson *t)
{
    json_decref(t->root);
    free(t->text);
    buf_free(&t->keys);
    free(t->entries);
    memset(t, 0, sizeof *t);
}
