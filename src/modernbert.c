/* modernbert.c — loading and running ModernBERT cross-encoders.
 *
 * Mirrors transformers' modeling_modernbert.py: embeddings are
 * LayerNorm(tok_embeddings) with no position embeddings; each layer is
 * pre-norm (attn_norm, identity on layer 0) -> fused Wqkv -> rotary
 * embedding (rotate_half, positions 0..n-1 per sequence) -> attention ->
 * Wo, residual; mlp_norm -> Wi -> gelu(input) * gate -> Wo, residual; then
 * final_norm.  Layer i attends globally (theta global) or within a sliding
 * window |i - j| <= local_attention / 2 (theta local).  After pooling (first
 * token or mean) a short chain of head steps — Linear + activation, or
 * LayerNorm — gives the logits; the Hugging Face head and the
 * sentence-transformers modules are both written as such a chain.
 *
 * Execution follows bert.c: sequences packed without padding, dense layers
 * as GEMMs over spans of at most SPAN_ROWS rows counted from each sequence's
 * start (batch invariance, see bert.c), attention per (sequence, head) over
 * blocks of query rows.  A local layer's block multiplies only the keys
 * within the window of its rows, so it costs O(n * window), not O(n^2). */
#include "modernbert.h"

#include <cblas.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels.h"
#include "pool.h"
#include "safetensors.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; F32 weights are used in place"
#endif

/* Rows per dense-layer GEMM span and query rows per global attention block
 * (scores take ATTN_BLOCK * seq_len floats), as in bert.c. */
#define SPAN_ROWS 256
#define ATTN_BLOCK 256
/* Head steps after pooling: the HF head has 3, Ettin's modules 3. */
#define MAX_HEAD_STEPS 8

enum act { ACT_NONE, ACT_GELU, ACT_TANH };

/* One step after pooling: Linear (+ activation) or LayerNorm. */
struct head_step {
    bool norm;                /* LayerNorm(in), else Linear(in -> out) */
    size_t in, out;
    const float *w;           /* Linear (out, in); LayerNorm gamma (in) */
    const float *b;           /* (out), or NULL without bias */
    enum act act;             /* after a Linear */
    float eps;                /* LayerNorm */
};

struct mb_layer {
    bool local;               /* sliding-window attention */
    const float *attn_norm_w; /* (hidden), NULL on layer 0 (identity) */
    const float *attn_norm_b; /* (hidden) or NULL (norm_bias false) */
    const float *wqkv;        /* (3*hidden, hidden) attn.Wqkv: q; k; v */
    const float *bqkv;        /* (3*hidden) or NULL (attention_bias) */
    const float *wo;          /* (hidden, hidden) attn.Wo */
    const float *bo;          /* (hidden) or NULL */
    const float *mlp_norm_w;  /* (hidden) */
    const float *mlp_norm_b;  /* (hidden) or NULL */
    const float *wi;          /* (2*inter, hidden) mlp.Wi: input; gate */
    const float *bi;          /* (2*inter) or NULL (mlp_bias) */
    const float *wo_mlp;      /* (hidden, inter) mlp.Wo */
    const float *bo_mlp;      /* (hidden) or NULL */
};

/* Rows [r0, r0 + n) of the packed batch, inside one sequence, whose first
 * row is at position pos0 of that sequence. */
struct span {
    size_t r0, n, pos0;
};

struct modernbert {
    size_t n_vocab, hidden, n_layer, n_head, head_dim, inter, n_labels;
    size_t max_pos;           /* max_position_embeddings */
    size_t window;            /* local_attention / 2 */
    float eps;                /* norm_eps */
    double theta[2];          /* rope theta: [0] global, [1] local */
    bool mean_pool;           /* mean over the tokens, else the first */

    const float *tok_emb;     /* (n_vocab, hidden) */
    const float *emb_norm_w;  /* (hidden) embeddings.norm */
    const float *emb_norm_b;  /* (hidden) or NULL */
    const float *final_norm_w; /* (hidden) */
    const float *final_norm_b; /* (hidden) or NULL */
    struct mb_layer *layers;  /* (n_layer) */
    struct head_step head[MAX_HEAD_STEPS];
    size_t n_steps, head_width; /* widest step output */

    struct safetensors st[1 + MAX_HEAD_STEPS]; /* root, then module files */
    size_t n_st;
    float **owned;            /* converted weights */
    size_t n_owned, cap_owned;

    struct pool *pool;
    float *head_a, *head_b;   /* (head_width) ping-pong head vectors */
    double *mean_acc;         /* (hidden) */

    /* Rotary tables for positions [0, rope_len): cos and sin of
     * position * inv_freq, (rope_len, head_dim / 2) each, per theta. */
    float *rope_cos[2], *rope_sin[2];
    size_t rope_len;

    /* Activations, grown to the largest batch seen and reused. */
    float *x;                 /* (n_tokens, hidden) residual stream */
    float *qkv;               /* (n_tokens, 3*hidden) */
    float *ctx;               /* (n_tokens, hidden) attention output */
    float *scratch;           /* per worker: normed (SPAN_ROWS, hidden),
                                 mlp (SPAN_ROWS, 2*inter), scores */
    size_t *seq_off;          /* (n_seqs + 1) */
    struct span *spans;
    size_t cap_x, cap_qkv, cap_ctx, cap_scratch, cap_seq_off, cap_spans;
    size_t scratch_stride;
};

/* ---- JSON helpers --------------------------------------------------- */

/* dir/rel parsed, a new reference; NULL with *absent true when the file
 * does not exist (e untouched), NULL with e when it is unreadable or not
 * an object. */
static json_t *load_json(const char *dir, const char *rel, bool *absent,
                         struct err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    *absent = access(path, F_OK) != 0;
    if (*absent)
        return NULL;
    size_t len;
    char *text = read_file(path, &len, e);
    if (!text)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!j) {
        err_set(e, "%s:%d: %s", path, jerr.line, jerr.text);
        return NULL;
    }
    if (!json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        err_set(e, "%s: not a JSON object", path);
        return NULL;
    }
    return j;
}

