/* deberta.c — the DeBERTa-v3 family: cross-encoders such as mixedbread's
 * mxbai-rerank-*-v1 (DebertaV2ForSequenceClassification) behind the model
 * seam (model.h), as transformers' modeling_deberta_v2.py computes them.
 *
 * Word embeddings only (no positions, no token types) -> LayerNorm; post-LN
 * BERT-like layers whose attention is disentangled: with relative
 * positions r = bucket(i - j) (make_log_bucket_position: exact below half
 * the position buckets, log-spaced beyond, in torch's float32 arithmetic)
 * and idx = clamp(r + span, 0, 2 span - 1),
 *     score(i, j) = (q_i.k_j + q_i.pk[idx] + k_j.pq[idx]) / sqrt(d (1 + #terms))
 * where pk / pq are the layer's key / query projections (shared attention
 * key) of the LayerNorm'd relative embeddings (c2p and p2c terms).  Per
 * sequence and head, Q pk^T and K pq^T are computed only over the columns
 * the sequence's positions reach, so attention stays O(n^2 d) and never
 * holds an n^2 x buckets tensor.  Head: ContextPooler (token 0 -> dense ->
 * exact GELU) -> classifier.
 *
 * The input is [CLS] q [SEP] d [SEP] (tokenizer.c's pair template and
 * longest_first truncation) over spm.model in DeBERTa's ids (sentencepiece.c,
 * SPM_LAYOUT_DEBERTA).  Each sequence runs alone on one worker of the
 * thread pool, so a score never depends on the batch. */
#include <cblas.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/kernels.h"
#include "models/model.h"
#include "nn/pool.h"
#include "tokenizers/sentencepiece.h"

/* Query rows per attention block: scores take ATTN_BLOCK * seq_len floats. */
#define ATTN_BLOCK 256

struct deb_layer {
    float *qkv_w;             /* (3*hidden, hidden): query; key; value */
    float *qkv_b;             /* (3*hidden) */
    float *pos_q;             /* (2*span, hidden) query_proj(rel embeddings) */
    float *pos_k;             /* (2*span, hidden) key_proj(rel embeddings) */
    const float *attn_out_w;  /* (hidden, hidden) */
    const float *attn_out_b;  /* (hidden) */
    const float *attn_ln_w;   /* (hidden) */
    const float *attn_ln_b;   /* (hidden) */
    const float *inter_w;     /* (inter, hidden) */
    const float *inter_b;     /* (inter) */
    const float *out_w;       /* (hidden, inter) */
    const float *out_b;       /* (hidden) */
    const float *out_ln_w;    /* (hidden) */
    const float *out_ln_b;    /* (hidden) */
};

struct deb_scratch {
    float *buf;
    size_t cap;
    int *idx;                 /* (2*len - 1) relative embedding row of i - j */
    size_t cap_idx;
};

struct deberta {
    struct model base;        /* first: the seam's view of the model */
    size_t hidden, n_layer, n_head, inter, n_vocab, n_labels, pooler;
    size_t span;              /* position_buckets (or max_relative_positions) */
    size_t buckets, max_rel;  /* make_log_bucket_position's arguments; 0:
                                 no log buckets */
    bool c2p, p2c, rel_ln;
    float eps;

    const float *word_emb;    /* (n_vocab, hidden) */
    const float *emb_ln_w, *emb_ln_b; /* (hidden) */
    struct deb_layer *layers; /* (n_layer) */
    const float *pool_w;      /* (pooler, hidden) */
    const float *pool_b;      /* (pooler) */
    const float *cls_w;       /* (n_labels, pooler) */
    const float *cls_b;       /* (n_labels) */

    struct weights w;
    struct pool *pool;
    struct deb_scratch *scratch;
    int n_scratch;
};

/* ---- relative positions --------------------------------------------- */

/* make_log_bucket_position for rel = i - j, in torch's float32 arithmetic
 * (log and ceil decide the buckets' edges). */
static long log_bucket(long rel, size_t bucket_size, size_t max_position)
{
    long mid = (long)bucket_size / 2;
    if (rel < mid && rel > -mid)
        return rel;
    long a = rel < 0 ? -rel : rel;
    if (a <= mid)
        return rel;
    float lp = ceilf(logf((float)a / (float)mid) /
                     logf((float)((double)(max_position - 1) / (double)mid)) *
                     (float)(mid - 1)) +
               (float)mid;
    return rel < 0 ? -(long)lp : (long)lp;
}

