/* bert.c — the BERT and XLM-RoBERTa families: loading and running their
 * cross-encoders (BertForSequenceClassification, XLMRobertaForSequence
 * Classification) behind the model seam (model.h).
 *
 * The two share one encoder; what differs is data (struct variant): tensor
 * name prefix, head tensor names and the position offset.  Both heads read
 * the first token: BERT's pooler dense + tanh then classifier, RoBERTa's
 * classifier.dense + tanh then classifier.out_proj.  Their input is the
 * tokenizer's pair template (model_pair_encode).  Both also lend their
 * encoder alone to late-interaction families (model.h load_encoder and
 * encode_hidden: colbert.c), with a key mask for ColBERT's [MASK] query
 * expansion.
 *
 * Loading reads config.json (through struct model_dir), proves every size
 * it gives against model.safetensors before anything those sizes drive is
 * allocated, and builds the weight table: F32 tensors point into the
 * mapping, F16/BF16 ones are converted once, and each layer's query/key/
 * value weights are stacked into one (3*hidden, hidden) matrix so that one
 * GEMM makes all three projections.
 *
 * The forward pass mirrors transformers' BertModel: a batch of sequences is
 * packed into one (n_tokens, hidden) matrix without padding; dense layers
 * run as GEMMs over spans of rows (see SPAN_ROWS for why they are not one
 * GEMM over the whole batch), attention per sequence and head over blocks of
 * query rows (nn/attention.h; with sgemm, ATTN_BLOCK rows), so memory for
 * scores is bounded by a block times seq_len whatever the sequence
 * length.  Both kinds of task spread over a thread pool, and nothing in a
 * sequence's computation depends on its neighbours in the batch or on the
 * thread count.  On CPUs with FMA the float dense layers run on weights
 * packed once at the first forward pass (pgemm.h: OpenBLAS would re-pack
 * them on every span), elsewhere on sgemm.  Scoring needs the last layer
 * for the first token only: its attention is folded into the layer's
 * input (fold_task: no keys or values) and the rest runs on one row per
 * sequence.
 *
 * With --quantize int8 the four dense layers of each encoder layer (query/
 * key/value, attention output, intermediate, output) run on int8 weights
 * (quant.h, exact int32 sums, so still batch-invariant); embeddings,
 * LayerNorm, attention's two products, softmax, the head and the scoring
 * pass's last layer (one row per sequence) stay float. */
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
#include "nn/attention.h"
#include "nn/pgemm.h"
#include "nn/pool.h"
#include "nn/quant.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; F32 weights are used in place"
#endif

/* Query rows per attention block: scores take ATTN_BLOCK * seq_len floats
 * (8 MB at 8192 tokens) instead of seq_len^2. */
#define ATTN_BLOCK 256

/* Batch invariance.  OpenBLAS computes the rows of a GEMM in groups of its
 * kernel's unroll (12 on Haswell/Zen) whose lanes and ragged edges round
 * differently, and its own threading splits the work by shapes that depend
 * on the row count; so a row of one GEMM over the packed batch would depend
 * on where the row sits and how many rows come with it (measured: 1-ulp
 * differences that reach the logits).  On sgemm, dense layers therefore
 * multiply each sequence's rows on their own, in spans of at most
 * SPAN_ROWS rows counted from the sequence's start, so a sequence's
 * arithmetic depends on nothing but the sequence.  Our own kernels (pgemm,
 * and qgemm's exact integer sums) compute every row alone by construction,
 * so on them spans of at most SPAN_ROWS rows run across sequence
 * boundaries (add_spans: the batch's rows cut evenly into a multiple of
 * the pool's workers; each weight is read once per span, and row tiles
 * are ragged only at the batch's end).  Spans and (sequence, head)
 * attention tasks spread over our own thread pool; OpenBLAS runs
 * single-threaded in each. */
#define SPAN_ROWS 256

/* What differs between the two families, as data. */
struct variant {
    const char *model_type;   /* config.json "model_type" */
    const char *architecture; /* config.json "architectures"[0]; NULL:
                                 not checked (an encoder under a head
                                 another family owns) */
    const char *prefix;       /* encoder tensor name prefix */
    const char *head_dense;   /* first-token dense layer, then tanh; NULL
                                 for the encoder alone (bert_encoder_load) */
    const char *head_out;     /* dense layer to the logits; NULL with it */
    bool positions_after_pad; /* position ids pad+1, pad+2, ... (RoBERTa) */
    long default_pad;         /* pad_token_id when config.json has none */
};

static const struct variant bert_variant = {
    "bert", "BertForSequenceClassification", "bert.", "bert.pooler.dense",
    "classifier", false, 0};
static const struct variant xlmr_variant = {
    "xlm-roberta", "XLMRobertaForSequenceClassification", "roberta.",
    "classifier.dense", "classifier.out_proj", true, 1};
/* The BERT encoder without a head (load_encoder), its tensors under
 * "bert." (ColBERT's HF_ColBERT) or unprefixed (a sentence-transformers
 * BertModel). */
static const struct variant bert_encoder_variants[2] = {
    {"bert", NULL, "bert.", NULL, NULL, false, 0},
    {"bert", NULL, "", NULL, NULL, false, 0},
};
/* The XLM-RoBERTa encoder likewise ("roberta." or unprefixed: a PyLate
 * ColBERT on an XLM-R base). */
static const struct variant xlmr_encoder_variants[2] = {
    {"xlm-roberta", NULL, "roberta.", NULL, NULL, true, 1},
    {"xlm-roberta", NULL, "", NULL, NULL, true, 1},
};

