/* qwen3.c — decoder-only LLM rerankers on the Qwen body, as transformers'
 * modeling_qwen3.py / modeling_qwen2.py compute them:
 *
 *   Qwen3ForCausalLM (Qwen/Qwen3-Reranker-*): the model card's prompt; the
 *     logit is logit("yes") - logit("no") at the last position, from the two
 *     rows of lm_head.weight (or of the tied embeddings) -- never the whole
 *     vocabulary; default score sigmoid(logit) = softmax([no, yes])[1].
 *   Qwen3ForSequenceClassification (the seq-cls conversion): same body and
 *     prompt; the logit is score.weight [1, hidden] at the last token.
 *   Qwen2ForCausalLM (mixedbread-ai/mxbai-rerank-base-v2, -large-v2): the
 *     recipe of mixedbread's mxbai_rerank package (its prompt, its
 *     truncation); logit("1") - logit("0"), printed raw by default.
 *
 * The body: embeddings; per layer RMSNorm -> q/k/v projections (biases:
 * Qwen2 always, Qwen3 with o_proj's when attention_bias), per-head RMSNorm
 * of q and k (Qwen3's q_norm and k_norm), rotary embedding (rotate_half,
 * rope_theta), causal grouped-query attention (head_dim from config),
 * o_proj, residual; RMSNorm -> SwiGLU MLP, residual; final RMSNorm (of the
 * last row only).
 *
 * Execution follows modernbert.c: sequences packed without padding, dense
 * layers as GEMMs over spans of at most SPAN_ROWS rows counted from each
 * sequence's start, attention per (sequence, head) over blocks of query
 * rows, so a sequence's logit never depends on the batch.  The tokens all
 * sequences of a batch start with run once first, their keys and values
 * kept per layer for the rest.  BF16 weights stay in the mapped file: a
 * pass step converts the matrices it needs (one layer's) once for all the
 * batch's spans; the embeddings are read row by row.
 * The prompt is this file's: encode_text tokenizes its parts separately
 * (model.h). */
#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/kernels.h"
#include "models/model.h"
#include "nn/pool.h"

#define SPAN_ROWS 256
#define ATTN_BLOCK 256

static const char QWEN3_PREFIX[] =
    "<|im_start|>system\nJudge whether the Document meets the requirements "
    "based on the Query and the Instruct provided. Note that the answer can "
    "only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n";
static const char QWEN3_SUFFIX[] =
    "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
static const char QWEN3_INSTRUCTION[] =
    "Given a web search query, retrieve relevant passages that answer the "
    "query";
static const char MXBAI_PREFIX[] =
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\n<|im_start|>user\n";
static const char MXBAI_SUFFIX[] = "<|im_end|>\n<|im_start|>assistant\n";
static const char MXBAI_TASK[] =
    "You are a search relevance expert who evaluates how well documents "
    "match search queries. For each query-document pair, carefully analyze "
    "the semantic relationship between them, then provide your binary "
    "relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:";

enum recipe { RECIPE_YES_NO, RECIPE_SEQCLS, RECIPE_MXBAI };

/* An nn.Linear weight (out, in): float32 (f), or BF16 in the mapped file
 * (bf16) with no float32 copy kept: conv is its float32 form while a step
 * of a pass that multiplies by it runs (convert_step), NULL otherwise. */
struct mat {
    const float *f;
    const void *bf16;
    const float *conv;
    size_t n, k;
};

/* A layer's matrices; a pass step multiplies by layer l's o_proj and MLP
 * and layer l + 1's q/k/v. */
enum { M_Q, M_K, M_V, M_O, M_GATE, M_UP, M_DOWN, N_MATS };

struct qwen_layer {
    const float *in_norm;     /* (hidden) input_layernorm */
    /* [M_Q] (n_head*hd, hidden), [M_K] [M_V] (n_kv*hd, hidden),
     * [M_O] (hidden, n_head*hd), [M_GATE] [M_UP] (inter, hidden),
     * [M_DOWN] (hidden, inter) */
    struct mat w[N_MATS];
    const float *bq;          /* (n_head*hd) or NULL */
    const float *bk, *bv;     /* (n_kv*hd) or NULL */
    const float *bo;          /* (hidden) or NULL: Qwen3's attention_bias */
    const float *q_norm;      /* (hd) or NULL (Qwen2) */
    const float *k_norm;      /* (hd) or NULL */
    const float *post_norm;   /* (hidden) post_attention_layernorm */
};

struct span {
    size_t r0, n, pos0;
};

struct qwen {
    struct model base;
    enum recipe recipe;
    size_t n_vocab, hidden, n_layer, n_head, n_kv, hd, inter;
    float eps;
    double theta;

    const struct st_tensor *emb; /* (n_vocab, hidden) model.embed_tokens,
                                    read row by row from the file */
    const float *final_norm;  /* (hidden) model.norm */
    struct qwen_layer *layers; /* (n_layer) */
    float *head;              /* (n_head_rows, hidden): the rows of the
                                 answers yes, no ("1", "0"); or
                                 score.weight */
    size_t n_head_rows;

    struct ids prefix, suffix; /* the prompt's fixed parts */
    struct ids sep, task;     /* mxbai: "\n" and the task prompt */
    struct weights w;
    struct pool *pool;

    float *rope_cos, *rope_sin; /* (rope_len, hd/2) */
    size_t rope_len;

