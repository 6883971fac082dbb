/* sentencepiece.c — the Unigram tokenizer of XLM-RoBERTa models (BAAI
 * bge-reranker-*), id for id as Hugging Face's fast (Rust) `tokenizers`
 * 0.23 runs the pipeline of their tokenizer.json (tokenizer/
 * added_vocabulary.rs, normalizers/{precompiled,replace}.rs,
 * pre_tokenizers/metaspace.rs, models/unigram/model.rs).
 *
 * Tokenizing one text:
 *   1. added tokens (<s> <pad> </s> <unk> <mask>, user-defined pieces) with
 *      normalized=false are cut out of the raw text, leftmost-longest,
 *      honouring single_word / lstrip / rstrip;
 *   2. each remaining piece is normalized: Precompiled (SentencePiece's
 *      charsmap, a darts-clone trie, applied per extended grapheme cluster
 *      as `tokenizers` does: a cluster under 6 bytes whose start the trie
 *      maps becomes that mapping, else each character is looked up alone;
 *      the shortest mapped prefix wins), then Strip and Replace(" {2,}",
 *      " " or U+2581) as the file says; added tokens with normalized=true
 *      are cut out of the result;
 *   3. Metaspace: ' ' -> U+2581, a U+2581 prepended to each piece that does
 *      not start with one (prepend_scheme always; first: only at the text's
 *      start), then a split before every U+2581;
 *   4. Unigram per pre-token: Viterbi maximizing the summed piece scores
 *      (double), every vocabulary entry a candidate, a character no piece
 *      starts with becoming an unknown of score min_score - 10, ties keeping
 *      the earliest start; a run of unknowns is fused into one.
 * So trailing whitespace gives a lone U+2581 token and "<s>" typed in a
 * query is the id of <s>, as with sentence-transformers' CrossEncoder.
 *
 * The vocabulary comes from tokenizer.json (jansson) or from
 * sentencepiece.bpe.model (a ModelProto, read by a small bounds-checked
 * protobuf reader: 250k pieces load in a tenth of the time the JSON
 * takes).  A .model gets the pipeline of the tokenizer.json beside it
 * (read without parsing its vocabulary), or else the one transformers'
 * XLMRobertaConverter builds from it.  Pieces are found by a hash of their
 * bytes (struct piece_index).  Pair templates and truncation are
 * tokenizer.c's. */
#include "tokenizers/sentencepiece.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

/* SentencePiece's ModelProto.SentencePiece.Type values. */
enum piece_type {
    PIECE_NORMAL = 1,
    PIECE_UNKNOWN = 2,
    PIECE_CONTROL = 3,
    PIECE_USER_DEFINED = 4,
    PIECE_UNUSED = 5,
    PIECE_BYTE = 6,
};

/* One vocabulary entry as read from a file, before it is indexed; s
 * points into the file buffer, the JSON tree or a literal.  Its id is its
 * position. */
struct piece_ref {
    const char *s;
    size_t len;
    double score;
    int type; /* enum piece_type (.model only) */
};

/* Every vocabulary entry, found by content: a table of ids keyed by a hash
 * of the bytes, and a bitset holding the hash of every prefix of every
 * piece that ends at a UTF-8 character boundary (or at the piece's end),
 * which ends a scan as soon as no piece can extend it.  The table is exact
 * (bytes are compared); the bitset only prunes.  Unlike a linked trie,
 * building it makes independent memory accesses, which keeps a 250k-piece
 * load fast. */
struct piece_index {
    char *bytes;        /* every piece's bytes, concatenated */
    uint32_t *offset;   /* (n_pieces + 1) where each piece starts in bytes */
    uint32_t *slot;     /* (mask + 1) hash tag << 24 | (piece + 1); 0 empty */
    size_t mask;
    uint64_t *prefix;   /* (prefix_mask + 1) / 64 words of prefix bits */
    size_t prefix_mask;
    size_t max_len;     /* longest indexed piece */
};

/* An added token: matched in the text before (normalized = false) or
 * after (true) normalization; text is then its normalized form. */
struct spm_added {
    char *text;
    size_t len;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized;
};

enum prepend { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

/* A normalizer after Precompiled: Strip (whitespace at the ends), or
 * Replace(" {2,}", content) with content " " or U+2581. */
struct norm_step {
    bool strip, left, right;
    const char *content;
};

struct spm {
    size_t n_pieces;
    double *score;     /* (n_pieces) */
    int32_t unk_id;
    double min_score;  /* over every piece, as `tokenizers` */
    struct piece_index index;
    struct spm_added *added;
    size_t n_added;