/* config[key] as a positive integer (<= INT_MAX).  0, or -1 with e. */
static int get_dim(const json_t *o, const char *path, const char *key,
                   size_t *out, struct err *e)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
        json_integer_value(v) > INT_MAX)
        return err_set(e, "%s: \"%s\" missing or not a positive integer", path,
                       key);
    *out = (size_t)json_integer_value(v);
    return 0;
}

/* o[key] as a bool, def when absent or null.  0, or -1 with e. */
static int get_bool(const json_t *o, const char *path, const char *key,
                    bool def, bool *out, struct err *e)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return err_set(e, "%s: \"%s\" is not true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

/* o[key] as a positive finite number, def when absent (or null when
 * null_ok).  0, or -1 with e. */
static int get_pos(const json_t *o, const char *path, const char *key,
                   double def, double *out, struct err *e)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || !(json_number_value(v) > 0) ||
        !isfinite(json_number_value(v)))
        return err_set(e, "%s: \"%s\" is not a positive number", path, key);
    *out = json_number_value(v);
    return 0;
}

/* o[key] as a string, def when absent.  0, or -1 with e. */
static int get_str(const json_t *o, const char *path, const char *key,
                   const char *def, const char **out, struct err *e)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_string(v))
        return err_set(e, "%s: \"%s\" is not a string", path, key);
    *out = json_string_value(v);
    return 0;
}

/* ---- config.json ---------------------------------------------------- */

/* The per-layer attention kind and rope thetas: transformers 5's
 * layer_types + rope_parameters, or global_attn_every_n_layers +
 * global_rope_theta / local_rope_theta (ModernBertConfig's defaults where
 * absent).  Needs n_layer.  0, or -1 with e naming the key. */
static int config_layers(struct modernbert *m, const json_t *c,
                         const char *path, bool *local, struct err *e)
{
    const json_t *types = json_object_get(c, "layer_types");
    if (types && !json_is_null(types)) {
        if (!json_is_array(types) || json_array_size(types) != m->n_layer)
            return err_set(e, "%s: \"layer_types\" is not an array of "
                           "num_hidden_layers (%zu) strings", path, m->n_layer);
        for (size_t i = 0; i < m->n_layer; i++) {
            const char *t = json_string_value(json_array_get(types, i));
            if (t && strcmp(t, "full_attention") == 0)
                local[i] = false;
            else if (t && strcmp(t, "sliding_attention") == 0)
                local[i] = true;
            else
                return err_set(e, "%s: \"layer_types\"[%zu] is not "
                               "\"full_attention\" or \"sliding_attention\"",
                               path, i);
        }
    } else {
        size_t every = 3;
        if (json_object_get(c, "global_attn_every_n_layers") &&
            get_dim(c, path, "global_attn_every_n_layers", &every, e))
            return -1;
        for (size_t i = 0; i < m->n_layer; i++)
            local[i] = i % every != 0;
    }

    if (get_pos(c, path, "global_rope_theta", 160000.0, &m->theta[0], e) ||
        get_pos(c, path, "local_rope_theta", m->theta[0], &m->theta[1], e))
        return -1;
    const json_t *rp = json_object_get(c, "rope_parameters");
    if (rp && !json_is_null(rp)) {
        static const char *const kinds[2] = {"full_attention",
                                             "sliding_attention"};
        if (!json_is_object(rp))
            return err_set(e, "%s: \"rope_parameters\" is not an object", path);
        for (int k = 0; k < 2; k++) {
            const json_t *p = json_object_get(rp, kinds[k]);
            if (!p || json_is_null(p))
                continue;
            const char *type = NULL;
            char key[64];
            snprintf(key, sizeof key, "rope_parameters.%s", kinds[k]);
            if (!json_is_object(p))
                return err_set(e, "%s: \"%s\" is not an object", path, key);
            if (get_str(p, path, "rope_type", "default", &type, e))
                return -1;
            if (strcmp(type, "default") != 0)
                return err_set(e, "%s: \"%s.rope_type\" \"%.40s\" is not "
                               "supported (only \"default\")", path, key, type);
            if (get_pos(p, path, "rope_theta", m->theta[k], &m->theta[k], e))
                return err_prefix(e, "%s", key);
        }
    }
    const json_t *scaling = json_object_get(c, "rope_scaling");
    if (scaling && !json_is_null(scaling))
        return err_set(e, "%s: \"rope_scaling\" is not supported", path);
    return 0;
}

/* Model dimensions and hyper-parameters of a ModernBertConfig.  local
 * (n_layer) is allocated here.  0, or -1 with e naming the key. */
