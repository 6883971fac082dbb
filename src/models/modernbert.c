/* modernbert.c — the ModernBERT family: Ettin rerankers,
 * gte-reranker-modernbert-base and other ModernBERT cross-encoders, as
 * transformers' modeling_modernbert.py computes them.
 *
 * Two layouts.  ModernBertForSequenceClassification: tensors under
 * "model.", then pooling by classifier_pooling (first token or mean) ->
 * head.dense -> GELU -> head.norm -> classifier.  The sentence-transformers
 * modular layout (modules.json, the Ettin rerankers): a bare ModernBertModel
 * at the root, then Pooling, Dense, LayerNorm and Dense modules in their own
 * directories.  Both heads are held as one short chain of steps (Linear +
 * activation, or LayerNorm) after pooling.
 *
 * The encoder: embeddings are LayerNorm(tok_embeddings), no position
 * embeddings; each layer is pre-norm (attn_norm, identity on layer 0) ->
 * fused Wqkv -> rotary embedding (rotate_half, positions 0..n-1 in each
 * sequence) -> attention -> Wo, residual; mlp_norm -> Wi -> gelu(input) *
 * gate -> Wo, residual; then final_norm.  A layer attends globally (rope
 * theta global) or within |i - j| <= local_attention / 2 (theta local).
 *
 * Execution follows bert.c: sequences packed without padding, dense layers
 * as GEMMs over spans of at most SPAN_ROWS rows counted from each sequence's
 * start (batch invariance, see bert.c), attention per (sequence, head) over
 * blocks of query rows.  A local layer's block multiplies only the keys
 * within the window of its rows, so it costs O(n * window), not O(n^2).
 * The input template is the tokenizer's [CLS] q [SEP] d [SEP].  The encoder
 * alone (model.h load_encoder, encode_hidden) serves late-interaction
 * models (colbert.c), with a key mask for ColBERT's [MASK] expansion. */
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

/* Rows per dense-layer GEMM span and query rows per global attention block
 * (scores take ATTN_BLOCK * seq_len floats), as in bert.c. */
#define SPAN_ROWS 256
#define ATTN_BLOCK 256
/* Head steps after pooling (the HF head and Ettin's modules have 3) and
 * weight files (the root, then one per module). */
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
    struct model base;
    size_t n_vocab, hidden, n_layer, n_head, head_dim, inter;
    size_t window;            /* local_attention / 2 */
    float eps;                /* norm_eps */
    double theta[2];          /* rope theta: [0] global, [1] local */
    bool norm_bias, attn_bias, mlp_bias;
    bool mean_pool;           /* mean over the tokens, else the first */

    const float *tok_emb;     /* (n_vocab, hidden) */
    const float *emb_norm_w;  /* (hidden) embeddings.norm */
    const float *emb_norm_b;  /* (hidden) or NULL */
    const float *final_norm_w; /* (hidden) */
    const float *final_norm_b; /* (hidden) or NULL */
    struct mb_layer *layers;  /* (n_layer) */
    struct head_step head[MAX_HEAD_STEPS];
    size_t n_steps, head_width; /* widest vector in the head */

    struct weights w[1 + MAX_HEAD_STEPS]; /* root, then module files */
    size_t n_w;

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

/* o[key] as a positive integer (<= INT_MAX).  0, or -1 with e. */
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

/* o[key] as a positive finite number, def when absent or null.  0, or -1
 * with e. */
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

/* The object in file rel of the model directory (a new reference), path
 * (for messages) in buf.  NULL with e, naming the file when absent. */
static json_t *module_config(const struct model_dir *d, const char *rel,
                             char *buf, size_t size, struct err *e)
{
    model_dir_file(d, rel, buf, size);
    e->msg[0] = 0;
    json_t *j = model_dir_json(d, rel, e);
    if (!j && !e->msg[0])
        err_set(e, "%s: missing", buf);
    if (j && !json_is_object(j)) {
        json_decref(j);
        err_set(e, "%s: not a JSON object", buf);
        return NULL;
    }
    return j;
}

/* ---- config.json ---------------------------------------------------- */