    /* Precompiled: darts-clone units and the replacement strings they index. */
    uint32_t *units;   /* (n_units), none for no character mapping */
    size_t n_units;
    char *repl;        /* (repl_len + 1) NUL-terminated strings, plus a NUL */
    size_t repl_len;
    bool strip;                /* Strip (both ends) before Precompiled */
    struct norm_step steps[4]; /* after Precompiled, in order */
    size_t n_steps;
    enum prepend prepend; /* Metaspace */
    bool split;           /* Metaspace: split before each U+2581 */
};

/* What sentencepiece.bpe.model or tokenizer.json says about the model
 * kind and the pipeline. */
struct spm_spec {
    uint64_t model_type; /* 1 = UNIGRAM */
    bool byte_fallback, treat_whitespace_as_suffix;
    const uint8_t *charsmap;
    size_t charsmap_len;
};

static const char SPACE_SYMBOL[] = "\xe2\x96\x81"; /* U+2581 */
static const double UNK_PENALTY = 10.0;

/* ---- the piece index ------------------------------------------------------ */

/* Piece bytes are hashed with FNV-1a one byte at a time, so that scans
 * extend the hash in place, then spread over 64 bits by hash_mix64 (f). */

static inline bool index_has_prefix(const struct piece_index *x, uint64_t f)
{
    size_t bit = (size_t)(f >> 7) & x->prefix_mask;
    return (x->prefix[bit / 64] >> (bit % 64)) & 1;
}

/* The piece whose bytes are s[0..len) (f = hash_mix64 of their hash), or -1. */
static inline int32_t index_find(const struct piece_index *x, uint64_t f,
                                 const unsigned char *s, size_t len)
{
    uint32_t tag = (uint32_t)(f >> 56);
    for (size_t i = (size_t)f & x->mask;; i = (i + 1) & x->mask) {
        uint32_t v = x->slot[i];
        if (v == 0)
            return -1;
        if (v >> 24 != tag)
            continue;
        uint32_t p = (v & 0xffffff) - 1;
        if (x->offset[p + 1] - x->offset[p] == len &&
            memcmp(x->bytes + x->offset[p], s, len) == 0)
            return (int32_t)p;
    }
}

/* Indexes piece p (its bytes already in x->bytes); -1 when it is there. */
static int index_add(struct piece_index *x, uint32_t p)
{
    const unsigned char *s = (const unsigned char *)x->bytes + x->offset[p];
    size_t len = x->offset[p + 1] - x->offset[p];
    uint64_t h = HASH_FNV_BASIS, f = 0;
    for (size_t k = 0; k < len; k++) {
        h = hash_fnv_step(h, s[k]);
        if (k + 1 < len && (s[k + 1] & 0xc0) == 0x80)
            continue;
        f = hash_mix64(h);
        size_t bit = (size_t)(f >> 7) & x->prefix_mask;
        x->prefix[bit / 64] |= (uint64_t)1 << (bit % 64);
    }
    if (index_find(x, f, s, len) >= 0)
        return -1;
    size_t i = (size_t)f & x->mask;
    while (x->slot[i])
        i = (i + 1) & x->mask;
    x->slot[i] = (uint32_t)(f >> 56) << 24 | (p + 1);
    if (len > x->max_len)
        x->max_len = len;
    return 0;
}

static void index_free(struct piece_index *x)
{
    free(x->bytes);
    free(x->offset);
    free(x->slot);
    free(x->prefix);
}

/* ---- vocabulary --------------------------------------------------------- */

/* Builds the score table and the index from refs[0..n) (id = position).
 * Pieces must be non-empty and unique.  Returns 0, or -1 and fills e. */
static int spm_build_vocab(struct spm *m, const struct piece_ref *refs,
                           size_t n, struct err *e)
{
    struct piece_index *x = &m->index;
    size_t n_bytes = 0, n_prefixes = 0;
    for (size_t i = 0; i < n; i++) {
        const struct piece_ref *r = &refs[i];
        if (r->len == 0)
            return err_set(e, "piece %zu is empty", i);
        if (!isfinite(r->score))
            return err_set(e, "piece %zu has score %g", i, r->score);
        if (size_add(n_bytes, r->len, &n_bytes) || n_bytes > UINT32_MAX ||
            n >= 0xffffff)
            return err_set(e, "vocabulary too large");
        for (size_t k = 0; k < r->len; k++)
            n_prefixes += (r->s[k] & 0xc0) != 0x80;
    }

    m->n_pieces = n;
    m->score = xreallocarray(NULL, n, sizeof *m->score);
    x->bytes = xmalloc(n_bytes ? n_bytes : 1);
    x->offset = xreallocarray(NULL, n + 1, sizeof *x->offset);
    for (x->mask = 1023; x->mask / 2 < n; x->mask = x->mask * 2 + 1)
        ;
    x->slot = xcalloc(x->mask + 1, sizeof *x->slot);
    /* At least 8 bits per prefix: under a 1-in-8 chance that a scan goes on
     * past the last prefix. */
    for (x->prefix_mask = 65535; x->prefix_mask / 8 < n_prefixes;
         x->prefix_mask = x->prefix_mask * 2 + 1)
        ;
    x->prefix = xcalloc((x->prefix_mask + 1) / 64, sizeof *x->prefix);

    m->min_score = INFINITY;
    size_t at = 0;
    x->offset[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const struct piece_ref *r = &refs[i];
        m->score[i] = r->score;
        if (r->score < m->min_score)
            m->min_score = r->score;
        memcpy(x->bytes + at, r->s, r->len);
        at += r->len;
        x->offset[i + 1] = (uint32_t)at;
        if (index_add(x, (uint32_t)i) < 0)
            return err_set(e, "piece %zu is already defined", i);
    }
    return 0;
}

/* Adds an added token (content s[0..len), copied); a content seen before
 * takes the new id and flags.  Returns 0, or -1 and fills e. */
static int spm_add_token(struct spm *m, const char *s, size_t len, int64_t id,
                         const struct spm_added *flags, struct err *e)
{
    if (len == 0)
        return err_set(e, "added token %lld is empty", (long long)id);
    /* Added tokens may follow the pieces (PyLate adds "[Q] " and "[D] "
     * after an XLM-R vocabulary): tokenizers gives them their own ids. */
    if (id < 0 || id >= INT32_MAX)
        return err_set(e, "added token id %lld is not a token id",
                       (long long)id);
    struct spm_added *a = NULL;
    for (size_t i = 0; i < m->n_added && !a; i++)
        if (m->added[i].len == len && memcmp(m->added[i].text, s, len) == 0)
            a = &m->added[i];
    if (!a) {
        m->added = xreallocarray(m->added, m->n_added + 1, sizeof *m->added);
        a = &m->added[m->n_added++];
        *a = *flags;
        a->text = xmalloc(len + 1);
        memcpy(a->text, s, len);
        a->text[len] = 0;
        a->len = len;
    } else {
        char *text = a->text;
        *a = *flags;
        a->text = text;
        a->len = len;
    }
    a->id = (int32_t)id;
    return 0;
}

/* ---- normalizer ----------------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Takes the precompiled charsmap blob: a little-endian uint32 trie size, the
 * darts-clone units, then the NUL-terminated replacement strings.  An empty
 * blob means no character mapping.  Returns 0, or -1 and fills e. */
static int spm_set_charsmap(struct spm *m, const uint8_t *blob, size_t n,
                            struct err *e)
{
    if (n == 0)
        return 0;
    if (n <= 4)
        return err_set(e, "precompiled_charsmap is truncated");
    size_t trie_size = le32(blob);
    if (trie_size > n - 4)
        return err_set(e, "precompiled_charsmap: trie size %zu exceeds the "
                          "blob (%zu bytes)", trie_size, n);
    m->n_units = trie_size / 4;
    if (m->n_units == 0)
        return err_set(e, "precompiled_charsmap: empty trie");
    m->units = xreallocarray(NULL, m->n_units, sizeof *m->units);
    for (size_t i = 0; i < m->n_units; i++)
        m->units[i] = le32(blob + 4 + 4 * i);
    m->repl_len = n - 4 - trie_size;
    m->repl = xmalloc(m->repl_len + 1);
    memcpy(m->repl, blob + 4 + trie_size, m->repl_len);
    m->repl[m->repl_len] = 0;
    return 0;
}

/* darts-clone unit fields. */
static uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xff); }
static uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* Precompiled's transform of s[0..n): the replacement of the SHORTEST
 * prefix the charsmap maps (the first result of spm_precompiled's
 * common_prefix_search, which stops at a NUL byte), standing for all of
 * s; NULL when none.  Every unit index is checked, and a value outside the
 * strings counts as no match. */
static const char *charsmap_transform(const struct spm *m,
                                      const unsigned char *s, size_t n)
{
    if (!m->n_units)
        return NULL;
    size_t pos = unit_offset(m->units[0]);
    for (size_t i = 0; i < n && s[i]; i++) {
        pos ^= s[i];
        if (pos >= m->n_units)
            return NULL;
        uint32_t u = m->units[pos];
        if (unit_label(u) != s[i])
            return NULL;
        pos ^= unit_offset(u);
        if (unit_has_leaf(u)) {
            if (pos >= m->n_units)
                return NULL;
            uint32_t v = unit_value(m->units[pos]);
            return v < m->repl_len ? m->repl + v : NULL;
        }
    }
    return NULL;
}

/* Length of the extended grapheme cluster at s[0..n) (valid UTF-8, n > 0),
 * as Rust's unicode-segmentation finds it (UAX #29, via utf8proc). */
static size_t grapheme_len(const unsigned char *s, size_t n)
{
    /* Between two ASCII characters there is a break, except inside CR LF. */
    if (s[0] < 0x80 && (n == 1 || (s[1] < 0x80 && !(s[0] == '\r' && s[1] == '\n'))))
        return 1;
    utf8proc_int32_t prev, c;
    utf8proc_int32_t state = 0;
    utf8proc_ssize_t k = utf8proc_iterate(s, (utf8proc_ssize_t)n, &prev);
    size_t i = k > 0 ? (size_t)k : 1;
    while (i < n) {
        k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0 || utf8proc_grapheme_break_stateful(prev, c, &state))
            break;
        prev = c;
        i += (size_t)k;
    }
    return i;
}

