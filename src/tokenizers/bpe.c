/* bpe.c — byte-level BPE (tokenizer.json model.type "BPE"), id for id as
 * Hugging Face's Rust `tokenizers` 0.23 (tokenizer/added_vocabulary.rs,
 * models/bpe/{model,word}.rs, pre_tokenizers/{byte_level,split}.rs).
 *
 * Tokenizing one text:
 *   1. added tokens with normalized=false are cut out of the raw text
 *      (leftmost-longest, honouring single_word / lstrip / rstrip);
 *   2. each remaining piece is normalized (NFC, NFD, NFKC, NFKD, Lowercase,
 *      Strip, Prepend, Replace of a literal string, or a Sequence of them) and the added tokens with
 *      normalized=true (their normalized form) are cut out of it;
 *   3. the pre-tokenizer splits each remaining piece into words: ByteLevel
 *      (optional prefix space, the GPT-2 regex when use_regex, then each
 *      byte becomes one of GPT-2's 256 printable characters), and Split
 *      with the Qwen / Llama-3 regex (Isolated), alone or in a Sequence;
 *   4. each word is merged by rank (the lowest-ranked adjacent pair first,
 *      leftmost on ties), with continuing_subword_prefix,
 *      end_of_word_suffix, ignore_merges, byte_fallback and unk (fused or
 *      not) as the BPE model does them.
 *
 * Regexes: `tokenizers` runs them through Oniguruma.  Only the few
 * pre-tokenizer regexes real models use are accepted (compared as strings)
 * and each is matched by a hand-written matcher below (gpt2_match,
 * llama_match) that takes the alternatives in the regex's order, as a
 * backtracking engine does; Unicode letters (\p{L}), numbers (\p{N}) and
 * Oniguruma's \s (the White_Space property) come from utf8proc.  Another
 * regex is refused by name.
 *
 * Known limits: character data is utf8proc's Unicode version, so a
 * character assigned after it may class differently than in `tokenizers`;
 * single_word's word characters approximate Rust regex's \w (Alphabetic is
 * taken as the letters, Nl and the circled letters); a vocabulary key
 * holding U+0000 cannot be read (jansson refuses it in object keys).
 *
 * Reading tokenizer.json is bpe_json.c's; the pair template and its
 * truncation are tokenizer.c's. */
#include "tokenizers/bpe_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- token string → id ------------------------------------------------- */

static uint32_t key_hash(const char *p, size_t n)
{
    return (uint32_t)hash_mix64(hash_bytes(p, n, 0));
}

static struct vocab_slot *vocab_slot(const struct vocab *v, const char *k,
                                     size_t n, uint32_t h)
{
    for (size_t i = h & v->mask;; i = (i + 1) & v->mask) {
        struct vocab_slot *s = &v->slots[i];
        if (s->id < 0 || (s->hash == h && s->len == n &&
                          memcmp(v->pool.data + s->off, k, n) == 0))
            return s;
    }
}

/* Maps k → id (a repeated key takes the new id); -1 past 4 GiB of keys. */
int bpe_vocab_put(struct vocab *v, const char *k, size_t n, int32_t id)
{
    if (!v->slots || (v->n + 1) * 2 > v->mask + 1) {
        size_t old_n = v->slots ? v->mask + 1 : 0;
        struct vocab_slot *old = v->slots;
        size_t n_slots = old_n ? old_n * 2 : 1024;
        v->slots = xreallocarray(NULL, n_slots, sizeof *v->slots);
        for (size_t i = 0; i < n_slots; i++)
            v->slots[i].id = -1;
        v->mask = n_slots - 1;
        for (size_t i = 0; i < old_n; i++) {
            if (old[i].id < 0)
                continue;
            size_t j = old[i].hash & v->mask;
            while (v->slots[j].id >= 0)
                j = (j + 1) & v->mask;
            v->slots[j] = old[i];
        }
        free(old);
    }
    uint32_t h = key_hash(k, n);
    struct vocab_slot *s = vocab_slot(v, k, n, h);
    if (s->id >= 0) {
        s->id = id;
        return 0;
    }
    if (n > UINT32_MAX || v->pool.len > UINT32_MAX - n)
        return -1;
    *s = (struct vocab_slot){(uint32_t)v->pool.len, (uint32_t)n, h, id};
    buf_put(&v->pool, k, n);
    v->n++;
    return 0;
}