    float *x;                 /* (n_tokens, hidden) residual stream */
    float *qkv;               /* (n_tokens, (n_head + 2 n_kv) hd) */
    float *ctx;               /* (n_tokens, n_head hd) */
    float *scratch;           /* per worker: normed (SPAN_ROWS, hidden),
                                 mlp (SPAN_ROWS, 2 inter), scores */
    size_t *seq_off;
    struct span *spans;
    size_t cap_x, cap_qkv, cap_ctx, cap_scratch, cap_seq_off, cap_spans;
    size_t scratch_stride;
    /* The batch's shared prefix: its keys and values per layer,
     * (n_layer, prefix_len, 2 n_kv hd) as k | v, computed once. */
    float *kv_cache;
    size_t cap_kv_cache, prefix_len;
    /* One layer's worth of BF16 matrices as float32 (conv of struct
     * mat), made when first needed; layer_floats its size. */
    float *wconv;
    size_t layer_floats;
    const void **conv_src;    /* chunks to convert in the current step */
    float **conv_dst;
    size_t *conv_n, n_conv, cap_conv;
};

/* Width of the fused q|k|v rows. */
static size_t qkv_width(const struct qwen *m)
{
    return (m->n_head + 2 * m->n_kv) * m->hd;
}

/* ---- config.json ---------------------------------------------------- */

/* config[key] as a positive finite number, def when absent or null. */
static int get_pos(const struct model_dir *d, const char *key, double def,
                   double *out, struct err *e)
{
    const json_t *v = json_object_get(d->config, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || !(json_number_value(v) > 0) ||
        !isfinite(json_number_value(v)))
        return err_set(e, "%s/config.json: \"%s\" is not a positive number",
                       d->path, key);
    *out = json_number_value(v);
    return 0;
}

/* config[key] as a bool, def when absent or null. */
static int get_bool(const struct model_dir *d, const char *key, bool def,
                    bool *out, struct err *e)
{
    const json_t *v = json_object_get(d->config, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return err_set(e, "%s/config.json: \"%s\" is not true or false",
                       d->path, key);
    *out = json_is_true(v);
    return 0;
}

/* The sizes and hyper-parameters of a Qwen3Config, its defaults where a
 * key is absent.  0, or -1 with e naming the key. */
static int config_parse(struct qwen *m, const struct model_dir *d,
                        struct err *e)
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
    m->n_kv = m->n_head;
    if (json_object_get(c, "num_key_value_heads") &&
        model_dir_dim(d, "num_key_value_heads", &m->n_kv, e))
        return -1;
    if (m->n_head % m->n_kv)
        return err_set(e, "%s/config.json: num_attention_heads %zu is not a "
                       "multiple of num_key_value_heads %zu", d->path,
                       m->n_head, m->n_kv);
    m->hd = m->hidden / m->n_head;
    const json_t *hd = json_object_get(c, "head_dim");
    if (hd && !json_is_null(hd) && model_dir_dim(d, "head_dim", &m->hd, e))
        return -1;
    if (m->hd == 0 || m->hd % 2)
        return err_set(e, "%s/config.json: head_dim %zu is not a positive "
                       "even number (rotary embeddings)", d->path, m->hd);
    const char *act = json_string_value(json_object_get(c, "hidden_act"));
    if (act && strcmp(act, "silu") != 0)
        return err_set(e, "%s/config.json: \"hidden_act\" \"%.40s\" is not "
                       "supported (only \"silu\")", d->path, act);
    double eps;
    if (get_pos(d, "rms_norm_eps", 1e-6, &eps, e) ||
        get_pos(d, "rope_theta", 10000.0, &m->theta, e))
        return -1;
    if (!(eps < 1))
        return err_set(e, "%s/config.json: \"rms_norm_eps\" is not in (0, 1)",
                       d->path);
    m->eps = (float)eps;
    const json_t *scaling = json_object_get(c, "rope_scaling");
    if (scaling && !json_is_null(scaling))
        return err_set(e, "%s/config.json: \"rope_scaling\" is not supported",
                       d->path);
    /* transformers 5 writes {"rope_theta": T, "rope_type": "default"}. */
    const json_t *rp = json_object_get(c, "rope_parameters");
    if (rp && !json_is_null(rp)) {
        const json_t *type = json_object_get(rp, "rope_type");
        const json_t *t = json_object_get(rp, "rope_theta");
        if (!json_is_object(rp) ||
            (type && !(json_is_string(type) &&
                       strcmp(json_string_value(type), "default") == 0)) ||
            (t && !(json_is_number(t) && json_number_value(t) > 0 &&
                    isfinite(json_number_value(t)))))
            return err_set(e, "%s/config.json: \"rope_parameters\" is not "
                           "supported (only rope_type \"default\" with a "
                           "positive rope_theta)", d->path);
        if (t)
            m->theta = json_number_value(t);
    }
    bool sliding;
    if (get_bool(d, "use_sliding_window", false, &sliding, e))
        return -1;
    if (sliding)
        return err_set(e, "%s/config.json: \"use_sliding_window\" is not "
                       "supported", d->path);
    return 0;
}

/* ---- weights -------------------------------------------------------- */

/* The tensor <prefix><name>, shape-checked, or NULL without looking when
 * !want.  0, or -1 with e. */
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

/* The weight <prefix><name> (d0, d1) into *out: BF16 in place, else as
 * float32.  0, or -1 with e. */
static int mget(struct weights *w, const char *prefix, const char *name,
                size_t d0, size_t d1, struct mat *out, struct err *e)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    out->f = NULL;
    out->bf16 = NULL;
    out->conv = NULL;
    out->n = d0;
    out->k = d1;
    if (weights_check(w, full, d0, d1, e))
        return -1;
    const struct st_tensor *t = safetensors_find(&w->st, full);
    if (t->dtype == ST_BF16) {
        out->bf16 = t->data;
        return 0;
    }
    out->f = weights_get(w, full, d0, d1, e);
    return out->f ? 0 : -1;
}