static int config_parse(struct modernbert *m, const json_t *c,
                        const char *path, bool **local, struct err *e)
{
    if (!json_is_object(c))
        return err_set(e, "%s: not a JSON object", path);
    if (get_dim(c, path, "hidden_size", &m->hidden, e) ||
        get_dim(c, path, "num_hidden_layers", &m->n_layer, e) ||
        get_dim(c, path, "num_attention_heads", &m->n_head, e) ||
        get_dim(c, path, "intermediate_size", &m->inter, e) ||
        get_dim(c, path, "vocab_size", &m->n_vocab, e) ||
        get_dim(c, path, "max_position_embeddings", &m->max_pos, e))
        return -1;
    if (m->hidden % m->n_head)
        return err_set(e, "%s: hidden_size %zu is not a multiple of "
                       "num_attention_heads %zu", path, m->hidden, m->n_head);
    m->head_dim = m->hidden / m->n_head;
    if (m->head_dim % 2)
        return err_set(e, "%s: head size %zu (hidden_size / "
                       "num_attention_heads) is odd; rotary embeddings need "
                       "it even", path, m->head_dim);
    const json_t *hd = json_object_get(c, "head_dim");
    if (hd && !json_is_null(hd) &&
        (!json_is_integer(hd) ||
         (size_t)json_integer_value(hd) != m->head_dim))
        return err_set(e, "%s: \"head_dim\" differs from hidden_size / "
                       "num_attention_heads (%zu): not supported", path,
                       m->head_dim);
    /* A layer count beyond any real model would only size allocations. */
    if (m->n_layer > 4096)
        return err_set(e, "%s: \"num_hidden_layers\" %zu is too large", path,
                       m->n_layer);

    const char *act = NULL;
    if (get_str(c, path, "hidden_activation", "gelu", &act, e))
        return -1;
    if (strcmp(act, "gelu") != 0)
        return err_set(e, "%s: \"hidden_activation\" \"%.40s\" is not "
                       "supported (only \"gelu\")", path, act);
    double eps, local_attention;
    if (get_pos(c, path, "norm_eps", 1e-5, &eps, e))
        return -1;
    if (!(eps < 1))
        return err_set(e, "%s: \"norm_eps\" is not in (0, 1)", path);
    m->eps = (float)eps;
    if (get_pos(c, path, "local_attention", 128, &local_attention, e))
        return -1;
    if (local_attention != floor(local_attention) || local_attention > INT_MAX)
        return err_set(e, "%s: \"local_attention\" is not a positive integer",
                       path);
    m->window = (size_t)local_attention / 2;

    *local = xcalloc(m->n_layer, sizeof **local);
    return config_layers(m, c, path, *local, e);
}

/* ---- weights -------------------------------------------------------- */

static float *own(struct modernbert *m, size_t n_floats)
{
    grow((void **)&m->owned, &m->cap_owned, m->n_owned + 1, sizeof *m->owned);
    float *p = xmalloc(n_floats * sizeof *p);
    m->owned[m->n_owned++] = p;
    return p;
}

static void shape_text(char *buf, size_t size, const size_t *dims, int n)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%zu", i ? ", " : "",
                                dims[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

/* Tensor `name` of file st, checked to have shape (d0) when d1 == 0 else
 * (d0, d1), as float32 (in place when aligned F32, else converted once).
 * NULL with e naming file, tensor and shapes. */
static const float *weight(struct modernbert *m, const struct safetensors *st,
                           const char *name, size_t d0, size_t d1,
                           struct err *e)
{
    const struct st_tensor *t = safetensors_find(st, name);
    if (!t) {
        err_set(e, "%s: tensor %s is missing (model_type modernbert)",
                st->path, name);
        return NULL;
    }
    size_t want[2] = {d0, d1};
    int want_dims = d1 ? 2 : 1;
    if (t->n_dims != want_dims || t->shape[0] != d0 ||
        (want_dims == 2 && t->shape[1] != d1)) {
        char got_s[128], want_s[64];
        shape_text(got_s, sizeof got_s, t->shape, t->n_dims);
        shape_text(want_s, sizeof want_s, want, want_dims);
        err_set(e, "%s: tensor %s has shape %s, expected %s from the config",
                st->path, name, got_s, want_s);
        return NULL;
    }
    switch (t->dtype) {
    case ST_F32:
        if ((uintptr_t)t->data % sizeof(float) == 0)
            return t->data;
        float *copy = own(m, t->n_elems);
        memcpy(copy, t->data, t->n_bytes);
        return copy;
    case ST_F16: {
        float *f = own(m, t->n_elems);
        f16_to_f32(f, t->data, t->n_elems);
        return f;
    }
    case ST_BF16: {
        float *f = own(m, t->n_elems);
        bf16_to_f32(f, t->data, t->n_elems);
        return f;
    }
    default:
        err_set(e, "%s: tensor %s has dtype %s; supported: F32, F16, BF16",
                st->path, name, safetensors_dtype_name(t->dtype));
        return NULL;
    }
}

/* weight() of "<prefix><name>", or NULL without error when !want. */
static int wget(struct modernbert *m, const struct safetensors *st,
                const char *prefix, const char *name, size_t d0, size_t d1,
                bool want, const float **out, struct err *e)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    *out = NULL;
    if (!want)
        return 0;
    *out = weight(m, st, full, d0, d1, e);
    return *out ? 0 : -1;
}

/* Opens dir/rel/model.safetensors as the next weight file.  NULL + e. */
static const struct safetensors *open_file(struct modernbert *m,
                                           const char *dir, const char *rel,
                                           struct err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%smodel.safetensors", dir, rel,
             *rel ? "/" : "");
    struct safetensors *st = &m->st[m->n_st];
    if (safetensors_open(st, path, e))
        return NULL;
    m->n_st++;
    return st;
}

/* The encoder (embeddings, layers, final_norm) under prefix.  Checks the
 * embedding matrix and the layer count against config.json before the
 * layer table is allocated.  0, or -1 with e. */
