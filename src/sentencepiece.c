/* sentencepiece.c — SentencePiece Unigram tokenization (XLM-RoBERTa family),
 * exact against SentencePiece's EncodeAsIds.
 *
 * Three stages, each mirroring SentencePiece's own code:
 *   normalize  the precompiled charsmap (a darts-clone double-array trie over
 *              UTF-8 bytes; longest match wins, no match copies one UTF-8
 *              character, a malformed byte becomes U+FFFD), then whitespace:
 *              leading/trailing spaces dropped, runs collapsed, ' ' -> U+2581,
 *              a U+2581 dummy prefix.                      (normalizer.cc)
 *   segment    Viterbi over the normalized bytes maximizing the summed piece
 *              scores, a character no piece starts with becoming one unknown
 *              of score min_score - 10; ties keep the earliest start;
 *              a run of unknowns is emitted as one.
 *                                                (unigram_model.cc, optimized)
 *   map ids    piece numbers to model ids; a piece starting with U+2581
 *              starts a pre-token (Metaspace's split; ids_mark_word).
 * The vocabulary comes from sentencepiece.bpe.model (a ModelProto, read by a
 * small bounds-checked protobuf reader) or from tokenizer.json (jansson);
 * pieces are found by a hash of their bytes (struct piece_index).  Pair
 * templates and truncation are tokenizer.c's.
 *
 * tokenizer.json is read with the same SentencePiece semantics (what HF's
 * slow XLMRobertaTokenizer does).  HF's fast pipeline (Precompiled per
 * grapheme, Replace, Metaspace) can differ on rare inputs, e.g. trailing
 * whitespace or special-token text such as "<s>" inside a query. */
#include "sentencepiece.h"

#include <float.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
 * points into the file buffer or the JSON tree. */
struct piece_ref {
    const char *s;
    size_t len;
    float score;
    int type;   /* enum piece_type */
    int32_t id; /* the model id emitted for it */
};

/* The pieces SentencePiece keeps in its trie (NORMAL, USER_DEFINED,
 * UNUSED), found by content: a table of piece numbers keyed by a hash of the
 * bytes, and a bitset holding the hash of every prefix of every piece that
 * ends at a UTF-8 character boundary (or at the piece's end), which ends a
 * scan as soon as no piece can extend it.  The table is exact (bytes are
 * compared); the bitset only prunes.  Unlike a linked trie, building it
 * makes independent memory accesses, which keeps a 250k-piece load fast. */
struct piece_index {
    char *bytes;        /* every piece's bytes, concatenated */
    uint32_t *offset;   /* (n_pieces + 1) where each piece starts in bytes */
    uint32_t *slot;     /* (mask + 1) hash tag << 24 | (piece + 1); 0 empty */
    size_t mask;
    uint64_t *prefix;   /* (prefix_mask + 1) / 64 words of prefix bits */
    size_t prefix_mask;
    size_t max_len;     /* longest indexed piece */
};

struct spm {
    size_t n_pieces;
    float *score;      /* (n_pieces) */
    uint8_t *type;     /* (n_pieces) enum piece_type */
    int32_t *id;       /* (n_pieces) model id of each piece */
    int32_t unk_id;    /* model id of an unknown character */
    float min_score;   /* over NORMAL pieces; FLT_MAX when there is none */
    float max_score;   /* over NORMAL pieces and FLT_MIN, as SentencePiece */
    bool has_user_defined;
    struct piece_index index;

    /* Normalizer: darts-clone units and the replacement strings they index. */
    uint32_t *units;   /* (n_units), none for identity normalization */
    size_t n_units;
    char *repl;        /* (repl_len + 1) NUL-terminated strings, plus a NUL */
    size_t repl_len;
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
};

/* What sentencepiece.bpe.model (or tokenizer.json) says about normalization
 * and the model kind. */
struct spm_spec {
    uint64_t model_type; /* 1 = UNIGRAM */
    bool byte_fallback, treat_whitespace_as_suffix;
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
    const uint8_t *charsmap;
    size_t charsmap_len;
};