struct bert_layer {
    const float *qkv_w;       /* (3*hidden, hidden): query; key; value */
    const float *qkv_b;       /* (3*hidden) */
    const float *attn_out_w;  /* (hidden, hidden) attention.output.dense */
    const float *attn_out_b;  /* (hidden) */
    const float *attn_ln_w;   /* (hidden) attention.output.LayerNorm */
    const float *attn_ln_b;   /* (hidden) */
    const float *inter_w;     /* (inter, hidden) intermediate.dense */
    const float *inter_b;     /* (inter) */
    const float *out_w;       /* (hidden, inter) output.dense */
    const float *out_b;       /* (hidden) */
    const float *out_ln_w;    /* (hidden) output.LayerNorm */
    const float *out_ln_b;    /* (hidden) */
    /* --quantize int8: the four dense weights above, quantized */
    struct qlinear q_qkv, q_attn_out, q_inter, q_out;
    /* float32 on a pgemm path: the same four, packed (pack_weights) */
    struct pgemm_w p_qkv, p_attn_out, p_inter, p_out;
};

/* Rows [r0, r0 + n) of the packed batch, inside one sequence. */
struct span {
    size_t r0, n;
};

struct bert_model {
    struct model base;        /* first: the seam's view of the model */
    const struct variant *v;
    size_t n_vocab, n_pos, n_types, hidden, n_layer, n_head, inter, n_labels;
    float eps;
    int32_t pad_id;

    const float *word_emb;    /* (n_vocab, hidden) */
    const float *pos_emb;     /* (n_pos, hidden) */
    const float *type_emb;    /* (n_types, hidden) */
    const float *emb_ln_w;    /* (hidden) embeddings.LayerNorm */
    const float *emb_ln_b;    /* (hidden) */
    struct bert_layer *layers; /* (n_layer) */
    const float *head_w;      /* (hidden, hidden) pooler / classifier.dense */
    const float *head_b;      /* (hidden) */
    const float *cls_w;       /* (n_labels, hidden) classifier(.out_proj) */
    const float *cls_b;       /* (n_labels) */

    struct weights w;         /* F32 weights point into its mapping */

    struct pool *pool;        /* workers for row chunks and attention */
    bool quantized;           /* dense layers on the q_* weights */
    enum pgemm_path ppath;    /* float dense layers' kernel; PGEMM_NONE:
                                 sgemm on the float weights */
    size_t n_packed;          /* the last n_packed layers have their p_*
                                 weights (pack_weights) */
    bool fold_last;           /* scoring folds the last layer's attention
                                 (fold_task); RERANK_FOLD_LAST=0: not */
    enum attention_path apath; /* attention's kernel; ATTENTION_NONE:
                                 sgemm and softmax_rows */
    enum qgemm_path qpath;    /* their GEMM kernel */
    struct qscratch *qs;      /* (n_qs) per worker, for quantized layers */
    size_t n_qs;
    float *head_tmp;          /* (hidden) pooled state of one sequence */

    /* Activations, grown to the largest batch seen, reused across calls. */
    float *x;                 /* (n_tokens, hidden) hidden states */
    float *qkv;               /* (n_tokens, 3*hidden) */
    float *ctx;               /* (n_tokens, hidden) attention output */
    float *scratch;           /* per worker: ffn (SPAN_ROWS, inter),
                                 tmp (SPAN_ROWS, hidden), then
                                 attention's: attention_scratch, or with
                                 sgemm one block's scores (<= ATTN_BLOCK *
                                 max_len) */
    size_t *seq_off;          /* (n_seqs + 1) first row of each sequence */
    struct span *spans;       /* row spans of the dense layers, then
                                 those over the gathered first rows */
    size_t cap_x, cap_qkv, cap_ctx, cap_scratch, cap_seq_off, cap_spans;
    size_t scratch_stride;    /* floats per worker in scratch */
};

/* ---- config.json ---------------------------------------------------- */

/* A config naming another architecture for this model_type is refused
 * (absent in some hand-made configs: then the tensor names decide).
 * 0, or -1 with e. */
static int config_architecture(const struct bert_model *m,
                               const struct model_dir *d, struct err *e)
{
    const json_t *archs = json_object_get(d->config, "architectures");
    if (!archs || !m->v->architecture)
        return 0;
    const char *arch = json_string_value(json_array_get(archs, 0));
    if (json_array_size(archs) != 1 || !arch ||
        strcmp(arch, m->v->architecture) != 0)
        return err_set(e, "%s/config.json: architectures %s is not supported "
                       "for model_type %s; need [\"%s\"] (a cross-encoder)",
                       d->path, arch ? arch : "(not one string)",
                       m->v->model_type, m->v->architecture);
    return 0;
}

/* Reads the dimensions and hyper-parameters.  Nothing is allocated from
 * them here: load_weights proves them against the file first.
 * 0, or -1 with e. */
static int config_parse(struct bert_model *m, const struct model_dir *d,
                        struct err *e)
{
    if (config_architecture(m, d, e))
        return -1;
    if (model_dir_dim(d, "hidden_size", &m->hidden, e) ||
        model_dir_dim(d, "num_hidden_layers", &m->n_layer, e) ||
        model_dir_dim(d, "num_attention_heads", &m->n_head, e) ||
        model_dir_dim(d, "intermediate_size", &m->inter, e) ||
        model_dir_dim(d, "max_position_embeddings", &m->n_pos, e) ||
        model_dir_dim(d, "type_vocab_size", &m->n_types, e) ||
        model_dir_dim(d, "vocab_size", &m->n_vocab, e) ||
        (m->v->head_out && model_dir_n_labels(d, &m->n_labels, e)))
        return -1;
    if (m->hidden % m->n_head)
        return err_set(e, "%s/config.json: hidden_size %zu is not a multiple "
                       "of num_attention_heads %zu", d->path, m->hidden,
                       m->n_head);

