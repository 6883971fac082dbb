/* crossenc.c — the cross-encoder scorer (see crossenc.h).
 *
 * Per group: the query is tokenized once; each document is tokenized, paired
 * with it (truncated longest_first, or cut into windows), and the pairs are
 * run through the model in batches of about BATCH_TOKENS tokens.  The model
 * packs a batch without padding, so a pair's score does not depend on what
 * else is in its batch. */
#include "crossenc.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bert.h"

enum { BATCH_TOKENS = 8192 };

struct crossenc {
    struct crossenc_options o;
    struct tokenizer *tok;
    struct bert_model *model;
    size_t n_labels, label;
    struct ids query, doc;
    /* The pending batch: encodings and which candidate each belongs to. */
    struct encoding *encs;
    const struct encoding **enc_ptrs;
    size_t *owner;
    size_t n_encs, cap_encs, batch_tokens;
    float *logits;       /* (cap_encs, n_labels) */
    size_t cap_logits;
};

/* model_max_length from tokenizer_config.json; 0 when absent or unset
 * (transformers writes a huge number for "no limit"). */
static size_t config_model_max_length(const char *dir)
{
    struct buf p = {0};
    buf_printf(&p, "%s/tokenizer_config.json", dir);
    json_t *root = json_load_file(p.data, 0, NULL);
    buf_free(&p);
    json_t *v = json_object_get(root, "model_max_length");
    size_t n = 0;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (d >= 1 && d < 1e9)
            n = (size_t)d;
    }
    json_decref(root);
    return n;
}

static float label_score(const struct crossenc *c, const float *logits)
{
    if (c->n_labels == 1) {
        float x = logits[0];
        return c->o.activation == ACTIVATION_SIGMOID ? 1.0f / (1.0f + expf(-x)) : x;
    }
    float max = logits[0];
    for (size_t i = 1; i < c->n_labels; i++)
        max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (size_t i = 0; i < c->n_labels; i++)
        sum += exp((double)(logits[i] - max));
    return (float)(exp((double)(logits[c->label] - max)) / sum);
}

/* The document tokens one window may hold next to the query. */
static size_t window_size(const struct crossenc *c, size_t nq)
{
    size_t budget = c->o.max_length - tokenizer_pair_specials(c->tok);
    return nq <= budget / 2 ? budget - nq : budget - budget / 2;
}

/* Encodes candidate i of g into one or more pending encodings.  Calls
 * back for each when fn is set (--tokenize), else queues them. */
static struct encoding *next_slot(struct crossenc *c, size_t owner)
{
    if (c->n_encs == c->cap_encs) {
        size_t old = c->cap_encs;
        grow((void **)&c->encs, &c->cap_encs, c->n_encs + 1, sizeof *c->encs);
        memset(c->encs + old, 0, (c->cap_encs - old) * sizeof *c->encs);
        c->enc_ptrs = xreallocarray(c->enc_ptrs, c->cap_encs, sizeof *c->enc_ptrs);
        c->owner = xreallocarray(c->owner, c->cap_encs, sizeof *c->owner);
    }
    c->owner[c->n_encs] = owner;
    return &c->encs[c->n_encs++];
}

static size_t encode_candidate(struct crossenc *c, const struct candidate *cand, size_t i)
{
    c->doc.n = 0;
    c->tok->tokenize(c->tok, cand->text, cand->text_len, &c->doc);
    size_t nq = c->query.n, nd = c->doc.n, w = window_size(c, nq);
    if (c->o.long_mode == LONG_FIRST || nd <= w) {
        struct encoding *enc = next_slot(c, i);
        tokenizer_encode_pair(c->tok, c->query.v, nq, c->doc.v, nd, c->o.max_length, enc);
        return 1;
    }
    size_t overlap = c->o.stride ? c->o.stride : w / 4;
    if (overlap >= w)
        overlap = w / 2;
    size_t step = w - overlap, n = 0;
    for (size_t start = 0;; start += step) {
        size_t len = nd - start < w ? nd - start : w;
        struct encoding *enc = next_slot(c, i);
        tokenizer_encode_pair(c->tok, c->query.v, nq, c->doc.v + start, len,
                              c->o.max_length, enc);
        n++;
        if (start + len >= nd)
            break;
    }
    return n;
}

/* Runs the pending encodings through the model and folds their scores into
 * the candidates (the maximum over a candidate's windows). */