static const char SPACE_SYMBOL[] = "\xe2\x96\x81"; /* U+2581 */
static const float UNK_PENALTY = 10.0f;

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

static bool type_is_indexed(int type)
{
    return type == PIECE_NORMAL || type == PIECE_USER_DEFINED ||
           type == PIECE_UNUSED;
}

/* Builds the piece tables and the index from refs[0..n).  As SentencePiece,
 * NORMAL, USER_DEFINED and UNUSED pieces are matched in text and must be
 * unique; exactly one piece is UNKNOWN.  Returns 0, or -1 and fills e. */
static int spm_build_vocab(struct spm *m, const struct piece_ref *refs,
                           size_t n, struct err *e)
{
    struct piece_index *x = &m->index;
    size_t n_bytes = 0, n_indexed = 0, n_unk = 0, n_prefixes = 0;
    for (size_t i = 0; i < n; i++) {
        const struct piece_ref *r = &refs[i];
        if (r->len == 0)
            return err_set(e, "piece %zu is empty", i);
        if (r->type < PIECE_NORMAL || r->type > PIECE_BYTE)
            return err_set(e, "piece %zu has unknown type %d", i, r->type);
        if (size_add(n_bytes, r->len, &n_bytes) || n_bytes > UINT32_MAX ||
            n >= 0xffffff)
            return err_set(e, "vocabulary too large");
        n_unk += r->type == PIECE_UNKNOWN;
        if (!type_is_indexed(r->type))
            continue;
        n_indexed++;
        for (size_t k = 0; k < r->len; k++)
            n_prefixes += (r->s[k] & 0xc0) != 0x80;
    }
    if (n_unk != 1)
        return err_set(e, "the vocabulary must have exactly one unknown "
                          "piece, not %zu", n_unk);

    m->n_pieces = n;
    m->score = xreallocarray(NULL, n, sizeof *m->score);
    m->type = xreallocarray(NULL, n, sizeof *m->type);
    m->id = xreallocarray(NULL, n, sizeof *m->id);
    x->bytes = xmalloc(n_bytes);
    x->offset = xreallocarray(NULL, n + 1, sizeof *x->offset);
    for (x->mask = 1023; x->mask / 2 < n_indexed; x->mask = x->mask * 2 + 1)
        ;
    x->slot = xcalloc(x->mask + 1, sizeof *x->slot);
    /* At least 8 bits per prefix: under a 1-in-8 chance that a scan goes on
     * past the last prefix. */
    for (x->prefix_mask = 65535; x->prefix_mask / 8 < n_prefixes;
         x->prefix_mask = x->prefix_mask * 2 + 1)
        ;
    x->prefix = xcalloc((x->prefix_mask + 1) / 64, sizeof *x->prefix);

    m->min_score = FLT_MAX;
    m->max_score = FLT_MIN;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const struct piece_ref *r = &refs[i];
        m->score[i] = r->score;
        m->type[i] = (uint8_t)r->type;
        m->id[i] = r->id;
        x->offset[i] = (uint32_t)at;
        memcpy(x->bytes + at, r->s, r->len);
        at += r->len;
        x->offset[i + 1] = (uint32_t)at;
        if (r->type == PIECE_UNKNOWN)
            m->unk_id = r->id;
        if (r->type == PIECE_NORMAL) {
            if (r->score < m->min_score)
                m->min_score = r->score;
            if (r->score > m->max_score)
                m->max_score = r->score;
        }
        if (r->type == PIECE_USER_DEFINED)
            m->has_user_defined = true;
        if (type_is_indexed(r->type) && index_add(x, (uint32_t)i) < 0)
            return err_set(e, "piece %zu is already defined", i);
    }
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

/* Longest prefix of s[0..n) that the charsmap maps: returns its length (0
 * when none) and points *repl at its replacement.  Every unit index is
 * checked, and a value outside the strings counts as no match. */
