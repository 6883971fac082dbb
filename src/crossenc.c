/* crossenc.c — the cross-encoder scorer (see crossenc.h).
 *
 * Per group: the query is tokenized once; each document is tokenized, paired
 * with it by the model family's template (truncated longest_first, or cut
 * into windows), and the pairs are run through the family's forward in
 * batches of about BATCH_TOKENS tokens, windows of one document included,
 * so memory is bounded by the batch, not the document.  The model packs a
 * batch without padding, so a pair's score does not depend on what else is
 * in its batch.  Nothing here knows which family runs (model.h). */
#include "crossenc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/batch.h"
#include "models/model.h"

struct crossenc {
    struct crossenc_options o;
    struct model *model;
    size_t n_labels, label;
    enum activation activation; /* in force: never AUTO */
    struct ids query, doc;
    struct batch batch;  /* the pending pairs and their candidates */
    struct group *g;     /* the group being encoded */
    struct scorer *s;    /* this scorer, for its progress callback */
    /* --tokenize: called with each encoding instead of scoring. */
    void (*emit)(size_t cand, size_t window, const struct encoding *enc,
                 void *ctx);
    void *emit_ctx;
    float *logits;       /* (cap_encs, n_labels) */
    size_t cap_logits;
};

/* The score of one sequence's logits: the chosen label's logit through
 * the activation in force (CrossEncoder.predict's activation_fn, then
 * apply_softmax for softmax). */
static float label_score(const struct crossenc *c, const float *logits)
{
    float x = logits[c->label];
    switch (c->activation) {
    case ACTIVATION_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case ACTIVATION_TANH:
        return tanhf(x);
    case ACTIVATION_SOFTMAX: {
        float max = logits[0];
        for (size_t i = 1; i < c->n_labels; i++)
            max = logits[i] > max ? logits[i] : max;
        double sum = 0;
        for (size_t i = 0; i < c->n_labels; i++)
            sum += exp((double)(logits[i] - max));
        return (float)(exp((double)(x - max)) / sum);
    }
    case ACTIVATION_NONE:
    case ACTIVATION_AUTO:
    default:
        return x;
    }
}

/* The document tokens one window may hold next to the query. */
static size_t window_size(const struct crossenc *c, size_t nq)
{
    size_t budget = c->o.max_length - c->model->family->template_tokens(c->model);
    return nq <= budget / 2 ? budget - nq : budget - budget / 2;
}

/* Runs the pending encodings through the model and folds their scores into
 * the candidates: the maximum over a candidate's windows, which may span
 * several batches (scores start as NaN). */
static int flush_batch(struct crossenc *c, struct err *e)
{
    struct batch *b = &c->batch;
    if (!b->n)
        return 0;
    size_t need = b->n * c->n_labels;
    grow((void **)&c->logits, &c->cap_logits, need, sizeof *c->logits);
    if (c->model->family->forward(c->model, batch_seqs(b), b->n, c->logits, e) < 0)
        return -1;
    for (size_t k = 0; k < b->n; k++) {
        double s = label_score(c, c->logits + k * c->n_labels);
        struct candidate *cand = &c->g->cands[b->owner[k]];
        if (isnan(cand->score) || s > cand->score)
            cand->score = s;
    }
    /* Candidates before the last one in the batch have all their windows
     * scored. */
    scorer_progress(c->s, b->owner[b->n - 1], c->g->n_cands);
    batch_clear(b);
    return 0;
}

/* The pending encoding just made (window `window` of its candidate) is
 * complete: --tokenize hands it to the callback at once; scoring runs the
 * batch when it holds BATCH_TOKENS tokens, so a document's windows never
 * pile up (memory stays bounded by the batch whatever the document's
 * length).  0, or -1 with e. */
static int window_ready(struct crossenc *c, size_t window, struct err *e)
{
    struct batch *b = &c->batch;
    if (c->emit) {
        c->emit(b->owner[b->n - 1], window, &b->encs[b->n - 1], c->emit_ctx);
        batch_clear(b);
        return 0;
    }
    return batch_add(b) ? flush_batch(c, e) : 0;
}

/* Encodes candidate i of c->g: one pair truncated to max_length (--long
 * first, or a short document), or overlapping windows of the document
 * (--long max), each handed to window_ready.  0, or -1 with e. */
static int encode_candidate(struct crossenc *c, size_t i, struct err *e)
{
    const struct candidate *cand = &c->g->cands[i];
    const struct model_family *f = c->model->family;
    if (f->encode_text) {
        f->encode_text(c->model, c->o.instruction, c->g->query,
                       group_query_len(c->g), cand->text, cand->text_len,
                       c->o.max_length, batch_slot(&c->batch, i));
        return window_ready(c, 0, e);
    }
    c->doc.n = 0;
    c->model->tok->tokenize(c->model->tok, cand->text, cand->text_len, &c->doc);
    size_t nq = c->query.n, nd = c->doc.n, w = window_size(c, nq);
    if (c->o.long_mode == LONG_FIRST || nd <= w) {
        f->encode(c->model, &c->query, &c->doc, c->o.max_length, batch_slot(&c->batch, i));
        return window_ready(c, 0, e);
    }
    size_t overlap = c->o.stride ? c->o.stride : w / 4;
    if (overlap >= w)
        overlap = w / 2;
    size_t step = w - overlap, n = 0;
    for (size_t start = 0;; start += step) {
        size_t len = nd - start < w ? nd - start : w;
        /* A view of the window: it fits, so nothing in it is cut. */
        struct ids win = {c->doc.v + start, c->doc.word + start, len, len};
        f->encode(c->model, &c->query, &win, c->o.max_length, batch_slot(&c->batch, i));
        if (window_ready(c, n++, e))
            return -1;
        if (start + len >= nd)
            return 0;
    }
}