    const json_t *config = d->config;
    const char *act = json_string_value(json_object_get(config, "hidden_act"));
    if (!act || strcmp(act, "gelu") != 0)
        return err_set(e, "%s/config.json: hidden_act \"%.40s\" is not "
                       "supported (only \"gelu\")", d->path,
                       act ? act : "(missing)");
    const char *pet = json_string_value(
        json_object_get(config, "position_embedding_type"));
    if (pet && strcmp(pet, "absolute") != 0)
        return err_set(e, "%s/config.json: position_embedding_type \"%.40s\" "
                       "is not supported (only \"absolute\")", d->path, pet);

    const json_t *eps = json_object_get(config, "layer_norm_eps");
    if (!json_is_number(eps) || !(json_number_value(eps) > 0) ||
        !(json_number_value(eps) < 1))
        return err_set(e, "%s/config.json: \"layer_norm_eps\" missing or not "
                       "in (0, 1)", d->path);
    m->eps = (float)json_number_value(eps);

    const json_t *pad = json_object_get(config, "pad_token_id");
    long pad_id = m->v->default_pad;
    if (pad) {
        if (!json_is_integer(pad) || json_integer_value(pad) < 0 ||
            (size_t)json_integer_value(pad) >= m->n_vocab)
            return err_set(e, "%s/config.json: \"pad_token_id\" is not a "
                           "token id", d->path);
        pad_id = (long)json_integer_value(pad);
    }
    m->pad_id = (int32_t)pad_id;
    if (m->v->positions_after_pad && (size_t)pad_id + 1 >= m->n_pos)
        return err_set(e, "%s/config.json: max_position_embeddings %zu leaves "
                       "no room after pad_token_id %ld", d->path, m->n_pos,
                       pad_id);
    return 0;
}

/* ---- weights -------------------------------------------------------- */

/* Proves every config size against the file before any of them sizes an
 * allocation: the embeddings (vocab, positions, types, hidden), the last
 * layer's feed-forward (num_hidden_layers, intermediate_size), no layer
 * past it, and the output layer (labels).  Every later tensor is checked
 * again when loaded.  0, or -1 with e. */
static int prove_sizes(const struct bert_model *m, struct err *e)
{
    const char *pre = m->v->prefix;
    size_t h = m->hidden, last = m->n_layer - 1;
    const struct weights *w = &m->w;
    if (weights_checkf(w, m->n_vocab, h, e,
                       "%sembeddings.word_embeddings.weight", pre) ||
        weights_checkf(w, m->n_pos, h, e,
                       "%sembeddings.position_embeddings.weight", pre) ||
        weights_checkf(w, m->n_types, h, e,
                       "%sembeddings.token_type_embeddings.weight", pre) ||
        (m->v->head_out &&
         weights_checkf(w, m->n_labels, h, e, "%s.weight", m->v->head_out)))
        return -1;
    char name[256];
    snprintf(name, sizeof name, "%sencoder.layer.%zu.intermediate.dense.weight",
             pre, last);
    if (!weights_has(w, name))
        return err_set(e, "%s: config.json says num_hidden_layers %zu but "
                       "tensor %s is missing", w->st.path, m->n_layer, name);
    if (weights_check(w, name, m->inter, h, e))
        return -1;
    /* A config claiming fewer layers than the file holds would silently
     * drop layers. */
    snprintf(name, sizeof name, "%sencoder.layer.%zu.output.dense.weight", pre,
             m->n_layer);
    if (weights_has(w, name))
        return err_set(e, "%s: holds tensor %s but config.json says "
                       "num_hidden_layers %zu", w->st.path, name, m->n_layer);
    return 0;
}