static int flush_batch(struct crossenc *c, struct group *g, struct err *e)
{
    if (!c->n_encs)
        return 0;
    size_t need = c->n_encs * c->n_labels;
    grow((void **)&c->logits, &c->cap_logits, need, sizeof *c->logits);
    for (size_t k = 0; k < c->n_encs; k++)
        c->enc_ptrs[k] = &c->encs[k];
    if (bert_forward(c->model, c->enc_ptrs, c->n_encs, c->logits, e) < 0)
        return -1;
    for (size_t k = 0; k < c->n_encs; k++) {
        double s = label_score(c, c->logits + k * c->n_labels);
        struct candidate *cand = &g->cands[c->owner[k]];
        if (isnan(cand->score) || s > cand->score)
            cand->score = s;
    }
    c->n_encs = 0;
    c->batch_tokens = 0;
    return 0;
}

static void tokenize_query(struct crossenc *c, const struct group *g)
{
    c->query.n = 0;
    c->tok->tokenize(c->tok, g->query, strlen(g->query), &c->query);
}

static int crossenc_score(struct scorer *s, struct group *g, struct err *e)
{
    struct crossenc *c = s->state;
    tokenize_query(c, g);
    c->n_encs = 0;
    c->batch_tokens = 0;
    for (size_t i = 0; i < g->n_cands; i++) {
        g->cands[i].score = NAN;
        size_t first = c->n_encs;
        encode_candidate(c, &g->cands[i], i);
        for (size_t k = first; k < c->n_encs; k++)
            c->batch_tokens += c->encs[k].input_ids.n;
        if (c->batch_tokens >= BATCH_TOKENS) {
            if (flush_batch(c, g, e) < 0)
                return -1;
            scorer_progress(s, i + 1, g->n_cands);
        }
    }
    return flush_batch(c, g, e);
}

int crossenc_encode_group(struct scorer *s, const struct group *g,
                          void (*fn)(size_t, size_t, const struct encoding *, void *),
                          void *ctx, struct err *e)
{
    struct crossenc *c = s->state;
    tokenize_query(c, g);
    for (size_t i = 0; i < g->n_cands; i++) {
        c->n_encs = 0;
        size_t n = encode_candidate(c, &g->cands[i], i);
        for (size_t k = 0; k < n; k++)
            fn(i, k, &c->encs[k], ctx);
    }
    c->n_encs = 0;
    return 0;
}

size_t crossenc_max_length(const struct scorer *s)
{
    return ((const struct crossenc *)s->state)->o.max_length;
}

static void crossenc_free(struct scorer *s)
{
    struct crossenc *c = s->state;
    for (size_t k = 0; k < c->cap_encs; k++)
        encoding_free(&c->encs[k]);
    free(c->encs);
    free(c->enc_ptrs);
    free(c->owner);
    free(c->logits);
    ids_free(&c->query);
    ids_free(&c->doc);
    tokenizer_free(c->tok);
    bert_free(c->model);
    free(c);
    free(s);
}

struct scorer *crossenc_scorer_new(const struct crossenc_options *o, struct err *e)
{
    struct crossenc *c = xcalloc(1, sizeof *c);
    c->o = *o;
    c->model = bert_load(o->model_dir, e);
    if (!c->model)
        goto fail;
    c->tok = tokenizer_load(o->model_dir, e);
    if (!c->tok)
        goto fail;
    c->n_labels = bert_n_labels(c->model);
    if (o->label >= 0 && (size_t)o->label >= c->n_labels) {
        err_setk(e, ERR_USAGE, "--label %ld: the model has %zu label%s (0 to %zu)", o->label,
                c->n_labels, c->n_labels == 1 ? "" : "s", c->n_labels - 1);
        goto fail;
    }
    c->label = o->label >= 0 ? (size_t)o->label : c->n_labels - 1;

    size_t limit = bert_max_tokens(c->model), specials = tokenizer_pair_specials(c->tok);
    if (!c->o.max_length) {
        size_t cfg = config_model_max_length(o->model_dir);
        c->o.max_length = 512;
        if (cfg && cfg < c->o.max_length)
            c->o.max_length = cfg;
        if (limit < c->o.max_length)
            c->o.max_length = limit;
    } else if (c->o.max_length > limit) {
        err_set(e, "--max-length %zu is more than the model's %zu positions",
                c->o.max_length, limit);
        goto fail;
    }
    if (c->o.max_length <= specials + 1) {
        err_set(e, "--max-length %zu leaves no room for text (the pair template takes %zu tokens)",
                c->o.max_length, specials);
        goto fail;
    }
    int threads = o->threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    bert_set_threads(c->model, threads);

    struct scorer *s = xcalloc(1, sizeof *s);
    *s = (struct scorer){.name = "cross-encoder", .score = crossenc_score, .free = crossenc_free,
                         .state = c};
    return s;
fail:
    tokenizer_free(c->tok);
    bert_free(c->model);
    free(c);
    return NULL;
}