/* The character at s[i] (valid UTF-8), its length in *len. */
static int32_t char_at(const unsigned char *s, size_t n, size_t i, size_t *len)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
    *len = k > 0 ? (size_t)k : 1;
    return k > 0 ? c : 0xFFFD;
}

/* Where the character ending at s[i] (i > 0) starts. */
static size_t char_before(const unsigned char *s, size_t i)
{
    do
        i--;
    while (i > 0 && (s[i] & 0xc0) == 0x80);
    return i;
}

/* Applies st to out (valid UTF-8), using tmp as scratch. */
static void norm_apply(const struct norm_step *st, struct buf *out,
                       struct buf *tmp)
{
    const unsigned char *s = (const unsigned char *)out->data;
    size_t a = 0, z = out->len, cl;
    tmp->len = 0;
    if (st->strip) {
        while (st->left && a < z && rust_is_whitespace(char_at(s, z, a, &cl)))
            a += cl;
        while (st->right && z > a &&
               rust_is_whitespace(char_at(s, z, char_before(s, z), &cl)))
            z = char_before(s, z);
        if (z > a)
            buf_put(tmp, s + a, z - a);
    } else {
        for (size_t i = 0; i < z; i++) {
            if (s[i] != ' ') {
                buf_putc(tmp, (char)s[i]);
            } else if (i + 1 < z && s[i + 1] == ' ') {
                while (i + 1 < z && s[i + 1] == ' ')
                    i++;
                buf_puts(tmp, st->content);
            } else {
                buf_putc(tmp, ' ');
            }
        }
    }
    struct buf swap = *out;
    *out = *tmp;
    *tmp = swap;
}

/* The normalizer of one piece s[0..n) (valid UTF-8) into out (emptied
 * first): Strip when the model says so (DeBERTa), Precompiled per grapheme
 * cluster, then the steps (tmp is scratch). */
static void spm_normalize(const struct spm *m, const unsigned char *s,
                          size_t n, struct buf *out, struct buf *tmp)
{
    out->len = 0;
    size_t wl;
    while (m->strip && n > 0 && rust_is_whitespace(char_at(s, n, 0, &wl))) {
        s += wl;
        n -= wl;
    }
    while (m->strip && n > 0 &&
           rust_is_whitespace(char_at(s, n, char_before(s, n), &wl)))
        n = char_before(s, n);
    for (size_t g = 0; g < n;) {
        size_t glen = grapheme_len(s + g, n - g);
        const char *r = glen < 6 ? charsmap_transform(m, s + g, glen) : NULL;
        if (r) {
            buf_puts(out, r);
        } else if (glen == utf8_char_len((const char *)s + g, n - g)) {
            buf_put(out, s + g, glen); /* one character, looked up already */
        } else {
            for (size_t i = g, cl; i < g + glen; i += cl) {
                cl = utf8_char_len((const char *)s + i, g + glen - i);
                if (cl == 0)
                    cl = 1;
                r = charsmap_transform(m, s + i, cl);
                if (r)
                    buf_puts(out, r);
                else
                    buf_put(out, s + i, cl);
            }
        }
        g += glen;
    }
    for (size_t k = 0; k < m->n_steps; k++)
        norm_apply(&m->steps[k], out, tmp);
}

/* ---- added tokens ---------------------------------------------------------- */

/* One piece of a text: s[start..end), an added token's id or -1. */
struct span {
    size_t start, end;
    int32_t id;
};

struct spans {
    struct span *v;
    size_t n, cap;
};

static void spans_push(struct spans *a, size_t start, size_t end, int32_t id)
{
    if (a->n == a->cap)
        grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v);
    a->v[a->n++] = (struct span){start, end, id};
}

/* The longest added token (normalized as given) at s[i], or NULL. */
static const struct spm_added *added_at(const struct spm *m, bool normalized,
                                        const unsigned char *s, size_t n,
                                        size_t i)
{
    const struct spm_added *best = NULL;
    for (size_t k = 0; k < m->n_added; k++) {
        const struct spm_added *a = &m->added[k];
        if (a->normalized == normalized && a->len <= n - i &&
            (!best || a->len > best->len) &&
            memcmp(s + i, a->text, a->len) == 0)
            best = a;
    }
    return best;
}

/* find_matches of added_vocabulary.rs: cuts s[0..n) into spans `out`
 * (emptied first) at the matches of the added tokens with this
 * `normalized`, leftmost-longest; single_word drops a match inside a word,
 * lstrip / rstrip take the whitespace beside it into the token. */
static void split_added(const struct spm *m, bool normalized,
                        const unsigned char *s, size_t n, struct spans *out)
{
    out->n = 0;
    size_t from = 0, cl;
    for (size_t i = 0; i < n;) {
        const struct spm_added *a = added_at(m, normalized, s, n, i);
        if (!a) {
            i++;
            continue;
        }
        size_t start = i, stop = i + a->len;
        i = stop; /* the automaton resumes after the match in any case */
        if (a->single_word &&
            ((start > 0 &&
              rust_is_word_char(char_at(s, n, char_before(s, start), &cl))) ||
             (stop < n && rust_is_word_char(char_at(s, n, stop, &cl)))))
            continue;
        if (a->lstrip)
            while (start > from &&
                   rust_is_whitespace(char_at(s, n, char_before(s, start), &cl)))
                start = char_before(s, start);
        if (a->rstrip)
            while (stop < n && rust_is_whitespace(char_at(s, n, stop, &cl)))
                stop += cl;
        if (from < start)
            spans_push(out, from, start, -1);
        spans_push(out, start, stop, a->id);
        from = stop;
        i = i > stop ? i : stop;
    }
    if (from < n)
        spans_push(out, from, n, -1);
}

/* ---- Unigram ----------------------------------------------------------------- */

/* The best path ending at one byte position. */
struct best_node {
    double score;  /* total score of the best path ending here */
    int32_t id;    /* its last piece, unk_id for an unknown character */
    int64_t start; /* where that piece starts; -1 while unreached */
};

/* Unigram's encode_optimized over one pre-token s[0..n) (n > 0): appends
 * the ids of the best segmentation to out, the first marked as the start
 * of a pre-token.  Consecutive unknowns (and the unknown piece) are fused
 * into one token, which is the piece of the fused text if there is one. */