/* Layer l's weights, query/key/value stacked.  0, or -1 with e. */
static int load_layer(struct bert_model *m, size_t l, struct err *e)
{
    struct bert_layer *L = &m->layers[l];
    struct weights *w = &m->w;
    const char *pre = m->v->prefix;
    size_t h = m->hidden;
    static const char *const names[3] = {"query", "key", "value"};
    const float *wi[3], *bi[3];
    for (int i = 0; i < 3; i++) {
        wi[i] = weights_getf(w, h, h, e,
                             "%sencoder.layer.%zu.attention.self.%s.weight",
                             pre, l, names[i]);
        bi[i] = wi[i] ? weights_getf(w, h, 0, e,
                                     "%sencoder.layer.%zu.attention.self.%s.bias",
                                     pre, l, names[i])
                      : NULL;
        if (!bi[i])
            return -1;
    }
    /* The three (h, h) tensors exist: 3*h*h floats are backed by the file. */
    float *qkv_w = weights_own(w, 3 * h * h), *qkv_b = weights_own(w, 3 * h);
    for (int i = 0; i < 3; i++) {
        memcpy(qkv_w + i * h * h, wi[i], h * h * sizeof *qkv_w);
        memcpy(qkv_b + i * h, bi[i], h * sizeof *qkv_b);
    }
    L->qkv_w = qkv_w;
    L->qkv_b = qkv_b;
#define W(field, d0, d1, what)                                                \
    if (!(L->field = weights_getf(w, d0, d1, e, "%sencoder.layer.%zu.%s",     \
                                  pre, l, what)))                             \
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

/* All weights.  0, or -1 with e. */
static int load_weights(struct bert_model *m, struct err *e)
{
    struct weights *w = &m->w;
    const char *pre = m->v->prefix;
    size_t h = m->hidden;
    if (prove_sizes(m, e))
        return -1;
    if (!(m->word_emb = weights_getf(w, m->n_vocab, h, e,
                                     "%sembeddings.word_embeddings.weight", pre)) ||
        !(m->pos_emb = weights_getf(w, m->n_pos, h, e,
                                    "%sembeddings.position_embeddings.weight", pre)) ||
        !(m->type_emb = weights_getf(w, m->n_types, h, e,
                                     "%sembeddings.token_type_embeddings.weight", pre)) ||
        !(m->emb_ln_w = weights_getf(w, h, 0, e, "%sembeddings.LayerNorm.weight", pre)) ||
        !(m->emb_ln_b = weights_getf(w, h, 0, e, "%sembeddings.LayerNorm.bias", pre)))
        return -1;
    m->layers = xcalloc(m->n_layer, sizeof *m->layers);
    for (size_t l = 0; l < m->n_layer; l++)
        if (load_layer(m, l, e))
            return -1;
    const char *hd = m->v->head_dense, *ho = m->v->head_out;
    if (!hd)
        return 0;
    if (!(m->head_w = weights_getf(w, h, h, e, "%s.weight", hd)) ||
        !(m->head_b = weights_getf(w, h, 0, e, "%s.bias", hd)) ||
        !(m->cls_w = weights_getf(w, m->n_labels, h, e, "%s.weight", ho)) ||
        !(m->cls_b = weights_getf(w, m->n_labels, 0, e, "%s.bias", ho)))
        return -1;
    return 0;
}

static void bert_free(struct model *base)
{
    struct bert_model *m = (struct bert_model *)base;
    if (!m)
        return;
    tokenizer_free(m->base.tok);
    for (size_t l = 0; m->layers && l < m->n_layer; l++) {
        struct bert_layer *L = &m->layers[l];
        qlinear_free(&L->q_qkv);
        qlinear_free(&L->q_attn_out);
        qlinear_free(&L->q_inter);
        qlinear_free(&L->q_out);
        pgemm_free(&L->p_qkv);
        pgemm_free(&L->p_attn_out);
        pgemm_free(&L->p_inter);
        pgemm_free(&L->p_out);
    }
    for (size_t i = 0; i < m->n_qs; i++)
        qscratch_free(&m->qs[i]);
    free(m->qs);
    free(m->layers);
    weights_close(&m->w);
    pool_free(m->pool);
    free(m->head_tmp);
    free(m->x);
    free(m->qkv);
    free(m->ctx);
    free(m->scratch);
    free(m->seq_off);
    free(m->spans);
    free(m);
}

static void bert_set_threads(struct model *base, int n)
{
    struct bert_model *m = (struct bert_model *)base;
    /* Our threads call OpenBLAS, which must not start its own (see
     * SPAN_ROWS); the setting is process-wide. */
    openblas_set_num_threads(1);
    pool_free(m->pool);
    m->pool = pool_new(n > 0 ? n : 1);
    for (size_t i = 0; i < m->n_qs; i++)
        qscratch_free(&m->qs[i]);
    free(m->qs);
    m->n_qs = (size_t)pool_size(m->pool);
    m->qs = xcalloc(m->n_qs, sizeof *m->qs);
}

/* The family's quantize (model.h): every layer's dense weights to int8,
 * per output channel.  The float weights stay (they may be the file's
 * mapping) but are no longer read. */
static int bert_quantize(struct model *base, struct err *e)
{
    struct bert_model *m = (struct bert_model *)base;
    size_t h = m->hidden, inter = m->inter;
    if (m->quantized)
        return 0;
    for (size_t l = 0; l < m->n_layer; l++) {
        struct bert_layer *L = &m->layers[l];
        qlinear_init(&L->q_qkv, L->qkv_w, 3 * h, h);
        qlinear_init(&L->q_attn_out, L->attn_out_w, h, h);
        qlinear_init(&L->q_inter, L->inter_w, inter, h);
        qlinear_init(&L->q_out, L->out_w, h, inter);
    }
    m->qpath = qgemm_best();
    m->quantized = true;
    return 0;
}

/* Longest sequence the position embeddings cover (special tokens
 * included): max_position_embeddings, less pad_token_id + 1 for
 * XLM-RoBERTa (whose positions start there). */
static size_t max_tokens(const struct bert_model *m)
{
    return m->v->positions_after_pad ? m->n_pos - (size_t)m->pad_id - 1
                                     : m->n_pos;
}

/* Config and weights (model_load adds the tokenizer).  NULL with e. */
static struct model *load(const struct model_dir *d, const struct variant *v,
                          struct err *e)
{
    struct bert_model *m = xcalloc(1, sizeof *m);
    m->v = v;
    if (config_parse(m, d, e) || weights_open(&m->w, d, v->model_type, e) ||
        load_weights(m, e) ||
        (v->head_out &&
         model_dir_activation(d, m->n_labels, &m->base.activation, e)))
        goto fail;
    m->base.n_labels = m->n_labels;
    m->base.max_tokens = max_tokens(m);
    m->ppath = pgemm_best();
    const char *fold = getenv("RERANK_FOLD_LAST");
    m->fold_last = !(fold && strcmp(fold, "0") == 0);
    m->apath = attention_best();
    m->head_tmp = xmalloc(m->hidden * sizeof *m->head_tmp);
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    bert_set_threads(&m->base, n_cpu > 0 ? (int)(n_cpu < 64 ? n_cpu : 64) : 1);
    return &m->base;
fail:
    bert_free(&m->base);
    return NULL;
}

static struct model *bert_load(const struct model_dir *d, struct err *e)
{
    return load(d, &bert_variant, e);
}

static struct model *xlmr_load(const struct model_dir *d, struct err *e)
{
    return load(d, &xlmr_variant, e);
}

/* The family's load_encoder (model.h): the encoder alone, its tensors
 * under the variant's prefix or unprefixed. */
static struct model *encoder_load(const struct model_dir *d, bool prefixed,
                                  const struct variant v[2], struct err *e)
{
    struct model *m = load(d, &v[prefixed ? 0 : 1], e);
    if (m)
        m->hidden = ((struct bert_model *)m)->hidden;
    return m;
}

static struct model *bert_load_encoder(const struct model_dir *d,
                                       bool prefixed, struct err *e)
{
    return encoder_load(d, prefixed, bert_encoder_variants, e);
}

static struct model *xlmr_load_encoder(const struct model_dir *d,
                                       bool prefixed, struct err *e)
{
    return encoder_load(d, prefixed, xlmr_encoder_variants, e);
}

static bool bert_match(const struct model_dir *d)
{
    return strcmp(d->model_type, bert_variant.model_type) == 0;
}

static bool xlmr_match(const struct model_dir *d)
{
    return strcmp(d->model_type, xlmr_variant.model_type) == 0;
}

/* ---- forward -------------------------------------------------------- */

/* Checks the batch and returns its token count in *n_tokens and its
 * longest sequence in *max_len.  0, or -1 with e naming the sequence. */
static int check_batch(const struct bert_model *m,
                       const struct encoding *const *seqs, size_t n_seqs,
                       const size_t *n_keys, size_t *n_tokens,
                       size_t *max_len, struct err *e)
{
    size_t total = 0, longest = 0, limit = m->base.max_tokens;
    size_t widest = 3 * m->hidden > m->inter ? 3 * m->hidden : m->inter;
    for (size_t s = 0; s < n_seqs; s++) {
        const struct ids *ids = &seqs[s]->input_ids, *types = &seqs[s]->type_ids;
        size_t n = ids->n;
        if (n == 0 || n > limit)
            return err_set(e, "sequence %zu: %zu tokens (the model takes 1 to "
                           "%zu)", s, n, limit);
        if (types->n != n)
            return err_set(e, "sequence %zu: %zu token type ids for %zu "
                           "tokens", s, types->n, n);
        if (n_keys && (n_keys[s] == 0 || n_keys[s] > n))
            return err_set(e, "sequence %zu: %zu attended tokens of %zu", s,
                           n_keys[s], n);
        for (size_t i = 0; i < n; i++) {
            if (ids->v[i] < 0 || (size_t)ids->v[i] >= m->n_vocab)
                return err_set(e, "sequence %zu: token id %ld outside the "
                               "vocabulary (%zu)", s, (long)ids->v[i],
                               m->n_vocab);
            if (types->v[i] < 0 || (size_t)types->v[i] >= m->n_types)
                return err_set(e, "sequence %zu: token type id %ld outside "
                               "type_vocab_size %zu", s, (long)types->v[i],
                               m->n_types);
        }
        total += n;
        longest = n > longest ? n : longest;
        /* cblas takes int sizes: the widest activation must stay below. */
        if (total > (size_t)INT_MAX / widest)
            return err_set(e, "batch of %zu sequences is too large", n_seqs);
    }
    *n_tokens = total;
    *max_len = longest;
    return 0;
}

/* x(n_tokens, hidden) = LayerNorm(word + token_type + position). */
static void embed(struct bert_model *m, const struct encoding *const *seqs,
                  size_t n_seqs, size_t n_tokens)
{
    size_t h = m->hidden;
    float *x = m->x;
    for (size_t s = 0; s < n_seqs; s++) {
        const struct encoding *enc = seqs[s];
        /* RoBERTa counts non-pad tokens from pad_token_id + 1 (and gives
         * pad tokens pad_token_id); BERT counts from 0. */
        size_t pos = (size_t)m->pad_id;
        for (size_t i = 0; i < enc->input_ids.n; i++, x += h) {
            int32_t id = enc->input_ids.v[i];
            size_t p = i;
            if (m->v->positions_after_pad)
                p = id == m->pad_id ? (size_t)m->pad_id : ++pos;
            const float *w = m->word_emb + (size_t)id * h;
            const float *t = m->type_emb + (size_t)enc->type_ids.v[i] * h;
            const float *pe = m->pos_emb + p * h;
            for (size_t j = 0; j < h; j++)
                x[j] = (w[j] + t[j]) + pe[j];
        }
    }
    layernorm(m->x, m->emb_ln_w, m->emb_ln_b, n_tokens, h, m->eps);
}

/* One forward pass's shared state, for the pool's tasks. */
struct pass {
    struct bert_model *m;
    const size_t *n_keys;       /* (n_seqs) keys each sequence attends to;
                                   NULL: all its tokens */
    const struct span *spans;   /* the span tasks' rows */
    size_t layer;               /* attention of this layer has run */
    int stage;                  /* STAGE_* */
    bool first_only;            /* this layer's queries: each sequence's
                                   first token only (see encode) */
    bool fold_last;             /* the last layer's attention folded
                                   (fold_task): no keys, values or
                                   queries from the span tasks */
};

enum { STAGE_FIRST_QKV, STAGE_LAYER_REST };

/* One dense layer without its bias: y(rows, n) = x(rows, k) W^T, on the
 * float weights w (n, k), packed p, or, quantized, on q (NULL: float). */
static void dense(struct bert_model *m, int worker, const float *w,
                  const struct pgemm_w *p, const struct qlinear *q,
                  size_t rows, size_t n, size_t k, const float *x, size_t ldx,
                  float *y, size_t ldy)
{
    if (q)
        qlinear_forward(q, m->qpath, x, ldx, rows, y, ldy, &m->qs[worker]);
    else if (p->data)
        pgemm(p, m->ppath, x, ldx, rows, y, ldy);
    else if (rows == 1) /* sgemm would pack all of w for one row */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, 1.0f, w,
                    (int)k, x, 1, 0.0f, y, 1);
    else
        matmul(rows, n, k, 1.0f, x, ldx, w, k, true, 0.0f, y, ldy);
}