static size_t charsmap_match(const struct spm *m, const unsigned char *s,
                             size_t n, const char **repl)
{
    size_t best = 0;
    size_t pos = unit_offset(m->units[0]);
    for (size_t i = 0; i < n; i++) {
        pos ^= s[i];
        if (pos >= m->n_units)
            break;
        uint32_t u = m->units[pos];
        if (unit_label(u) != s[i])
            break;
        pos ^= unit_offset(u);
        if (unit_has_leaf(u)) {
            if (pos >= m->n_units)
                break;
            uint32_t v = unit_value(m->units[pos]);
            if (v < m->repl_len) {
                best = i + 1;
                *repl = m->repl + v;
            }
        }
    }
    return best;
}

/* SentencePiece's OneCharLen: the length a UTF-8 lead byte announces. */
static size_t one_char_len(unsigned char c)
{
    return (size_t)"\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[c >> 4];
}

/* Longest user-defined piece at the start of s[0..n), or 0. */
static size_t user_defined_match(const struct spm *m, const unsigned char *s,
                                 size_t n)
{
    const struct piece_index *x = &m->index;
    size_t best = 0;
    uint64_t h = HASH_FNV_BASIS;
    for (size_t k = 0; k < n && k < x->max_len; k++) {
        h = hash_fnv_step(h, s[k]);
        uint64_t f = hash_mix64(h);
        if (!(k + 1 < n && (s[k + 1] & 0xc0) == 0x80) &&
            !index_has_prefix(x, f))
            break;
        int32_t p = index_find(x, f, s, k + 1);
        if (p >= 0 && m->type[p] == PIECE_USER_DEFINED)
            best = k + 1;
    }
    return best;
}

/* SentencePiece's NormalizePrefix: normalizes the start of s[0..n) (n > 0),
 * pointing *out (*out_len bytes) at the text it becomes; returns the bytes consumed
 * (at least 1).  User-defined pieces pass through unnormalized. */
static size_t normalize_prefix(const struct spm *m, const unsigned char *s,
                               size_t n, const char **out, size_t *out_len)
{
    size_t len;
    if (m->has_user_defined && (len = user_defined_match(m, s, n)) > 0) {
        *out = (const char *)s;
        *out_len = len;
        return len;
    }
    if (m->n_units && (len = charsmap_match(m, s, n, out)) > 0) {
        *out_len = strlen(*out);
        return len;
    }
    /* SentencePiece's IsValidDecodeUTF8 accepts exactly RFC 3629's
     * characters (and U+FFFD, which is one of them). */
    len = utf8_char_len((const char *)s, n);
    if (len == 0) {
        *out = "\xef\xbf\xbd"; /* U+FFFD for one malformed byte */
        *out_len = 3;
        return 1;
    }
    *out = (const char *)s;
    *out_len = len;
    return len;
}

static void put_space(const struct spm *m, struct buf *out)
{
    if (m->escape_whitespaces)
        buf_put(out, SPACE_SYMBOL, 3);
    else
        buf_putc(out, ' ');
}

/* SentencePiece's Normalizer::Normalize of s[0..n) into out (emptied first). */
static void spm_normalize(const struct spm *m, const unsigned char *s,
                          size_t n, struct buf *out)
{
    const char *r;
    size_t r_len, used;
    out->len = 0;
    if (m->remove_extra_whitespaces) {
        /* Drop leading characters that normalize to exactly one space. */
        while (n > 0) {
            used = normalize_prefix(m, s, n, &r, &r_len);
            if (r_len != 1 || r[0] != ' ')
                break;
            s += used;
            n -= used;
        }
    }
    if (n == 0)
        return;
    if (m->add_dummy_prefix)
        put_space(m, out);
    bool prev_space = m->remove_extra_whitespaces;
    while (n > 0) {
        used = normalize_prefix(m, s, n, &r, &r_len);
        while (prev_space && r_len > 0 && r[0] == ' ') {
            r++;
            r_len--;
        }
        if (r_len > 0) {
            for (size_t i = 0; i < r_len; i++) {
                if (m->escape_whitespaces && r[i] == ' ')
                    buf_put(out, SPACE_SYMBOL, 3);
                else
                    buf_putc(out, r[i]);
            }
            prev_space = r[r_len - 1] == ' ';
        }
        s += used;
        n -= used;
        if (!m->remove_extra_whitespaces)
            prev_space = false;
    }
    if (m->remove_extra_whitespaces) {
        const char *sp = m->escape_whitespaces ? SPACE_SYMBOL : " ";
        size_t sp_len = strlen(sp);
        while (out->len >= sp_len &&
               memcmp(out->data + out->len - sp_len, sp, sp_len) == 0)
            out->len -= sp_len;
    }
}

