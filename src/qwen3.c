/* qwen3.c — decoder-only LLM rerankers on the Qwen body, as transformers'
 * modeling_qwen3.py / modeling_qwen2.py compute them:
 *
 *   Qwen3ForCausalLM (Qwen/Qwen3-Reranker-*): the model card's prompt; the
 *     logit is logit("yes") - logit("no") at the last position, from the two
 *     rows of lm_head.weight (or of the tied embeddings) -- never the whole
 *     vocabulary; default score sigmoid(logit) = softmax([no, yes])[1].
 *   Qwen3ForSequenceClassification (the seq-cls conversion): same body and
 *     prompt; the logit is score.weight [1, hidden] at the last token.
 *
 * The body: embeddings; per layer RMSNorm -> q/k/v projections (biases
 * when attention_bias), per-head RMSNorm of q and k (Qwen3's q_norm and
 * k_norm), rotary embedding (rotate_half, rope_theta), causal
 * grouped-query attention (head_dim from config), o_proj, residual;
 * RMSNorm -> SwiGLU MLP, residual; final RMSNorm (of the last row only).
 *
 * Execution follows modernbert.c: sequences packed without padding, dense
 * layers as GEMMs over spans of at most SPAN_ROWS rows counted from each
 * sequence's start, attention per (sequence, head) over blocks of query
 * rows, so a sequence's logit never depends on the batch.  The prompt is
 * this file's: encode_text tokenizes its prefix, middle and suffix
 * separately (model.h). */
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
#include "model.h"
#include "pool.h"

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

enum recipe { RECIPE_YES_NO, RECIPE_SEQCLS };

struct qwen_layer {
    const float *in_norm;     /* (hidden) input_layernorm */
    const float *wq, *bq;     /* (n_head*hd, hidden), (n_head*hd) or NULL */
    const float *wk, *bk;     /* (n_kv*hd, hidden), (n_kv*hd) or NULL */
    const float *wv, *bv;     /* (n_kv*hd, hidden), (n_kv*hd) or NULL */
    const float *wo;          /* (hidden, n_head*hd) */
    const float *q_norm;      /* (hd) or NULL (Qwen2) */
    const float *k_norm;      /* (hd) or NULL */
    const float *post_norm;   /* (hidden) post_attention_layernorm */
    const float *gate, *up;   /* (inter, hidden) */
    const float *down;        /* (hidden, inter) */
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
    float *head;              /* (n_head_rows, hidden): yes, no rows; or
                                 score.weight */
    size_t n_head_rows;

    struct ids prefix, suffix; /* the prompt's fixed parts */
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
static int load_layers(struct qwen *m, bool qkv_bias, bool qk_norm,
                       struct err *e)
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
            wget(w, p, "self_attn.q_proj.weight", nq, h, true, &L->wq, e) ||
            wget(w, p, "self_attn.q_proj.bias", nq, 0, qkv_bias, &L->bq, e) ||
            wget(w, p, "self_attn.k_proj.weight", nk, h, true, &L->wk, e) ||
            wget(w, p, "self_attn.k_proj.bias", nk, 0, qkv_bias, &L->bk, e) ||
            wget(w, p, "self_attn.v_proj.weight", nk, h, true, &L->wv, e) ||
            wget(w, p, "self_attn.v_proj.bias", nk, 0, qkv_bias, &L->bv, e) ||
            wget(w, p, "self_attn.o_proj.weight", h, nq, true, &L->wo, e) ||
            wget(w, p, "self_attn.q_norm.weight", hd, 0, qk_norm, &L->q_norm,
                 e) ||
            wget(w, p, "self_attn.k_norm.weight", hd, 0, qk_norm, &L->k_norm,
                 e) ||
            wget(w, p, "post_attention_layernorm.weight", h, 0, true,
                 &L->post_norm, e) ||
            wget(w, p, "mlp.gate_proj.weight", in, h, true, &L->gate, e) ||
            wget(w, p, "mlp.up_proj.weight", in, h, true, &L->up, e) ||
            wget(w, p, "mlp.down_proj.weight", h, in, true, &L->down, e))
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
    if (single_token(m, d->path, "yes", &ids[0], e) ||
        single_token(m, d->path, "no", &ids[1], e))
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
    } else {
        err_set(e, "%s: architectures [\"%.100s\"] with model_type \"%.40s\" "
                "is not a supported reranker (Qwen3ForCausalLM, "
                "Qwen3ForSequenceClassification)", path, d->architecture,
                d->model_type);
        goto fail;
    }
    bool qkv_bias, tied;
    if (config_parse(m, d, e) ||
        get_bool(d, "attention_bias", false, &qkv_bias, e) ||
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
    if (load_layers(m, qkv_bias, true, e) ||
        !(m->base.tok = tokenizer_load(d->path, e)) ||
        load_head(m, d, tied, e))
        goto fail;
    m->base.tok->tokenize(m->base.tok, QWEN3_PREFIX, strlen(QWEN3_PREFIX),
                          &m->prefix);
    m->base.tok->tokenize(m->base.tok, QWEN3_SUFFIX, strlen(QWEN3_SUFFIX),
                          &m->suffix);
    m->base.n_labels = 1;
    m->base.activation = ACTIVATION_SIGMOID;
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    qwen_set_threads(&m->base, n_cpu > 0 ? (int)(n_cpu < 64 ? n_cpu : 64) : 1);
    return &m->base;
fail:
    qwen_free(&m->base);
    return NULL;
}