/* Model dimensions and hyper-parameters of a ModernBertConfig, its
 * defaults (transformers 4.48) where a key is absent.  0, or -1 with e
 * naming the key. */
static int config_parse(struct modernbert *m, const struct model_dir *d,
                        const char *path, struct err *e)
{
    const json_t *c = d->config;
    size_t max_pos;
    if (model_dir_dim(d, "hidden_size", &m->hidden, e) ||
        model_dir_dim(d, "num_hidden_layers", &m->n_layer, e) ||
        model_dir_dim(d, "num_attention_heads", &m->n_head, e) ||
        model_dir_dim(d, "intermediate_size", &m->inter, e) ||
        model_dir_dim(d, "vocab_size", &m->n_vocab, e) ||
        model_dir_dim(d, "max_position_embeddings", &max_pos, e))
        return -1;
    m->base.max_tokens = max_pos;
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

    const char *act = NULL;
    if (model_json_str(c, path, "hidden_activation", "gelu", &act, e))
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
    if (model_json_bool(c, path, "norm_bias", false, &m->norm_bias, e) ||
        model_json_bool(c, path, "attention_bias", false, &m->attn_bias, e) ||
        model_json_bool(c, path, "mlp_bias", false, &m->mlp_bias, e))
        return -1;

    /* Rope thetas: global_rope_theta / local_rope_theta (the local one
     * defaults to the global), or transformers 5's rope_parameters. */
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
            if (model_json_str(p, path, "rope_type", "default", &type, e))
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

/* Which layers attend locally: transformers 5's layer_types, else every
 * layer but each global_attn_every_n_layers-th.  0, or -1 with e. */
static int config_layer_types(struct modernbert *m, const json_t *c,
                              const char *path, struct err *e)
{
    const json_t *types = json_object_get(c, "layer_types");
    if (!types || json_is_null(types)) {
        size_t every = 3;
        if (json_object_get(c, "global_attn_every_n_layers") &&
            get_dim(c, path, "global_attn_every_n_layers", &every, e))
            return -1;
        for (size_t i = 0; i < m->n_layer; i++)
            m->layers[i].local = i % every != 0;
        return 0;
    }
    if (!json_is_array(types) || json_array_size(types) != m->n_layer)
        return err_set(e, "%s: \"layer_types\" is not an array of "
                       "num_hidden_layers (%zu) strings", path, m->n_layer);
    for (size_t i = 0; i < m->n_layer; i++) {
        const char *t = json_string_value(json_array_get(types, i));
        if (t && strcmp(t, "full_attention") == 0)
            m->layers[i].local = false;
        else if (t && strcmp(t, "sliding_attention") == 0)
            m->layers[i].local = true;
        else
            return err_set(e, "%s: \"layer_types\"[%zu] is not "
                           "\"full_attention\" or \"sliding_attention\"", path,
                           i);
    }
    return 0;
}

/* ---- weights -------------------------------------------------------- */

/* The tensor <prefix><name> of w into *out, shape-checked; or NULL without
 * looking when !want (an absent bias).  0, or -1 with e. */
static int wget(struct weights *w, const char *prefix, const char *name,
                size_t d0, size_t d1, bool want, const float **out,
                struct err *e)
{
    *out = NULL;
    if (!want)
        return 0;
    *out = weights_getf(w, d0, d1, e, "%s%s", prefix, name);
    return *out ? 0 : -1;
}

/* Opens the model.safetensors of directory rel ("" for the root) as the
 * next weight file.  NULL with e. */
static struct weights *open_weights(struct modernbert *m,
                                    const struct model_dir *d,
                                    const char *rel, struct err *e)
{
    char path[4096];
    struct model_dir sub = *d;   /* weights_open reads only the path */
    if (*rel) {
        model_dir_file(d, rel, path, sizeof path);
        sub.path = path;
    }
    struct weights *w = &m->w[m->n_w];
    if (weights_open(w, &sub, "modernbert", e))
        return NULL;
    m->n_w++;
    return w;
}

/* The encoder (embeddings, layers, final_norm) under prefix.  The hidden
 * size, the intermediate size and the layer count are proven against the
 * file before the layer table is allocated.  0, or -1 with e. */
static int load_encoder(struct modernbert *m, const struct model_dir *d,
                        struct weights *w, const char *pre, const char *path,
                        struct err *e)
{
    size_t h = m->hidden, in = m->inter, last = m->n_layer - 1;
    char name[256];
    snprintf(name, sizeof name, "%slayers.%zu.mlp.Wi.weight", pre, last);
    if (weights_checkf(w, m->n_vocab, h, e,
                       "%sembeddings.tok_embeddings.weight", pre))
        return -1;
    if (!weights_has(w, name))
        return err_set(e, "%s: config.json says num_hidden_layers %zu but "
                       "tensor %s is missing", w->st.path, m->n_layer, name);
    if (weights_check(w, name, 2 * in, h, e))
        return -1;
    snprintf(name, sizeof name, "%slayers.%zu.mlp.Wi.weight", pre, m->n_layer);
    if (weights_has(w, name))
        return err_set(e, "%s: holds tensor %s but config.json says "
                       "num_hidden_layers %zu", w->st.path, name, m->n_layer);
    m->layers = xcalloc(m->n_layer, sizeof *m->layers);
    if (config_layer_types(m, d->config, path, e))
        return -1;

    bool nb = m->norm_bias, ab = m->attn_bias, mb = m->mlp_bias;
    if (wget(w, pre, "embeddings.tok_embeddings.weight", m->n_vocab, h, true,
             &m->tok_emb, e) ||
        wget(w, pre, "embeddings.norm.weight", h, 0, true, &m->emb_norm_w, e) ||
        wget(w, pre, "embeddings.norm.bias", h, 0, nb, &m->emb_norm_b, e))
        return -1;
    for (size_t l = 0; l < m->n_layer; l++) {
        struct mb_layer *L = &m->layers[l];
        char lp[128];
        snprintf(lp, sizeof lp, "%slayers.%zu.", pre, l);
        if (wget(w, lp, "attn_norm.weight", h, 0, l > 0, &L->attn_norm_w, e) ||
            wget(w, lp, "attn_norm.bias", h, 0, l > 0 && nb, &L->attn_norm_b,
                 e) ||
            wget(w, lp, "attn.Wqkv.weight", 3 * h, h, true, &L->wqkv, e) ||
            wget(w, lp, "attn.Wqkv.bias", 3 * h, 0, ab, &L->bqkv, e) ||
            wget(w, lp, "attn.Wo.weight", h, h, true, &L->wo, e) ||
            wget(w, lp, "attn.Wo.bias", h, 0, ab, &L->bo, e) ||
            wget(w, lp, "mlp_norm.weight", h, 0, true, &L->mlp_norm_w, e) ||
            wget(w, lp, "mlp_norm.bias", h, 0, nb, &L->mlp_norm_b, e) ||
            wget(w, lp, "mlp.Wi.weight", 2 * in, h, true, &L->wi, e) ||
            wget(w, lp, "mlp.Wi.bias", 2 * in, 0, mb, &L->bi, e) ||
            wget(w, lp, "mlp.Wo.weight", h, in, true, &L->wo_mlp, e) ||
            wget(w, lp, "mlp.Wo.bias", h, 0, mb, &L->bo_mlp, e))
            return -1;
    }
    return wget(w, pre, "final_norm.weight", h, 0, true, &m->final_norm_w,
                e) ||
                   wget(w, pre, "final_norm.bias", h, 0, nb, &m->final_norm_b,
                        e)
               ? -1
               : 0;
}

/* Appends a head step; its input must be the previous step's output (the
 * pooled hidden state for the first).  0, or -1 with e naming path. */
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
    return 0;
}