/* ---- segmentation ---------------------------------------------------------- */

/* The best path ending at one byte position. */
struct best_node {
    float score;   /* total score of the best path ending here */
    int32_t piece; /* its last piece, -1 for an unknown character */
    int64_t start; /* where that piece starts; -1 while unreached */
};

/* SentencePiece's optimized Viterbi over s[0..n) (n > 0); appends the ids of
 * the best segmentation to out.  Score arithmetic is float as there, except
 * the user-defined bonus, which SentencePiece computes in double. */
static void spm_viterbi(const struct spm *m, const unsigned char *s, size_t n,
                        struct ids *out)
{
    struct best_node *best = xreallocarray(NULL, n + 1, sizeof *best);
    for (size_t i = 0; i <= n; i++)
        best[i] = (struct best_node){0.0f, -1, -1};
    const float unk_score = m->min_score - UNK_PENALTY;

    for (size_t start = 0; start < n;) {
        const float base = best[start].score;
        size_t mblen = one_char_len(s[start]);
        if (mblen > n - start)
            mblen = n - start;
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
            if (p < 0 || m->type[p] == PIECE_UNUSED)
                continue;
            struct best_node *b = &best[k + 1];
            if (m->type[p] == PIECE_USER_DEFINED) {
                /* A bonus that makes user-defined pieces always win. */
                double total = ((float)length * m->max_score - 0.1) + base;
                if (b->start < 0 || total > b->score)
                    *b = (struct best_node){(float)total, p, (int64_t)start};
            } else {
                float total = m->score[p] + base;
                if (b->start < 0 || total > b->score)
                    *b = (struct best_node){total, p, (int64_t)start};
            }
            if (length == mblen)
                has_single = true;
        }
        if (!has_single) {
            struct best_node *b = &best[start + mblen];
            float total = unk_score + base;
            if (b->start < 0 || total > b->score)
                *b = (struct best_node){total, -1, (int64_t)start};
        }
        start += mblen;
    }

    /* Backtrack from the end, then put the ids in reading order.  As
     * SentencePiece's EncodeAsIds, a run of unknown characters becomes one
     * unknown id. */
    size_t first = out->n;
    bool prev_unk = false;
    for (size_t end = n; end > 0; end = (size_t)best[end].start) {
        int32_t p = best[end].piece;
        if (p < 0 && !prev_unk)
            ids_push(out, m->unk_id);
        else if (p >= 0)
            ids_push(out, m->id[p]);
        prev_unk = p < 0;
    }
    for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
        int32_t t = out->v[i];
        out->v[i] = out->v[j - 1];
        out->v[j - 1] = t;
    }
    /* Hugging Face's pre-tokens (Metaspace) start at U+2581: the first
     * piece and each piece that starts with it.  Walk forward in the same
     * order as the ids. */
    size_t k = out->n;
    for (size_t end = n; end > 0; end = (size_t)best[end].start) {
        size_t start = (size_t)best[end].start;
        bool unk_run = best[end].piece < 0 && start > 0 &&
                       best[start].piece < 0;
        if (unk_run)
            continue;
        k--;
        if (start == 0 || (n - start >= 3 &&
                           memcmp(s + start, SPACE_SYMBOL, 3) == 0))
            ids_mark_word(out, k);
    }
    free(best);
}