static void spm_viterbi(const struct spm *m, const unsigned char *s, size_t n,
                        struct ids *out, struct best_node **scratch,
                        size_t *scratch_cap)
{
    if (*scratch_cap < n + 1)
        grow((void **)scratch, scratch_cap, n + 1, sizeof **scratch);
    struct best_node *best = *scratch;
    for (size_t i = 0; i <= n; i++)
        best[i] = (struct best_node){0.0, -1, -1};
    const double unk_score = m->min_score - UNK_PENALTY;

    for (size_t start = 0; start < n;) {
        const double base = best[start].score;
        size_t mblen = utf8_char_len((const char *)s + start, n - start);
        if (mblen == 0)
            mblen = 1;
        bool has_single = false;
        uint64_t h = HASH_FNV_BASIS;
        size_t end = n - start > m->index.max_len ? start + m->index.max_len : n;
        for (size_t k = start; k < end; k++) {
            h = hash_fnv_step(h, s[k]);
            uint64_t f = hash_mix64(h);
            if (!(k + 1 < n && (s[k + 1] & 0xc0) == 0x80) &&
                !index_has_prefix(&m->index, f))
                break;
            size_t length = k + 1 - start;
            int32_t p = index_find(&m->index, f, s + start, length);
            if (p < 0)
                continue;
            struct best_node *b = &best[k + 1];
            double total = m->score[p] + base;
            if (b->start < 0 || total > b->score)
                *b = (struct best_node){total, p, (int64_t)start};
            if (length == mblen)
                has_single = true;
        }
        if (!has_single) {
            struct best_node *b = &best[start + mblen];
            double total = unk_score + base;
            if (b->start < 0 || total > b->score)
                *b = (struct best_node){total, m->unk_id, (int64_t)start};
        }
        start += mblen;
    }

    /* Backtrack from the end, fusing unknowns, then put the ids in reading
     * order. */
    size_t first = out->n;
    for (size_t end = n; end > 0;) {
        size_t start = (size_t)best[end].start;
        if (best[end].id != m->unk_id) {
            ids_push(out, best[end].id);
            end = start;
            continue;
        }
        while (start > 0 && best[start].id == m->unk_id)
            start = (size_t)best[start].start;
        uint64_t f = hash_mix64(hash_fnv_extend(HASH_FNV_BASIS, s + start,
                                                end - start));
        int32_t p = index_find(&m->index, f, s + start, end - start);
        ids_push(out, p >= 0 ? p : m->unk_id);
        end = start;
    }
    for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
        int32_t t = out->v[i];
        out->v[i] = out->v[j - 1];
        out->v[j - 1] = t;
    }
    ids_mark_word(out, first);
}

/* ---- tokenizing ---------------------------------------------------------------- */

/* Per-call buffers. */
struct spm_scratch {
    struct buf clean, norm, tmp, meta;
    struct spans raw, normed;
    struct best_node *best;
    size_t best_cap;
};

/* Metaspace and Unigram on one normalized piece s[0..n); at_start: the
 * piece begins the text (for prepend_scheme first). */
static void spm_pre_tokenize(const struct spm *m, const unsigned char *s,
                             size_t n, bool at_start, struct ids *out,
                             struct spm_scratch *w)
{
    struct buf *meta = &w->meta;
    meta->len = 0;
    if (n == 0)
        return;
    if ((m->prepend == PREPEND_ALWAYS ||
         (m->prepend == PREPEND_FIRST && at_start)) &&
        !(s[0] == ' ' || (n >= 3 && memcmp(s, SPACE_SYMBOL, 3) == 0)))
        buf_put(meta, SPACE_SYMBOL, 3);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            buf_put(meta, SPACE_SYMBOL, 3);
        else
            buf_putc(meta, (char)s[i]);
    }
    const unsigned char *t = (const unsigned char *)meta->data;
    size_t start = 0;
    for (size_t i = 1; i <= meta->len; i++) {
        if (i < meta->len &&
            !(m->split && meta->len - i >= 3 &&
              memcmp(t + i, SPACE_SYMBOL, 3) == 0))
            continue;
        spm_viterbi(m, t + start, i - start, out, &w->best, &w->best_cap);
        start = i;
    }
}

/* Replaces each malformed byte of text[0..*len) by U+FFFD into w->clean,
 * pointing text there; valid text is left as it is. */
static const unsigned char *spm_clean(const unsigned char *text, size_t *len,
                                      struct buf *clean)
{
    if (utf8_invalid_at((const char *)text, *len) < 0)
        return text;
    clean->len = 0;
    for (size_t i = 0; i < *len;) {
        size_t cl = utf8_char_len((const char *)text + i, *len - i);
        if (cl == 0) {
            buf_put(clean, "\xef\xbf\xbd", 3);
            i++;
        } else {
            buf_put(clean, text + i, cl);
            i += cl;
        }
    }
    *len = clean->len;
    return (const unsigned char *)clean->data;
}

static void spm_tokenize(const struct tokenizer *t, const char *text,
                         size_t len, struct ids *out)
{
    const struct spm *m = t->state;
    struct spm_scratch w = {0};
    const unsigned char *s = spm_clean((const unsigned char *)text, &len,
                                       &w.clean);
    split_added(m, false, s, len, &w.raw);
    for (size_t i = 0; i < w.raw.n; i++) {
        const struct span *r = &w.raw.v[i];
        if (r->id >= 0) {
            ids_push_added(out, r->id);
            continue;
        }
        spm_normalize(m, s + r->start, r->end - r->start, &w.norm, &w.tmp);
        const unsigned char *ns = (const unsigned char *)w.norm.data;
        split_added(m, true, ns, w.norm.len, &w.normed);
        for (size_t k = 0; k < w.normed.n; k++) {
            const struct span *q = &w.normed.v[k];
            if (q->id >= 0)
                ids_push_added(out, q->id);
            else
                spm_pre_tokenize(m, ns + q->start, q->end - q->start,
                                 r->start == 0 && q->start == 0, out, &w);
        }
    }
    buf_free(&w.clean);
    buf_free(&w.norm);
    buf_free(&w.tmp);
    buf_free(&w.meta);
    free(w.raw.v);
    free(w.normed.v);
    free(w.best);
}

static void spm_free(struct spm *m)
{
    if (!m)
        return;
    free(m->score);
    index_free(&m->index);
    for (size_t i = 0; i < m->n_added; i++)
        free(m->added[i].text);
    free(m->added);
    free(m->units);
    free(m->repl);
    free(m);
}

static void spm_tokenizer_free(struct tokenizer *t)
{
    spm_free(t->state);
    free(t);
}

/* ---- sentencepiece.bpe.model: a ModelProto -------------------------------- */

/* A protobuf reader over [p, end); every read is bounds-checked. */
struct pb {
    const uint8_t *p, *end;
};

/* One field's payload: a varint or fixed value in u, or bytes p[0..n). */
struct pb_field {
    uint32_t number;
    int wire;
    uint64_t u;
    const uint8_t *p;
    size_t n;
};

static int pb_varint(struct pb *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p == r->end)
            return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Reads the next field: 1 when one was read into f, 0 at the end of the
 * message, -1 when it is malformed (truncated, or a group). */