static int load_encoder(struct modernbert *m, const struct safetensors *st,
                        const char *pre, const bool *local, bool norm_bias,
                        bool attn_bias, bool mlp_bias, struct err *e)
{
    size_t h = m->hidden, in = m->inter;
    char name[256];
    if (wget(m, st, pre, "embeddings.tok_embeddings.weight", m->n_vocab, h,
             true, &m->tok_emb, e) ||
        wget(m, st, pre, "embeddings.norm.weight", h, 0, true, &m->emb_norm_w,
             e) ||
        wget(m, st, pre, "embeddings.norm.bias", h, 0, norm_bias,
             &m->emb_norm_b, e))
        return -1;
    /* num_hidden_layers against the file: the last layer present, the
     * next one absent. */
    snprintf(name, sizeof name, "%slayers.%zu.attn.Wqkv.weight", pre,
             m->n_layer - 1);
    if (!safetensors_find(st, name))
        return err_set(e, "%s: tensor %s is missing (config.json says "
                       "num_hidden_layers %zu)", st->path, name, m->n_layer);
    snprintf(name, sizeof name, "%slayers.%zu.attn.Wqkv.weight", pre,
             m->n_layer);
    if (safetensors_find(st, name))
        return err_set(e, "%s: holds tensor %s but config.json says "
                       "num_hidden_layers %zu", st->path, name, m->n_layer);
    m->layers = xcalloc(m->n_layer, sizeof *m->layers);
    for (size_t l = 0; l < m->n_layer; l++) {
        struct mb_layer *L = &m->layers[l];
        char lp[128];
        snprintf(lp, sizeof lp, "%slayers.%zu.", pre, l);
        L->local = local[l];
        if (wget(m, st, lp, "attn_norm.weight", h, 0, l > 0, &L->attn_norm_w,
                 e) ||
            wget(m, st, lp, "attn_norm.bias", h, 0, l > 0 && norm_bias,
                 &L->attn_norm_b, e) ||
            wget(m, st, lp, "attn.Wqkv.weight", 3 * h, h, true, &L->wqkv, e) ||
            wget(m, st, lp, "attn.Wqkv.bias", 3 * h, 0, attn_bias, &L->bqkv,
                 e) ||
            wget(m, st, lp, "attn.Wo.weight", h, h, true, &L->wo, e) ||
            wget(m, st, lp, "attn.Wo.bias", h, 0, attn_bias, &L->bo, e) ||
            wget(m, st, lp, "mlp_norm.weight", h, 0, true, &L->mlp_norm_w, e) ||
            wget(m, st, lp, "mlp_norm.bias", h, 0, norm_bias, &L->mlp_norm_b,
                 e) ||
            wget(m, st, lp, "mlp.Wi.weight", 2 * in, h, true, &L->wi, e) ||
            wget(m, st, lp, "mlp.Wi.bias", 2 * in, 0, mlp_bias, &L->bi, e) ||
            wget(m, st, lp, "mlp.Wo.weight", h, in, true, &L->wo_mlp, e) ||
            wget(m, st, lp, "mlp.Wo.bias", h, 0, mlp_bias, &L->bo_mlp, e))
            return -1;
    }
    return wget(m, st, pre, "final_norm.weight", h, 0, true, &m->final_norm_w,
                e) ||
                   wget(m, st, pre, "final_norm.bias", h, 0, norm_bias,
                        &m->final_norm_b, e)
               ? -1
               : 0;
}

/* Appends a head step.  0, or -1 with e when there are too many. */
static int add_step(struct modernbert *m, struct head_step s, const char *path,
                    struct err *e)
{
    if (m->n_steps == MAX_HEAD_STEPS)
        return err_set(e, "%s: more than %d modules after pooling", path,
                       MAX_HEAD_STEPS);
    size_t in = m->n_steps ? m->head[m->n_steps - 1].out : m->hidden;
    if (s.in != in)
        return err_set(e, "%s: takes %zu features but receives %zu", path,
                       s.in, in);
    m->head[m->n_steps++] = s;
    if (s.out > m->head_width)
        m->head_width = s.out;
    return 0;
}

/* ModernBertForSequenceClassification: pooling by classifier_pooling,
 * head.dense (+ classifier_bias) -> classifier_activation -> head.norm ->
 * classifier (with bias).  0, or -1 with e. */
static int load_hf_head(struct modernbert *m, const json_t *c,
                        const char *path, const struct safetensors *st,
                        bool norm_bias, struct err *e)
{
    const char *pooling = NULL, *act = NULL;
    bool dense_bias = false;
    if (get_str(c, path, "classifier_pooling", "cls", &pooling, e) ||
        get_str(c, path, "classifier_activation", "gelu", &act, e) ||
        get_bool(c, path, "classifier_bias", false, &dense_bias, e))
        return -1;
    if (strcmp(pooling, "cls") != 0 && strcmp(pooling, "mean") != 0)
        return err_set(e, "%s: \"classifier_pooling\" \"%.40s\" is not "
                       "supported (cls, mean)", path, pooling);
    m->mean_pool = strcmp(pooling, "mean") == 0;
    if (strcmp(act, "gelu") != 0)
        return err_set(e, "%s: \"classifier_activation\" \"%.40s\" is not "
                       "supported (only \"gelu\")", path, act);
    /* transformers derives num_labels from id2label (default 2). */
    const json_t *id2label = json_object_get(c, "id2label");
    if (id2label) {
        if (!json_is_object(id2label) || json_object_size(id2label) == 0 ||
            json_object_size(id2label) > 4096)
            return err_set(e, "%s: \"id2label\" is not a non-empty object",
                           path);
        m->n_labels = json_object_size(id2label);
    } else if (json_object_get(c, "num_labels")) {
        if (get_dim(c, path, "num_labels", &m->n_labels, e))
            return -1;
    } else {
        m->n_labels = 2;
    }
    size_t h = m->hidden;
    struct head_step dense = {false, h, h, NULL, NULL, ACT_GELU, 0};
    struct head_step norm = {true, h, h, NULL, NULL, ACT_NONE, m->eps};
    struct head_step cls = {false, h, m->n_labels, NULL, NULL, ACT_NONE, 0};
    if (wget(m, st, "", "head.dense.weight", h, h, true, &dense.w, e) ||
        wget(m, st, "", "head.dense.bias", h, 0, dense_bias, &dense.b, e) ||
        wget(m, st, "", "head.norm.weight", h, 0, true, &norm.w, e) ||
        wget(m, st, "", "head.norm.bias", h, 0, norm_bias, &norm.b, e) ||
        wget(m, st, "", "classifier.weight", m->n_labels, h, true, &cls.w, e) ||
        wget(m, st, "", "classifier.bias", m->n_labels, 0, true, &cls.b, e))
        return -1;
    return add_step(m, dense, path, e) || add_step(m, norm, path, e) ||
                   add_step(m, cls, path, e)
               ? -1
               : 0;
}