/* Span task: everything between two attentions is row-local, so one
 * task takes its rows through the rest of layer `layer` (attention output
 * + LayerNorm, feed-forward + LayerNorm) and the next layer's query/key/
 * value projection while they are in cache. */
static void span_task(void *ctx, size_t task, int worker)
{
    const struct pass *ps = ctx;
    struct bert_model *m = ps->m;
    size_t h = m->hidden, inter = m->inter;
    size_t r0 = ps->spans[task].r0, rows = ps->spans[task].n;
    float *x = m->x + r0 * h;                     /* (rows, h) */
    float *ffn = m->scratch + (size_t)worker * m->scratch_stride;
    float *tmp = ffn + SPAN_ROWS * inter;         /* (rows, h) */
    size_t next = 0;

    if (ps->stage == STAGE_LAYER_REST) {
        const struct bert_layer *L = &m->layers[ps->layer];
        /* A quantized model's last layer on first tokens alone stays in
         * float: a row per sequence costs next to nothing, and the score
         * then carries no quantization error from it. */
        bool q8 = m->quantized && !ps->first_only;
        /* x = LayerNorm(ctx W_o^T + b_o + x) */
        dense(m, worker, L->attn_out_w, &L->p_attn_out,
              q8 ? &L->q_attn_out : NULL, rows, h, h, m->ctx + r0 * h, h,
              tmp, h);
        residual_layernorm(x, tmp, L->attn_out_b, L->attn_ln_w, L->attn_ln_b,
                           rows, h, m->eps);
        /* ffn = gelu(x W_i^T + b_i) */
        dense(m, worker, L->inter_w, &L->p_inter, q8 ? &L->q_inter : NULL,
              rows, inter, h, x, h, ffn, inter);
        bias_gelu(ffn, L->inter_b, rows, inter);
        /* x = LayerNorm(ffn W_out^T + b_out + x) */
        dense(m, worker, L->out_w, &L->p_out, q8 ? &L->q_out : NULL, rows, h,
              inter, ffn, inter, tmp, h);
        residual_layernorm(x, tmp, L->out_b, L->out_ln_w, L->out_ln_b, rows,
                           h, m->eps);
        next = ps->layer + 1;
    }
    if (next < m->n_layer && !(ps->fold_last && next + 1 == m->n_layer)) {
        /* qkv = x W_qkv^T + b: query, key and value in one GEMM */
        const struct bert_layer *L = &m->layers[next];
        dense(m, worker, L->qkv_w, &L->p_qkv, m->quantized ? &L->q_qkv : NULL,
              rows, 3 * h, h, x, h, m->qkv + r0 * 3 * h, 3 * h);
        add_bias(m->qkv + r0 * 3 * h, L->qkv_b, rows, 3 * h);
    }
}