int32_t bpe_vocab_get(const struct vocab *v, const char *k, size_t n)
{
    return v->slots ? vocab_slot(v, k, n, key_hash(k, n))->id : -1;
}

/* ---- merges: (left id, right id) → (rank, merged id) ------------------- */

struct merge_slot *bpe_merge_slot(const struct merges *m, uint64_t pair)
{
    for (size_t i = hash_mix64(pair) & m->mask;; i = (i + 1) & m->mask)
        if (m->slots[i].new_id < 0 || m->slots[i].pair == pair)
            return &m->slots[i];
}

/* The merge of a then b, or NULL. */
static const struct merge_slot *merge_get(const struct merges *m, int32_t a,
                                          int32_t b)
{
    const struct merge_slot *s = bpe_merge_slot(m, bpe_pair_key(a, b));
    return s->new_id >= 0 ? s : NULL;
}

/* ---- added tokens: a byte trie, matched leftmost-longest --------------- */

static int32_t trie_new_node(struct trie *t, unsigned char byte)
{
    if (t->n == t->cap)
        grow((void **)&t->nodes, &t->cap, t->n + 1, sizeof *t->nodes);
    t->nodes[t->n] = (struct trie_node){-1, -1, -1, byte};
    return (int32_t)t->n++;
}

static int32_t trie_child(const struct trie *t, int32_t node, unsigned char c)
{
    if (node == 0)
        return t->root[c];
    for (int32_t k = t->nodes[node].child; k >= 0; k = t->nodes[k].sibling)
        if (t->nodes[k].byte == c)
            return k;
    return -1;
}

/* Adds pattern p (non-empty) for token index tok; -1 when p is there
 * already (the automaton of `tokenizers` refuses duplicate patterns). */
int bpe_trie_add(struct trie *t, const char *p, size_t n, int32_t tok)
{
    if (!t->n) {
        trie_new_node(t, 0);
        memset(t->root, 0xFF, sizeof t->root);
    }
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        int32_t k = trie_child(t, node, c);
        if (k < 0) {
            k = trie_new_node(t, c);
            t->nodes[k].sibling = t->nodes[node].child;
            t->nodes[node].child = k;
            if (node == 0)
                t->root[c] = k;
        }
        node = k;
    }
    if (t->nodes[node].token >= 0)
        return -1;
    t->nodes[node].token = tok;
    return 0;
}

/* Longest pattern that s[0..n) starts with: its length, token in *tok;
 * 0 when none. */
static size_t trie_longest(const struct trie *t, const char *s, size_t n,
                           int32_t *tok)
{
    size_t best = 0;
    int32_t node = 0;
    for (size_t i = 0; i < n && t->n; i++) {
        node = trie_child(t, node, (unsigned char)s[i]);
        if (node < 0)
            break;
        if (t->nodes[node].token >= 0) {
            best = i + 1;
            *tok = t->nodes[node].token;
        }
    }
    return best;
}

/* ---- the tokenizer ----------------------------------------------------- */

void bpe_free(struct tokenizer *t)
{
    struct bpe *b = t->state;
    if (b) {
        buf_free(&b->vocab.pool);
        free(b->vocab.slots);
        free(b->merges.slots);
        for (size_t i = 0; i < b->n_added; i++)
            free(b->added[i].content);
        free(b->added);
        free(b->raw_trie.nodes);
        free(b->norm_trie.nodes);
        for (size_t i = 0; i < b->n_norm; i++) {
            free(b->norm[i].text);
            free(b->norm[i].content);
        }
        free(b->norm);
        free(b->prefix);
        free(b->suffix);
        free(b);
    }
    free(t);
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 become U+0100.. in byte order. */
void bpe_byte_chars_init(struct bpe *b)
{
    int n = 0;
    for (int c = 0; c < 256; c++) {
        bool keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) ||
                    (c >= 0xAE && c <= 0xFF);
        int32_t cp = keep ? c : 256 + n++;
        utf8proc_encode_char(cp, (uint8_t *)b->byte_char[c]);
    }
}