static bool qwen_match(const struct model_dir *d)
{
    return strcmp(d->model_type, "qwen3") == 0;
}

/* ---- the prompt ----------------------------------------------------- */

static size_t qwen_template_tokens(const struct model *base)
{
    const struct qwen *m = (const struct qwen *)base;
    return m->prefix.n + m->suffix.n;
}

static void ids_append(struct ids *dst, const int32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ids_push(dst, v[i]);
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
    struct ids *ids = &out->input_ids;
    ids->n = 0;
    ids_append(ids, m->prefix.v, m->prefix.n);
    base->tok->tokenize(base->tok, mid, len, ids);
    free(mid);
    size_t fixed = m->prefix.n + m->suffix.n;
    size_t room = max_length > fixed ? max_length - fixed : 0;
    if (ids->n - m->prefix.n > room)
        ids->n = m->prefix.n + room;
    ids_append(ids, m->suffix.v, m->suffix.n);
    out->type_ids.n = 0;
    for (size_t i = 0; i < ids->n; i++)
        ids_push(&out->type_ids, 0);
}

/* ---- forward -------------------------------------------------------- */

/* Checks the batch; its token count into *n_tokens, longest sequence into
 * *max_len.  0, or -1 with e naming the sequence. */
static int check_batch(const struct qwen *m, const struct encoding *const *seqs,
                       size_t n_seqs, size_t *n_tokens, size_t *max_len,
                       struct err *e)
{
    size_t total = 0, longest = 0, widest = qkv_width(m);
    if (2 * m->inter > widest)
        widest = 2 * m->inter;
    for (size_t s = 0; s < n_seqs; s++) {
        const struct ids *ids = &seqs[s]->input_ids;
        if (ids->n == 0 || ids->n > m->base.max_tokens)
            return err_set(e, "sequence %zu: %zu tokens (the model takes 1 to "
                           "%zu)", s, ids->n, m->base.max_tokens);
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
    matmul(rows, nq, h, 1.0f, normed, h, L->wq, h, true, 0.0f, q, ld);
    matmul(rows, nk, h, 1.0f, normed, h, L->wk, h, true, 0.0f, k, ld);
    matmul(rows, nk, h, 1.0f, normed, h, L->wv, h, true, 0.0f, v, ld);
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
    /* x += ctx Wo^T */
    matmul(rows, h, nq, 1.0f, m->ctx + sp->r0 * nq, nq, L->wo, nq, true, 1.0f,
           x, h);
    /* x += (silu(gate) * up) Wdown^T, [gate | up] = post_norm(x) W^T */
    memcpy(normed, x, rows * h * sizeof *normed);
    rmsnorm(normed, L->post_norm, rows, h, m->eps);
    matmul(rows, in, h, 1.0f, normed, h, L->gate, h, true, 0.0f, mlp, 2 * in);
    matmul(rows, in, h, 1.0f, normed, h, L->up, h, true, 0.0f, mlp + in,
           2 * in);
    silu_gate(mlp, rows, in);
    matmul(rows, h, in, 1.0f, mlp, 2 * in, L->down, in, true, 1.0f, x, h);
    if (ps->layer + 1 < m->n_layer)
        pre_attention(m, ps->layer + 1, sp, normed);
}

/* Attention task (sequence, head): ctx = softmax(Q K^T / sqrt(hd)) V with
 * the causal mask, over blocks of query rows; a block multiplies only the
 * keys up to its last row, and each row's softmax covers keys 0..itself.
 * Head hd reads key/value head hd / (n_head / n_kv). */
static void attention_task(void *ctx, size_t task, int worker)
{
    const struct pass *ps = ctx;
    struct qwen *m = ps->m;
    size_t s = task / m->n_head, head = task % m->n_head;
    size_t d = m->hd, ld = qkv_width(m), nq = m->n_head * d;
    size_t kvh = head / (m->n_head / m->n_kv);
    size_t off = m->seq_off[s], len = m->seq_off[s + 1] - off;
    float scale = (float)(1.0 / sqrt((double)d));
    float *scores = m->scratch + (size_t)worker * m->scratch_stride +
                    SPAN_ROWS * (m->hidden + 2 * m->inter); /* (rows, keys) */
    const float *q = m->qkv + off * ld + head * d;          /* (len, d) */
    const float *k = m->qkv + off * ld + nq + kvh * d;      /* (len, d) */
    const float *v = k + m->n_kv * d;                       /* (len, d) */
    float *out = m->ctx + off * nq + head * d;              /* (len, d) */
    for (size_t r = 0; r < len; r += ATTN_BLOCK) {
        size_t rows = len - r < ATTN_BLOCK ? len - r : ATTN_BLOCK;
        size_t nk = r + rows;
        matmul(rows, nk, d, scale, q + r * ld, ld, k, ld, true, 0.0f, scores,
               nk);
        for (size_t i = 0; i < rows; i++) {
            float *row = scores + i * nk;
            size_t seen = r + i + 1;
            softmax_rows(row, 1, seen);
            memset(row + seen, 0, (nk - seen) * sizeof *row);
        }
        matmul(rows, d, nk, 1.0f, scores, nk, v, ld, false, 0.0f, out + r * nq,
               nq);
    }
}

static int qwen_forward(struct model *base, const struct encoding *const *seqs,
                        size_t n_seqs, float *logits, struct err *e)
{
    struct qwen *m = (struct qwen *)base;
    size_t n_tok = 0, max_len = 0;
    if (n_seqs == 0)
        return 0;
    if (check_batch(m, seqs, n_seqs, &n_tok, &max_len, e))
        return -1;
    size_t h = m->hidden, workers = (size_t)pool_size(m->pool);
    reserve(&m->x, &m->cap_x, n_tok * h);
    reserve(&m->qkv, &m->cap_qkv, n_tok * qkv_width(m));
    reserve(&m->ctx, &m->cap_ctx, n_tok * m->n_head * m->hd);
    rope_reserve(m, max_len);
    size_t gb = max_len < ATTN_BLOCK ? max_len : ATTN_BLOCK;
    size_t stride = SPAN_ROWS * (h + 2 * m->inter) + gb * max_len;
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

    /* x = embed_tokens[ids], rows read from the file */
    float *x = m->x;
    for (size_t s = 0; s < n_seqs; s++)
        for (size_t i = 0; i < seqs[s]->input_ids.n; i++, x += h)
            tensor_row(m->emb, (size_t)seqs[s]->input_ids.v[i], h, x);

    struct pass ps = {m, 0, true};
    pool_run(m->pool, n_spans, span_task, &ps);
    ps.first = false;
    for (size_t l = 0; l < m->n_layer; l++) {
        ps.layer = l;
        pool_run(m->pool, n_seqs * m->n_head, attention_task, &ps);
        pool_run(m->pool, n_spans, span_task, &ps);
    }
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
    "qwen3",          qwen_match,       qwen_load,
    qwen_template_tokens, NULL,         qwen_forward,
    qwen_set_threads, qwen_free,        qwen_encode_text,
};