static void tokenize_query(struct crossenc *c, const struct group *g)
{
    c->query.n = 0;
    c->model->tok->tokenize(c->model->tok, g->query, group_query_len(g), &c->query);
}

static int crossenc_score(struct scorer *s, struct group *g, struct err *e)
{
    struct crossenc *c = s->state;
    tokenize_query(c, g);
    c->g = g;
    c->emit = NULL;
    batch_clear(&c->batch);
    for (size_t i = 0; i < g->n_cands; i++)
        g->cands[i].score = NAN;
    for (size_t i = 0; i < g->n_cands; i++)
        if (encode_candidate(c, i, e))
            return -1;
    return flush_batch(c, e);
}

int crossenc_encode_group(struct scorer *s, const struct group *g,
                          void (*fn)(size_t, size_t, const struct encoding *, void *),
                          void *ctx, struct err *e)
{
    struct crossenc *c = s->state;
    tokenize_query(c, g);
    /* Nothing is scored, so nothing is written to the group. */
    c->g = (struct group *)g;
    c->emit = fn;
    c->emit_ctx = ctx;
    batch_clear(&c->batch);
    for (size_t i = 0; i < g->n_cands; i++)
        if (encode_candidate(c, i, e))
            return -1;
    return 0;
}

size_t crossenc_max_length(const struct scorer *s)
{
    return ((const struct crossenc *)s->state)->o.max_length;
}

static void crossenc_free(struct scorer *s)
{
    struct crossenc *c = s->state;
    batch_free(&c->batch);
    free(c->logits);
    ids_free(&c->query);
    ids_free(&c->doc);
    model_free(c->model);
    free(c);
    free(s);
}

struct scorer *crossenc_scorer_new(const struct crossenc_options *o, struct err *e)
{
    struct crossenc *c = xcalloc(1, sizeof *c);
    c->o = *o;
    c->model = model_load(o->model_dir, e);
    if (!c->model)
        goto fail;
    if (model_quantize(c->model, o->quantize, e)) {
        e->kind = ERR_USAGE;
        goto fail;
    }
    if (o->variant && (!c->model->set_variant ||
                       c->model->set_variant(c->model, o->variant, e))) {
        if (!c->model->set_variant)
            err_setk(e, ERR_USAGE, "--t5 %s: the %s model is not a T5 model", o->variant,
                    c->model->family->name);
        goto fail;
    }
    c->n_labels = c->model->n_labels;
    if (o->label >= 0 && (size_t)o->label >= c->n_labels) {
        err_setk(e, ERR_USAGE, "--label %ld: the model has %zu label%s (0 to %zu)", o->label,
                c->n_labels, c->n_labels == 1 ? "" : "s", c->n_labels - 1);
        goto fail;
    }
    c->label = o->label >= 0 ? (size_t)o->label : c->n_labels - 1;
    c->activation = o->activation == ACTIVATION_AUTO ? c->model->activation
                                                     : o->activation;
    if (c->activation == ACTIVATION_SOFTMAX && c->n_labels == 1) {
        err_setk(e, ERR_USAGE, "--activation softmax: the model has one label (softmax "
                "would make every score 1)");
        goto fail;
    }

    if (o->instruction && !c->model->family->encode_text) {
        err_set(e, "--instruction: the %s model takes no instruction",
                c->model->family->name);
        goto fail;
    }
    if (o->long_mode == LONG_MAX && c->model->family->encode_text) {
        err_set(e, "--long max: not supported for the %s model (its prompt "
                "is cut as its recipe says)", c->model->family->name);
        goto fail;
    }
    size_t limit = c->model->max_tokens;
    size_t specials = c->model->family->template_tokens(c->model);
    if (!c->o.max_length) {
        size_t cfg = c->model->model_max_length;
        c->o.max_length = 512;
        if (cfg && cfg < c->o.max_length)
            c->o.max_length = cfg;
        if (limit < c->o.max_length)
            c->o.max_length = limit;
    } else if (c->o.max_length > limit) {
        err_setk(e, ERR_USAGE, "--max-length %zu is more than the model's %zu positions",
                c->o.max_length, limit);
        goto fail;
    }
    /* A pair needs a token of each text; a prompt one of its middle. */
    if (c->o.max_length <= specials + (c->model->family->encode_text ? 0 : 1)) {
        err_setk(e, ERR_USAGE, "--max-length %zu leaves no room for text (the pair template takes %zu tokens)",
                c->o.max_length, specials);
        goto fail;
    }
    int threads = o->threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    c->model->family->set_threads(c->model, threads);

    struct scorer *s = xcalloc(1, sizeof *s);
    c->s = s;
    *s = (struct scorer){.name = "cross-encoder", .score = crossenc_score, .free = crossenc_free,
                         .state = c};
    return s;
fail:
    model_free(c->model);
    free(c);
    return NULL;
}