/* c(rows, n) = a(rows, k) W^T + beta c, W (n, k). */
static void linear(size_t rows, size_t n, size_t k, const float *a,
                   size_t lda, const struct mat *W, float beta, float *c,
                   size_t ldc)
{
    matmul(rows, n, k, 1.0f, a, lda, W->f ? W->f : W->conv, k, true, beta, c,
           ldc);
}

/* Row `row` of the 2-d tensor t (cols floats) into out as float32. */
static void tensor_row(const struct st_tensor *t, size_t row, size_t cols,
                       float *out)
{
    size_t es = safetensors_dtype_size(t->dtype);
    const char *src = (const char *)t->data + row * cols * es;
    if (t->dtype == ST_BF16)
        bf16_to_f32(out, src, cols);
    else if (t->dtype == ST_F16)
        f16_to_f32(out, src, cols);
    else
        memcpy(out, src, cols * sizeof *out);
}

/* The layers, after the layer count, hidden, attention and MLP sizes are
 * proven against the file.  0, or -1 with e. */
static int load_layers(struct qwen *m, bool qkv_bias, bool o_bias,
                       bool qk_norm, struct err *e)
{
    struct weights *w = &m->w;
    size_t h = m->hidden, hd = m->hd, nq = m->n_head * hd, nk = m->n_kv * hd;
    size_t in = m->inter, last = m->n_layer - 1;
    char name[256];
    snprintf(name, sizeof name, "model.layers.%zu.mlp.up_proj.weight", last);
    if (!weights_has(w, name))
        return err_set(e, "%s: config.json says num_hidden_layers %zu but "
                       "tensor %s is missing", w->st.path, m->n_layer, name);
    snprintf(name, sizeof name, "model.layers.%zu.mlp.up_proj.weight",
             m->n_layer);
    if (weights_has(w, name))
        return err_set(e, "%s: holds tensor %s but config.json says "
                       "num_hidden_layers %zu", w->st.path, name, m->n_layer);
    if (weights_checkf(w, in, h, e, "model.layers.%zu.mlp.up_proj.weight",
                       last) ||
        weights_checkf(w, nq, h, e, "model.layers.0.self_attn.q_proj.weight") ||
        weights_checkf(w, nk, h, e, "model.layers.0.self_attn.k_proj.weight"))
        return -1;
    m->layers = xcalloc(m->n_layer, sizeof *m->layers);
    for (size_t l = 0; l < m->n_layer; l++) {
        struct qwen_layer *L = &m->layers[l];
        char p[128];
        snprintf(p, sizeof p, "model.layers.%zu.", l);
        if (wget(w, p, "input_layernorm.weight", h, 0, true, &L->in_norm, e) ||
            mget(w, p, "self_attn.q_proj.weight", nq, h, &L->w[M_Q], e) ||
            wget(w, p, "self_attn.q_proj.bias", nq, 0, qkv_bias, &L->bq, e) ||
            mget(w, p, "self_attn.k_proj.weight", nk, h, &L->w[M_K], e) ||
            wget(w, p, "self_attn.k_proj.bias", nk, 0, qkv_bias, &L->bk, e) ||
            mget(w, p, "self_attn.v_proj.weight", nk, h, &L->w[M_V], e) ||
            wget(w, p, "self_attn.v_proj.bias", nk, 0, qkv_bias, &L->bv, e) ||
            mget(w, p, "self_attn.o_proj.weight", h, nq, &L->w[M_O], e) ||
            wget(w, p, "self_attn.o_proj.bias", h, 0, o_bias, &L->bo, e) ||
            wget(w, p, "self_attn.q_norm.weight", hd, 0, qk_norm, &L->q_norm,
                 e) ||
            wget(w, p, "self_attn.k_norm.weight", hd, 0, qk_norm, &L->k_norm,
                 e) ||
            wget(w, p, "post_attention_layernorm.weight", h, 0, true,
                 &L->post_norm, e) ||
            mget(w, p, "mlp.gate_proj.weight", in, h, &L->w[M_GATE], e) ||
            mget(w, p, "mlp.up_proj.weight", in, h, &L->w[M_UP], e) ||
            mget(w, p, "mlp.down_proj.weight", h, in, &L->w[M_DOWN], e))
            return -1;
    }
    return wget(w, "", "model.norm.weight", h, 0, true, &m->final_norm, e);
}

/* The id of `word` as one token of the vocabulary.  0, or -1 with e. */
static int single_token(const struct qwen *m, const char *path,
                        const char *word, int32_t *out, struct err *e)
{
    struct ids ids = {0};
    m->base.tok->tokenize(m->base.tok, word, strlen(word), &ids);
    int rc = 0;
    if (ids.n != 1 || ids.v[0] < 0 || (size_t)ids.v[0] >= m->n_vocab)
        rc = err_set(e, "%s: \"%s\" is not one token of the model's "
                     "vocabulary", path, word);
    else
        *out = ids.v[0];
    ids_free(&ids);
    return rc;
}

/* The head: the rows of the answer tokens "yes" then "no" of lm_head (or
 * of the tied embeddings), or score.weight.  0, or -1 with e. */
