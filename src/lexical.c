/* lexical.c — scorers that need no model: Okapi BM25 over the group's own
 * candidates, and two ablation baselines (identity, random).
 *
 * BM25 treats the group as the collection: N is the number of candidates,
 * document frequencies and the average length come from the group.
 *   score(d) = sum over query terms t (with multiplicity) of
 *              idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))
 *   idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))      (never negative)
 * Terms are maximal runs of letters, marks and digits after NFKC case
 * folding (utf8proc); each CJK ideograph, kana or hangul syllable is a term
 * of its own, since those scripts do not separate words with spaces. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "scorer.h"

struct term {
    char *s;
    size_t n;
    double qtf; /* occurrences in the query */
    long df;
};

struct bm25 {
    struct bm25_params p;
    struct term *terms;
    size_t n_terms, cap_terms;
    long *tf;      /* (n_terms) counts for the document being scanned */
    double *tfs;   /* (n_cands, n_terms) */
    size_t cap_tfs;
    double *lens;  /* (n_cands) */
    size_t cap_lens;
    struct buf word;
};

static bool is_ideograph(utf8proc_int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2FA1F) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x3040 && c <= 0x30FF) || (c >= 0xAC00 && c <= 0xD7AF);
}

static bool is_word_char(utf8proc_int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

/* Calls fn for each term of text (case-folded, NFKC).  Returns the number
 * of terms. */
static long for_each_term(struct buf *word, const char *text, size_t len,
                          void (*fn)(const char *w, size_t n, void *ctx), void *ctx)
{
    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len,
                                      &folded, UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                      UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
    long count = 0;
    if (n < 0) /* not reachable for validated UTF-8; score it as empty */
        return 0;
    word->len = 0;
    for (utf8proc_ssize_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(folded + i, n - i, &c);
        if (k <= 0)
            break;
        bool ideo = is_ideograph(c);
        if ((ideo || !is_word_char(c)) && word->len) {
            fn(word->data, word->len, ctx);
            count++;
            word->len = 0;
        }
        if (ideo) {
            fn((const char *)folded + i, (size_t)k, ctx);
            count++;
        } else if (is_word_char(c)) {
            buf_put(word, folded + i, (size_t)k);
        }
        i += k;
    }
    if (word->len) {
        fn(word->data, word->len, ctx);
        count++;
    }
    free(folded);
    return count;
}

static void add_query_term(const char *w, size_t n, void *ctx)
{
    struct bm25 *b = ctx;
    for (size_t i = 0; i < b->n_terms; i++) {
        if (b->terms[i].n == n && memcmp(b->terms[i].s, w, n) == 0) {
            b->terms[i].qtf++;
            return;
        }
    }
    grow((void **)&b->terms, &b->cap_terms, b->n_terms + 1, sizeof *b->terms);
    b->terms[b->n_terms++] = (struct term){xstrndup(w, n), n, 1, 0};
}

/* Query terms are few: a linear scan beats hashing here. */
static void count_doc_term(const char *w, size_t n, void *ctx)
{
    struct bm25 *b = ctx;
    for (size_t i = 0; i < b->n_terms; i++)
        if (b->terms[i].n == n && memcmp(b->terms[i].s, w, n) == 0)
            b->tf[i]++;
}

static int bm25_score(struct scorer *s, struct group *g, struct err *e)
{
    struct bm25 *b = s->state;
    for (size_t i = 0; i < b->n_terms; i++)
        free(b->terms[i].s);
    b->n_terms = 0;
    for_each_term(&b->word, g->query, group_query_len(g), add_query_term, b);

    size_t nt = b->n_terms, nc = g->n_cands;
    b->tf = xreallocarray(b->tf, nt ? nt : 1, sizeof *b->tf);
    grow((void **)&b->tfs, &b->cap_tfs, nc * nt + 1, sizeof *b->tfs);
    grow((void **)&b->lens, &b->cap_lens, nc + 1, sizeof *b->lens);
    double total = 0;
    for (size_t d = 0; d < nc; d++) {
        memset(b->tf, 0, nt * sizeof *b->tf);
        long len = for_each_term(&b->word, g->cands[d].text, g->cands[d].text_len,
                                 count_doc_term, b);
        b->lens[d] = (double)len;
        total += (double)len;
        for (size_t t = 0; t < nt; t++) {
            b->tfs[d * nt + t] = (double)b->tf[t];
            if (b->tf[t])
                b->terms[t].df++;
        }
    }
    double avgdl = nc && total > 0 ? total / (double)nc : 1;
    for (size_t d = 0; d < nc; d++) {
        double score = 0, norm = b->p.k1 * (1 - b->p.b + b->p.b * b->lens[d] / avgdl);
        for (size_t t = 0; t < nt; t++) {
            double tf = b->tfs[d * nt + t];
            if (tf == 0)
                continue;
            double df = (double)b->terms[t].df;
            double idf = log(1 + ((double)nc - df + 0.5) / (df + 0.5));
            score += b->terms[t].qtf * idf * tf * (b->p.k1 + 1) / (tf + norm);
        }
        g->cands[d].score = score;
    }
    return 0;
}

static void bm25_free(struct scorer *s)
{
    struct bm25 *b = s->state;
    for (size_t i = 0; i < b->n_terms; i++)
        free(b->terms[i].s);
    free(b->terms);
    free(b->tf);
    free(b->tfs);
    free(b->lens);
    buf_free(&b->word);
    free(b);
    free(s);
}

struct scorer *bm25_scorer_new(struct bm25_params p)
{
    struct scorer *s = xcalloc(1, sizeof *s);
    struct bm25 *b = xcalloc(1, sizeof *b);
    b->p = p;
    *s = (struct scorer){"bm25", bm25_score, bm25_free, b};
    return s;
}

/* identity: the input order, as scores n, n-1, ..., 1. */
static int identity_score(struct scorer *s, struct group *g, struct err *e)
{
    for (size_t i = 0; i < g->n_cands; i++)
        g->cands[i].score = (double)(g->n_cands - i);
    return 0;
}

static void simple_free(struct scorer *s)
{
    free(s->state);
    free(s);
}

struct scorer *identity_scorer_new(void)
{
    struct scorer *s = xcalloc(1, sizeof *s);
    *s = (struct scorer){"identity", identity_score, simple_free, NULL};
    return s;
}

/* random: a uniform score in [0, 1) that depends only on the seed, the
 * query id (or query text) and the docid, so a run is reproducible and a
 * sharded run gives the same scores as a whole one. */
static int random_score(struct scorer *s, struct group *g, struct err *e)
{
    uint64_t seed = *(uint64_t *)s->state;
    const char *q = g->qid ? g->qid : g->query;
    uint64_t hq = hash_bytes(q, strlen(q), hash_mix64(seed));
    for (size_t i = 0; i < g->n_cands; i++) {
        const char *d = g->cands[i].docid;
        uint64_t h = hash_mix64(hash_bytes(d, strlen(d), hq));
        g->cands[i].score = (double)(h >> 11) * 0x1.0p-53;
    }
    return 0;
}

struct scorer *random_scorer_new(unsigned long long seed)
{
    struct scorer *s = xcalloc(1, sizeof *s);
    uint64_t *st = xmalloc(sizeof *st);
    *st = seed;
    *s = (struct scorer){"random", random_score, simple_free, st};
    return s;
}