/* ---- character classes --------------------------------------------------- */

/* Oniguruma's \s and Rust's char::is_whitespace: the White_Space property. */
static bool is_ws(int32_t c)
{
    return rust_is_whitespace(c);
}

static bool is_letter(int32_t c)
{
    if (c < 0x80)
        return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

static bool is_number(int32_t c)
{
    if (c < 0x80)
        return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

/* [^\s\p{L}\p{N}] */
static bool is_other(int32_t c)
{
    return !is_ws(c) && !is_letter(c) && !is_number(c);
}

/* Rust regex's \w, for single_word added tokens. */
static bool is_word_char(int32_t c)
{
    return rust_is_word_char(c);
}

/* Decodes the character at s[i] (valid UTF-8); its length in *len. */
static int32_t decode_at(const char *s, size_t n, size_t i, size_t *len)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i,
                                          (utf8proc_ssize_t)(n - i), &c);
    *len = k > 0 ? (size_t)k : 1;
    return k > 0 ? c : 0xFFFD;
}

/* The character that ends s[0..n) (n > 0, valid UTF-8). */
static int32_t decode_last(const char *s, size_t n)
{
    size_t i = n - 1, len;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return decode_at(s, n, i, &len);
}

/* ---- per-call scratch ------------------------------------------------------ */

struct span {
    size_t start, end;
};

struct spans {
    struct span *v;
    size_t n, cap;
};

static void spans_push(struct spans *s, size_t start, size_t end)
{
    if (s->n == s->cap)
        grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v);
    s->v[s->n++] = (struct span){start, end};
}

/* Pieces of text: text[v[i].start .. v[i].end). */
struct pieces {
    struct buf text;
    struct spans sp;
};

struct symbol {
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
    size_t len;         /* bytes covered; 0 once merged into its left */
};

struct heap_item {
    uint32_t rank;
    int32_t new_id;
    size_t pos;
};

struct scratch {
    struct buf clean;             /* the text with invalid UTF-8 repaired */
    struct spans seg1, seg2;      /* added-token splits, passes 1 and 2 */
    struct buf norm, tmp;         /* one normalized piece */
    struct pieces pa, pb;         /* pre-tokenizer input / output */
    int32_t *cps;                 /* code points of one piece */
    size_t *offs;                 /* their byte offsets, plus the end */
    size_t cps_cap, offs_cap;
    struct buf key;               /* one vocabulary key being built */
    struct symbol *sym;
    size_t sym_cap;
    struct heap_item *heap;
    size_t heap_cap;
};

static void scratch_free(struct scratch *s)
{
    buf_free(&s->clean);
    free(s->seg1.v);
    free(s->seg2.v);
    buf_free(&s->norm);
    buf_free(&s->tmp);
    buf_free(&s->pa.text);
    free(s->pa.sp.v);
    buf_free(&s->pb.text);
    free(s->pb.sp.v);
    free(s->cps);
    free(s->offs);
    buf_free(&s->key);
    free(s->sym);
    free(s->heap);
}

/* ---- normalizers --------------------------------------------------------- */