static void spm_tokenize(const struct tokenizer *t, const char *text,
                         size_t len, struct ids *out)
{
    const struct spm *m = t->state;
    struct buf norm = {0};
    spm_normalize(m, (const unsigned char *)text, len, &norm);
    if (norm.len > 0)
        spm_viterbi(m, (const unsigned char *)norm.data, norm.len, out);
    buf_free(&norm);
}

static void spm_free(struct spm *m)
{
    if (!m)
        return;
    free(m->score);
    free(m->type);
    free(m->id);
    index_free(&m->index);
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

/* Parses one ModelProto.SentencePiece into r (id left to the caller). */
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
            memcpy(&r->score, &bits, sizeof r->score);
        } else if (f.number == 3 && f.wire == 0) {
            r->type = f.u <= PIECE_BYTE ? (int)f.u : 0;
        } else if (f.number <= 3) {
            return -1;
        }
    }
    return rc;
}

/* Applies the fields of a TrainerSpec (1) or NormalizerSpec (2) message. */
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
        } else {
            if (f.number == 2 && f.wire == 2) {
                s->charsmap = f.p;
                s->charsmap_len = f.n;
            } else if (f.number == 3 && f.wire == 0) {
                s->add_dummy_prefix = f.u != 0;
            } else if (f.number == 4 && f.wire == 0) {
                s->remove_extra_whitespaces = f.u != 0;
            } else if (f.number == 5 && f.wire == 0) {
                s->escape_whitespaces = f.u != 0;
            }
        }
    }
    return rc;
}

/* The model id HF's XLMRobertaTokenizer gives spm piece i: the fairseq
 * specials by name, else i + 1 (an unknown piece is <unk>). */
static int32_t fairseq_id(const struct piece_ref *r, size_t i)
{
    static const char *const specials[] = {"<s>", "<pad>", "</s>", "<unk>"};
    if (r->type == PIECE_UNKNOWN)
        return 3;
    if (r->len && r->s[0] == '<')
        for (int32_t k = 0; k < 4; k++)
            if (r->len == strlen(specials[k]) &&
                memcmp(r->s, specials[k], r->len) == 0)
                return k;
    return (int32_t)i + 1;
}

/* Loads a SentencePiece .model into m, ids in the given layout (XLM-R's
 * sentencepiece.bpe.model: fairseq; T5's spiece.model: piece numbers).
 * Returns 0, or -1 and fills e (without the path). */