static int pb_next(struct pb *r, struct pb_field *f)
{
    uint64_t tag;
    if (r->p == r->end)
        return 0;
    if (pb_varint(r, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
        return -1;
    f->number = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    size_t avail = (size_t)(r->end - r->p);
    switch (f->wire) {
    case 0:
        return pb_varint(r, &f->u) ? -1 : 1;
    case 1:
        if (avail < 8)
            return -1;
        f->u = le32(r->p) | (uint64_t)le32(r->p + 4) << 32;
        r->p += 8;
        return 1;
    case 2:
        if (pb_varint(r, &f->u) || f->u > (uint64_t)(r->end - r->p))
            return -1;
        f->p = r->p;
        f->n = (size_t)f->u;
        r->p += f->n;
        return 1;
    case 5:
        if (avail < 4)
            return -1;
        f->u = le32(r->p);
        r->p += 4;
        return 1;
    default:
        return -1;
    }
}

/* Parses one ModelProto.SentencePiece into r. */
static int pb_piece(const uint8_t *p, size_t n, struct piece_ref *r)
{
    struct pb in = {p, p + n};
    struct pb_field f;
    int rc;
    *r = (struct piece_ref){.s = "", .type = PIECE_NORMAL};
    while ((rc = pb_next(&in, &f)) == 1) {
        if (f.number == 1 && f.wire == 2) {
            r->s = (const char *)f.p;
            r->len = f.n;
        } else if (f.number == 2 && f.wire == 5) {
            uint32_t bits = (uint32_t)f.u;
            float score;
            memcpy(&score, &bits, sizeof score);
            r->score = score;
        } else if (f.number == 3 && f.wire == 0) {
            r->type = f.u <= PIECE_BYTE ? (int)f.u : 0;
        } else if (f.number <= 3) {
            return -1;
        }
    }
    return rc;
}

/* Applies the fields of a TrainerSpec (1) or NormalizerSpec (2) message.
 * The converter ignores the NormalizerSpec's whitespace flags. */
static int pb_spec(const uint8_t *p, size_t n, int which, struct spm_spec *s)
{
    struct pb in = {p, p + n};
    struct pb_field f;
    int rc;
    while ((rc = pb_next(&in, &f)) == 1) {
        if (which == 1) {
            if (f.number == 3 && f.wire == 0)
                s->model_type = f.u;
            else if (f.number == 24 && f.wire == 0)
                s->treat_whitespace_as_suffix = f.u != 0;
            else if (f.number == 35 && f.wire == 0)
                s->byte_fallback = f.u != 0;
        } else if (f.number == 2 && f.wire == 2) {
            s->charsmap = f.p;
            s->charsmap_len = f.n;
        }
    }
    return rc;
}

enum { T5_EXTRA_IDS = 100 };
static int fairseq_vocab(struct spm *m, struct piece_ref *refs, size_t n_refs,
                         struct err *e);
static int t5_vocab(struct spm *m, struct piece_ref *refs, size_t n_refs,
                    struct err *e);
static int deberta_vocab(struct spm *m, struct piece_ref *refs,
                         size_t n_refs, struct err *e);

/* Loads an XLM-R sentencepiece.bpe.model into m as transformers'
 * XLMRobertaConverter builds the fast tokenizer from it: vocabulary <s>
 * <pad> </s> <unk> (score 0), pieces 3.. (piece i -> id i + 1), <mask>
 * (score 0); Precompiled with the model's charsmap, Strip (right),
 * Replace(" {2,}", U+2581), Metaspace (prepend always, split); added tokens
 * <s> <pad> </s> <unk> <mask> (lstrip) and the control and user-defined
 * pieces, all matched unnormalized.  (A tokenizer.json beside the .model
 * replaces this pipeline: sentencepiece_load.)  SPM_LAYOUT_T5 is what
 * T5Converter builds from spiece.model (t5_vocab), SPM_LAYOUT_DEBERTA what
 * DebertaV2Converter builds from spm.model (deberta_vocab).  Returns 0, or
 * -1 and fills e (without the path). */
static int spm_read_model(struct spm *m, const uint8_t *data, size_t n,
                          enum spm_layout layout, struct err *e)
{
    struct spm_spec spec = {.model_type = 1};
    struct piece_ref *refs = NULL;
    size_t n_refs = 0, cap = 0;
    struct pb in = {data, data + n};
    struct pb_field f;
    int rc;
    size_t shift = layout == SPM_LAYOUT_FAIRSEQ; /* refs[i + shift]: piece i */
    while ((rc = pb_next(&in, &f)) == 1) {
        if (f.wire != 2 || f.number > 3)
            continue;
        if (f.number == 1) {
            grow((void **)&refs, &cap, n_refs + 3, sizeof *refs);
            if (pb_piece(f.p, f.n, &refs[n_refs + shift]) < 0) {
                free(refs);
                return err_set(e, "malformed piece %zu", n_refs);
            }
            n_refs++;
        } else if (pb_spec(f.p, f.n, (int)f.number - 1, &spec) < 0) {
            free(refs);
            return err_set(e, "malformed %s",
                           f.number == 2 ? "trainer_spec" : "normalizer_spec");
        }
    }
    if (rc < 0) {
        free(refs);
        return err_set(e, "not a SentencePiece model (malformed protobuf)");
    }
    if (spec.model_type != 1 || spec.byte_fallback ||
        spec.treat_whitespace_as_suffix) {
        free(refs);
        return err_set(e, "only Unigram models without byte_fallback or "
                          "treat_whitespace_as_suffix are supported");
    }
    /* refs[i + shift] holds piece i: the converter's ids. */
    static const char *const first[][3] = {
        [SPM_LAYOUT_FAIRSEQ] = {"<unk>", "<s>", "</s>"},
        [SPM_LAYOUT_T5] = {"<pad>", "</s>", "<unk>"},
        [SPM_LAYOUT_DEBERTA] = {"[PAD]", "[CLS]", "[SEP]"}};
    for (size_t i = 0; i < 3; i++)
        if (i >= n_refs || refs[i + shift].len != strlen(first[layout][i]) ||
            memcmp(refs[i + shift].s, first[layout][i],
                   refs[i + shift].len) != 0) {
            free(refs);
            return err_set(e, "pieces 0, 1, 2 must be %s, %s, %s (the %s "
                           "layout)", first[layout][0], first[layout][1],
                           first[layout][2],
                           layout == SPM_LAYOUT_T5       ? "T5"
                           : layout == SPM_LAYOUT_DEBERTA ? "DeBERTa"
                                                          : "XLM-RoBERTa");
        }
    /* SpmConverter's normalizers after Precompiled */
    m->steps[0] = (struct norm_step){.strip = true, .right = true};
    m->steps[1] = (struct norm_step){.content = SPACE_SYMBOL};
    m->n_steps = 2;
    if (layout == SPM_LAYOUT_T5) {
        grow((void **)&refs, &cap, n_refs + T5_EXTRA_IDS, sizeof *refs);
        rc = t5_vocab(m, refs, n_refs, e);
    } else if (layout == SPM_LAYOUT_DEBERTA) {
        rc = deberta_vocab(m, refs, n_refs, e);
    } else {
        rc = fairseq_vocab(m, refs, n_refs, e);
    }
    free(refs);
    m->prepend = PREPEND_ALWAYS;
    m->split = true;
    if (rc == 0)
        rc = spm_set_charsmap(m, spec.charsmap, spec.charsmap_len, e);
    return rc;
}

/* XLMRobertaConverter's vocabulary over refs[1..n_refs] (pieces), with
 * room for two more entries.  0, or -1 with e. */
static int fairseq_vocab(struct spm *m, struct piece_ref *refs, size_t n_refs,
                         struct err *e)
{
    static const char *const specials[] = {"<s>", "<pad>", "</s>", "<unk>"};
    for (size_t i = 0; i < 4; i++)
        refs[i] = (struct piece_ref){specials[i], strlen(specials[i]), 0.0,
                                     PIECE_CONTROL};
    refs[n_refs + 1] = (struct piece_ref){"<mask>", 6, 0.0, PIECE_CONTROL};
    size_t n_vocab = n_refs + 2;
    int rc = spm_build_vocab(m, refs, n_vocab, e);
    const struct spm_added plain = {0}, mask = {.lstrip = true};
    for (size_t i = 0; rc == 0 && i < n_vocab; i++)
        if (i < 4 || i == n_vocab - 1 || refs[i].type == PIECE_CONTROL ||
            refs[i].type == PIECE_USER_DEFINED)
            rc = spm_add_token(m, refs[i].s, refs[i].len, (int64_t)i,
                               i == n_vocab - 1 ? &mask : &plain, e);
    m->unk_id = 3;
    return rc;
}

/* DebertaV2Converter's vocabulary: refs[0..n_refs) (pieces; room for one
 * more), then [MASK]; added tokens the control, unknown and user-defined
 * pieces and [MASK]; its normalizer: Strip (both ends) before Precompiled,
 * then Replace(" {2,}", " ").  0, or -1 with e. */
static int deberta_vocab(struct spm *m, struct piece_ref *refs,
                         size_t n_refs, struct err *e)
{
    refs[n_refs] = (struct piece_ref){"[MASK]", 6, 0.0, PIECE_CONTROL};
    int rc = spm_build_vocab(m, refs, n_refs + 1, e);
    const struct spm_added plain = {0};
    for (size_t i = 0; rc == 0 && i <= n_refs; i++)
        if (refs[i].type == PIECE_CONTROL || refs[i].type == PIECE_UNKNOWN ||
            refs[i].type == PIECE_USER_DEFINED)
            rc = spm_add_token(m, refs[i].s, refs[i].len, (int64_t)i, &plain,
                               e);
    m->unk_id = 3;
    m->strip = true;
    m->steps[0] = (struct norm_step){.content = " "};
    m->n_steps = 1;
    return rc;
}

/* T5Converter's vocabulary: refs[0..n_refs) (pieces; room for
 * T5_EXTRA_IDS more), then <extra_id_99> ... <extra_id_0> (score 0); added
 * tokens the control, unknown and user-defined pieces and the extra ids.
 * 0, or -1 with e. */
static int t5_vocab(struct spm *m, struct piece_ref *refs, size_t n_refs,
                    struct err *e)
{
    size_t n_vocab = n_refs + T5_EXTRA_IDS;
    char (*extra)[16] = xmalloc(T5_EXTRA_IDS * sizeof *extra);
    for (size_t k = 0; k < T5_EXTRA_IDS; k++) {
        int len = snprintf(extra[k], sizeof extra[k], "<extra_id_%zu>",
                           T5_EXTRA_IDS - 1 - k);
        refs[n_refs + k] = (struct piece_ref){extra[k], (size_t)len, 0.0,
                                              PIECE_CONTROL};
    }
    int rc = spm_build_vocab(m, refs, n_vocab, e);
    const struct spm_added plain = {0};
    for (size_t i = 0; rc == 0 && i < n_vocab; i++)
        if (refs[i].type == PIECE_CONTROL || refs[i].type == PIECE_UNKNOWN ||
            refs[i].type == PIECE_USER_DEFINED)
            rc = spm_add_token(m, refs[i].s, refs[i].len, (int64_t)i, &plain,
                               e);
    free(extra);
    m->unk_id = 2;
    return rc;
}
/* ---- tokenizer.json ------------------------------------------------------- */

/* Decodes standard padded base64 s[0..n) into a new buffer (*out_len bytes);
 * NULL when malformed.  The caller frees. */
static uint8_t *base64_decode(const char *s, size_t n, size_t *out_len)
{
    if (n % 4)
        return NULL;
    uint8_t *out = xmalloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t acc = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i + k];
            int v;
            if (c >= 'A' && c <= 'Z')
                v = c - 'A';
            else if (c >= 'a' && c <= 'z')
                v = c - 'a' + 26;
            else if (c >= '0' && c <= '9')
                v = c - '0' + 52;
            else if (c == '+')
                v = 62;
            else if (c == '/')
                v = 63;
            else if (c == '=' && i + 4 == n && k >= 2)
                v = -1;
            else
                v = -2;
            if (v == -2 || (v >= 0 && pad)) {
                free(out);
                return NULL;
            }
            if (v < 0)
                pad++;
            acc = acc << 6 | (uint32_t)(v < 0 ? 0 : v);
        }
        out[o++] = (uint8_t)(acc >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(acc >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)acc;
    }
    *out_len = o;
    return out;
}