static int load_head(struct qwen *m, const struct model_dir *d, bool tied,
                     struct err *e)
{
    size_t h = m->hidden;
    if (m->recipe == RECIPE_SEQCLS) {
        size_t n_labels;
        if (model_dir_n_labels(d, &n_labels, e))
            return -1;
        if (n_labels != 1)
            return err_set(e, "%s/config.json: %zu labels; a Qwen3 reranker "
                           "has one", d->path, n_labels);
        const float *s = weights_get(&m->w, "score.weight", 1, h, e);
        if (!s)
            return -1;
        m->n_head_rows = 1;
        m->head = weights_own(&m->w, h);
        memcpy(m->head, s, h * sizeof *m->head);
        return 0;
    }
    const char *name = tied && !weights_has(&m->w, "lm_head.weight")
                           ? "model.embed_tokens.weight"
                           : "lm_head.weight";
    if (weights_check(&m->w, name, m->n_vocab, h, e))
        return -1;
    const struct st_tensor *t = safetensors_find(&m->w.st, name);
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return err_set(e, "%s: tensor %s has dtype %s; supported: F32, F16, "
                       "BF16", m->w.st.path, name,
                       safetensors_dtype_name(t->dtype));
    int32_t ids[2];
    bool mxbai = m->recipe == RECIPE_MXBAI;
    if (single_token(m, d->path, mxbai ? "1" : "yes", &ids[0], e) ||
        single_token(m, d->path, mxbai ? "0" : "no", &ids[1], e))
        return -1;
    m->n_head_rows = 2;
    m->head = weights_own(&m->w, 2 * h);
    for (int i = 0; i < 2; i++)
        tensor_row(t, (size_t)ids[i], h, m->head + i * h);
    return 0;
}

static void qwen_free(struct model *base)
{
    struct qwen *m = (struct qwen *)base;
    if (!m)
        return;
    tokenizer_free(m->base.tok);
    free(m->layers);
    ids_free(&m->prefix);
    ids_free(&m->suffix);
    ids_free(&m->sep);
    ids_free(&m->task);
    weights_close(&m->w);
    pool_free(m->pool);
    free(m->rope_cos);
    free(m->rope_sin);
    free(m->x);
    free(m->qkv);
    free(m->ctx);
    free(m->scratch);
    free(m->seq_off);
    free(m->spans);
    free(m->kv_cache);
    free(m->wconv);
    free(m->conv_src);
    free(m->conv_dst);
    free(m->conv_n);
    free(m);
}

static void qwen_set_threads(struct model *base, int n)
{
    struct qwen *m = (struct qwen *)base;
    /* Our threads call OpenBLAS, which must not start its own (bert.c). */
    openblas_set_num_threads(1);
    pool_free(m->pool);
    m->pool = pool_new(n > 0 ? n : 1);
}

static struct model *qwen_load(const struct model_dir *d, struct err *e)
{
    struct qwen *m = xcalloc(1, sizeof *m);
    char path[4096];
    model_dir_file(d, "config.json", path, sizeof path);
    bool qwen3 = strcmp(d->model_type, "qwen3") == 0;
    if (strcmp(d->architecture, "Qwen3ForCausalLM") == 0 && qwen3) {
        m->recipe = RECIPE_YES_NO;
    } else if (strcmp(d->architecture, "Qwen3ForSequenceClassification") == 0 &&
               qwen3) {
        m->recipe = RECIPE_SEQCLS;
    } else if (strcmp(d->architecture, "Qwen2ForCausalLM") == 0 && !qwen3) {
        m->recipe = RECIPE_MXBAI;
    } else {
        err_set(e, "%s: architectures [\"%.100s\"] with model_type \"%.40s\" "
                "is not a supported reranker (Qwen3ForCausalLM, "
                "Qwen3ForSequenceClassification, Qwen2ForCausalLM)", path,
                d->architecture, d->model_type);
        goto fail;
    }
    /* Qwen2 always has q/k/v biases (none on o_proj) and no q/k norms;
     * Qwen3 has the norms, and biases on q/k/v/o when attention_bias. */
    bool qkv_bias = !qwen3, tied;
    if (config_parse(m, d, e) ||
        (qwen3 && get_bool(d, "attention_bias", false, &qkv_bias, e)) ||
        get_bool(d, "tie_word_embeddings", false, &tied, e) ||
        weights_open(&m->w, d, d->model_type, e))
        goto fail;
    if (weights_check(&m->w, "model.embed_tokens.weight", m->n_vocab,
                      m->hidden, e))
        goto fail;
    m->emb = safetensors_find(&m->w.st, "model.embed_tokens.weight");
    if (m->emb->dtype != ST_F32 && m->emb->dtype != ST_F16 &&
        m->emb->dtype != ST_BF16) {
        err_set(e, "%s: tensor model.embed_tokens.weight has dtype %s; "
                "supported: F32, F16, BF16", m->w.st.path,
                safetensors_dtype_name(m->emb->dtype));
        goto fail;
    }
    if (load_layers(m, qkv_bias, qwen3 && qkv_bias, qwen3, e) ||
        !(m->base.tok = tokenizer_load(d->path, e)) ||
        load_head(m, d, tied, e))
        goto fail;
    const struct tokenizer *t = m->base.tok;
    bool mxbai = m->recipe == RECIPE_MXBAI;
    const char *prefix = mxbai ? MXBAI_PREFIX : QWEN3_PREFIX;
    const char *suffix = mxbai ? MXBAI_SUFFIX : QWEN3_SUFFIX;
    t->tokenize(t, prefix, strlen(prefix), &m->prefix);
    t->tokenize(t, suffix, strlen(suffix), &m->suffix);
    if (mxbai) {
        t->tokenize(t, "\n", 1, &m->sep);
        t->tokenize(t, MXBAI_TASK, strlen(MXBAI_TASK), &m->task);
    }
    for (int i = 0; i < N_MATS; i++)
        m->layer_floats += m->layers[0].w[i].n * m->layers[0].w[i].k;
    m->base.n_labels = 1;
    /* P(yes) for Qwen3 (its model card, sentence-transformers); the raw
     * difference for mxbai (what its predict returns); for the seq-cls
     * conversion what CrossEncoder.predict applies (sigmoid unless its
     * configuration names another). */
    m->base.activation = mxbai ? ACTIVATION_NONE : ACTIVATION_SIGMOID;
    if (m->recipe == RECIPE_SEQCLS &&
        model_dir_activation(d, 1, &m->base.activation, e))
        goto fail;
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    qwen_set_threads(&m->base, n_cpu > 0 ? (int)(n_cpu < 64 ? n_cpu : 64) : 1);
    return &m->base;
fail:
    qwen_free(&m->base);
    return NULL;
}