/* ModernBertForSequenceClassification's head: pooling by
 * classifier_pooling, head.dense (+ bias when classifier_bias) ->
 * classifier_activation -> head.norm -> classifier (with bias).  0, or -1
 * with e. */
static int load_hf_head(struct modernbert *m, const struct model_dir *d,
                        struct weights *w, const char *path, struct err *e)
{
    const json_t *c = d->config;
    const char *pooling = NULL, *act = NULL;
    bool dense_bias = false;
    if (model_json_str(c, path, "classifier_pooling", "cls", &pooling, e) ||
        model_json_str(c, path, "classifier_activation", "gelu", &act, e) ||
        model_json_bool(c, path, "classifier_bias", false, &dense_bias, e) ||
        model_dir_n_labels(d, &m->base.n_labels, e))
        return -1;
    if (strcmp(pooling, "cls") != 0 && strcmp(pooling, "mean") != 0)
        return err_set(e, "%s: \"classifier_pooling\" \"%.40s\" is not "
                       "supported (cls, mean)", path, pooling);
    m->mean_pool = strcmp(pooling, "mean") == 0;
    if (strcmp(act, "gelu") != 0)
        return err_set(e, "%s: \"classifier_activation\" \"%.40s\" is not "
                       "supported (only \"gelu\")", path, act);
    size_t h = m->hidden, nl = m->base.n_labels;
    struct head_step dense = {false, h, h, NULL, NULL, ACT_GELU, 0};
    struct head_step norm = {true, h, h, NULL, NULL, ACT_NONE, m->eps};
    struct head_step cls = {false, h, nl, NULL, NULL, ACT_NONE, 0};
    if (weights_check(w, "classifier.weight", nl, h, e) ||
        wget(w, "", "head.dense.weight", h, h, true, &dense.w, e) ||
        wget(w, "", "head.dense.bias", h, 0, dense_bias, &dense.b, e) ||
        wget(w, "", "head.norm.weight", h, 0, true, &norm.w, e) ||
        wget(w, "", "head.norm.bias", h, 0, m->norm_bias, &norm.b, e) ||
        wget(w, "", "classifier.weight", nl, h, true, &cls.w, e) ||
        wget(w, "", "classifier.bias", nl, 0, true, &cls.b, e))
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

/* A sentence-transformers Pooling module (cls or mean), its config in
 * directory rel.  0, or -1 with e. */
static int load_pooling(struct modernbert *m, const struct model_dir *d,
                        const char *rel, struct err *e)
{
    char path[4096], rel_cfg[512];
    snprintf(rel_cfg, sizeof rel_cfg, "%s/config.json", rel);
    json_t *c = module_config(d, rel_cfg, path, sizeof path, e);
    if (!c)
        return -1;
    const char *mode = NULL;
    int rc = model_json_str(c, path, "pooling_mode", NULL, &mode, e);
    if (!rc && !mode) {
        /* Older configs: one pooling_mode_* flag set. */
        static const char *const others[] = {
            "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"};
        bool cls = false, mean = false;
        rc = model_json_bool(c, path, "pooling_mode_cls_token", false, &cls, e) ||
             model_json_bool(c, path, "pooling_mode_mean_tokens", false, &mean, e);
        mode = cls && !mean ? "cls" : mean && !cls ? "mean" : "";
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

/* A sentence-transformers Dense or LayerNorm module in directory rel as the
 * next head step: its config's sizes are checked against the chain and
 * the tensors, then the tensors read.  0, or -1 with e. */
static int load_module_step(struct modernbert *m, const struct model_dir *d,
                            const char *rel, bool is_norm, struct err *e)
{
    char path[4096], rel_cfg[512];
    snprintf(rel_cfg, sizeof rel_cfg, "%s/config.json", rel);
    json_t *c = module_config(d, rel_cfg, path, sizeof path, e);
    if (!c)
        return -1;
    /* nn.LayerNorm(dimension): eps 1e-5, with bias. */
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
             model_json_bool(c, path, "bias", true, &bias, e) ||
             model_json_str(c, path, "activation_function",
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
    struct weights *w;
    if (rc || add_step(m, s, path, e) || !(w = open_weights(m, d, rel, e)))
        return -1;
    struct head_step *st = &m->head[m->n_steps - 1];
    if (is_norm)
        return wget(w, "", "norm.weight", st->in, 0, true, &st->w, e) ||
                       wget(w, "", "norm.bias", st->in, 0, true, &st->b, e)
                   ? -1
                   : 0;
    return wget(w, "", "linear.weight", st->out, st->in, true, &st->w, e) ||
                   wget(w, "", "linear.bias", st->out, 0, bias, &st->b, e)
               ? -1
               : 0;
}

/* The sentence-transformers modules after the Transformer: Pooling, then
 * Dense / LayerNorm steps, the last a Dense giving the scores.  0, or -1
 * with e naming the module. */
static int load_st_head(struct modernbert *m, const struct model_dir *d,
                        struct err *e)
{
    char path[4096];
    model_dir_file(d, "modules.json", path, sizeof path);
    size_t n = json_array_size(d->modules);
    bool pooled = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *mod = json_array_get(d->modules, i);
        const char *type = json_string_value(json_object_get(mod, "type"));
        const char *rel = json_string_value(json_object_get(mod, "path"));
        if (!type || !rel || strstr(rel, "..") || strlen(rel) > 200)
            return err_set(e, "%s: module %zu has no type or a bad path", path,
                           i);
        const char *t = type_tail(type);
        int rc;
        if (i == 0) {
            if (strcmp(t, "Transformer") != 0 || *rel)
                return err_set(e, "%s: module 0 is %.100s at \"%.100s\"; "
                               "need a Transformer at the root", path, type,
                               rel);
            continue;
        }
        if (strcmp(t, "Pooling") == 0 && !pooled) {
            rc = load_pooling(m, d, rel, e);
            pooled = true;
        } else if (pooled && strcmp(t, "Dense") == 0) {
            rc = load_module_step(m, d, rel, false, e);
        } else if (pooled && strcmp(t, "LayerNorm") == 0) {
            rc = load_module_step(m, d, rel, true, e);
        } else {
            return err_set(e, "%s: module %zu (%.100s) is not supported "
                           "here (Pooling, then Dense and LayerNorm)", path, i,
                           type);
        }
        if (rc)
            return -1;
    }
    if (!pooled || m->n_steps == 0 || m->head[m->n_steps - 1].norm)
        return err_set(e, "%s: need Pooling then modules ending in a Dense "
                       "layer giving the score", path);
    m->base.n_labels = m->head[m->n_steps - 1].out;
    return 0;
}

static void modernbert_free(struct model *base)
{
    struct modernbert *m = (struct modernbert *)base;
    if (!m)
        return;
    tokenizer_free(m->base.tok);
    free(m->layers);
    for (size_t i = 0; i < m->n_w; i++)
        weights_close(&m->w[i]);
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

static void modernbert_set_threads(struct model *base, int n)
{
    struct modernbert *m = (struct modernbert *)base;
    /* Our threads call OpenBLAS, which must not start its own (bert.c). */
    openblas_set_num_threads(1);
    pool_free(m->pool);
    m->pool = pool_new(n > 0 ? n : 1);
}

/* Config, weights and head of either layout (model_load adds the
 * tokenizer).  NULL with e. */
static struct model *modernbert_load(const struct model_dir *d, struct err *e)
{
    struct modernbert *m = xcalloc(1, sizeof *m);
    char path[4096];
    model_dir_file(d, "config.json", path, sizeof path);
    /* The modular layout has a bare ModernBertModel at the root and modules
     * after it; the classification model keeps it under "model." (also
     * when a modules.json names it as the one Transformer module). */
    bool modular = json_array_size(d->modules) > 1;
    if (!modular && d->architecture[0] &&
        strcmp(d->architecture, "ModernBertForSequenceClassification") != 0) {
        err_set(e, "%s: architectures [\"%.100s\"] is not a cross-encoder; "
                "need ModernBertForSequenceClassification or a "
                "sentence-transformers modules.json", path, d->architecture);
        goto fail;
    }
    struct weights *w;
    if (config_parse(m, d, path, e) || !(w = open_weights(m, d, "", e)) ||
        load_encoder(m, d, w, modular ? "" : "model.", path, e) ||
        (modular ? load_st_head(m, d, e) : load_hf_head(m, d, w, path, e)) ||
        model_dir_activation(d, m->base.n_labels, &m->base.activation, e))
        goto fail;
    m->head_width = m->hidden;
    for (size_t i = 0; i < m->n_steps; i++)
        if (m->head[i].out > m->head_width)
            m->head_width = m->head[i].out;
    m->head_a = xmalloc(m->head_width * sizeof *m->head_a);
    m->head_b = xmalloc(m->head_width * sizeof *m->head_b);
    m->mean_acc = xmalloc(m->hidden * sizeof *m->mean_acc);
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    modernbert_set_threads(&m->base,
                           n_cpu > 0 ? (int)(n_cpu < 64 ? n_cpu : 64) : 1);
    return &m->base;
fail:
    modernbert_free(&m->base);
    return NULL;
}

/* The family's load_encoder (model.h): the bare ModernBertModel, under
 * "model." when prefixed, else at the root (a PyLate ColBERT).  NULL
 * with e. */
static struct model *modernbert_load_encoder(const struct model_dir *d,
                                             bool prefixed, struct err *e)
{
    struct modernbert *m = xcalloc(1, sizeof *m);
    char path[4096];
    model_dir_file(d, "config.json", path, sizeof path);
    struct weights *w;
    if (config_parse(m, d, path, e) || !(w = open_weights(m, d, "", e)) ||
        load_encoder(m, d, w, prefixed ? "model." : "", path, e)) {
        modernbert_free(&m->base);
        return NULL;
    }
    m->base.activation = ACTIVATION_NONE;
    m->base.hidden = m->hidden;
    modernbert_set_threads(&m->base, model_default_threads());
    return &m->base;
}

static bool modernbert_match(const struct model_dir *d)
{
    return strcmp(d->model_type, "modernbert") == 0;
}

/* ---- forward -------------------------------------------------------- */

/* Checks the batch; its token count into *n_tokens, longest sequence into
 * *max_len.  0, or -1 with e naming the sequence. */
static int check_batch(const struct modernbert *m,
                       const struct encoding *const *seqs, size_t n_seqs,
                       const size_t *n_keys, size_t *n_tokens,
                       size_t *max_len, struct err *e)
{
    size_t total = 0, longest = 0;
    size_t widest = 3 * m->hidden > 2 * m->inter ? 3 * m->hidden : 2 * m->inter;
    for (size_t s = 0; s < n_seqs; s++) {
        const struct ids *ids = &seqs[s]->input_ids;
        if (ids->n == 0 || ids->n > m->base.max_tokens)
            return err_set(e, "sequence %zu: %zu tokens (the model takes 1 to "
                           "%zu)", s, ids->n, m->base.max_tokens);
        if (n_keys && (n_keys[s] == 0 || n_keys[s] > ids->n))
            return err_set(e, "sequence %zu: %zu attended tokens of %zu", s,
                           n_keys[s], ids->n);
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
    const size_t *n_keys;     /* (n_seqs) keys each sequence attends to;
                                 NULL: all its tokens */
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
 * its own window (the rest of the row is zero).  Keys from n_keys[s] on
 * are masked (attention_mask 0) for every row.  A local row whose window
 * holds no unmasked key (a query row more than window / 2 past the last
 * one; transformers' result for it differs between versions) attends to
 * its window as if nothing were masked. */
static void attention_task(void *ctx, size_t task, int worker)
{
    const struct pass *ps = ctx;
    struct modernbert *m = ps->m;
    size_t s = task / m->n_head, hd = task % m->n_head;
    size_t h = m->hidden, d = m->head_dim, ld = 3 * h;
    size_t off = m->seq_off[s], len = m->seq_off[s + 1] - off;
    size_t nk = ps->n_keys ? ps->n_keys[s] : len;
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
        size_t k0 = 0, k1 = nk;
        if (local) {
            k0 = r > w ? r - w : 0;
            k1 = r + rows + w < len ? r + rows + w : len;
        }
        size_t n = k1 - k0;
        /* scores = Q_block K[k0:k1]^T / sqrt(d) */
        matmul(rows, n, d, scale, q + r * ld, ld, k + k0 * ld, ld, true, 0.0f,
               scores, n);
        if (!local) {
            softmax_rows(scores, rows, n);
        } else {
            for (size_t i = 0; i < rows; i++) {
                size_t p = r + i, lo = p > w ? p - w : 0;
                size_t hi = p + w + 1 < len ? p + w + 1 : len;
                if (nk < hi && lo < nk)
                    hi = nk;
                float *row = scores + i * n;
                memset(row, 0, (lo - k0) * sizeof *row);
                softmax_rows(row + (lo - k0), 1, hi - lo);
                memset(row + (hi - k0), 0, (k1 - hi) * sizeof *row);
            }
        }
        /* out_block = scores V[k0:k1] */
        matmul(rows, d, n, 1.0f, scores, n, v + k0 * ld, ld, false, 0.0f,
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

/* The encoder over a packed batch (n_seqs >= 1): the last hidden states
 * in m->x (n_tokens, hidden), sequence s attending to its first
 * n_keys[s] tokens (all when n_keys is NULL).  0, or -1 with e. */
static int encode(struct modernbert *m, const struct encoding *const *seqs,
                  size_t n_seqs, const size_t *n_keys, struct err *e)
{
    size_t n_tok = 0, max_len = 0;
    if (check_batch(m, seqs, n_seqs, n_keys, &n_tok, &max_len, e))
        return -1;
    size_t h = m->hidden, workers = (size_t)pool_size(m->pool);
    model_reserve(&m->x, &m->cap_x, n_tok * h);
    model_reserve(&m->qkv, &m->cap_qkv, n_tok * 3 * h);
    model_reserve(&m->ctx, &m->cap_ctx, n_tok * h);
    rope_reserve(m, max_len);
    /* Scores: a global block (ATTN_BLOCK rows by the sequence) or a local
     * one (block rows by block + 2 * window keys), whichever is larger. */
    size_t gb = max_len < ATTN_BLOCK ? max_len : ATTN_BLOCK;
    size_t lb = local_block(m), lk = lb + 2 * m->window;
    size_t scores = gb * max_len > lb * lk ? gb * max_len : lb * lk;
    size_t stride = SPAN_ROWS * (h + 2 * m->inter) + scores;
    if (stride > m->scratch_stride)
        m->scratch_stride = stride;
    model_reserve(&m->scratch, &m->cap_scratch, m->scratch_stride * workers);
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

    struct pass ps = {m, n_keys, 0, true};
    pool_run(m->pool, n_spans, span_task, &ps);
    ps.first = false;
    for (size_t l = 0; l < m->n_layer; l++) {
        ps.layer = l;
        pool_run(m->pool, n_seqs * m->n_head, attention_task, &ps);
        pool_run(m->pool, n_spans, span_task, &ps);
    }
    return 0;
}

static int modernbert_forward(struct model *base,
                              const struct encoding *const *seqs,
                              size_t n_seqs, float *logits, struct err *e)
{
    struct modernbert *m = (struct modernbert *)base;
    if (n_seqs == 0)
        return 0;
    if (!m->n_steps)
        return err_set(e, "the ModernBERT encoder has no head to score with");
    if (encode(m, seqs, n_seqs, NULL, e))
        return -1;
    for (size_t s = 0; s < n_seqs; s++)
        head_forward(m, s, logits + s * m->base.n_labels);
    return 0;
}

/* The family's encode_hidden (model.h): the last hidden states. */
static const float *modernbert_encode_hidden(struct model *base,
                                             const struct encoding *const *seqs,
                                             size_t n_seqs,
                                             const size_t *n_keys,
                                             struct err *e)
{
    struct modernbert *m = (struct modernbert *)base;
    return encode(m, seqs, n_seqs, n_keys, e) ? NULL : m->x;
}

const struct model_family modernbert_family = {
    "modernbert", modernbert_match, modernbert_load, model_pair_template_tokens,
    model_pair_encode, modernbert_forward, modernbert_set_threads,
    modernbert_free, NULL, NULL, /* no text template; float only so far */
    modernbert_load_encoder, modernbert_encode_hidden,
};