static bool json_str_is(const json_t *j, const char *s)
{
    return json_is_string(j) && strcmp(json_string_value(j), s) == 0;
}

/* Reads the normalizer: Precompiled (the charsmap, first if present),
 * then Strip and Replace(" {2,}", " " or U+2581) steps, alone or in a
 * Sequence, as XLM-R conversions write them.  The charsmap, when present,
 * is stored in *charsmap (owned by the caller).  Returns 0, or -1 and
 * fills e. */
static int json_normalizer(const json_t *j, struct spm *m,
                           struct spm_spec *spec, uint8_t **charsmap,
                           struct err *e)
{
    if (!j || json_is_null(j))
        return 0;
    const json_t *type = json_object_get(j, "type");
    if (json_str_is(type, "Sequence")) {
        const json_t *list = json_object_get(j, "normalizers");
        size_t i;
        const json_t *item;
        if (!json_is_array(list))
            return err_set(e, "normalizer: Sequence without normalizers");
        json_array_foreach(list, i, item)
            if (json_normalizer(item, m, spec, charsmap, e))
                return -1;
        return 0;
    }
    if (json_str_is(type, "Precompiled")) {
        const json_t *b64 = json_object_get(j, "precompiled_charsmap");
        if (*charsmap || m->n_steps)
            return err_set(e, "normalizer: Precompiled must come first, "
                              "and once");
        if (json_is_null(b64))
            return 0;
        if (!json_is_string(b64) ||
            !(*charsmap = base64_decode(json_string_value(b64),
                                        json_string_length(b64),
                                        &spec->charsmap_len)))
            return err_set(e, "normalizer: precompiled_charsmap is not "
                              "base64");
        spec->charsmap = *charsmap;
        return 0;
    }
    if (m->n_steps == sizeof m->steps / sizeof *m->steps)
        return err_set(e, "normalizer: too many steps");
    struct norm_step *st = &m->steps[m->n_steps];
    if (json_str_is(type, "Strip")) {
        *st = (struct norm_step){
            .strip = true,
            .left = json_is_true(json_object_get(j, "strip_left")),
            .right = json_is_true(json_object_get(j, "strip_right"))};
        m->n_steps++;
        return 0;
    }
    if (json_str_is(type, "Replace")) {
        const json_t *pattern = json_object_get(j, "pattern");
        const json_t *content = json_object_get(j, "content");
        if (json_str_is(json_object_get(pattern, "Regex"), " {2,}") &&
            (json_str_is(content, " ") || json_str_is(content, SPACE_SYMBOL))) {
            *st = (struct norm_step){
                .content = json_str_is(content, " ") ? " " : SPACE_SYMBOL};
            m->n_steps++;
            return 0;
        }
        return err_set(e, "normalizer: unsupported Replace rule");
    }
    return err_set(e, "normalizer: unsupported type %s",
                   json_is_string(type) ? json_string_value(type) : "?");
}