/* Attention task (sequence, head): ctx = softmax(Q K^T / sqrt(d)) V, Q, K
 * and V read as column slices of qkv(n_tokens, 3*hidden): on our kernel
 * (attention.h), or with sgemm over blocks of ATTN_BLOCK query rows. */
static void attention_task(void *ctx, size_t task, int worker)
{
    const struct pass *ps = ctx;
    struct bert_model *m = ps->m;
    size_t s = task / m->n_head, hd = task % m->n_head;
    size_t h = m->hidden, d = h / m->n_head, ld = 3 * h;
    size_t off = m->seq_off[s], len = m->seq_off[s + 1] - off;
    /* Keys past nk are masked out (attention_mask 0): their weight would
     * be exp(finfo.min) = 0 in transformers, so they are left out. */
    size_t nk = ps->n_keys ? ps->n_keys[s] : len;
    size_t nq = ps->first_only ? 1 : len;           /* query rows */
    float scale = 1.0f / sqrtf((float)d);
    float *scores = m->scratch + (size_t)worker * m->scratch_stride +
                    SPAN_ROWS * (m->inter + h);     /* (rows, len) */
    const float *q = m->qkv + off * ld + hd * d;    /* (len, d), stride ld */
    const float *k = q + h;                         /* (len, d), stride ld */
    const float *v = q + 2 * h;                     /* (len, d), stride ld */
    float *out = m->ctx + off * h + hd * d;         /* (len, d), stride h */
    if (m->apath != ATTENTION_NONE) {
        attention_head(m->apath, nq, nk, d, scale, q, ld, k, ld, v, ld, out,
                       h, scores);
        return;
    }
    for (size_t r = 0; r < nq; r += ATTN_BLOCK) {
        size_t rows = nq - r < ATTN_BLOCK ? nq - r : ATTN_BLOCK;
        /* scores = Q_block K^T / sqrt(d) */
        matmul(rows, nk, d, scale, q + r * ld, ld, k, ld, true, 0.0f, scores,
               nk);
        softmax_rows(scores, rows, nk);
        /* out_block = scores V */
        matmul(rows, d, nk, 1.0f, scores, nk, v, ld, false, 0.0f,
               out + r * h, h);
    }
}

/* Fold task (sequence): the last layer's attention for the first token
 * alone, without the keys and values of the other tokens.  With q the
 * first token's query, X the layer's input rows (the keys' tokens) and
 * per head h: q.k_j = q.(W_k x_j + b_k) = (W_k^T q).x_j + q.b_k, and
 * sum_j p_j v_j = W_v (sum_j p_j x_j) + b_v (the p_j sum to 1).  So per
 * head two vectors of hidden floats replace a key and a value per token:
 * 2 n_keys hidden^2 multiply-adds become about 4 n_keys hidden (MiniLM
 * shape: 1/32 of them), the same attention in another order of float
 * sums.  Query, key-side and value-side products are float sgemv on the
 * file's weights, for float and int8 models alike. */