/* Applies the normalizer steps to in[0..n) (valid UTF-8) into out. */
void bpe_normalize(const struct norm_step *steps, size_t n_steps,
                      const char *in, size_t n, struct buf *out,
                      struct buf *tmp)
{
    out->len = 0;
    buf_put(out, in, n);
    for (size_t k = 0; k < n_steps; k++) {
        const struct norm_step *st = &steps[k];
        tmp->len = 0;
        const char *s = out->data ? out->data : "";
        size_t len = out->len;
        switch (st->kind) {
        case NORM_NFC: case NORM_NFD: case NORM_NFKC: case NORM_NFKD: {
            bool ascii = true;
            for (size_t i = 0; i < len && ascii; i++)
                ascii = (unsigned char)s[i] < 0x80;
            if (ascii) /* no ASCII text changes under any of the four */
                continue;
            int opt = UTF8PROC_STABLE;
            opt |= st->kind == NORM_NFC || st->kind == NORM_NFKC
                       ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE;
            if (st->kind == NORM_NFKC || st->kind == NORM_NFKD)
                opt |= UTF8PROC_COMPAT;
            uint8_t *r = NULL;
            utf8proc_ssize_t m = utf8proc_map((const uint8_t *)s,
                                              (utf8proc_ssize_t)len, &r,
                                              (utf8proc_option_t)opt);
            if (m < 0) { /* out of memory inside utf8proc */
                free(r);
                continue;
            }
            buf_put(tmp, r, (size_t)m);
            free(r);
            break;
        }
        case NORM_LOWERCASE:
            /* Rust's char::to_lowercase, character by character: the
             * simple mapping, but İ → i̇ (its one full mapping). */
            for (size_t i = 0, cl; i < len; i += cl) {
                int32_t c = decode_at(s, len, i, &cl);
                uint8_t u[8];
                if (c == 0x130) {
                    buf_put(tmp, "i\xCC\x87", 3);
                    continue;
                }
                c = c < 0x80 ? ((c >= 'A' && c <= 'Z') ? c + 32 : c)
                             : utf8proc_tolower(c);
                buf_put(tmp, u, (size_t)utf8proc_encode_char(c, u));
            }
            break;
        case NORM_STRIP: {
            size_t a = 0, z = len, cl;
            while (st->left && a < z && is_ws(decode_at(s, len, a, &cl)))
                a += cl;
            while (st->right && z > a && is_ws(decode_last(s, z))) {
                z--;
                while (z > a && ((unsigned char)s[z] & 0xC0) == 0x80)
                    z--;
            }
            buf_put(tmp, s + a, z - a);
            break;
        }
        case NORM_PREPEND:
            if (len)
                buf_puts(tmp, st->text);
            buf_put(tmp, s, len);
            break;
        case NORM_REPLACE: { /* every occurrence, left to right */
            size_t pn = strlen(st->text);
            for (const char *p = s, *end = s + len, *hit;; p = hit + pn) {
                hit = memmem(p, (size_t)(end - p), st->text, pn);
                buf_put(tmp, p, hit ? (size_t)(hit - p) : (size_t)(end - p));
                if (!hit)
                    break;
                buf_puts(tmp, st->content);
            }
            break;
        }
        }
        struct buf swap = *out;
        *out = *tmp;
        *tmp = swap;
    }
}

/* ---- added tokens ---------------------------------------------------------- */

/* find_matches of added_vocabulary.rs: cuts s[0..n) at the matches of t
 * into spans `out`, with the index of each span's added token (into
 * bpe.added) or -1 for plain text in `tok`.  Leftmost-longest matches, as
 * the Aho-Corasick automaton of `tokenizers` finds them; single_word drops
 * a match inside a word, lstrip / rstrip take the whitespace beside it. */
static void find_matches(const struct bpe *b, const struct trie *t,
                         const char *s, size_t n, struct spans *out,
                         struct ids *tok)
{
    out->n = tok->n = 0;
    size_t start_offset = 0;
    for (size_t i = 0; i < n;) {
        int32_t k = -1;
        size_t len = trie_longest(t, s + i, n - i, &k);
        if (!len) {
            i++;
            continue;
        }
        /* The automaton resumes after the match whatever is done with it. */
        size_t start = i, stop = i + len, cl;
        i = stop;
        const struct added_token *a = &b->added[k];
        if (a->single_word) {
            bool start_space = start == 0 || !is_word_char(decode_last(s, start));
            bool stop_space = stop == n ||
                              !is_word_char(decode_at(s, n, stop, &cl));
            if (!start_space || !stop_space)
                continue;
        }
        if (a->lstrip) { /* back over whitespace, not past the last split */
            size_t z = start;
            while (z > start_offset && is_ws(decode_last(s, z))) {
                z--;
                while (z > 0 && ((unsigned char)s[z] & 0xC0) == 0x80)
                    z--;
            }
            start = z > start_offset ? z : start_offset;
        }
        if (a->rstrip)
            while (stop < n && is_ws(decode_at(s, n, stop, &cl)))
                stop += cl;
        if (start_offset < start) {
            spans_push(out, start_offset, start);
            ids_push(tok, -1);
        }
        if (start < stop) {
            spans_push(out, start, stop);
            ids_push(tok, k);
        }
        start_offset = stop;
    }
    if (start_offset < n) {
        spans_push(out, start_offset, n);
        ids_push(tok, -1);
    }
}