static bool qwen_match(const struct model_dir *d)
{
    return strcmp(d->model_type, "qwen3") == 0 ||
           strcmp(d->model_type, "qwen2") == 0;
}

/* ---- the prompt ----------------------------------------------------- */

/* Tokens of max_length the prompt takes: Qwen3's prefix and suffix; none
 * for mxbai, whose max_length bounds the query and document alone. */
static size_t qwen_template_tokens(const struct model *base)
{
    const struct qwen *m = (const struct qwen *)base;
    return m->recipe == RECIPE_MXBAI ? 0 : m->prefix.n + m->suffix.n;
}

static void ids_append(struct ids *dst, const int32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ids_push(dst, v[i]);
}

/* a[0..n) then b[0..nb) of text tokenized, up to `limit` tokens of the
 * two together, appended to out. */
static void tokenize_cut(const struct tokenizer *t, const char *a, size_t na,
                         const char *b, size_t nb, size_t limit,
                         struct ids *out)
{
    char *text = xmalloc(na + nb + 1);
    memcpy(text, a, na);
    memcpy(text + na, b, nb);
    size_t start = out->n;
    t->tokenize(t, text, na + nb, out);
    free(text);
    if (out->n - start > limit)
        out->n = start + limit;
}

/* mxbai_rerank's MxbaiRerankV2.prepare_inputs: max_length (ML) bounds the
 * content, shrunk so that it and the fixed parts fit model_max_length;
 * query part "[instruction: I\n]query: Q" cut to ML*3//4 tokens; "document:
 * D" cut to min(model_max_length - |query| - fixed, ML); then "\n" + the
 * document cut so the content holds ML tokens (prepare_for_model,
 * only_second); then prefix + content + "\n" + task prompt + suffix. */
static void mxbai_encode(const struct qwen *m, const char *instr,
                         const char *q, size_t nq, const char *d, size_t nd,
                         size_t max_length, struct ids *ids)
{
    const struct tokenizer *t = m->base.tok;
    size_t fixed = m->prefix.n + m->task.n + m->suffix.n + m->sep.n;
    size_t mml = m->base.model_max_length, ml = max_length;
    if (mml && ml + fixed > mml)
        ml = mml > fixed ? mml - fixed : 0;
    ids_append(ids, m->prefix.v, m->prefix.n);
    size_t q0 = ids->n;
    if (instr && *instr) { /* Python's truth: "" is no instruction */
        static const char a[] = "instruction: ", b[] = "\nquery: ";
        size_t ni = strlen(instr);
        char *head = xmalloc(sizeof a + ni + sizeof b);
        memcpy(head, a, sizeof a - 1);
        memcpy(head + sizeof a - 1, instr, ni);
        memcpy(head + sizeof a - 1 + ni, b, sizeof b);
        tokenize_cut(t, head, strlen(head), q, nq, ml * 3 / 4, ids);
        free(head);
    } else {
        tokenize_cut(t, "query: ", 7, q, nq, ml * 3 / 4, ids);
    }
    size_t n_query = ids->n - q0;
    size_t doc_max = ml;
    if (mml) {
        size_t avail = mml > n_query + fixed ? mml - n_query - fixed : 0;
        doc_max = avail < ml ? avail : ml;
    }
    size_t d0 = ids->n;
    ids_append(ids, m->sep.v, m->sep.n);
    tokenize_cut(t, "document: ", 10, d, nd, doc_max, ids);
    size_t second = ml > n_query ? ml - n_query : 0;
    if (ids->n - d0 > second)
        ids->n = d0 + second;
    ids_append(ids, m->sep.v, m->sep.n);
    ids_append(ids, m->task.v, m->task.n);
    ids_append(ids, m->suffix.v, m->suffix.n);
}

/* The model card's recipe: prefix ids + the ids of "<Instruct>: I\n<Query>:
 * Q\n<Document>: D" cut from the right to max_length - |prefix| - |suffix|
 * + suffix ids, each part tokenized on its own without special tokens. */
static void qwen_encode_text(const struct model *base, const char *instr,
                             const char *q, size_t nq, const char *d,
                             size_t nd, size_t max_length,
                             struct encoding *out)
{
    const struct qwen *m = (const struct qwen *)base;
    struct ids *ids = &out->input_ids;
    ids->n = 0;
    if (m->recipe == RECIPE_MXBAI) {
        mxbai_encode(m, instr, q, nq, d, nd, max_length, ids);
        goto types;
    }
    if (!instr)
        instr = QWEN3_INSTRUCTION;
    static const char a[] = "<Instruct>: ", b[] = "\n<Query>: ",
                      c[] = "\n<Document>: ";
    size_t ni = strlen(instr), len = 0;
    char *mid = xmalloc(sizeof a + ni + sizeof b + nq + sizeof c + nd);
    memcpy(mid + len, a, sizeof a - 1), len += sizeof a - 1;
    memcpy(mid + len, instr, ni), len += ni;
    memcpy(mid + len, b, sizeof b - 1), len += sizeof b - 1;
    memcpy(mid + len, q, nq), len += nq;
    memcpy(mid + len, c, sizeof c - 1), len += sizeof c - 1;
    memcpy(mid + len, d, nd), len += nd;
    ids_append(ids, m->prefix.v, m->prefix.n);
    base->tok->tokenize(base->tok, mid, len, ids);
    free(mid);
    size_t fixed = m->prefix.n + m->suffix.n;
    size_t room = max_length > fixed ? max_length - fixed : 0;
    if (ids->n - m->prefix.n > room)
        ids->n = m->prefix.n + room;
    ids_append(ids, m->suffix.v, m->suffix.n);
types:
    out->type_ids.n = 0;
    for (size_t i = 0; i < ids->n; i++)
        ids_push(&out->type_ids, 0);
}