static void fold_task(void *ctx, size_t s, int worker)
{
    const struct pass *ps = ctx;
    struct bert_model *m = ps->m;
    const struct bert_layer *L = &m->layers[m->n_layer - 1];
    size_t h = m->hidden, nh = m->n_head, d = h / nh;
    size_t off = m->seq_off[s], len = m->seq_off[s + 1] - off;
    size_t nk = ps->n_keys ? ps->n_keys[s] : len;
    float scale = 1.0f / sqrtf((float)d);
    const float *x = m->x + off * h;                /* (len, h) */
    float *q = m->scratch + (size_t)worker * m->scratch_stride; /* (h) */
    float *qt = q + h;                              /* (nh, h): W_k^T q */
    float *xb = qt + nh * h;                        /* (nh, h): P X */
    float *sc = xb + nh * h;                        /* (nh, nk) */
    const float *wq = L->qkv_w, *wk = wq + h * h, *wv = wk + h * h;
    const float *bq = L->qkv_b, *bk = bq + h, *bv = bk + h;

    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)h, (int)h, 1.0f, wq,
                (int)h, x, 1, 0.0f, q, 1);
    add_bias(q, bq, 1, h);
    for (size_t hd = 0; hd < nh; hd++)             /* qt_h = W_k,h^T q_h */
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)d, (int)h, 1.0f,
                    wk + hd * d * h, (int)h, q + hd * d, 1, 0.0f,
                    qt + hd * h, 1);
    /* scores = scale (qt X^T + q_h.b_k,h) */
    matmul(nh, nk, h, scale, qt, h, x, h, true, 0.0f, sc, nk);
    for (size_t hd = 0; hd < nh; hd++) {
        float qb = 0;
        for (size_t c = 0; c < d; c++)
            qb += q[hd * d + c] * bk[hd * d + c];
        for (size_t j = 0; j < nk; j++)
            sc[hd * nk + j] += scale * qb;
    }
    softmax_rows(sc, nh, nk);
    matmul(nh, h, nk, 1.0f, sc, nk, x, h, false, 0.0f, xb, h);
    float *out = m->ctx + off * h;                  /* (h): every head */
    for (size_t hd = 0; hd < nh; hd++)             /* out_h = W_v,h xb_h */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)d, (int)h, 1.0f,
                    wv + hd * d * h, (int)h, xb + hd * h, 1, 0.0f,
                    out + hd * d, 1);
    add_bias(out, bv, 1, h);
}

/* Pack task: dense weight task % 4 of layer n_layer - n_packed + task / 4
 * (a quantized model's float rows need no query/key/value weights). */
static void pack_task(void *ctx, size_t task, int worker)
{
    struct bert_model *m = ctx;
    struct bert_layer *L = &m->layers[m->n_layer - m->n_packed + task / 4];
    size_t h = m->hidden, inter = m->inter;
    switch (task % 4) {
    case 0:
        if (!m->quantized)
            pgemm_pack(&L->p_qkv, L->qkv_w, 3 * h, h);
        break;
    case 1:
        pgemm_pack(&L->p_attn_out, L->attn_out_w, h, h);
        weights_release(&m->w, L->attn_out_w, h * h);
        break;
    case 2:
        pgemm_pack(&L->p_inter, L->inter_w, inter, h);
        weights_release(&m->w, L->inter_w, inter * h);
        break;
    default:
        pgemm_pack(&L->p_out, L->out_w, h, inter);
        weights_release(&m->w, L->out_w, h * inter);
        break;
    }
}

/* The float dense weights packed for pgemm, once, at the first forward
 * pass that needs them: every layer's for a float model; a quantized
 * model's float rows are the last layer's first tokens (span_task), so
 * its last layer's.  The file's copies then leave memory (the stacked
 * query/key/value copy is ours). */
static void pack_weights(struct bert_model *m)
{
    size_t need = m->quantized ? 1 : m->n_layer;
    if (m->n_packed >= need || m->ppath == PGEMM_NONE)
        return;
    size_t more = need - m->n_packed;
    m->n_packed = need; /* pack_task counts its layer from here */
    pool_run(m->pool, 4 * more, pack_task, m);
}

/* Appends to m->spans, after its first n_spans, spans covering rows
 * [off, off + len): at most max_rows each, as many as a multiple of parts
 * where len allows, in whole tiles of 8 rows (1 when max_rows is less)
 * shared out evenly, so that parts workers finish a stage together.
 * Returns the new number of spans. */
static size_t add_spans(struct bert_model *m, size_t n_spans, size_t off,
                        size_t len, size_t max_rows, size_t parts)
{
    size_t unit = max_rows < 8 ? 1 : 8;
    size_t tiles = (len + unit - 1) / unit;
    size_t n = (len + max_rows - 1) / max_rows;
    n = (n + parts - 1) / parts * parts;
    n = n < tiles ? n : tiles;
    grow((void **)&m->spans, &m->cap_spans, n_spans + n, sizeof *m->spans);
    for (size_t i = 0, r = 0; i < n; i++) {
        size_t rows = (tiles / n + (i < tiles % n)) * unit;
        rows = len - r < rows ? len - r : rows; /* the last span's tile */
        m->spans[n_spans++] = (struct span){off + r, rows};
        r += rows;
    }
    return n_spans;
}

/* The encoder over a packed batch: the last hidden states in m->x
 * (n_tokens, hidden).  With first_only, row s of m->x is sequence s's
 * first token's last hidden state (the other rows are scratch): a head
 * that reads the first token needs no more, so the last layer takes keys
 * and values from every row (computed with the layer before) but runs its
 * queries, attention output, LayerNorms and feed-forward on the first row
 * alone, the first rows gathered to the top of m->x and m->ctx so that
 * the dense layers read each weight once for all of them.  Rows meet only
 * in attention, so that row's arithmetic is the same as in the full layer
 * up to how the GEMM library treats a one-row product.  0, or -1 with e. */