/* ---- pre-tokenizer regexes ------------------------------------------------ */

/* Where the GPT-2 regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * matches at c[i] (i < n): the end of the match.  Every character starts
 * some alternative, so matches tile the piece. */
static size_t gpt2_match(const int32_t *c, size_t n, size_t i)
{
    if (c[i] == '\'' && i + 1 < n) {
        int32_t x = c[i + 1];
        if (x == 's' || x == 't' || x == 'm' || x == 'd')
            return i + 2;
        if (i + 2 < n && ((x == 'r' && c[i + 2] == 'e') ||
                          (x == 'v' && c[i + 2] == 'e') ||
                          (x == 'l' && c[i + 2] == 'l')))
            return i + 3;
    }
    size_t j = i + (c[i] == ' ' && i + 1 < n &&
                    (is_letter(c[i + 1]) || is_number(c[i + 1]) ||
                     is_other(c[i + 1])));
    bool (*cls)(int32_t) = is_letter(c[j]) ? is_letter
                           : is_number(c[j]) ? is_number
                           : is_other(c[j]) ? is_other : NULL;
    if (cls) {
        while (j < n && cls(c[j]))
            j++;
        return j;
    }
    /* whitespace: \s+(?!\S) leaves the last space to the next word */
    j = i;
    while (j < n && is_ws(c[j]))
        j++;
    return j < n && j - i >= 2 ? j - 1 : j;
}

static bool is_crlf(int32_t c)
{
    return c == '\r' || c == '\n';
}

/* Case-insensitive ASCII letter test for (?i:...): x is `lower` in either
 * case; 's' also matches ſ (U+017F), which case-folds to it. */
static bool fold_is(int32_t x, char lower)
{
    return x == lower || x == lower - 32 || (lower == 's' && x == 0x17F);
}

/* Where the Qwen2 (max_digits 1) / Llama-3 (max_digits 3) regex
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * matches at c[i] (i < n): the end of the match. */
static size_t llama_match(const int32_t *c, size_t n, size_t i,
                          int max_digits)
{
    if (c[i] == '\'' && i + 1 < n) {
        int32_t x = c[i + 1];
        if (fold_is(x, 's') || fold_is(x, 't') || fold_is(x, 'm') ||
            fold_is(x, 'd'))
            return i + 2;
        if (i + 2 < n && ((fold_is(x, 'r') && fold_is(c[i + 2], 'e')) ||
                          (fold_is(x, 'v') && fold_is(c[i + 2], 'e')) ||
                          (fold_is(x, 'l') && fold_is(c[i + 2], 'l'))))
            return i + 3;
    }
    size_t j = i;
    if (!is_crlf(c[i]) && !is_letter(c[i]) && !is_number(c[i]) &&
        i + 1 < n && is_letter(c[i + 1]))
        j = i + 1;
    if (is_letter(c[j])) {
        while (j < n && is_letter(c[j]))
            j++;
        return j;
    }
    if (is_number(c[i])) {
        for (j = i; j < n && j - i < (size_t)max_digits && is_number(c[j]);)
            j++;
        return j;
    }
    j = i + (c[i] == ' ' && i + 1 < n && is_other(c[i + 1]));
    if (is_other(c[j])) {
        while (j < n && is_other(c[j]))
            j++;
        while (j < n && is_crlf(c[j]))
            j++;
        return j;
    }
    /* c[i] is whitespace: \s*[\r\n]+ ends after the run's last CR/LF */
    size_t end = i, last_crlf = n;
    while (end < n && is_ws(c[end])) {
        if (is_crlf(c[end]))
            last_crlf = end;
        end++;
    }
    if (last_crlf < n)
        return last_crlf + 1;
    return end < n && end - i >= 2 ? end - 1 : end;
}