/* ---- forward -------------------------------------------------------- */

/* Rotary tables up to position len (grown, never shrunk): inv_freq =
 * 1 / theta^(2i / hd), angle = position * inv_freq, in double. */
static void rope_reserve(struct qwen *m, size_t len)
{
    if (len <= m->rope_len)
        return;
    size_t half = m->hd / 2;
    float *c = xmalloc(len * half * sizeof *c);
    float *s = xmalloc(len * half * sizeof *s);
    for (size_t i = 0; i < half; i++) {
        double inv = 1.0 / pow(m->theta, (double)(2 * i) / (double)m->hd);
        for (size_t p = 0; p < len; p++) {
            c[p * half + i] = (float)cos((double)p * inv);
            s[p * half + i] = (float)sin((double)p * inv);
        }
    }
    free(m->rope_cos);
    free(m->rope_sin);
    m->rope_cos = c;
    m->rope_sin = s;
    m->rope_len = len;
}

struct pass {
    struct qwen *m;
    size_t layer;             /* the layer whose attention has run */
    bool first;               /* only layer 0's projections to do */
    size_t cached;            /* rows of kv_cache before each sequence */
    bool last_row;            /* attention for each sequence's last row
                                 only (the last layer: no later row needs
                                 the others) */
};

/* Rows of a span up to attention of layer l: q|k|v = in_norm(x) W^T (+ b),
 * q_norm / k_norm per head, then the rotary embedding of q and k. */
static void pre_attention(struct qwen *m, size_t l, const struct span *sp,
                          float *normed)
{
    const struct qwen_layer *L = &m->layers[l];
    size_t h = m->hidden, rows = sp->n, half = m->hd / 2, ld = qkv_width(m);
    size_t nq = m->n_head * m->hd, nk = m->n_kv * m->hd;
    memcpy(normed, m->x + sp->r0 * h, rows * h * sizeof *normed);
    rmsnorm(normed, L->in_norm, rows, h, m->eps);
    float *q = m->qkv + sp->r0 * ld;              /* (rows, nq), stride ld */
    float *k = q + nq;                            /* (rows, nk), stride ld */
    float *v = k + nk;                            /* (rows, nk), stride ld */
    linear(rows, nq, h, normed, h, &L->w[M_Q], 0.0f, q, ld);
    linear(rows, nk, h, normed, h, &L->w[M_K], 0.0f, k, ld);
    linear(rows, nk, h, normed, h, &L->w[M_V], 0.0f, v, ld);
    if (L->bq) {
        for (size_t r = 0; r < rows; r++) {
            add_bias(q + r * ld, L->bq, 1, nq);
            add_bias(k + r * ld, L->bk, 1, nk);
            add_bias(v + r * ld, L->bv, 1, nk);
        }
    }
    if (L->q_norm)
        for (size_t r = 0; r < rows; r++) {
            rmsnorm(q + r * ld, L->q_norm, m->n_head, m->hd, m->eps);
            rmsnorm(k + r * ld, L->k_norm, m->n_kv, m->hd, m->eps);
        }
    const float *c = m->rope_cos + sp->pos0 * half;
    const float *s = m->rope_sin + sp->pos0 * half;
    rope_rows(q, ld, rows, m->n_head, m->hd, c, s);
    rope_rows(k, ld, rows, m->n_kv, m->hd, c, s);
}

/* Span task: the rest of layer `layer` after its attention (o_proj and the
 * residual, then the MLP and its residual) and the next layer's
 * projections; all row-local. */
static void span_task(void *ctx, size_t task, int worker)
{
    const struct pass *ps = ctx;
    struct qwen *m = ps->m;
    const struct span *sp = &m->spans[task];
    size_t h = m->hidden, in = m->inter, rows = sp->n, nq = m->n_head * m->hd;
    float *normed = m->scratch + (size_t)worker * m->scratch_stride;
    float *mlp = normed + SPAN_ROWS * h;          /* (rows, 2 inter) */
    float *x = m->x + sp->r0 * h;                 /* (rows, h) */
    if (ps->first) {
        pre_attention(m, 0, sp, normed);
        return;
    }
    const struct qwen_layer *L = &m->layers[ps->layer];
    /* x += ctx Wo^T (+ b) */
    linear(rows, h, nq, m->ctx + sp->r0 * nq, nq, &L->w[M_O], 1.0f, x, h);
    if (L->bo)
        add_bias(x, L->bo, rows, h);
    /* x += (silu(gate) * up) Wdown^T, [gate | up] = post_norm(x) W^T */
    memcpy(normed, x, rows * h * sizeof *normed);
    rmsnorm(normed, L->post_norm, rows, h, m->eps);
    linear(rows, in, h, normed, h, &L->w[M_GATE], 0.0f, mlp, 2 * in);
    linear(rows, in, h, normed, h, &L->w[M_UP], 0.0f, mlp + in, 2 * in);
    silu_gate(mlp, rows, in);
    linear(rows, h, in, mlp, 2 * in, &L->w[M_DOWN], 1.0f, x, h);
    if (ps->layer + 1 < m->n_layer)
        pre_attention(m, ps->layer + 1, sp, normed);
}