/* ---- config.json ---------------------------------------------------- */

/* config[key] as an integer, def when absent or not an integer. */
static long int_or(const struct model_dir *d, const char *key, long def)
{
    const json_t *v = json_object_get(d->config, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : def;
}

/* config[key] must be absent or equal to want (a string).  0, or -1. */
static int string_is(const struct model_dir *d, const char *key,
                     const char *want, bool required, struct err *e)
{
    const json_t *v = json_object_get(d->config, key);
    if (!v && !required)
        return 0;
    const char *s = json_string_value(v);
    if (!s || strcmp(s, want) != 0)
        return err_set(e, "%s/config.json: %s \"%.40s\" is not supported "
                       "(only \"%s\")", d->path, key, s ? s : "(missing)",
                       want);
    return 0;
}

static int config_parse(struct deberta *m, const struct model_dir *d,
                        struct err *e)
{
    const json_t *c = d->config;
    if (d->architecture[0] &&
        strcmp(d->architecture, "DebertaV2ForSequenceClassification") != 0)
        return err_set(e, "%s/config.json: architectures %.100s is not "
                       "supported for model_type deberta-v2; need "
                       "[\"DebertaV2ForSequenceClassification\"] (a "
                       "cross-encoder)", d->path, d->architecture);
    size_t n_pos;
    if (model_dir_dim(d, "hidden_size", &m->hidden, e) ||
        model_dir_dim(d, "num_hidden_layers", &m->n_layer, e) ||
        model_dir_dim(d, "num_attention_heads", &m->n_head, e) ||
        model_dir_dim(d, "intermediate_size", &m->inter, e) ||
        model_dir_dim(d, "vocab_size", &m->n_vocab, e) ||
        model_dir_dim(d, "max_position_embeddings", &n_pos, e) ||
        model_dir_n_labels(d, &m->n_labels, e))
        return -1;
    if (m->hidden % m->n_head)
        return err_set(e, "%s/config.json: hidden_size %zu is not a multiple "
                       "of num_attention_heads %zu", d->path, m->hidden,
                       m->n_head);
    m->pooler = m->hidden;
    if (json_object_get(c, "pooler_hidden_size") &&
        model_dir_dim(d, "pooler_hidden_size", &m->pooler, e))
        return -1;
    if (string_is(d, "hidden_act", "gelu", true, e) ||
        string_is(d, "pooler_hidden_act", "gelu", false, e))
        return -1;
    if (!json_is_true(json_object_get(c, "relative_attention")))
        return err_set(e, "%s/config.json: relative_attention must be true "
                       "(DeBERTa-v3)", d->path);
    if (json_is_true(json_object_get(c, "position_biased_input")) ||
        int_or(d, "type_vocab_size", 0) != 0 ||
        !json_is_true(json_object_get(c, "share_att_key")) ||
        int_or(d, "conv_kernel_size", 0) != 0 ||
        int_or(d, "embedding_size", (long)m->hidden) != (long)m->hidden)
        return err_set(e, "%s/config.json: only the DeBERTa-v3 layout is "
                       "supported (position_biased_input false, "
                       "type_vocab_size 0, share_att_key true, no "
                       "conv_kernel_size, embedding_size = hidden_size)",
                       d->path);
    const json_t *types = json_object_get(c, "pos_att_type");
    size_t i;
    const json_t *t;
    json_array_foreach(types, i, t) {
        const char *s = json_string_value(t);
        if (s && strcmp(s, "c2p") == 0)
            m->c2p = true;
        else if (s && strcmp(s, "p2c") == 0)
            m->p2c = true;
        else
            return err_set(e, "%s/config.json: pos_att_type %.40s is not "
                           "supported (c2p, p2c)", d->path,
                           s ? s : "(not a string)");
    }
    const char *norm = json_string_value(json_object_get(c, "norm_rel_ebd"));
    m->rel_ln = norm && strstr(norm, "layer_norm");
    long max_rel = int_or(d, "max_relative_positions", -1);
    if (max_rel < 1)
        max_rel = (long)n_pos;
    long buckets = int_or(d, "position_buckets", -1);
    if (buckets > (long)INT_MAX / 4 || max_rel > (long)INT_MAX / 4)
        return err_set(e, "%s/config.json: position_buckets or "
                       "max_relative_positions is too large", d->path);
    m->span = buckets > 0 ? (size_t)buckets : (size_t)max_rel;
    m->buckets = buckets > 0 ? (size_t)buckets : 0;
    m->max_rel = (size_t)max_rel;
    if (m->buckets && m->buckets < 4)
        return err_set(e, "%s/config.json: position_buckets %zu is fewer "
                       "than 4", d->path, m->buckets);
    const json_t *eps = json_object_get(c, "layer_norm_eps");
    m->eps = 1e-7f;
    if (eps) {
        if (!json_is_number(eps) || !(json_number_value(eps) > 0) ||
            !(json_number_value(eps) < 1))
            return err_set(e, "%s/config.json: \"layer_norm_eps\" is not in "
                           "(0, 1)", d->path);
        m->eps = (float)json_number_value(eps);
    }
    m->base.max_tokens = n_pos;
    return 0;
}

/* ---- weights -------------------------------------------------------- */

#define PRE "deberta."

/* Proves the config's sizes against the file before they size anything:
 * embeddings, relative embeddings, the last layer and none past it, the
 * head.  0, or -1 with e. */
static int prove_sizes(const struct deberta *m, struct err *e)
{
    const struct weights *w = &m->w;
    size_t h = m->hidden;
    char name[256];
    snprintf(name, sizeof name, PRE "encoder.layer.%zu.intermediate.dense.weight",
             m->n_layer - 1);
    if (!weights_has(w, name))
        return err_set(e, "%s: config.json says num_hidden_layers %zu but "
                       "tensor %s is missing", w->st.path, m->n_layer, name);
    if (weights_check(w, name, m->inter, h, e) ||
        weights_check(w, PRE "embeddings.word_embeddings.weight", m->n_vocab,
                      h, e) ||
        weights_check(w, PRE "encoder.rel_embeddings.weight", 2 * m->span, h,
                      e) ||
        weights_check(w, "pooler.dense.weight", m->pooler, h, e) ||
        weights_check(w, "classifier.weight", m->n_labels, m->pooler, e))
        return -1;
    snprintf(name, sizeof name, PRE "encoder.layer.%zu.output.dense.weight",
             m->n_layer);
    if (weights_has(w, name))
        return err_set(e, "%s: holds tensor %s but config.json says "
                       "num_hidden_layers %zu", w->st.path, name, m->n_layer);
    return 0;
}

/* rows(n, h) = x(n, h) W^T + b. */
static float *project(struct weights *w, const float *x, size_t n, size_t h,
                      const float *wt, const float *b)
{
    float *out = weights_own(w, n * h);
    matmul(n, h, h, 1.0f, x, h, wt, h, true, 0.0f, out, h);
    add_bias(out, b, n, h);
    return out;
}

static int load_layer(struct deberta *m, size_t l, const float *rel,
                      struct err *e)
{
    struct deb_layer *L = &m->layers[l];
    struct weights *w = &m->w;
    size_t h = m->hidden;
    static const char *const names[3] = {"query_proj", "key_proj",
                                         "value_proj"};
    const float *wi[3], *bi[3];
    for (int i = 0; i < 3; i++)
        if (!(wi[i] = weights_getf(w, h, h, e, PRE "encoder.layer.%zu."
                                   "attention.self.%s.weight", l, names[i])) ||
            !(bi[i] = weights_getf(w, h, 0, e, PRE "encoder.layer.%zu."
                                   "attention.self.%s.bias", l, names[i])))
            return -1;
    L->qkv_w = weights_own(w, 3 * h * h);
    L->qkv_b = weights_own(w, 3 * h);
    for (int i = 0; i < 3; i++) {
        memcpy(L->qkv_w + i * h * h, wi[i], h * h * sizeof *L->qkv_w);
        memcpy(L->qkv_b + i * h, bi[i], h * sizeof *L->qkv_b);
    }
    /* The relative embeddings through this layer's (shared) projections:
     * the same for every sequence, so made once. */
    L->pos_q = project(w, rel, 2 * m->span, h, wi[0], bi[0]);
    L->pos_k = project(w, rel, 2 * m->span, h, wi[1], bi[1]);
#define W(field, d0, d1, what)                                                \
    if (!(L->field = weights_getf(w, d0, d1, e, PRE "encoder.layer.%zu.%s",   \
                                  l, what)))                                  \
        return -1
    W(attn_out_w, h, h, "attention.output.dense.weight");
    W(attn_out_b, h, 0, "attention.output.dense.bias");
    W(attn_ln_w, h, 0, "attention.output.LayerNorm.weight");
    W(attn_ln_b, h, 0, "attention.output.LayerNorm.bias");
    W(inter_w, m->inter, h, "intermediate.dense.weight");
    W(inter_b, m->inter, 0, "intermediate.dense.bias");
    W(out_w, h, m->inter, "output.dense.weight");
    W(out_b, h, 0, "output.dense.bias");
    W(out_ln_w, h, 0, "output.LayerNorm.weight");
    W(out_ln_b, h, 0, "output.LayerNorm.bias");
#undef W
    return 0;
}

static int load_weights(struct deberta *m, struct err *e)
{
    struct weights *w = &m->w;
    size_t h = m->hidden;
    if (prove_sizes(m, e))
        return -1;
    const float *rel_w, *ln_w = NULL, *ln_b = NULL;
    if (!(m->word_emb = weights_get(w, PRE "embeddings.word_embeddings.weight",
                                    m->n_vocab, h, e)) ||
        !(m->emb_ln_w = weights_get(w, PRE "embeddings.LayerNorm.weight", h, 0,
                                    e)) ||
        !(m->emb_ln_b = weights_get(w, PRE "embeddings.LayerNorm.bias", h, 0,
                                    e)) ||
        !(rel_w = weights_get(w, PRE "encoder.rel_embeddings.weight",
                              2 * m->span, h, e)) ||
        (m->rel_ln &&
         (!(ln_w = weights_get(w, PRE "encoder.LayerNorm.weight", h, 0, e)) ||
          !(ln_b = weights_get(w, PRE "encoder.LayerNorm.bias", h, 0, e)))) ||
        !(m->pool_w = weights_get(w, "pooler.dense.weight", m->pooler, h, e)) ||
        !(m->pool_b = weights_get(w, "pooler.dense.bias", m->pooler, 0, e)) ||
        !(m->cls_w = weights_get(w, "classifier.weight", m->n_labels,
                                 m->pooler, e)) ||
        !(m->cls_b = weights_get(w, "classifier.bias", m->n_labels, 0, e)))
        return -1;
    float *rel = weights_own(w, 2 * m->span * h);
    memcpy(rel, rel_w, 2 * m->span * h * sizeof *rel);
    if (m->rel_ln)
        layernorm(rel, ln_w, ln_b, 2 * m->span, h, m->eps);
    m->layers = xcalloc(m->n_layer, sizeof *m->layers);
    for (size_t l = 0; l < m->n_layer; l++)
        if (load_layer(m, l, rel, e))
            return -1;
    return 0;
}
#undef PRE

/* spm.model in DeBERTa's ids, with the [CLS] q [SEP] d [SEP] template.
 * 0, or -1 with e. */
static int load_tokenizer(struct deberta *m, const struct model_dir *d,
                          struct err *e)
{
    const json_t *tc = d->tokenizer_config;
    if (json_is_true(json_object_get(tc, "split_by_punct")) ||
        json_is_true(json_object_get(tc, "do_lower_case")))
        return err_set(e, "%s/tokenizer_config.json: split_by_punct and "
                       "do_lower_case are not supported", d->path);
    char path[4096];
    if (!model_dir_file(d, "spm.model", path, sizeof path))
        return err_set(e, "%s: path too long", d->path);
    if (access(path, F_OK) != 0)
        return err_set(e, "%s: not found (a DeBERTa-v3 model needs its "
                       "SentencePiece model)", path);
    struct tokenizer *t = sentencepiece_load_model(path, SPM_LAYOUT_DEBERTA, e);
    if (!(m->base.tok = t))
        return -1;
    if (t->vocab_size > m->n_vocab)
        return err_set(e, "%s: %zu pieces, more than vocab_size %zu", path,
                       t->vocab_size, m->n_vocab);
    return 0;
}

static void deberta_free(struct model *base)
{
    struct deberta *m = (struct deberta *)base;
    if (!m)
        return;
    tokenizer_free(m->base.tok);
    free(m->layers);
    weights_close(&m->w);
    pool_free(m->pool);
    for (int i = 0; i < m->n_scratch; i++) {
        free(m->scratch[i].buf);
        free(m->scratch[i].idx);
    }
    free(m->scratch);
    free(m);
}

static void deberta_set_threads(struct model *base, int n)
{
    struct deberta *m = (struct deberta *)base;
    openblas_set_num_threads(1);
    pool_free(m->pool);
    for (int i = 0; i < m->n_scratch; i++) {
        free(m->scratch[i].buf);
        free(m->scratch[i].idx);
    }
    free(m->scratch);
    m->pool = pool_new(n > 0 ? n : 1);
    m->n_scratch = pool_size(m->pool);
    m->scratch = xcalloc((size_t)m->n_scratch, sizeof *m->scratch);
}

static struct model *deberta_load(const struct model_dir *d, struct err *e)
{
    struct deberta *m = xcalloc(1, sizeof *m);
    if (config_parse(m, d, e) || load_tokenizer(m, d, e) ||
        weights_open(&m->w, d, "deberta-v2", e) || load_weights(m, e) ||
        model_dir_activation(d, m->n_labels, &m->base.activation, e))
        goto fail;
    size_t widest = 3 * m->hidden > m->inter ? 3 * m->hidden : m->inter;
    if (widest < 2 * m->span)
        widest = 2 * m->span;
    if (m->base.max_tokens > (size_t)INT_MAX / widest) {
        err_set(e, "%s/config.json: max_position_embeddings %zu is too large",
                d->path, m->base.max_tokens);
        goto fail;
    }
    m->base.n_labels = m->n_labels;
    deberta_set_threads(&m->base, model_default_threads());
    return &m->base;
fail:
    deberta_free(&m->base);
    return NULL;
}

static bool deberta_match(const struct model_dir *d)
{
    return strcmp(d->model_type, "deberta-v2") == 0;
}

/* ---- forward -------------------------------------------------------- */

/* Floats a worker needs for a sequence of n tokens. */
static size_t scratch_floats(const struct deberta *m, size_t n)
{
    size_t block = n < ATTN_BLOCK ? n : ATTN_BLOCK;
    size_t cols = 2 * m->span;
    return n * m->hidden * 3 /* x, ctx, tmp */ + n * 3 * m->hidden +
           n * m->inter + 2 * n * cols + block * n + m->pooler;
}

/* Attention of one layer over one sequence: ctx(n, h) from qkv(n, 3h). */
static void attend(const struct deberta *m, const struct deb_layer *L,
                   size_t n, const float *qkv, float *ctx, float *qp,
                   float *kp, float *scores, const int *idx)
{
    size_t h = m->hidden, dh = h / m->n_head, ld = 3 * h;
    size_t block = n < ATTN_BLOCK ? n : ATTN_BLOCK;
    int terms = 1 + m->c2p + m->p2c;
    float scale = 1.0f / sqrtf((float)dh * (float)terms);
    /* the relative rows the sequence reaches: idx over i - j in
     * [-(n-1), n-1] is monotonic, so [c0, c1] */
    size_t c0 = (size_t)idx[0], c1 = (size_t)idx[2 * n - 2];
    size_t nc = c1 - c0 + 1;
    for (size_t hd = 0; hd < m->n_head; hd++) {
        const float *q = qkv + hd * dh, *k = q + h, *v = q + 2 * h;
        /* qp(n, nc) = Q pk[c0..c1]^T;  kp(n, nc) = K pq[c0..c1]^T */
        if (m->c2p)
            matmul(n, nc, dh, 1.0f, q, ld, L->pos_k + c0 * h + hd * dh, h,
                   true, 0.0f, qp, nc);
        if (m->p2c)
            matmul(n, nc, dh, 1.0f, k, ld, L->pos_q + c0 * h + hd * dh, h,
                   true, 0.0f, kp, nc);
        for (size_t r = 0; r < n; r += block) {
            size_t rows = n - r < block ? n - r : block;
            matmul(rows, n, dh, 1.0f, q + r * ld, ld, k, ld, true, 0.0f,
                   scores, n);
            for (size_t a = 0; a < rows; a++) {
                size_t i = r + a;
                float *s = scores + a * n;
                /* idx of i - j sits at idx[(n - 1) + i - j] */
                const int *ix = idx + (n - 1) + i;
                for (size_t j = 0; j < n; j++) {
                    size_t c = (size_t)*(ix - j) - c0;
                    float t = s[j];
                    if (m->c2p)
                        t += qp[i * nc + c];
                    if (m->p2c)
                        t += kp[j * nc + c];
                    s[j] = t * scale;
                }
            }
            softmax_rows(scores, rows, n);
            matmul(rows, dh, n, 1.0f, scores, n, v, ld, false, 0.0f,
                   ctx + r * h + hd * dh, h);
        }
    }
}

struct deb_pass {
    struct deberta *m;
    const struct encoding *const *seqs;
    float *logits;
};

static void seq_task(void *ctx, size_t task, int worker)
{
    const struct deb_pass *ps = ctx;
    const struct deberta *m = ps->m;
    struct deb_scratch *sc = &m->scratch[worker];
    const struct ids *ids = &ps->seqs[task]->input_ids;
    size_t n = ids->n, h = m->hidden, cols = 2 * m->span;
    size_t need = scratch_floats(m, n), block = n < ATTN_BLOCK ? n : ATTN_BLOCK;
    if (need > sc->cap) {
        free(sc->buf);
        sc->buf = xmalloc(need * sizeof *sc->buf);
        sc->cap = need;
    }
    if (2 * n - 1 > sc->cap_idx) {
        free(sc->idx);
        sc->idx = xmalloc((2 * n - 1) * sizeof *sc->idx);
        sc->cap_idx = 2 * n - 1;
    }
    /* idx[(n - 1) + rel] = clamp(bucket(rel) + span, 0, 2 span - 1) */
    for (size_t i = 0; i < 2 * n - 1; i++) {
        long rel = (long)i - (long)(n - 1);
        long b = m->buckets ? log_bucket(rel, m->buckets, m->max_rel) : rel;
        b += (long)m->span;
        sc->idx[i] = (int)(b < 0 ? 0 : b > (long)cols - 1 ? (long)cols - 1 : b);
    }
    float *x = sc->buf;                 /* (n, h) */
    float *ctxb = x + n * h;            /* (n, h) */
    float *tmp = ctxb + n * h;          /* (n, h) */
    float *qkv = tmp + n * h;           /* (n, 3h) */
    float *ffn = qkv + n * 3 * h;       /* (n, inter) */
    float *qp = ffn + n * m->inter;     /* (n, <= cols) */
    float *kp = qp + n * cols;          /* (n, <= cols) */
    float *scores = kp + n * cols;      /* (block, n) */
    float *pooled = scores + block * n; /* (pooler) */
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * h, m->word_emb + (size_t)ids->v[i] * h, h * sizeof *x);
    layernorm(x, m->emb_ln_w, m->emb_ln_b, n, h, m->eps);
    for (size_t l = 0; l < m->n_layer; l++) {
        const struct deb_layer *L = &m->layers[l];
        matmul(n, 3 * h, h, 1.0f, x, h, L->qkv_w, h, true, 0.0f, qkv, 3 * h);
        add_bias(qkv, L->qkv_b, n, 3 * h);
        attend(m, L, n, qkv, ctxb, qp, kp, scores, sc->idx);
        matmul(n, h, h, 1.0f, ctxb, h, L->attn_out_w, h, true, 0.0f, tmp, h);
        residual_layernorm(x, tmp, L->attn_out_b, L->attn_ln_w, L->attn_ln_b,
                           n, h, m->eps);
        matmul(n, m->inter, h, 1.0f, x, h, L->inter_w, h, true, 0.0f, ffn,
               m->inter);
        bias_gelu(ffn, L->inter_b, n, m->inter);
        matmul(n, h, m->inter, 1.0f, ffn, m->inter, L->out_w, m->inter, true,
               0.0f, tmp, h);
        residual_layernorm(x, tmp, L->out_b, L->out_ln_w, L->out_ln_b, n, h,
                           m->eps);
    }
    /* ContextPooler on token 0, then the classifier */
    matmul(1, m->pooler, h, 1.0f, x, h, m->pool_w, h, true, 0.0f, pooled,
           m->pooler);
    bias_gelu(pooled, m->pool_b, 1, m->pooler);
    float *out = ps->logits + task * m->n_labels;
    matmul(1, m->n_labels, m->pooler, 1.0f, pooled, m->pooler, m->cls_w,
           m->pooler, true, 0.0f, out, m->n_labels);
    add_bias(out, m->cls_b, 1, m->n_labels);
}

static int deberta_forward(struct model *base,
                           const struct encoding *const *seqs, size_t n_seqs,
                           float *logits, struct err *e)
{
    struct deberta *m = (struct deberta *)base;
    for (size_t s = 0; s < n_seqs; s++)
        if (model_check_ids(base, s, &seqs[s]->input_ids, m->n_vocab, e))
            return -1;
    struct deb_pass ps = {m, seqs, logits};
    pool_run(m->pool, n_seqs, seq_task, &ps);
    return 0;
}

const struct model_family deberta_family = {
    "deberta-v2",       deberta_match,       deberta_load,
    model_pair_template_tokens, model_pair_encode, deberta_forward,
    deberta_set_threads, deberta_free,       NULL, NULL,
    NULL, NULL,
};