/* ---- pre-tokenizing -------------------------------------------------------- */

static void pieces_add(struct pieces *p, const char *s, size_t n)
{
    if (!n) /* `tokenizers` drops empty splits */
        return;
    size_t start = p->text.len;
    buf_put(&p->text, s, n);
    spans_push(&p->sp, start, p->text.len);
}

/* Splits s[0..n) (valid UTF-8) by one of the regexes into out. */
static void split_regex(const struct pretok_step *st, const char *s, size_t n,
                        struct scratch *sc, struct pieces *out)
{
    size_t nc = 0;
    grow((void **)&sc->cps, &sc->cps_cap, n + 1, sizeof *sc->cps);
    grow((void **)&sc->offs, &sc->offs_cap, n + 1, sizeof *sc->offs);
    for (size_t i = 0, cl; i < n; i += cl) {
        sc->offs[nc] = i;
        sc->cps[nc++] = decode_at(s, n, i, &cl);
    }
    sc->offs[nc] = n;
    for (size_t i = 0; i < nc;) {
        size_t j = st->kind == PRE_SPLIT_GPT2
                       ? gpt2_match(sc->cps, nc, i)
                       : llama_match(sc->cps, nc, i, st->max_digits);
        pieces_add(out, s + sc->offs[i], sc->offs[j] - sc->offs[i]);
        i = j;
    }
}

/* Runs the pre-tokenizer steps over s[0..n); the words end in sc->pa. */
static void pre_tokenize(const struct bpe *b, const char *s, size_t n,
                         struct scratch *sc)
{
    struct pieces *in = &sc->pa, *out = &sc->pb;
    in->text.len = in->sp.n = 0;
    pieces_add(in, s, n);
    for (size_t k = 0; k < b->n_pre; k++) {
        const struct pretok_step *st = &b->pre[k];
        out->text.len = out->sp.n = 0;
        for (size_t p = 0; p < in->sp.n; p++) {
            const char *w = in->text.data + in->sp.v[p].start;
            size_t wn = in->sp.v[p].end - in->sp.v[p].start;
            switch (st->kind) {
            case PRE_PREFIX_SPACE: {
                size_t start = out->text.len;
                if (w[0] != ' ')
                    buf_putc(&out->text, ' ');
                buf_put(&out->text, w, wn);
                spans_push(&out->sp, start, out->text.len);
                break;
            }
            case PRE_SPLIT_GPT2: case PRE_SPLIT_LLAMA:
                split_regex(st, w, wn, sc, out);
                break;
            case PRE_BYTES: {
                size_t start = out->text.len;
                for (size_t i = 0; i < wn; i++)
                    buf_puts(&out->text, b->byte_char[(unsigned char)w[i]]);
                spans_push(&out->sp, start, out->text.len);
                break;
            }
            }
        }
        struct pieces swap = *in;
        *in = *out;
        *out = swap;
    }
}

/* ---- the BPE model ------------------------------------------------------- */