/* Attention task (sequence, head): ctx = softmax(Q K^T / sqrt(hd)) V with
 * the causal mask, over blocks of query rows; keys are the cached prefix's
 * (ps->cached rows, all visible) then the sequence's own up to the block's
 * last row, and each row's softmax covers exactly the keys up to itself.
 * Head hd reads key/value head hd / (n_head / n_kv). */
static void attention_task(void *ctx, size_t task, int worker)
{
    const struct pass *ps = ctx;
    struct qwen *m = ps->m;
    size_t s = task / m->n_head, head = task % m->n_head;
    size_t d = m->hd, ld = qkv_width(m), nq = m->n_head * d, np = ps->cached;
    size_t kvh = head / (m->n_head / m->n_kv), kvw = 2 * m->n_kv * d;
    size_t off = m->seq_off[s], len = m->seq_off[s + 1] - off;
    float scale = (float)(1.0 / sqrt((double)d));
    float *scores = m->scratch + (size_t)worker * m->scratch_stride +
                    SPAN_ROWS * (m->hidden + 2 * m->inter); /* (rows, keys) */
    const float *q = m->qkv + off * ld + head * d;          /* (len, d) */
    const float *k = m->qkv + off * ld + nq + kvh * d;      /* (len, d) */
    const float *v = k + m->n_kv * d;                       /* (len, d) */
    const float *pk = m->kv_cache + ps->layer * np * kvw + kvh * d; /* (np, d) */
    const float *pv = pk + m->n_kv * d;                     /* (np, d) */
    float *out = m->ctx + off * nq + head * d;              /* (len, d) */
    for (size_t r = ps->last_row ? len - 1 : 0; r < len; r += ATTN_BLOCK) {
        size_t rows = len - r < ATTN_BLOCK ? len - r : ATTN_BLOCK;
        size_t nk = np + r + rows;
        if (np)
            matmul(rows, np, d, scale, q + r * ld, ld, pk, kvw, true, 0.0f,
                   scores, nk);
        matmul(rows, r + rows, d, scale, q + r * ld, ld, k, ld, true, 0.0f,
               scores + np, nk);
        for (size_t i = 0; i < rows; i++) {
            float *row = scores + i * nk;
            size_t seen = np + r + i + 1;
            softmax_rows(row, 1, seen);
            memset(row + seen, 0, (nk - seen) * sizeof *row);
        }
        if (np)
            matmul(rows, d, np, 1.0f, scores, nk, pv, kvw, false, 0.0f,
                   out + r * nq, nq);
        matmul(rows, d, r + rows, 1.0f, scores + np, nk, v, ld, false,
               np ? 1.0f : 0.0f, out + r * nq, nq);
    }
}

/* Copies layer l's keys and values of the rows just projected (the
 * prefix, run alone as sequence 0) into kv_cache. */
static void save_prefix_kv(struct qwen *m, size_t l)
{
    size_t ld = qkv_width(m), nq = m->n_head * m->hd, kvw = 2 * m->n_kv * m->hd;
    float *dst = m->kv_cache + l * m->prefix_len * kvw;
    for (size_t r = 0; r < m->prefix_len; r++)
        memcpy(dst + r * kvw, m->qkv + r * ld + nq, kvw * sizeof *dst);
}

static void conv_task(void *ctx, size_t task, int worker)
{
    struct qwen *m = ctx;
    bf16_to_f32(m->conv_dst[task], m->conv_src[task], m->conv_n[task]);
}

/* Before a step of a pass: the BF16 matrices it multiplies (layer lo's
 * o_proj and MLP, layer ln's q/k/v; n_layer for none) converted once, in
 * parallel, into wconv, for every span of the batch; on == false drops
 * them after the step.  One layer of float32 at a time, never the model. */
static void convert_step(struct qwen *m, size_t lo, size_t ln, bool on)
{
    enum { CHUNK = 1 << 20 };
    size_t off = 0;
    m->n_conv = 0;
    for (int i = 0; i < N_MATS; i++) {
        size_t l = i <= M_V ? ln : lo;
        if (l >= m->n_layer)
            continue;
        struct mat *W = &m->layers[l].w[i];
        size_t n = W->n * W->k;
        if (W->bf16 && !on)
            W->conv = NULL;
        else if (W->bf16) {
            if (!m->wconv)
                m->wconv = xmalloc(m->layer_floats * sizeof *m->wconv);
            W->conv = m->wconv + off;
            for (size_t j = 0; j < n; j += CHUNK) {
                size_t k = m->n_conv++;
                grow((void **)&m->conv_src, &m->cap_conv, m->n_conv,
                     sizeof *m->conv_src);
                m->conv_dst = xreallocarray(m->conv_dst, m->cap_conv,
                                            sizeof *m->conv_dst);
                m->conv_n = xreallocarray(m->conv_n, m->cap_conv,
                                          sizeof *m->conv_n);
                m->conv_src[k] = (const char *)W->bf16 + j * 2;
                m->conv_dst[k] = m->wconv + off + j;
                m->conv_n[k] = n - j < CHUNK ? n - j : CHUNK;
            }
        }
        off += n;
    }
    if (m->n_conv)
        pool_run(m->pool, m->n_conv, conv_task, m);
}

/* One pass of the body over sequences ids[s][skip, n[s]) packed, each at
 * positions skip.. after `cached` rows of kv_cache (0 or skip), leaving
 * each sequence's last row of the last layer's output in x; when save,
 * the single sequence's keys and values of every layer go to kv_cache
 * instead. */