static int spm_read_model(struct spm *m, const uint8_t *data, size_t n,
                          enum spm_layout layout, struct err *e)
{
    struct spm_spec spec = {.model_type = 1, .add_dummy_prefix = true,
                            .remove_extra_whitespaces = true,
                            .escape_whitespaces = true};
    struct piece_ref *refs = NULL;
    size_t n_refs = 0, cap = 0;
    struct pb in = {data, data + n};
    struct pb_field f;
    int rc;
    while ((rc = pb_next(&in, &f)) == 1) {
        if (f.wire != 2 || f.number > 3)
            continue;
        if (f.number == 1) {
            grow((void **)&refs, &cap, n_refs + 1, sizeof *refs);
            if (pb_piece(f.p, f.n, &refs[n_refs]) < 0) {
                free(refs);
                return err_set(e, "malformed piece %zu", n_refs);
            }
            refs[n_refs].id = layout == SPM_LAYOUT_T5
                                  ? (int32_t)n_refs
                                  : fairseq_id(&refs[n_refs], n_refs);
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
    static const char *const first[][3] = {
        [SPM_LAYOUT_FAIRSEQ] = {"<unk>", "<s>", "</s>"},
        [SPM_LAYOUT_T5] = {"<pad>", "</s>", "<unk>"}};
    for (size_t i = 0; i < 3; i++)
        if (i >= n_refs || refs[i].len != strlen(first[layout][i]) ||
            memcmp(refs[i].s, first[layout][i], refs[i].len) != 0) {
            free(refs);
            return err_set(e, "pieces 0, 1, 2 must be %s, %s, %s (the %s "
                           "layout)", first[layout][0], first[layout][1],
                           first[layout][2],
                           layout == SPM_LAYOUT_T5 ? "T5" : "XLM-RoBERTa");
        }
    m->add_dummy_prefix = spec.add_dummy_prefix;
    m->remove_extra_whitespaces = spec.remove_extra_whitespaces;
    m->escape_whitespaces = spec.escape_whitespaces;
    rc = spm_build_vocab(m, refs, n_refs, e);
    free(refs);
    if (rc == 0)
        rc = spm_set_charsmap(m, spec.charsmap, spec.charsmap_len, e);
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

/* Reads a normalizer of the XLM-R conversion: Precompiled (the charsmap)
 * and Replace(" {2,}", " "), alone or in a Sequence.  The charsmap, when
 * present, is stored in *charsmap (owned by the caller).  Returns 0, or -1
 * and fills e. */
static int json_normalizer(const json_t *j, struct spm_spec *spec,
                           uint8_t **charsmap, struct err *e)
{
    if (json_is_null(j))
        return 0;
    const json_t *type = json_object_get(j, "type");
    if (json_str_is(type, "Sequence")) {
        const json_t *list = json_object_get(j, "normalizers");
        size_t i;
        const json_t *item;
        if (!json_is_array(list))
            return err_set(e, "normalizer: Sequence without normalizers");
        json_array_foreach(list, i, item)
            if (json_normalizer(item, spec, charsmap, e))
                return -1;
        return 0;
    }
    if (json_str_is(type, "Precompiled")) {
        const json_t *b64 = json_object_get(j, "precompiled_charsmap");
        if (*charsmap)
            return err_set(e, "normalizer: two Precompiled normalizers");
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
    if (json_str_is(type, "Replace")) {
        const json_t *pattern = json_object_get(j, "pattern");
        if (json_str_is(json_object_get(pattern, "Regex"), " {2,}") &&
            json_str_is(json_object_get(j, "content"), " ")) {
            spec->remove_extra_whitespaces = true;
            return 0;
        }
        return err_set(e, "normalizer: unsupported Replace rule");
    }
    return err_set(e, "normalizer: unsupported type %s",
                   json_is_string(type) ? json_string_value(type) : "?");
}

/* Reads the Metaspace pre-tokenizer: U+2581 escaping and the dummy prefix. */
static int json_pre_tokenizer(const json_t *j, struct spm_spec *spec,
                              struct err *e)
{
    if (!json_str_is(json_object_get(j, "type"), "Metaspace"))
        return err_set(e, "pre_tokenizer: only Metaspace is supported");
    if (!json_str_is(json_object_get(j, "replacement"), SPACE_SYMBOL))
        return err_set(e, "pre_tokenizer: Metaspace replacement must be "
                          "U+2581");
    const json_t *scheme = json_object_get(j, "prepend_scheme");
    const json_t *add = json_object_get(j, "add_prefix_space");
    if (json_is_string(scheme)) {
        if (json_str_is(scheme, "always") || json_str_is(scheme, "first"))
            spec->add_dummy_prefix = true;
        else if (json_str_is(scheme, "never"))
            spec->add_dummy_prefix = false;
        else
            return err_set(e, "pre_tokenizer: unknown prepend_scheme");
    } else {
        spec->add_dummy_prefix = !json_is_false(add);
    }
    spec->escape_whitespaces = true;
    return 0;
}

/* Loads tokenizer.json's Unigram model into m with SentencePiece's
 * semantics: special added tokens are control pieces (never matched in
 * text), other added tokens user-defined ones.  Returns 0, or -1 and fills
 * e (without the path). */
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
                                     (float)json_number_value(score),
                                     PIECE_NORMAL, (int32_t)i};
    }
    static const char *const layout[] = {"<s>", "<pad>", "</s>", "<unk>"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(refs[i].s, layout[i]) != 0) {
            free(refs);
            return err_set(e, "vocab ids 0-3 must be <s> <pad> </s> <unk> "
                              "(the XLM-RoBERTa layout)");
        }
        refs[i].type = PIECE_CONTROL;
    }
    refs[3].type = PIECE_UNKNOWN;