/* The short name of a sentence-transformers module type
 * ("sentence_transformers.models.Dense" -> "Dense"). */
static const char *type_tail(const char *type)
{
    const char *dot = strrchr(type, '.');
    return dot ? dot + 1 : type;
}

/* A sentence-transformers Pooling module: cls or mean.  0, or -1 + e. */
static int load_pooling(struct modernbert *m, const char *dir,
                        const char *rel, struct err *e)
{
    char path[4096], rel_cfg[512];
    snprintf(rel_cfg, sizeof rel_cfg, "%s/config.json", rel);
    snprintf(path, sizeof path, "%s/%s", dir, rel_cfg);
    bool absent;
    json_t *c = load_json(dir, rel_cfg, &absent, e);
    if (!c)
        return absent ? err_set(e, "%s: missing", path) : -1;
    const char *mode = NULL;
    int rc = get_str(c, path, "pooling_mode", NULL, &mode, e);
    if (!rc && !mode) {
        /* Older configs: one pooling_mode_* flag set. */
        bool cls = false, mean = false;
        rc = get_bool(c, path, "pooling_mode_cls_token", false, &cls, e) ||
             get_bool(c, path, "pooling_mode_mean_tokens", false, &mean, e);
        mode = cls && !mean ? "cls" : mean && !cls ? "mean" : "";
        const char *others[] = {"pooling_mode_max_tokens",
                                "pooling_mode_mean_sqrt_len_tokens",
                                "pooling_mode_weightedmean_tokens",
                                "pooling_mode_lasttoken"};
        for (size_t i = 0; !rc && i < sizeof others / sizeof *others; i++)
            if (json_is_true(json_object_get(c, others[i])))
                rc = err_set(e, "%s: \"%s\" is not supported (cls or mean "
                             "pooling only)", path, others[i]);
    }
    if (!rc && strcmp(mode, "cls") != 0 && strcmp(mode, "mean") != 0)
        rc = err_set(e, "%s: \"pooling_mode\" \"%.40s\" is not supported "
                     "(cls, mean)", path, mode);
    if (!rc)
        m->mean_pool = strcmp(mode, "mean") == 0;
    json_decref(c);
    return rc;
}

/* A sentence-transformers Dense or LayerNorm module in dir/rel as the next
 * head step.  0, or -1 + e. */
static int load_module_step(struct modernbert *m, const char *dir,
                            const char *rel, bool is_norm, struct err *e)
{
    char path[4096], rel_cfg[512];
    snprintf(rel_cfg, sizeof rel_cfg, "%s/config.json", rel);
    snprintf(path, sizeof path, "%s/%s", dir, rel_cfg);
    bool absent;
    json_t *c = load_json(dir, rel_cfg, &absent, e);
    if (!c)
        return absent ? err_set(e, "%s: missing", path) : -1;
    struct head_step s = {is_norm, 0, 0, NULL, NULL, ACT_NONE, 1e-5f};
    bool bias = true;
    int rc;
    if (is_norm) {
        rc = get_dim(c, path, "dimension", &s.in, e);
        s.out = s.in;
    } else {
        const char *act = NULL;
        rc = get_dim(c, path, "in_features", &s.in, e) ||
             get_dim(c, path, "out_features", &s.out, e) ||
             get_bool(c, path, "bias", true, &bias, e) ||
             get_str(c, path, "activation_function",
                     "torch.nn.modules.activation.Tanh", &act, e);
        if (!rc) {
            if (strcmp(act, "torch.nn.modules.linear.Identity") == 0)
                s.act = ACT_NONE;
            else if (strcmp(act, "torch.nn.modules.activation.GELU") == 0)
                s.act = ACT_GELU;
            else if (strcmp(act, "torch.nn.modules.activation.Tanh") == 0)
                s.act = ACT_TANH;
            else
                rc = err_set(e, "%s: \"activation_function\" \"%.80s\" is "
                             "not supported (Identity, GELU, Tanh)", path, act);
        }
    }
    json_decref(c);
    if (rc)
        return -1;
    /* Sizes are checked against the chain before the file is read. */
    if (add_step(m, s, path, e))
        return -1;
    struct head_step *h = &m->head[m->n_steps - 1];
    const struct safetensors *st = open_file(m, dir, rel, e);
    if (!st)
        return -1;
    if (is_norm)
        return wget(m, st, "", "norm.weight", h->in, 0, true, &h->w, e) ||
                       wget(m, st, "", "norm.bias", h->in, 0, true, &h->b, e)
                   ? -1
                   : 0;
    return wget(m, st, "", "linear.weight", h->out, h->in, true, &h->w, e) ||
                   wget(m, st, "", "linear.bias", h->out, 0, bias, &h->b, e)
               ? -1
               : 0;
}

/* The sentence-transformers modules after the Transformer: Pooling, then
 * Dense / LayerNorm steps; the last must be a Dense giving the scores.
 * 0, or -1 + e naming the module. */
static int load_st_head(struct modernbert *m, const char *dir,
                        const json_t *modules, struct err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/modules.json", dir);
    size_t n = json_array_size(modules);
    bool pooled = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *mod = json_array_get(modules, i);
        const char *type = json_string_value(json_object_get(mod, "type"));
        const char *rel = json_string_value(json_object_get(mod, "path"));
        if (!type || !rel || strstr(rel, ".."))
            return err_set(e, "%s: module %zu has no type or a bad path", path,
                           i);
        const char *t = type_tail(type);
        if (i == 0) {
            if (strcmp(t, "Transformer") != 0 || *rel)
                return err_set(e, "%s: module 0 is %.100s at \"%.100s\"; "
                               "need a Transformer at the root", path, type,
                               rel);
            continue;
        }
        int rc;
        if (strcmp(t, "Pooling") == 0 && !pooled) {
            rc = load_pooling(m, dir, rel, e);
            pooled = true;
        } else if (pooled && strcmp(t, "Dense") == 0)
            rc = load_module_step(m, dir, rel, false, e);
        else if (pooled && strcmp(t, "LayerNorm") == 0)
            rc = load_module_step(m, dir, rel, true, e);
        else
            return err_set(e, "%s: module %zu (%.100s) is not supported "
                           "here (Pooling, then Dense and LayerNorm)", path, i,
                           type);
        if (rc)
            return -1;
    }
    if (!pooled || m->n_steps == 0 || m->head[m->n_steps - 1].norm)
        return err_set(e, "%s: need Pooling then modules ending in a Dense "
                       "layer giving the score", path);
    m->n_labels = m->head[m->n_steps - 1].out;
    return 0;
}