/* Reads the Metaspace pre-tokenizer: U+2581, its prepend scheme and split. */
static int json_pre_tokenizer(const json_t *j, struct spm *m, struct err *e)
{
    if (!json_str_is(json_object_get(j, "type"), "Metaspace"))
        return err_set(e, "pre_tokenizer: only Metaspace is supported");
    if (!json_str_is(json_object_get(j, "replacement"), SPACE_SYMBOL))
        return err_set(e, "pre_tokenizer: Metaspace replacement must be "
                          "U+2581");
    const json_t *scheme = json_object_get(j, "prepend_scheme");
    const json_t *add = json_object_get(j, "add_prefix_space");
    const json_t *split = json_object_get(j, "split");
    if (json_is_string(scheme)) {
        if (json_str_is(scheme, "always"))
            m->prepend = PREPEND_ALWAYS;
        else if (json_str_is(scheme, "first"))
            m->prepend = PREPEND_FIRST;
        else if (json_str_is(scheme, "never"))
            m->prepend = PREPEND_NEVER;
        else
            return err_set(e, "pre_tokenizer: unknown prepend_scheme");
    } else {
        m->prepend = json_is_false(add) ? PREPEND_NEVER : PREPEND_ALWAYS;
    }
    m->split = !json_is_false(split);
    return 0;
}

/* Reads added_tokens: each one's id (in the vocabulary), content and
 * single_word / lstrip / rstrip / normalized flags (normalized defaulting
 * to !special, as AddedToken).  Returns 0, or -1 and fills e. */
static int json_added_tokens(struct spm *m, const json_t *list, struct err *e)
{
    size_t i;
    const json_t *tok;
    if (list && !json_is_array(list) && !json_is_null(list))
        return err_set(e, "added_tokens is not an array");
    json_array_foreach(list, i, tok) {
        const json_t *id = json_object_get(tok, "id");
        const json_t *content = json_object_get(tok, "content");
        if (!json_is_integer(id) || !json_is_string(content))
            return err_set(e, "added_tokens[%zu] needs an id and a content",
                           i);
        const json_t *norm = json_object_get(tok, "normalized");
        struct spm_added flags = {
            .single_word = json_is_true(json_object_get(tok, "single_word")),
            .lstrip = json_is_true(json_object_get(tok, "lstrip")),
            .rstrip = json_is_true(json_object_get(tok, "rstrip")),
            .normalized = json_is_boolean(norm)
                              ? json_is_true(norm)
                              : !json_is_true(json_object_get(tok, "special")),
        };
        if (spm_add_token(m, json_string_value(content),
                          json_string_length(content), json_integer_value(id),
                          &flags, e))
            return -1;
    }
    return 0;
}

/* Replaces the text of each normalized added token by its normalized form,
 * the pattern `tokenizers` matches in normalized text. */
static void spm_normalize_added(struct spm *m)
{
    struct buf norm = {0}, tmp = {0};
    for (size_t i = 0; i < m->n_added; i++) {
        struct spm_added *a = &m->added[i];
        if (!a->normalized)
            continue;
        spm_normalize(m, (const unsigned char *)a->text, a->len, &norm, &tmp);
        free(a->text);
        a->text = xmalloc(norm.len + 1);
        memcpy(a->text, norm.data ? norm.data : "", norm.len);
        a->text[norm.len] = 0;
        a->len = norm.len;
        if (a->len == 0) /* matches nothing, as an empty pattern */
            a->normalized = false;
    }
    buf_free(&norm);
    buf_free(&tmp);
}

/* Replaces m's pipeline (added tokens, normalizer, pre-tokenizer) by
 * tokenizer.json's (members given; NULL when absent).  Returns 0, or -1
 * and fills e. */
static int spm_read_pipeline(struct spm *m, const json_t *normalizer,
                             const json_t *pre_tokenizer,
                             const json_t *added_tokens, struct err *e)
{
    for (size_t i = 0; i < m->n_added; i++)
        free(m->added[i].text);
    m->n_added = 0;
    m->n_steps = 0;
    free(m->units);
    free(m->repl);
    m->units = NULL;
    m->repl = NULL;
    m->n_units = m->repl_len = 0;

    struct spm_spec spec = {0};
    uint8_t *charsmap = NULL;
    int rc = json_added_tokens(m, added_tokens, e);
    if (rc == 0)
        rc = json_normalizer(normalizer, m, &spec, &charsmap, e);
    if (rc == 0)
        rc = json_pre_tokenizer(pre_tokenizer, m, e);
    if (rc == 0)
        rc = spm_set_charsmap(m, spec.charsmap, spec.charsmap_len, e);
    free(charsmap);
    if (rc == 0)
        spm_normalize_added(m);
    return rc;
}

/* Loads tokenizer.json's Unigram model and pipeline into m.  Returns 0, or
 * -1 and fills e (without the path). */
static int spm_read_json(struct spm *m, const json_t *root, struct err *e)
{
    const json_t *model = json_object_get(root, "model");
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *unk = json_object_get(model, "unk_id");
    if (!json_str_is(json_object_get(model, "type"), "Unigram"))
        return err_set(e, "model.type is not Unigram");
    if (!json_is_array(vocab) || json_array_size(vocab) < 4)
        return err_set(e, "model.vocab is missing");
    if (json_is_true(json_object_get(model, "byte_fallback")))
        return err_set(e, "byte_fallback is not supported");
    size_t n = json_array_size(vocab);
    if (!json_is_integer(unk) || json_integer_value(unk) != 3)
        return err_set(e, "model.unk_id must be 3 (the XLM-RoBERTa layout)");

    struct piece_ref *refs = xreallocarray(NULL, n, sizeof *refs);
    for (size_t i = 0; i < n; i++) {
        const json_t *entry = json_array_get(vocab, i);
        const json_t *piece = json_array_get(entry, 0);
        const json_t *score = json_array_get(entry, 1);
        if (json_array_size(entry) != 2 || !json_is_string(piece) ||
            !json_is_number(score)) {
            free(refs);
            return err_set(e, "model.vocab[%zu] is not [piece, score]", i);
        }
        refs[i] = (struct piece_ref){json_string_value(piece),
                                     json_string_length(piece),
                                     json_number_value(score), PIECE_NORMAL};
    }
    static const char *const layout[] = {"<s>", "<pad>", "</s>", "<unk>"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(refs[i].s, layout[i]) != 0) {
            free(refs);
            return err_set(e, "vocab ids 0-3 must be <s> <pad> </s> <unk> "
                              "(the XLM-RoBERTa layout)");
        }
    }
    int rc = spm_build_vocab(m, refs, n, e);
    free(refs);
    m->unk_id = 3;
    if (rc == 0)
        rc = spm_read_pipeline(m, json_object_get(root, "normalizer"),
                               json_object_get(root, "pre_tokenizer"),
                               json_object_get(root, "added_tokens"), e);
    return rc;
}

/* ---- tokenizer.json beside a .model ---------------------------------------- */