static void body(struct qwen *m, const struct encoding *const *seqs,
                 size_t n_seqs, size_t skip, size_t cached, bool save)
{
    size_t h = m->hidden, n_tok = 0, n_spans = 0;
    grow((void **)&m->seq_off, &m->cap_seq_off, n_seqs + 1, sizeof *m->seq_off);
    m->seq_off[0] = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        size_t len = (save ? m->prefix_len : seqs[s]->input_ids.n) - skip;
        m->seq_off[s + 1] = n_tok + len;
        for (size_t r = 0; r < len; r += SPAN_ROWS) {
            grow((void **)&m->spans, &m->cap_spans, n_spans + 1,
                 sizeof *m->spans);
            m->spans[n_spans++] = (struct span){
                n_tok + r, len - r < SPAN_ROWS ? len - r : SPAN_ROWS, skip + r};
        }
        /* x = embed_tokens[ids], rows read from the file */
        for (size_t i = 0; i < len; i++)
            tensor_row(m->emb, (size_t)seqs[s]->input_ids.v[skip + i], h,
                       m->x + (n_tok + i) * h);
        n_tok += len;
    }
    struct pass ps = {m, 0, true, cached, false};
    size_t none = m->n_layer;
    convert_step(m, none, 0, true);
    pool_run(m->pool, n_spans, span_task, &ps);
    convert_step(m, none, 0, false);
    ps.first = false;
    for (size_t l = 0; l < m->n_layer; l++) {
        ps.layer = l;
        if (save)
            save_prefix_kv(m, l);
        if (save && l + 1 == m->n_layer)
            break; /* the prefix's keys and values are all there is to keep */
        /* The logit reads the last row alone: in the last layer of the
         * candidates' pass, only it goes on (one row per sequence). */
        if (!save && l + 1 == m->n_layer) {
            ps.last_row = true;
            for (size_t s = 0; s < n_seqs; s++)
                m->spans[s] = (struct span){m->seq_off[s + 1] - 1, 1,
                                            seqs[s]->input_ids.n - 1};
            n_spans = n_seqs;
        }
        pool_run(m->pool, n_seqs * m->n_head, attention_task, &ps);
        convert_step(m, l, l + 1, true);
        pool_run(m->pool, n_spans, span_task, &ps);
        convert_step(m, l, l + 1, false);
    }
}

/* Tokens every sequence of the batch starts with, leaving each at least
 * one of its own (the last, whose logit is wanted); 0 for one sequence. */
static size_t shared_prefix(const struct encoding *const *seqs, size_t n_seqs)
{
    if (n_seqs < 2)
        return 0;
    const struct ids *a = &seqs[0]->input_ids;
    size_t p = a->n - 1;
    for (size_t s = 1; s < n_seqs && p; s++) {
        const struct ids *b = &seqs[s]->input_ids;
        size_t i = 0, lim = b->n - 1 < p ? b->n - 1 : p;
        while (i < lim && a->v[i] == b->v[i])
            i++;
        p = i;
    }
    return p;
}

/* Logits of a batch.  The tokens all its sequences start with (an LLM
 * reranker's prompt and query) run once, their keys and values cached;
 * then each sequence's own rows attend to them and to themselves.  Causal
 * attention makes that the same computation, so a sequence scores the
 * same (to float rounding) in any batch. */
static int qwen_forward(struct model *base, const struct encoding *const *seqs,
                        size_t n_seqs, float *logits, struct err *e)
{
    struct qwen *m = (struct qwen *)base;
    size_t n_tok = 0, max_len = 0;
    if (n_seqs == 0)
        return 0;
    size_t widest = qkv_width(m) > 2 * m->inter ? qkv_width(m) : 2 * m->inter;
    if (model_check_batch(base, m->n_vocab, widest, seqs, n_seqs, &n_tok,
                          &max_len, e))
        return -1;
    size_t h = m->hidden, workers = (size_t)pool_size(m->pool);
    size_t kvw = 2 * m->n_kv * m->hd;
    m->prefix_len = shared_prefix(seqs, n_seqs);
    model_reserve(&m->x, &m->cap_x, n_tok * h);
    model_reserve(&m->qkv, &m->cap_qkv, n_tok * qkv_width(m));
    model_reserve(&m->ctx, &m->cap_ctx, n_tok * m->n_head * m->hd);
    model_reserve(&m->kv_cache, &m->cap_kv_cache,
            m->n_layer * m->prefix_len * kvw + 1);
    rope_reserve(m, max_len);
    size_t gb = max_len < ATTN_BLOCK ? max_len : ATTN_BLOCK;
    size_t stride = SPAN_ROWS * (h + 2 * m->inter) + gb * max_len;
    if (stride > m->scratch_stride)
        m->scratch_stride = stride;
    model_reserve(&m->scratch, &m->cap_scratch, m->scratch_stride * workers);

    if (m->prefix_len)
        body(m, seqs, 1, 0, 0, true);
    body(m, seqs, n_seqs, m->prefix_len, m->prefix_len, false);
    /* logit = norm(x_last) . (yes - no), or . score */
    for (size_t s = 0; s < n_seqs; s++) {
        float *last = m->x + (m->seq_off[s + 1] - 1) * h;
        rmsnorm(last, m->final_norm, 1, h, m->eps);
        double acc[2] = {0, 0};
        for (size_t r = 0; r < m->n_head_rows; r++)
            for (size_t j = 0; j < h; j++)
                acc[r] += (double)last[j] * m->head[r * h + j];
        logits[s] = (float)(acc[0] - acc[1]);
    }
    return 0;
}

const struct model_family qwen3_family = {
    "qwen",           qwen_match,       qwen_load,
    qwen_template_tokens, NULL,         qwen_forward,
    qwen_set_threads, qwen_free,        qwen_encode_text, NULL,
    NULL, NULL,
};