struct modernbert *modernbert_load(const char *dir, struct err *e)
{
    struct modernbert *m = xcalloc(1, sizeof *m);
    char path[4096];
    bool absent, *local = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *config = load_json(dir, "config.json", &absent, e);
    json_t *modules = NULL;
    if (!config) {
        if (absent)
            err_set(e, "%s: missing", path);
        goto fail;
    }
    if (config_parse(m, config, path, &local, e))
        goto fail;
    modules = load_json(dir, "modules.json", &absent, e);
    if (!modules && !absent)
        goto fail;
    if (modules && !json_is_array(modules)) {
        err_set(e, "%s/modules.json: not an array", dir);
        goto fail;
    }
    bool norm_bias = false, attn_bias = false, mlp_bias = false;
    if (get_bool(config, path, "norm_bias", false, &norm_bias, e) ||
        get_bool(config, path, "attention_bias", false, &attn_bias, e) ||
        get_bool(config, path, "mlp_bias", false, &mlp_bias, e))
        goto fail;
    const struct safetensors *st = open_file(m, dir, "", e);
    if (!st)
        goto fail;
    /* The modular layout has a bare ModernBertModel at the root; the
     * classification model keeps it under "model.". */
    if (modules) {
        if (load_encoder(m, st, "", local, norm_bias, attn_bias, mlp_bias, e) ||
            load_st_head(m, dir, modules, e))
            goto fail;
    } else if (load_encoder(m, st, "model.", local, norm_bias, attn_bias,
                            mlp_bias, e) ||
               load_hf_head(m, config, path, st, norm_bias, e)) {
        goto fail;
    }
    if (m->head_width < m->hidden)
        m->head_width = m->hidden; /* the pooled vector */
    m->head_a = xmalloc(m->head_width * sizeof *m->head_a);
    m->head_b = xmalloc(m->head_width * sizeof *m->head_b);
    m->mean_acc = xmalloc(m->hidden * sizeof *m->mean_acc);
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    modernbert_set_threads(m, n_cpu > 0 ? (int)(n_cpu < 64 ? n_cpu : 64) : 1);
    free(local);
    json_decref(config);
    json_decref(modules);
    return m;
fail:
    free(local);
    json_decref(config);
    json_decref(modules);
    modernbert_free(m);
    return NULL;
}

void modernbert_free(struct modernbert *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    for (size_t i = 0; i < m->n_st; i++)
        safetensors_close(&m->st[i]);
    pool_free(m->pool);
    free(m->head_a);
    free(m->head_b);
    free(m->mean_acc);
    for (int k = 0; k < 2; k++) {
        free(m->rope_cos[k]);
        free(m->rope_sin[k]);
    }
    free(m->x);
    free(m->qkv);
    free(m->ctx);
    free(m->scratch);
    free(m->seq_off);
    free(m->spans);
    free(m);
}

size_t modernbert_n_labels(const struct modernbert *m)
{
    return m->n_labels;
}

size_t modernbert_max_tokens(const struct modernbert *m)
{
    return m->max_pos;
}

void modernbert_set_threads(struct modernbert *m, int n)
{
    openblas_set_num_threads(1);
    pool_free(m->pool);
    m->pool = pool_new(n > 0 ? n : 1);
}

/* ---- forward -------------------------------------------------------- */

/* Checks the batch; its token count into *n_tokens, longest sequence into
 * *max_len.  0, or -1 with e naming the sequence. */
static int check_batch(const struct modernbert *m,
                       const struct encoding *const *seqs, size_t n_seqs,
                       size_t *n_tokens, size_t *max_len, struct err *e)
{
    size_t total = 0, longest = 0;
    size_t widest = 3 * m->hidden > 2 * m->inter ? 3 * m->hidden : 2 * m->inter;
    for (size_t s = 0; s < n_seqs; s++) {
        const struct ids *ids = &seqs[s]->input_ids;
        if (ids->n == 0 || ids->n > m->max_pos)
            return err_set(e, "sequence %zu: %zu tokens (the model takes 1 to "
                           "%zu)", s, ids->n, m->max_pos);
        for (size_t i = 0; i < ids->n; i++)
            if (ids->v[i] < 0 || (size_t)ids->v[i] >= m->n_vocab)
                return err_set(e, "sequence %zu: token id %ld outside the "
                               "vocabulary (%zu)", s, (long)ids->v[i],
                               m->n_vocab);
        total += ids->n;
        longest = ids->n > longest ? ids->n : longest;
        if (total > (size_t)INT_MAX / widest)
            return err_set(e, "batch of %zu sequences is too large", n_seqs);
    }
    *n_tokens = total;
    *max_len = longest;
    return 0;
}

static void reserve(float **p, size_t *cap, size_t n)
{
    if (n > *cap) {
        free(*p);
        *p = xmalloc(n * sizeof **p);
        *cap = n;
    }
}

/* Rotary tables up to position len (grown, never shrunk), computed as
 * transformers does in float32: inv_freq = 1 / theta^(2i / head_dim),
 * angle = position * inv_freq, then cos and sin. */