static int encode(struct bert_model *m, const struct encoding *const *seqs,
                  size_t n_seqs, const size_t *n_keys, bool first_only,
                  struct err *e)
{
    size_t n_tok = 0, max_len = 0;
    if (check_batch(m, seqs, n_seqs, n_keys, &n_tok, &max_len, e))
        return -1;
    size_t h = m->hidden, workers = (size_t)pool_size(m->pool);
    size_t block = max_len < ATTN_BLOCK ? max_len : ATTN_BLOCK;
    model_reserve(&m->x, &m->cap_x, n_tok * h);
    model_reserve(&m->qkv, &m->cap_qkv, n_tok * 3 * h);
    model_reserve(&m->ctx, &m->cap_ctx, n_tok * h);
    size_t stride =
        SPAN_ROWS * (m->inter + h) +
        (m->apath != ATTENTION_NONE
             ? attention_scratch(max_len, max_len, h / m->n_head)
             : block * max_len);
    if (first_only && h + m->n_head * (2 * h + max_len) > stride)
        stride = h + m->n_head * (2 * h + max_len); /* fold_task's */
    if (stride > m->scratch_stride)
        m->scratch_stride = stride;
    model_reserve(&m->scratch, &m->cap_scratch, m->scratch_stride * workers);
    /* Sequence offsets, and spans: see rows_alone; then, for first_only,
     * the spans over the gathered first rows. */
    grow((void **)&m->seq_off, &m->cap_seq_off, n_seqs + 1, sizeof *m->seq_off);
    size_t n_spans = 0;
    m->seq_off[0] = 0;
    for (size_t s = 0; s < n_seqs; s++)
        m->seq_off[s + 1] = m->seq_off[s] + seqs[s]->input_ids.n;
    /* Our own kernels (packed float, int8) treat every row alone, so a
     * span may cross sequences: fewer, fuller spans read each weight
     * panel fewer times and leave fewer ragged row tiles, and their
     * number can follow the pool's.  sgemm's rows depend on their
     * neighbours: its spans stay inside a sequence and are cut by its
     * length alone. */
    bool rows_alone = m->quantized || m->ppath != PGEMM_NONE;
    if (rows_alone)
        n_spans = add_spans(m, 0, 0, n_tok, SPAN_ROWS, workers);
    else
        for (size_t s = 0; s < n_seqs; s++)
            n_spans = add_spans(m, n_spans, m->seq_off[s],
                                m->seq_off[s + 1] - m->seq_off[s], SPAN_ROWS,
                                1);
    /* The first rows run in float, on sgemv without pgemm: one row per
     * call (a float sgemm's rows would depend on their neighbours). */
    size_t n_all = add_spans(m, n_spans, 0, n_seqs,
                             m->ppath != PGEMM_NONE ? SPAN_ROWS : 1, workers);
    const struct span *firsts = m->spans + n_spans;
    size_t n_firsts = n_all - n_spans;
    struct pass ps = {m, n_keys, m->spans, 0, STAGE_FIRST_QKV, false,
                      first_only && m->fold_last};

    pack_weights(m);
    embed(m, seqs, n_seqs, n_tok);
    pool_run(m->pool, n_spans, span_task, &ps);
    ps.stage = STAGE_LAYER_REST;
    for (size_t l = 0; l < m->n_layer; l++) {
        ps.layer = l;
        ps.first_only = first_only && l + 1 == m->n_layer;
        if (ps.first_only && ps.fold_last)
            pool_run(m->pool, n_seqs, fold_task, &ps);
        else
            pool_run(m->pool, n_seqs * m->n_head, attention_task, &ps);
        if (ps.first_only) {
            /* Row s from row seq_off[s] >= s: no source is overwritten
             * before it is read. */
            for (size_t s = 1; s < n_seqs; s++) {
                size_t from = m->seq_off[s] * h;
                memmove(m->x + s * h, m->x + from, h * sizeof *m->x);
                memmove(m->ctx + s * h, m->ctx + from, h * sizeof *m->ctx);
            }
            ps.spans = firsts;
        }
        pool_run(m->pool, ps.first_only ? n_firsts : n_spans, span_task, &ps);
    }
    return 0;
}

/* The family's encode_hidden (model.h): the last hidden states. */
static const float *bert_encode_hidden(struct model *base,
                                       const struct encoding *const *seqs,
                                       size_t n_seqs, const size_t *n_keys,
                                       struct err *e)
{
    struct bert_model *m = (struct bert_model *)base;
    return encode(m, seqs, n_seqs, n_keys, false, e) ? NULL : m->x;
}

/* The family's forward (model.h): logits (n_seqs, n_labels). */
static int bert_forward(struct model *base, const struct encoding *const *seqs,
                        size_t n_seqs, float *logits, struct err *e)
{
    struct bert_model *m = (struct bert_model *)base;
    size_t h = m->hidden;
    if (n_seqs == 0)
        return 0;
    if (!m->v->head_out)
        return err_set(e, "the BERT encoder has no head to score with");
    if (encode(m, seqs, n_seqs, NULL, true, e))
        return -1;

    /* Head on each sequence's first token: tanh(dense), then the output
     * layer (BERT's pooler + classifier; RoBERTa's classification head).
     * One row per call, so batch size cannot change a row's arithmetic. */
    for (size_t s = 0; s < n_seqs; s++) {
        float *out = logits + s * m->n_labels;
        matmul(1, h, h, 1.0f, m->x + s * h, h, m->head_w, h, true,
               0.0f, m->head_tmp, h);
        add_bias(m->head_tmp, m->head_b, 1, h);
        tanh_inplace(m->head_tmp, h);
        matmul(1, m->n_labels, h, 1.0f, m->head_tmp, h, m->cls_w, h, true,
               0.0f, out, m->n_labels);
        add_bias(out, m->cls_b, 1, m->n_labels);
    }
    return 0;
}

const struct model_family bert_family = {
    "bert", bert_match, bert_load, model_pair_template_tokens,
    model_pair_encode, bert_forward, bert_set_threads, bert_free, NULL,
    bert_quantize, bert_load_encoder, bert_encode_hidden,
};

const struct model_family xlm_roberta_family = {
    "xlm-roberta", xlmr_match, xlmr_load, model_pair_template_tokens,
    model_pair_encode, bert_forward, bert_set_threads, bert_free, NULL,
    bert_quantize, xlmr_load_encoder, bert_encode_hidden,
};