/* Skips the JSON string at t[i] ('"'); returns the index after it, or n. */
static size_t skip_string(const char *t, size_t n, size_t i)
{
    for (i++; i < n;) {
        const char *q = memchr(t + i, '"', n - i);
        if (!q)
            return n;
        size_t j = (size_t)(q - t), bs = 0;
        while (j - bs > i && t[j - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0) /* not escaped */
            return j + 1;
        i = j + 1;
    }
    return n;
}

/* Skips the JSON value at t[i] without parsing it (strings, nesting);
 * returns the index after it, or n when it does not end. */
static size_t skip_value(const char *t, size_t n, size_t i)
{
    if (t[i] == '"')
        return skip_string(t, n, i);
    if (t[i] != '{' && t[i] != '[') {
        while (i < n && !strchr(",}] \t\r\n", t[i]))
            i++;
        return i;
    }
    size_t depth = 0;
    while (i < n) {
        char c = t[i];
        if (c == '"') {
            i = skip_string(t, n, i);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return n;
}

static size_t skip_ws(const char *t, size_t n, size_t i)
{
    while (i < n && strchr(" \t\r\n", t[i]) && t[i])
        i++;
    return i;
}

/* Parses the top-level members of tokenizer.json text t[0..n) named
 * keys[0..n_keys) into vals (new references; NULL when absent), skipping
 * the others (the 250k-piece vocabulary) unparsed.  Returns 0, or -1 and
 * fills e. */
static int json_members(const char *t, size_t n, const char *const *keys,
                        size_t n_keys, json_t **vals, struct err *e)
{
    size_t i = skip_ws(t, n, 0);
    if (i == n || t[i] != '{')
        return err_set(e, "not a JSON object");
    for (i = skip_ws(t, n, i + 1); i < n && t[i] != '}';) {
        if (t[i] != '"')
            return err_set(e, "malformed JSON at byte %zu", i);
        size_t key = i + 1, key_end = skip_string(t, n, i);
        i = skip_ws(t, n, key_end);
        if (i == n || t[i] != ':')
            return err_set(e, "malformed JSON at byte %zu", i);
        i = skip_ws(t, n, i + 1);
        size_t start = i;
        i = i < n ? skip_value(t, n, i) : n;
        if (i == start || i == n)
            return err_set(e, "malformed JSON at byte %zu", start);
        for (size_t k = 0; k < n_keys; k++) {
            if (key_end - 1 - key != strlen(keys[k]) ||
                memcmp(t + key, keys[k], strlen(keys[k])) != 0)
                continue;
            json_error_t je;
            json_decref(vals[k]);
            vals[k] = json_loadb(t + start, i - start, JSON_DECODE_ANY, &je);
            if (!vals[k])
                return err_set(e, "%s: %s", keys[k], je.text);
        }
        i = skip_ws(t, n, i);
        if (i < n && t[i] == ',')
            i = skip_ws(t, n, i + 1);
    }
    return i < n ? 0 : err_set(e, "truncated JSON");
}

/* Gives m, read from a .model, the pipeline of the tokenizer.json at path
 * (what Hugging Face loads when both files are there).  Returns 0, or -1
 * and fills e (without the path). */
static int spm_read_json_pipeline(struct spm *m, const char *path,
                                  struct err *e)
{
    static const char *const keys[] = {"normalizer", "pre_tokenizer",
                                       "added_tokens"};
    json_t *vals[3] = {NULL, NULL, NULL};
    size_t n;
    char *text = read_file(path, &n, e);
    if (!text)
        return -1;
    int rc = json_members(text, n, keys, 3, vals, e);
    if (rc == 0)
        rc = spm_read_pipeline(m, vals[0], vals[1], vals[2], e);
    for (size_t k = 0; k < 3; k++)
        json_decref(vals[k]);
    free(text);
    return rc;
}

/* ---- loading -------------------------------------------------------------- */

/* The tokenizer over m, its special ids those of the layout. */
static struct tokenizer *spm_tokenizer(struct spm *m, enum spm_layout layout)
{
    struct tokenizer *t = xcalloc(1, sizeof *t);
    t->kind = "sentencepiece";
    t->tokenize = spm_tokenize;
    t->free = spm_tokenizer_free;
    t->state = m;
    t->vocab_size = m->n_pieces;
    for (size_t i = 0; i < m->n_added; i++)
        if ((size_t)m->added[i].id >= t->vocab_size)
            t->vocab_size = (size_t)m->added[i].id + 1;
    t->n_sep_middle = 2;
    t->second_type_one = false;
    if (layout == SPM_LAYOUT_T5) { /* no CLS: </s> ends a sequence */
        t->pad_id = 0;
        t->cls_id = t->sep_id = 1;
        t->unk_id = 2;
    } else if (layout == SPM_LAYOUT_DEBERTA) { /* [CLS] a [SEP] b [SEP] */
        t->pad_id = 0;
        t->cls_id = 1;
        t->sep_id = 2;
        t->unk_id = 3;
        t->n_sep_middle = 1;
        t->second_type_one = true;
    } else {
        t->cls_id = 0;
        t->pad_id = 1;
        t->sep_id = 2;
        t->unk_id = 3;
    }
    return t;
}

struct tokenizer *sentencepiece_load(const char *model_dir, struct err *e)
{
    struct buf path = {0};
    struct spm *m = xcalloc(1, sizeof *m);
    int rc;

    buf_printf(&path, "%s/sentencepiece.bpe.model", model_dir);
    if (access(path.data, F_OK) == 0) {
        size_t n;
        char *data = read_file(path.data, &n, e);
        rc = data ? spm_read_model(m, (const uint8_t *)data, n,
                                   SPM_LAYOUT_FAIRSEQ, e)
                  : -1;
        if (data && rc)
            err_prefix(e, "%s", path.data);
        free(data);
        path.len = 0;
        buf_printf(&path, "%s/tokenizer.json", model_dir);
        if (rc == 0 && access(path.data, F_OK) == 0 &&
            (rc = spm_read_json_pipeline(m, path.data, e)) != 0)
            err_prefix(e, "%s", path.data);
    } else {
        path.len = 0;
        buf_printf(&path, "%s/tokenizer.json", model_dir);
        json_error_t jerr;
        json_t *root = NULL;
        if (access(path.data, F_OK) != 0)
            rc = err_set(e, "%s: no sentencepiece.bpe.model or "
                            "tokenizer.json", model_dir);
        else if (!(root = json_load_file(path.data, 0, &jerr))) {
            rc = err_set(e, "%s: %s (line %d)", path.data, jerr.text,
                         jerr.line);
        } else if ((rc = spm_read_json(m, root, e)) != 0) {
            err_prefix(e, "%s", path.data);
        }
        json_decref(root);
    }
    buf_free(&path);
    if (rc) {
        spm_free(m);
        return NULL;
    }

    return spm_tokenizer(m, SPM_LAYOUT_FAIRSEQ);
}

struct tokenizer *sentencepiece_load_model(const char *path,
                                           enum spm_layout layout,
                                           struct err *e)
{
    size_t n;
    char *data = read_file(path, &n, e);
    if (!data)
        return NULL;
    struct spm *m = xcalloc(1, sizeof *m);
    int rc = spm_read_model(m, (const uint8_t *)data, n, layout, e);
    free(data);
    if (rc) {
        err_prefix(e, "%s", path);
        spm_free(m);
        return NULL;
    }
    return spm_tokenizer(m, layout);
}

int32_t sentencepiece_piece_id(const struct tokenizer *t, const char *piece)
{
    const struct spm *m = t->state;
    size_t len = strlen(piece);
    uint64_t h = HASH_FNV_BASIS;
    for (size_t k = 0; k < len; k++)
        h = hash_fnv_step(h, (unsigned char)piece[k]);
    return len ? index_find(&m->index, hash_mix64(h),
                            (const unsigned char *)piece, len)
               : -1;
}