/* Min-heap on (rank, pos), as word.rs's Merge ordering. */
static bool heap_less(const struct heap_item *a, const struct heap_item *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(struct scratch *sc, size_t *n, struct heap_item it)
{
    grow((void **)&sc->heap, &sc->heap_cap, *n + 1, sizeof *sc->heap);
    struct heap_item *h = sc->heap;
    size_t i = (*n)++;
    while (i > 0 && heap_less(&it, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = it;
}

static struct heap_item heap_pop(struct scratch *sc, size_t *n)
{
    struct heap_item *h = sc->heap, top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
            c++;
        if (!heap_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

static void add_symbol(struct scratch *sc, size_t *n, int32_t id, size_t len)
{
    grow((void **)&sc->sym, &sc->sym_cap, *n + 1, sizeof *sc->sym);
    sc->sym[*n] = (struct symbol){id, (int32_t)*n - 1, -1, len};
    if (*n)
        sc->sym[*n - 1].next = (int32_t)*n;
    (*n)++;
}

/* Word::merge_all: merges the lowest-ranked pair first (leftmost on ties)
 * until no adjacent pair has a merge. */
static void merge_all(const struct bpe *b, struct scratch *sc, size_t n_sym)
{
    struct symbol *s = sc->sym;
    size_t nh = 0;
    for (size_t i = 0; i + 1 < n_sym; i++) {
        const struct merge_slot *m = merge_get(&b->merges, s[i].id,
                                               s[i + 1].id);
        if (m)
            heap_push(sc, &nh, (struct heap_item){m->rank, m->new_id, i});
    }
    while (nh) {
        struct heap_item top = heap_pop(sc, &nh);
        s = sc->sym;
        struct symbol *cur = &s[top.pos];
        if (cur->len == 0 || cur->next < 0)
            continue;
        struct symbol right = s[cur->next];
        const struct merge_slot *m = merge_get(&b->merges, cur->id, right.id);
        if (!m || m->new_id != top.new_id) /* a stale entry */
            continue;
        s[cur->next].len = 0;
        cur->id = top.new_id;
        cur->len += right.len;
        cur->next = right.next;
        if (right.next >= 0)
            s[right.next].prev = (int32_t)top.pos;
        int32_t prev = cur->prev, next = cur->next, id = cur->id;
        if (prev >= 0 && (m = merge_get(&b->merges, s[prev].id, id)))
            heap_push(sc, &nh,
                      (struct heap_item){m->rank, m->new_id, (size_t)prev});
        if (next >= 0 && (m = merge_get(&b->merges, id, sc->sym[next].id)))
            heap_push(sc, &nh, (struct heap_item){m->rank, m->new_id, top.pos});
    }
}

/* The vocabulary key of character s[0..n) of a word: with the
 * continuing_subword_prefix unless first, the end_of_word_suffix when last.
 * Returns the key (s itself or sc->key) and its length in *kn. */
static const char *affixed(const struct bpe *b, struct scratch *sc,
                           const char *s, size_t n, bool first, bool last,
                           size_t *kn)
{
    *kn = n;
    if ((first || !b->prefix) && (!last || !b->suffix))
        return s;
    sc->key.len = 0;
    if (!first && b->prefix)
        buf_puts(&sc->key, b->prefix);
    buf_put(&sc->key, s, n);
    if (last && b->suffix)
        buf_puts(&sc->key, b->suffix);
    *kn = sc->key.len;
    return sc->key.data;
}

/* BPE::tokenize of one word w[0..n) (valid UTF-8, n > 0): ids to out. */
static void bpe_word(const struct bpe *b, const char *w, size_t n,
                     struct scratch *sc, struct ids *out)
{
    if (b->ignore_merges) {
        int32_t id = bpe_vocab_get(&b->vocab, w, n);
        if (id >= 0) {
            ids_push(out, id);
            return;
        }
    }
    size_t n_sym = 0, unk_len = 0;
    bool unk = false;
    for (size_t i = 0, cl; i < n; i += cl) {
        decode_at(w, n, i, &cl);
        size_t kn;
        const char *k = affixed(b, sc, w + i, cl, i == 0, i + cl == n, &kn);
        int32_t id = bpe_vocab_get(&b->vocab, k, kn);
        if (id >= 0) {
            if (unk)
                add_symbol(sc, &n_sym, b->unk_id, unk_len);
            unk = false;
            add_symbol(sc, &n_sym, id, cl);
            continue;
        }
        if (b->byte_fallback) {
            /* every byte of the (affixed) key as <0xXX>, or none of them */
            size_t nb = 0;
            while (nb < kn && b->byte_id[(unsigned char)k[nb]] >= 0)
                nb++;
            if (nb == kn) {
                for (size_t j = 0; j < nb; j++)
                    add_symbol(sc, &n_sym, b->byte_id[(unsigned char)k[j]], 1);
                continue;
            }
        }
        if (b->unk_id < 0)
            continue; /* no unk token: the character is dropped */
        if (unk && b->fuse_unk) {
            unk_len += cl;
        } else {
            if (unk)
                add_symbol(sc, &n_sym, b->unk_id, unk_len);
            unk = true;
            unk_len = cl;
        }
    }
    if (unk)
        add_symbol(sc, &n_sym, b->unk_id, unk_len);
    merge_all(b, sc, n_sym);
    for (size_t i = 0; i < n_sym; i++)
        if (sc->sym[i].len)
            ids_push(out, sc->sym[i].id);
}

/* ---- one text -------------------------------------------------------------- */

/* Copies s[0..n) into out with each byte that is not part of valid UTF-8
 * replaced by U+FFFD; returns whether anything was replaced. */
static bool repair_utf8(const char *s, size_t n, struct buf *out)
{
    long bad = utf8_invalid_at(s, n);
    if (bad < 0)
        return false;
    out->len = 0;
    buf_put(out, s, (size_t)bad);
    for (size_t i = (size_t)bad, cl; i < n; i += cl) {
        cl = utf8_char_len(s + i, n - i);
        if (cl) {
            buf_put(out, s + i, cl);
        } else {
            buf_put(out, "\xEF\xBF\xBD", 3);
            cl = 1;
        }
    }
    return true;
}

/* A word's ids: marked as a pre-token for Hugging Face's early exit under
 * truncation (tokenizer_encode_ids).  A word with no ids (its characters
 * dropped, no unk token) still lets tokenize_with_limit stop after it: the
 * added token before it, if any, then stops it as well as it would. */
static void push_word(const struct bpe *b, const char *w, size_t n,
                      struct scratch *sc, struct ids *out)
{
    size_t first = out->n;
    bpe_word(b, w, n, sc, out);
    if (first < out->n)
        ids_mark_word(out, first);
    else if (out->n && out->word[out->n - 1] == IDS_ADDED)
        out->word[out->n - 1] = IDS_WORD;
}

/* Appends the ids of one text: added tokens (ids_push_added), then the
 * words of the pieces between them. */
void bpe_tokenize(const struct tokenizer *t, const char *text, size_t len,
                  struct ids *out)
{
    const struct bpe *b = t->state;
    struct scratch sc = {0};
    struct ids tok1 = {0}, tok2 = {0};
    if (repair_utf8(text, len, &sc.clean)) {
        text = sc.clean.data;
        len = sc.clean.len;
    }
    find_matches(b, &b->raw_trie, text, len, &sc.seg1, &tok1);
    for (size_t i = 0; i < sc.seg1.n; i++) {
        if (tok1.v[i] >= 0) {
            ids_push_added(out, b->added[tok1.v[i]].id);
            continue;
        }
        bpe_normalize(b->norm, b->n_norm, text + sc.seg1.v[i].start,
                      sc.seg1.v[i].end - sc.seg1.v[i].start, &sc.norm, &sc.tmp);
        find_matches(b, &b->norm_trie, sc.norm.data, sc.norm.len, &sc.seg2,
                     &tok2);
        for (size_t j = 0; j < sc.seg2.n; j++) {
            if (tok2.v[j] >= 0) {
                ids_push_added(out, b->added[tok2.v[j]].id);
                continue;
            }
            pre_tokenize(b, sc.norm.data + sc.seg2.v[j].start,
                         sc.seg2.v[j].end - sc.seg2.v[j].start, &sc);
            for (size_t w = 0; w < sc.pa.sp.n; w++)
                push_word(b, sc.pa.text.data + sc.pa.sp.v[w].start,
                          sc.pa.sp.v[w].end - sc.pa.sp.v[w].start, &sc, out);
        }
    }
    ids_free(&tok1);
    ids_free(&tok2);
    scratch_free(&sc);
}