static void rope_reserve(struct modernbert *m, size_t len)
{
    if (len <= m->rope_len)
        return;
    size_t half = m->head_dim / 2;
    for (int k = 0; k < 2; k++) {
        float *c = xmalloc(len * half * sizeof *c);
        float *s = xmalloc(len * half * sizeof *s);
        for (size_t i = 0; i < half; i++) {
            float inv = 1.0f / powf((float)m->theta[k],
                                    (float)(2 * i) / (float)m->head_dim);
            for (size_t p = 0; p < len; p++) {
                float angle = (float)p * inv;
                c[p * half + i] = (float)cos((double)angle);
                s[p * half + i] = (float)sin((double)angle);
            }
        }
        free(m->rope_cos[k]);
        free(m->rope_sin[k]);
        m->rope_cos[k] = c;
        m->rope_sin[k] = s;
    }
    m->rope_len = len;
}

struct pass {
    struct modernbert *m;
    size_t layer;             /* the layer whose attention has run */
    bool first;               /* only layer 0's projections to do */
};

/* Rows of a span up to attention of layer l: qkv = attn_norm(x) Wqkv^T
 * (+ b), then the rotary embedding on q and k. */
static void pre_attention(struct modernbert *m, size_t l, const struct span *sp,
                          float *normed)
{
    const struct mb_layer *L = &m->layers[l];
    size_t h = m->hidden, rows = sp->n, half = m->head_dim / 2;
    const float *in = m->x + sp->r0 * h;          /* (rows, h) */
    if (L->attn_norm_w) {
        memcpy(normed, in, rows * h * sizeof *normed);
        layernorm(normed, L->attn_norm_w, L->attn_norm_b, rows, h, m->eps);
        in = normed;
    }
    float *qkv = m->qkv + sp->r0 * 3 * h;         /* (rows, 3h) */
    matmul(rows, 3 * h, h, 1.0f, in, h, L->wqkv, h, true, 0.0f, qkv, 3 * h);
    if (L->bqkv)
        add_bias(qkv, L->bqkv, rows, 3 * h);
    int k = L->local ? 1 : 0;
    const float *c = m->rope_cos[k] + sp->pos0 * half;
    const float *s = m->rope_sin[k] + sp->pos0 * half;
    rope_rows(qkv, 3 * h, rows, m->n_head, m->head_dim, c, s);     /* q */
    rope_rows(qkv + h, 3 * h, rows, m->n_head, m->head_dim, c, s); /* k */
}

/* Span task: the rest of layer `layer` after its attention (Wo and the
 * residual, then the MLP and its residual) and the next layer's
 * projections, or final_norm after the last layer; all row-local. */
static void span_task(void *ctx, size_t task, int worker)
{
    const struct pass *ps = ctx;
    struct modernbert *m = ps->m;
    const struct span *sp = &m->spans[task];
    size_t h = m->hidden, in = m->inter, rows = sp->n;
    float *normed = m->scratch + (size_t)worker * m->scratch_stride;
    float *mlp = normed + SPAN_ROWS * h;          /* (rows, 2*inter) */
    float *x = m->x + sp->r0 * h;                 /* (rows, h) */
    if (ps->first) {
        pre_attention(m, 0, sp, normed);
        return;
    }
    const struct mb_layer *L = &m->layers[ps->layer];
    /* x += ctx Wo^T (+ b) */
    matmul(rows, h, h, 1.0f, m->ctx + sp->r0 * h, h, L->wo, h, true, 1.0f, x,
           h);
    if (L->bo)
        add_bias(x, L->bo, rows, h);
    /* x += (gelu(input) * gate) Wo^T (+ b), [input | gate] = mlp_norm(x) Wi^T */
    memcpy(normed, x, rows * h * sizeof *normed);
    layernorm(normed, L->mlp_norm_w, L->mlp_norm_b, rows, h, m->eps);
    matmul(rows, 2 * in, h, 1.0f, normed, h, L->wi, h, true, 0.0f, mlp,
           2 * in);
    if (L->bi)
        add_bias(mlp, L->bi, rows, 2 * in);
    gelu_gate(mlp, rows, in);
    matmul(rows, h, in, 1.0f, mlp, 2 * in, L->wo_mlp, in, true, 1.0f, x, h);
    if (L->bo_mlp)
        add_bias(x, L->bo_mlp, rows, h);
    if (ps->layer + 1 < m->n_layer)
        pre_attention(m, ps->layer + 1, sp, normed);
    else
        layernorm(x, m->final_norm_w, m->final_norm_b, rows, h, m->eps);
}

/* Query rows per block of a local layer: a block of b rows multiplies
 * b + 2 * window keys, so blocks near the window size waste little. */
static size_t local_block(const struct modernbert *m)
{
    size_t b = m->window < 16 ? 16 : m->window;
    return b < ATTN_BLOCK ? b : ATTN_BLOCK;
}

/* Attention task (sequence, head): ctx = softmax(Q K^T / sqrt(d)) V over
 * blocks of query rows; a local layer's block sees only keys within the
 * window of some row of the block, and each row's softmax covers exactly
 * its own window (the rest of the row is zero). */