    size_t i;
    const json_t *tok;
    json_array_foreach(json_object_get(root, "added_tokens"), i, tok) {
        const json_t *id = json_object_get(tok, "id");
        const json_t *content = json_object_get(tok, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 4 ||
            (uint64_t)json_integer_value(id) >= n)
            continue;
        struct piece_ref *r = &refs[json_integer_value(id)];
        if (json_str_is(content, r->s))
            r->type = json_is_true(json_object_get(tok, "special"))
                          ? PIECE_CONTROL
                          : PIECE_USER_DEFINED;
    }

    struct spm_spec spec = {0};
    uint8_t *charsmap = NULL;
    int rc = spm_build_vocab(m, refs, n, e);
    free(refs);
    if (rc == 0)
        rc = json_normalizer(json_object_get(root, "normalizer"), &spec,
                             &charsmap, e);
    if (rc == 0)
        rc = json_pre_tokenizer(json_object_get(root, "pre_tokenizer"), &spec,
                                e);
    if (rc == 0)
        rc = spm_set_charsmap(m, spec.charsmap, spec.charsmap_len, e);
    free(charsmap);
    m->add_dummy_prefix = spec.add_dummy_prefix;
    m->remove_extra_whitespaces = spec.remove_extra_whitespaces;
    m->escape_whitespaces = spec.escape_whitespaces;
    return rc;
}

/* ---- loading -------------------------------------------------------------- */

/* The tokenizer over m, its special ids those of the layout. */
static struct tokenizer *spm_tokenizer(struct spm *m, enum spm_layout layout,
                                       size_t vocab_size)
{
    struct tokenizer *t = xcalloc(1, sizeof *t);
    t->kind = "sentencepiece";
    t->tokenize = spm_tokenize;
    t->free = spm_tokenizer_free;
    t->state = m;
    if (layout == SPM_LAYOUT_T5) { /* no CLS: </s> ends a sequence */
        t->pad_id = 0;
        t->cls_id = t->sep_id = 1;
        t->unk_id = 2;
    } else {
        t->cls_id = 0;
        t->pad_id = 1;
        t->sep_id = 2;
        t->unk_id = 3;
    }
    t->n_sep_middle = 2;
    t->second_type_one = false;
    t->vocab_size = vocab_size;
    return t;
}

struct tokenizer *sentencepiece_load(const char *model_dir, struct err *e)
{
    struct buf path = {0};
    struct spm *m = xcalloc(1, sizeof *m);
    size_t vocab_size = 0;
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
        /* HF inserts <pad> at 1 and appends <mask>. */
        vocab_size = m->n_pieces + 2;
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
        vocab_size = m->n_pieces;
    }
    buf_free(&path);
    if (rc) {
        spm_free(m);
        return NULL;
    }

    return spm_tokenizer(m, SPM_LAYOUT_FAIRSEQ, vocab_size);
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
    return spm_tokenizer(m, layout, layout == SPM_LAYOUT_T5 ? m->n_pieces
                                                            : m->n_pieces + 2);
}

int32_t sentencepiece_piece_id(const struct tokenizer *t, const char *piece)
{
    const struct spm *m = t->state;
    size_t len = strlen(piece);
    uint64_t h = HASH_FNV_BASIS;
    for (size_t k = 0; k < len; k++)
        h = hash_fnv_step(h, (unsigned char)piece[k]);
    int32_t p = len ? index_find(&m->index, hash_mix64(h),
                                 (const unsigned char *)piece, len)
                    : -1;
    return p < 0 ? -1 : m->id[p];
}