static void attention_task(void *ctx, size_t task, int worker)
{
    const struct pass *ps = ctx;
    struct modernbert *m = ps->m;
    size_t s = task / m->n_head, hd = task % m->n_head;
    size_t h = m->hidden, d = m->head_dim, ld = 3 * h;
    size_t off = m->seq_off[s], len = m->seq_off[s + 1] - off;
    bool local = m->layers[ps->layer].local;
    size_t w = m->window, block = local ? local_block(m) : ATTN_BLOCK;
    float scale = 1.0f / sqrtf((float)d);
    float *scores = m->scratch + (size_t)worker * m->scratch_stride +
                    SPAN_ROWS * (h + 2 * m->inter); /* (rows, keys) */
    const float *q = m->qkv + off * ld + hd * d;    /* (len, d), stride ld */
    const float *k = q + h;                         /* (len, d), stride ld */
    const float *v = q + 2 * h;                     /* (len, d), stride ld */
    float *out = m->ctx + off * h + hd * d;         /* (len, d), stride h */
    for (size_t r = 0; r < len; r += block) {
        size_t rows = len - r < block ? len - r : block;
        size_t k0 = 0, k1 = len;
        if (local) {
            k0 = r > w ? r - w : 0;
            k1 = r + rows + w < len ? r + rows + w : len;
        }
        size_t nk = k1 - k0;
        /* scores = Q_block K[k0:k1]^T / sqrt(d) */
        matmul(rows, nk, d, scale, q + r * ld, ld, k + k0 * ld, ld, true, 0.0f,
               scores, nk);
        if (!local) {
            softmax_rows(scores, rows, nk);
        } else {
            for (size_t i = 0; i < rows; i++) {
                size_t p = r + i, lo = p > w ? p - w : 0;
                size_t hi = p + w + 1 < len ? p + w + 1 : len;
                float *row = scores + i * nk;
                memset(row, 0, (lo - k0) * sizeof *row);
                softmax_rows(row + (lo - k0), 1, hi - lo);
                memset(row + (hi - k0), 0, (k1 - hi) * sizeof *row);
            }
        }
        /* out_block = scores V[k0:k1] */
        matmul(rows, d, nk, 1.0f, scores, nk, v + k0 * ld, ld, false, 0.0f,
               out + r * h, h);
    }
}

/* The head of sequence s: pooling, then the head steps into out. */
static void head_forward(struct modernbert *m, size_t s, float *out)
{
    size_t h = m->hidden, off = m->seq_off[s], len = m->seq_off[s + 1] - off;
    const float *x = m->x + off * h;
    float *cur = m->head_a, *next = m->head_b;
    if (m->mean_pool) {
        for (size_t j = 0; j < h; j++)
            m->mean_acc[j] = 0;
        for (size_t i = 0; i < len; i++)
            for (size_t j = 0; j < h; j++)
                m->mean_acc[j] += x[i * h + j];
        for (size_t j = 0; j < h; j++)
            cur[j] = (float)(m->mean_acc[j] / (double)len);
    } else {
        memcpy(cur, x, h * sizeof *cur);
    }
    for (size_t i = 0; i < m->n_steps; i++) {
        const struct head_step *st = &m->head[i];
        float *dst = i + 1 == m->n_steps ? out : next;
        if (st->norm) {
            memcpy(dst, cur, st->in * sizeof *dst);
            layernorm(dst, st->w, st->b, 1, st->in, st->eps);
        } else {
            matmul(1, st->out, st->in, 1.0f, cur, st->in, st->w, st->in, true,
                   0.0f, dst, st->out);
            if (st->act == ACT_GELU)
                bias_gelu(dst, st->b, 1, st->out);
            else if (st->b)
                add_bias(dst, st->b, 1, st->out);
            if (st->act == ACT_TANH)
                tanh_inplace(dst, st->out);
        }
        next = cur;
        cur = dst;
    }
}

int modernbert_forward(struct modernbert *m, const struct encoding *const *seqs,
                       size_t n_seqs, float *logits, struct err *e)
{
    size_t n_tok = 0, max_len = 0;
    if (n_seqs == 0)
        return 0;
    if (check_batch(m, seqs, n_seqs, &n_tok, &max_len, e))
        return -1;
    size_t h = m->hidden, workers = (size_t)pool_size(m->pool);
    reserve(&m->x, &m->cap_x, n_tok * h);
    reserve(&m->qkv, &m->cap_qkv, n_tok * 3 * h);
    reserve(&m->ctx, &m->cap_ctx, n_tok * h);
    rope_reserve(m, max_len);
    /* Scores: a global block (ATTN_BLOCK rows by the sequence) or a local
     * one (block rows by block + 2 * window keys), whichever is larger. */
    size_t gb = max_len < ATTN_BLOCK ? max_len : ATTN_BLOCK;
    size_t lb = local_block(m), lk = lb + 2 * m->window;
    size_t scores = gb * max_len > lb * lk ? gb * max_len : lb * lk;
    size_t stride = SPAN_ROWS * (h + 2 * m->inter) + scores;
    if (stride > m->scratch_stride)
        m->scratch_stride = stride;
    reserve(&m->scratch, &m->cap_scratch, m->scratch_stride * workers);
    grow((void **)&m->seq_off, &m->cap_seq_off, n_seqs + 1, sizeof *m->seq_off);
    size_t n_spans = 0;
    m->seq_off[0] = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        size_t off = m->seq_off[s], len = seqs[s]->input_ids.n;
        m->seq_off[s + 1] = off + len;
        for (size_t r = 0; r < len; r += SPAN_ROWS) {
            grow((void **)&m->spans, &m->cap_spans, n_spans + 1,
                 sizeof *m->spans);
            m->spans[n_spans++] = (struct span){
                off + r, len - r < SPAN_ROWS ? len - r : SPAN_ROWS, r};
        }
    }

    /* x = LayerNorm(tok_embeddings[ids]) */
    float *x = m->x;
    for (size_t s = 0; s < n_seqs; s++)
        for (size_t i = 0; i < seqs[s]->input_ids.n; i++, x += h)
            memcpy(x, m->tok_emb + (size_t)seqs[s]->input_ids.v[i] * h,
                   h * sizeof *x);
    layernorm(m->x, m->emb_norm_w, m->emb_norm_b, n_tok, h, m->eps);

    struct pass ps = {m, 0, true};
    pool_run(m->pool, n_spans, span_task, &ps);
    ps.first = false;
    for (size_t l = 0; l < m->n_layer; l++) {
        ps.layer = l;
        pool_run(m->pool, n_seqs * m->n_head, attention_task, &ps);
        pool_run(m->pool, n_spans, span_task, &ps);
    }
    for (size_t s = 0; s < n_seqs; s++)
        head_forward(m, s, logits + s * m->n_labels);
    return 0;
}
