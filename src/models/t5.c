/* t5.c — the T5 family: monoT5 rerankers (T5ForConditionalGeneration)
 * behind the model seam (model.h), as transformers' modeling_t5.py computes
 * them.
 *
 * The input is monoT5's prompt "Query: {q} Document: {d} Relevant:"
 * (RankT5, set_variant "rank": without " Relevant:"; duoT5, t5.h: two
 * documents), tokenized whole by spiece.model (T5's id layout), cut at the
 * end to max_length - 1 tokens, then </s>.  The encoder runs over it: pre-norm
 * blocks with T5's RMSNorm (no mean, no bias), attention without the
 * 1/sqrt(d_kv) scaling plus a learned relative position bias (block 0's
 * table, reused by every layer; bidirectional buckets), and a ReLU
 * (DenseReluDense, T5 v1.0) or gated-GELU (wi_0, wi_1; v1.1) feed-forward.
 * Scoring is one decoder step from decoder_start_token_id: its self-
 * attention sees one token (the softmax is 1, so it is the value projection
 * alone), cross-attention has no bias, and only the two vocabulary rows of
 * "▁true" and "▁false" (found by name) are read — tied embeddings scale the
 * decoder output by d_model^-0.5 first, as T5 does.  The logit is
 * d = logit(true) - logit(false); its sigmoid, the default score, is
 * P(true) of the softmax over the two.  RankT5's is logit(<extra_id_10>).
 *
 * Each sequence runs alone on one worker of the thread pool (its GEMMs over
 * its own rows only), so its score never depends on the rest of the batch. */
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
#include "models/t5.h"

/* Query rows per attention block: scores take ATTN_BLOCK * seq_len floats. */
#define ATTN_BLOCK 256

/* One feed-forward layer: ReLU (wi) or gated GELU (wi = wi_0, wi1 = wi_1). */
struct t5_ffn {
    const float *wi;  /* (d_ff, d_model) */
    const float *wi1; /* (d_ff, d_model), gated layouts only */
    const float *wo;  /* (d_model, d_ff) */
};

struct t5_enc_layer {
    const float *ln0; /* (d_model) layer.0.layer_norm */
    float *qkv;       /* (3*inner, d_model): q; k; v */
    const float *o;   /* (d_model, inner) */
    const float *ln1; /* (d_model) layer.1.layer_norm */
    struct t5_ffn ff;
};

struct t5_dec_layer {
    const float *ln0;   /* (d_model) layer.0.layer_norm */
    const float *sa_v;  /* (inner, d_model) SelfAttention.v */
    const float *sa_o;  /* (d_model, inner) SelfAttention.o */
    const float *ln1;   /* (d_model) layer.1.layer_norm */
    const float *ca_q;  /* (inner, d_model) EncDecAttention.q */
    float *ca_kv;       /* (2*inner, d_model): EncDecAttention k; v */
    const float *ca_o;  /* (d_model, inner) */
    const float *ln2;   /* (d_model) layer.2.layer_norm */
    struct t5_ffn ff;
};

/* A worker's buffers, grown to the longest sequence it has seen. */
struct t5_scratch {
    float *buf;
    size_t cap;
    int *bucket;        /* (2*len - 1) bucket of each relative position */
    size_t cap_bucket;
};

struct t5_model {
    struct model base;  /* first: the seam's view of the model */
    size_t d, d_kv, n_head, inner, d_ff, n_enc, n_dec, n_vocab;
    size_t n_buckets, max_distance;
    float eps;
    bool gated, tied;
    bool rank;                  /* RankT5 (--t5 rank) */
    int32_t start_id, true_id, false_id, rank_id; /* rank_id: <extra_id_10> */

    const float *shared;        /* (n_vocab, d) shared.weight */
    const float *enc_rab;       /* (n_buckets, n_head) encoder block 0 */
    struct t5_enc_layer *enc;   /* (n_enc) */
    const float *enc_ln;        /* (d) encoder.final_layer_norm */
    struct t5_dec_layer *dec;   /* (n_dec) */
    const float *dec_ln;        /* (d) decoder.final_layer_norm */
    const float *head;          /* (n_vocab, d) lm_head, or shared.weight */

    struct weights w;
    struct pool *pool;
    struct t5_scratch *scratch; /* (pool size) */
    int n_scratch;
};

/* ---- relative positions --------------------------------------------- */

/* T5's _relative_position_bucket for relative position rel = key - query,
 * in the float32 arithmetic torch uses (the log-spaced buckets' edges fall
 * on exact integers, so the rounding decides them). */
static int rel_bucket(long rel, bool bidirectional, size_t num_buckets,
                      size_t max_distance)
{
    long ret = 0, n, nb = (long)num_buckets;
    if (bidirectional) {
        nb /= 2;
        if (rel > 0)
            ret += nb;
        n = rel < 0 ? -rel : rel;
    } else {
        n = rel < 0 ? -rel : 0;
    }
    long max_exact = nb / 2;
    if (n < max_exact)
        return (int)(ret + n);
    float v = logf((float)n / (float)max_exact) /
              (float)log((double)max_distance / (double)max_exact) *
              (float)(nb - max_exact);
    long large = max_exact + (long)v;
    if (large > nb - 1)
        large = nb - 1;
    return (int)(ret + large);
}

/* ---- config.json ---------------------------------------------------- */

/* config[key] as a positive integer, def when absent.  0, or -1 with e. */
static int dim_or(const struct model_dir *d, const char *key, size_t def,
                  size_t *out, struct err *e)
{
    if (!json_object_get(d->config, key)) {
        *out = def;
        return 0;
    }
    return model_dir_dim(d, key, out, e);
}

/* Dimensions and options; nothing is allocated from them here.  0, or -1
 * with e. */
static int config_parse(struct t5_model *m, const struct model_dir *d,
                        struct err *e)
{
    const json_t *c = d->config;
    if (d->architecture[0] &&
        strcmp(d->architecture, "T5ForConditionalGeneration") != 0)
        return err_set(e, "%s/config.json: architectures %.100s is not "
                       "supported for model_type t5; need "
                       "[\"T5ForConditionalGeneration\"] (monoT5)", d->path,
                       d->architecture);
    if (model_dir_dim(d, "d_model", &m->d, e) ||
        model_dir_dim(d, "d_kv", &m->d_kv, e) ||
        model_dir_dim(d, "num_heads", &m->n_head, e) ||
        model_dir_dim(d, "d_ff", &m->d_ff, e) ||
        model_dir_dim(d, "num_layers", &m->n_enc, e) ||
        model_dir_dim(d, "vocab_size", &m->n_vocab, e) ||
        dim_or(d, "num_decoder_layers", m->n_enc, &m->n_dec, e) ||
        dim_or(d, "relative_attention_num_buckets", 32, &m->n_buckets, e) ||
        dim_or(d, "relative_attention_max_distance", 128, &m->max_distance,
               e))
        return -1;
    if (m->n_head > INT_MAX / m->d_kv)
        return err_set(e, "%s/config.json: num_heads * d_kv is too large",
                       d->path);
    m->inner = m->n_head * m->d_kv;
    if (m->n_buckets < 4)
        return err_set(e, "%s/config.json: relative_attention_num_buckets "
                       "%zu is fewer than 4", d->path, m->n_buckets);
    const json_t *eps = json_object_get(c, "layer_norm_epsilon");
    m->eps = 1e-6f;
    if (eps) {
        if (!json_is_number(eps) || !(json_number_value(eps) > 0) ||
            !(json_number_value(eps) < 1))
            return err_set(e, "%s/config.json: \"layer_norm_epsilon\" is not "
                           "in (0, 1)", d->path);
        m->eps = (float)json_number_value(eps);
    }
    const json_t *proj = json_object_get(c, "feed_forward_proj");
    const char *p = proj ? json_string_value(proj) : "relu";
    if (!p || (strcmp(p, "relu") != 0 && strcmp(p, "gated-gelu") != 0))
        return err_set(e, "%s/config.json: feed_forward_proj \"%.40s\" is not "
                       "supported (\"relu\" or \"gated-gelu\")", d->path,
                       p ? p : "(not a string)");
    m->gated = strcmp(p, "gated-gelu") == 0;
    const json_t *tie = json_object_get(c, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie))
        return err_set(e, "%s/config.json: \"tie_word_embeddings\" is not a "
                       "boolean", d->path);
    m->tied = !tie || json_is_true(tie);
    const json_t *start = json_object_get(c, "decoder_start_token_id");
    long sid = 0;
    if (start) {
        if (!json_is_integer(start) || json_integer_value(start) < 0 ||
            (size_t)json_integer_value(start) >= m->n_vocab)
            return err_set(e, "%s/config.json: \"decoder_start_token_id\" is "
                           "not a token id", d->path);
        sid = (long)json_integer_value(start);
    }
    m->start_id = (int32_t)sid;
    return 0;
}

/* ---- weights -------------------------------------------------------- */

/* Proves the config's sizes against the file before anything they size is
 * allocated: embeddings, the position bias tables, each stack's last layer
 * and no layer past it.  0, or -1 with e. */
static int prove_sizes(const struct t5_model *m, struct err *e)
{
    const struct weights *w = &m->w;
    const char *ffn = m->gated ? "wi_0" : "wi";
    static const char *const stacks[2] = {"encoder", "decoder"};
    static const char *const keys[2] = {"num_layers", "num_decoder_layers"};
    size_t n[2] = {m->n_enc, m->n_dec};
    char name[256];
    for (int s = 0; s < 2; s++) {
        snprintf(name, sizeof name, "%s.block.%zu.layer.0.layer_norm.weight",
                 stacks[s], n[s] - 1);
        if (!weights_has(w, name))
            return err_set(e, "%s: config.json says %s %zu but tensor %s is "
                           "missing", w->st.path, keys[s], n[s], name);
        /* A config claiming fewer layers than the file holds would
         * silently drop layers. */
        snprintf(name, sizeof name, "%s.block.%zu.layer.0.layer_norm.weight",
                 stacks[s], n[s]);
        if (weights_has(w, name))
            return err_set(e, "%s: holds tensor %s but config.json says %s "
                           "%zu", w->st.path, name, keys[s], n[s]);
    }
    if (weights_check(w, "shared.weight", m->n_vocab, m->d, e) ||
        weights_checkf(w, m->n_buckets, m->n_head, e,
                       "encoder.block.0.layer.0.SelfAttention."
                       "relative_attention_bias.weight") ||
        weights_checkf(w, m->inner, m->d, e,
                       "encoder.block.0.layer.0.SelfAttention.q.weight") ||
        weights_checkf(w, m->d_ff, m->d, e,
                       "encoder.block.%zu.layer.1.DenseReluDense.%s.weight",
                       m->n_enc - 1, ffn) ||
        weights_checkf(w, m->d_ff, m->d, e,
                       "decoder.block.%zu.layer.2.DenseReluDense.%s.weight",
                       m->n_dec - 1, ffn) ||
        (!m->tied && weights_check(w, "lm_head.weight", m->n_vocab, m->d, e)))
        return -1;
    return 0;
}

/* Tensor "<stack>.block.<l>.<what>" of shape (d0, d1) into *out, or -1. */
#define GET(out, d0, d1, stack, l, what)                                      \
    if (!((out) = weights_getf(w, d0, d1, e, "%s.block.%zu.%s", stack, l,     \
                               what)))                                        \
        return -1

/* Rows (n_parts * rows, cols) stacking the tensors names[i] of block l. */
static float *stacked(struct weights *w, const char *stack, size_t l,
                      const char *const *names, int n_parts, size_t rows,
                      size_t cols, struct err *e)
{
    const float *part[3];
    for (int i = 0; i < n_parts; i++)
        if (!(part[i] = weights_getf(w, rows, cols, e, "%s.block.%zu.%s",
                                     stack, l, names[i])))
            return NULL;
    float *out = weights_own(w, (size_t)n_parts * rows * cols);
    for (int i = 0; i < n_parts; i++)
        memcpy(out + (size_t)i * rows * cols, part[i],
               rows * cols * sizeof *out);
    return out;
}

/* The feed-forward layer "<stack>.block.<l>.layer.<k>".  0, or -1. */
static int load_ffn(struct t5_model *m, struct t5_ffn *f, const char *stack,
                    size_t l, int k, struct err *e)
{
    struct weights *w = &m->w;
    char what[96];
    snprintf(what, sizeof what, "layer.%d.DenseReluDense.%s.weight", k,
             m->gated ? "wi_0" : "wi");
    GET(f->wi, m->d_ff, m->d, stack, l, what);
    if (m->gated) {
        snprintf(what, sizeof what, "layer.%d.DenseReluDense.wi_1.weight", k);
        GET(f->wi1, m->d_ff, m->d, stack, l, what);
    }
    snprintf(what, sizeof what, "layer.%d.DenseReluDense.wo.weight", k);
    GET(f->wo, m->d, m->d_ff, stack, l, what);
    return 0;
}

static int load_weights(struct t5_model *m, struct err *e)
{
    struct weights *w = &m->w;
    size_t d = m->d, in = m->inner;
    if (prove_sizes(m, e))
        return -1;
    if (!(m->shared = weights_get(w, "shared.weight", m->n_vocab, d, e)) ||
        !(m->enc_rab = weights_get(w, "encoder.block.0.layer.0.SelfAttention."
                                   "relative_attention_bias.weight",
                                   m->n_buckets, m->n_head, e)) ||
        !(m->enc_ln = weights_get(w, "encoder.final_layer_norm.weight", d, 0,
                                  e)) ||
        !(m->dec_ln = weights_get(w, "decoder.final_layer_norm.weight", d, 0,
                                  e)))
        return -1;
    static const char *const qkv[3] = {"layer.0.SelfAttention.q.weight",
                                       "layer.0.SelfAttention.k.weight",
                                       "layer.0.SelfAttention.v.weight"};
    m->enc = xcalloc(m->n_enc, sizeof *m->enc);
    for (size_t l = 0; l < m->n_enc; l++) {
        struct t5_enc_layer *L = &m->enc[l];
        if (!(L->qkv = stacked(w, "encoder", l, qkv, 3, in, d, e)))
            return -1;
        GET(L->ln0, d, 0, "encoder", l, "layer.0.layer_norm.weight");
        GET(L->o, d, in, "encoder", l, "layer.0.SelfAttention.o.weight");
        GET(L->ln1, d, 0, "encoder", l, "layer.1.layer_norm.weight");
        if (load_ffn(m, &L->ff, "encoder", l, 1, e))
            return -1;
    }
    static const char *const kv[2] = {"layer.1.EncDecAttention.k.weight",
                                      "layer.1.EncDecAttention.v.weight"};
    m->dec = xcalloc(m->n_dec, sizeof *m->dec);
    for (size_t l = 0; l < m->n_dec; l++) {
        struct t5_dec_layer *L = &m->dec[l];
        const float *unused;
        /* The one-token self-attention never reads q and k, but a file
         * without them is not a T5 decoder. */
        GET(unused, in, d, "decoder", l, "layer.0.SelfAttention.q.weight");
        GET(unused, in, d, "decoder", l, "layer.0.SelfAttention.k.weight");
        (void)unused;
        GET(L->ln0, d, 0, "decoder", l, "layer.0.layer_norm.weight");
        GET(L->sa_v, in, d, "decoder", l, "layer.0.SelfAttention.v.weight");
        GET(L->sa_o, d, in, "decoder", l, "layer.0.SelfAttention.o.weight");
        GET(L->ln1, d, 0, "decoder", l, "layer.1.layer_norm.weight");
        GET(L->ca_q, in, d, "decoder", l, "layer.1.EncDecAttention.q.weight");
        GET(L->ca_o, d, in, "decoder", l, "layer.1.EncDecAttention.o.weight");
        GET(L->ln2, d, 0, "decoder", l, "layer.2.layer_norm.weight");
        if (!(L->ca_kv = stacked(w, "decoder", l, kv, 2, in, d, e)) ||
            load_ffn(m, &L->ff, "decoder", l, 2, e))
            return -1;
    }
    m->head = m->shared;
    if (!m->tied &&
        !(m->head = weights_get(w, "lm_head.weight", m->n_vocab, d, e)))
        return -1;
    return 0;
}
#undef GET

/* spiece.model in T5's layout, and the ids of ▁true / ▁false.  0, or -1. */
static int load_tokenizer(struct t5_model *m, const struct model_dir *d,
                          struct err *e)
{
    char path[4096];
    if (!model_dir_file(d, "spiece.model", path, sizeof path))
        return err_set(e, "%s: path too long", d->path);
    if (access(path, F_OK) != 0)
        return err_set(e, "%s: not found (a T5 model needs its SentencePiece "
                       "model)", path);
    if (!(m->base.tok = sentencepiece_load_model(path, SPM_LAYOUT_T5, e)))
        return -1;
    static const char *const words[2] = {"\xe2\x96\x81true",
                                         "\xe2\x96\x81" "false"};
    int32_t *ids[2] = {&m->true_id, &m->false_id};
    for (int i = 0; i < 2; i++) {
        *ids[i] = sentencepiece_piece_id(m->base.tok, words[i]);
        if (*ids[i] < 0 || (size_t)*ids[i] >= m->n_vocab)
            return err_set(e, "%s: no piece \"%s\" within vocab_size %zu "
                           "(monoT5 reads its logit)", path, words[i],
                           m->n_vocab);
    }
    return 0;
}

/* The castorini checkpoints ship pytorch_model.bin on their main branch
 * (pickle, never loaded); their safetensors sit in a conversion pull
 * request.  0, or -1 with e saying where to get them. */
static int check_bin_only(const struct model_dir *d, struct err *e)
{
    char st[4096], bin[4096];
    if (!model_dir_file(d, "model.safetensors", st, sizeof st) ||
        !model_dir_file(d, "pytorch_model.bin", bin, sizeof bin) ||
        access(st, F_OK) == 0 || access(bin, F_OK) != 0)
        return 0;
    return err_set(e, "%s: not found; the directory has pytorch_model.bin, "
                   "which is never loaded (pickle is not safe); T5 rerankers "
                   "such as castorini/monot5-base-msmarco have safetensors in "
                   "the Hub's conversion pull request: download revision "
                   "refs/pr/1 (e.g. --model castorini/monot5-base-msmarco@"
                   "refs/pr/1), or convert with safetensors' convert.py", st);
}

static void t5_free(struct model *base)
{
    struct t5_model *m = (struct t5_model *)base;
    if (!m)
        return;
    tokenizer_free(m->base.tok);
    free(m->enc);
    free(m->dec);
    weights_close(&m->w);
    pool_free(m->pool);
    for (int i = 0; i < m->n_scratch; i++) {
        free(m->scratch[i].buf);
        free(m->scratch[i].bucket);
    }
    free(m->scratch);
    free(m);
}

static void t5_set_threads(struct model *base, int n)
{
    struct t5_model *m = (struct t5_model *)base;
    openblas_set_num_threads(1);
    pool_free(m->pool);
    for (int i = 0; i < m->n_scratch; i++) {
        free(m->scratch[i].buf);
        free(m->scratch[i].bucket);
    }
    free(m->scratch);
    m->pool = pool_new(n > 0 ? n : 1);
    m->n_scratch = pool_size(m->pool);
    m->scratch = xcalloc((size_t)m->n_scratch, sizeof *m->scratch);
}

/* struct model's set_variant: "mono" or "rank". */
static int t5_set_variant(struct model *base, const char *name, struct err *e)
{
    struct t5_model *m = (struct t5_model *)base;
    if (strcmp(name, "mono") == 0) {
        m->rank = false;
        m->base.activation = ACTIVATION_SIGMOID;
        return 0;
    }
    if (strcmp(name, "rank") != 0)
        return err_set(e, "--t5 %.40s: mono or rank", name);
    m->rank_id = sentencepiece_piece_id(base->tok, "<extra_id_10>");
    if (m->rank_id < 0 || (size_t)m->rank_id >= m->n_vocab)
        return err_set(e, "--t5 rank: the tokenizer has no <extra_id_10> "
                       "within vocab_size %zu", m->n_vocab);
    m->rank = true;
    m->base.activation = ACTIVATION_NONE; /* RankT5's score is the logit */
    return 0;
}

static struct model *t5_load(const struct model_dir *d, struct err *e)
{
    struct t5_model *m = xcalloc(1, sizeof *m);
    if (config_parse(m, d, e) || load_tokenizer(m, d, e) ||
        check_bin_only(d, e) || weights_open(&m->w, d, "t5", e) ||
        load_weights(m, e))
        goto fail;
    m->base.n_labels = 1;
    m->base.activation = ACTIVATION_SIGMOID;
    m->base.set_variant = t5_set_variant;
    size_t n_pos = 512;
    if (dim_or(d, "n_positions", n_pos, &n_pos, e))
        goto fail;
    /* cblas takes int sizes: a sequence's widest activation must fit. */
    size_t widest = 3 * m->inner > 2 * m->d_ff ? 3 * m->inner : 2 * m->d_ff;
    if (n_pos > (size_t)INT_MAX / widest) {
        err_set(e, "%s/config.json: n_positions %zu is too large", d->path,
                n_pos);
        goto fail;
    }
    m->base.max_tokens = n_pos;
    t5_set_threads(&m->base, model_default_threads());
    return &m->base;
fail:
    t5_free(&m->base);
    return NULL;
}

static bool t5_match(const struct model_dir *d)
{
    return strcmp(d->model_type, "t5") == 0;
}

/* ---- the prompt ----------------------------------------------------- */

static size_t t5_template_tokens(const struct model *base)
{
    return 1; /* </s> */
}

/* The ids of the concatenated parts (n_parts texts) tokenized as one text,
 * cut from the right to max_length - 1, then </s>: the monoT5 / duoT5
 * recipe. */
static void encode_parts(const struct model *base, const char *const *parts,
                         const size_t *lens, size_t n_parts, size_t max_length,
                         struct encoding *out)
{
    size_t total = 1;
    for (size_t i = 0; i < n_parts; i++)
        total += lens[i];
    char *text = xmalloc(total), *at = text;
    for (size_t i = 0; i < n_parts; i++) {
        memcpy(at, parts[i], lens[i]);
        at += lens[i];
    }
    struct ids *ids = &out->input_ids;
    ids->n = 0;
    base->tok->tokenize(base->tok, text, (size_t)(at - text), ids);
    free(text);
    if (ids->n > max_length - 1)
        ids->n = max_length - 1;
    ids_push(ids, base->tok->sep_id);
    out->type_ids.n = 0;
    for (size_t i = 0; i < ids->n; i++)
        ids_push(&out->type_ids, 0);
}

/* monoT5's recipe: "Query: q Document: d Relevant:", then </s>;
 * RankT5's: "Query: q Document: d", then </s>. */
static void t5_encode_text(const struct model *base, const char *instr,
                           const char *q, size_t nq, const char *d, size_t nd,
                           size_t max_length, struct encoding *out)
{
    const struct t5_model *m = (const struct t5_model *)base;
    const char *parts[] = {"Query: ", q, " Document: ", d, " Relevant:"};
    size_t lens[] = {7, nq, 11, nd, 10};
    encode_parts(base, parts, lens, m->rank ? 4 : 5, max_length, out);
}


void t5_encode_duo(const struct model *m, const char *q, size_t nq,
                   const char *d0, size_t n0, const char *d1, size_t n1,
                   size_t max_length, struct encoding *out)
{
    const char *parts[] = {"Query: ", q, " Document0: ", d0, " Document1: ",
                           d1, " Relevant:"};
    size_t lens[] = {7, nq, 12, n0, 12, n1, 10};
    encode_parts(m, parts, lens, 7, max_length, out);
}

bool t5_is(const struct model *m)
{
    return m->family == &t5_family;
}

/* ---- forward -------------------------------------------------------- */

struct t5_pass {
    struct t5_model *m;
    const struct encoding *const *seqs;
    float *logits;
};

/* x(n, d) += y(n, d). */
static void add_rows(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* h(rows, d) = RMSNorm(x) * w, x kept. */
static void norm_copy(float *h, const float *x, const float *w, size_t rows,
                      size_t d, float eps)
{
    memcpy(h, x, rows * d * sizeof *h);
    rmsnorm(h, w, rows, d, eps);
}

/* x(rows, d) += FFN(h): wo(relu(wi h)) or wo(gelu_new(wi_0 h) * wi_1 h);
 * ffn holds (rows, 2 * d_ff) floats, tmp (rows, d). */
static void ffn_residual(const struct t5_model *m, const struct t5_ffn *f,
                         float *x, const float *h, size_t rows, float *ffn,
                         float *tmp)
{
    size_t d = m->d, ff = m->d_ff;
    matmul(rows, ff, d, 1.0f, h, d, f->wi, d, true, 0.0f, ffn, ff);
    if (m->gated) {
        float *up = ffn + rows * ff;
        matmul(rows, ff, d, 1.0f, h, d, f->wi1, d, true, 0.0f, up, ff);
        gelu_tanh_mul(ffn, up, rows * ff);
    } else {
        for (size_t i = 0; i < rows * ff; i++)
            ffn[i] = ffn[i] > 0 ? ffn[i] : 0;
    }
    matmul(rows, d, ff, 1.0f, ffn, ff, f->wo, ff, true, 0.0f, tmp, d);
    add_rows(x, tmp, rows * d);
}

/* The encoder over one sequence: x(n, d) from the ids to the final norm. */
static void encode_seq(const struct t5_model *m, const struct ids *ids,
                       float *x, float *buf, const int *bucket)
{
    size_t n = ids->n, d = m->d, in = m->inner, dk = m->d_kv, H = m->n_head;
    size_t block = n < ATTN_BLOCK ? n : ATTN_BLOCK;
    float *h = buf;                    /* (n, d) */
    float *qkv = h + n * d;            /* (n, 3*in) */
    float *ctx = qkv + n * 3 * in;     /* (n, in) */
    float *ffn = ctx + n * in;         /* (n, 2*d_ff) */
    float *scores = ffn + n * 2 * m->d_ff; /* (block, n) */
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * d, m->shared + (size_t)ids->v[i] * d, d * sizeof *x);
    for (size_t l = 0; l < m->n_enc; l++) {
        const struct t5_enc_layer *L = &m->enc[l];
        norm_copy(h, x, L->ln0, n, d, m->eps);
        matmul(n, 3 * in, d, 1.0f, h, d, L->qkv, d, true, 0.0f, qkv, 3 * in);
        for (size_t hd = 0; hd < H; hd++) {
            const float *q = qkv + hd * dk, *k = q + in, *v = q + 2 * in;
            for (size_t r = 0; r < n; r += block) {
                size_t rows = n - r < block ? n - r : block;
                /* scores = Q K^T + bias(bucket(key - query)), unscaled */
                matmul(rows, n, dk, 1.0f, q + r * 3 * in, 3 * in, k, 3 * in,
                       true, 0.0f, scores, n);
                for (size_t i = 0; i < rows; i++) {
                    const int *b = bucket + (n - 1) - (r + i);
                    float *s = scores + i * n;
                    for (size_t j = 0; j < n; j++)
                        s[j] += m->enc_rab[(size_t)b[j] * H + hd];
                }
                softmax_rows(scores, rows, n);
                matmul(rows, dk, n, 1.0f, scores, n, v, 3 * in, false, 0.0f,
                       ctx + r * in + hd * dk, in);
            }
        }
        matmul(n, d, in, 1.0f, ctx, in, L->o, in, true, 0.0f, h, d);
        add_rows(x, h, n * d);
        norm_copy(h, x, L->ln1, n, d, m->eps);
        ffn_residual(m, &L->ff, x, h, n, ffn, qkv);
    }
    rmsnorm(x, m->enc_ln, n, d, m->eps);
}

/* One decoder step from decoder_start_token_id over enc(n, d); returns
 * logit(▁true) - logit(▁false), or RankT5's logit(<extra_id_10>). */
static float decode_step(const struct t5_model *m, const float *enc, size_t n,
                         float *buf)
{
    size_t d = m->d, in = m->inner, dk = m->d_kv;
    float *y = buf;                 /* (d) */
    float *h = y + d;               /* (d) */
    float *tmp = h + d;             /* (d) */
    float *v = tmp + d;             /* (in) */
    float *kv = v + in;             /* (n, 2*in) */
    float *s = kv + n * 2 * in;     /* (n) */
    float *ffn = s + n;             /* (2*d_ff) */
    memcpy(y, m->shared + (size_t)m->start_id * d, d * sizeof *y);
    for (size_t l = 0; l < m->n_dec; l++) {
        const struct t5_dec_layer *L = &m->dec[l];
        /* self-attention over the one token: its value, projected */
        norm_copy(h, y, L->ln0, 1, d, m->eps);
        matmul(1, in, d, 1.0f, h, d, L->sa_v, d, true, 0.0f, v, in);
        matmul(1, d, in, 1.0f, v, in, L->sa_o, in, true, 0.0f, h, d);
        add_rows(y, h, d);
        /* cross-attention over the encoder output, no position bias */
        norm_copy(h, y, L->ln1, 1, d, m->eps);
        matmul(1, in, d, 1.0f, h, d, L->ca_q, d, true, 0.0f, v, in);
        matmul(n, 2 * in, d, 1.0f, enc, d, L->ca_kv, d, true, 0.0f, kv,
               2 * in);
        for (size_t hd = 0; hd < m->n_head; hd++) {
            float *q = v + hd * dk; /* replaced by its context below */
            matmul(1, n, dk, 1.0f, q, dk, kv + hd * dk, 2 * in, true, 0.0f, s,
                   n);
            softmax_rows(s, 1, n);
            matmul(1, dk, n, 1.0f, s, n, kv + in + hd * dk, 2 * in, false,
                   0.0f, q, dk);
        }
        matmul(1, d, in, 1.0f, v, in, L->ca_o, in, true, 0.0f, h, d);
        add_rows(y, h, d);
        norm_copy(h, y, L->ln2, 1, d, m->eps);
        ffn_residual(m, &L->ff, y, h, 1, ffn, tmp);
    }
    rmsnorm(y, m->dec_ln, 1, d, m->eps);
    const float *pos = m->head + (size_t)(m->rank ? m->rank_id : m->true_id) * d;
    const float *neg = m->head + (size_t)m->false_id * d;
    double t = 0, f = 0;
    for (size_t i = 0; i < d; i++) {
        t += (double)y[i] * pos[i];
        f += (double)y[i] * neg[i];
    }
    double scale = m->tied ? 1.0 / sqrt((double)d) : 1.0;
    return (float)((m->rank ? t : t - f) * scale);
}

/* Floats a worker needs for a sequence of n tokens. */
static size_t scratch_floats(const struct t5_model *m, size_t n)
{
    size_t block = n < ATTN_BLOCK ? n : ATTN_BLOCK;
    size_t enc = n * m->d /* x */ + n * m->d + n * 3 * m->inner +
                 n * m->inner + n * 2 * m->d_ff + block * n;
    size_t dec = 3 * m->d + m->inner + n * 2 * m->inner + n + 2 * m->d_ff;
    return n * m->d + (enc > dec ? enc : dec);
}

/* Pool task: sequence `task` through encoder and decoder step. */
static void seq_task(void *ctx, size_t task, int worker)
{
    const struct t5_pass *ps = ctx;
    const struct t5_model *m = ps->m;
    struct t5_scratch *sc = &m->scratch[worker];
    const struct ids *ids = &ps->seqs[task]->input_ids;
    size_t n = ids->n, need = scratch_floats(m, n);
    if (need > sc->cap) {
        free(sc->buf);
        sc->buf = xmalloc(need * sizeof *sc->buf);
        sc->cap = need;
    }
    if (2 * n - 1 > sc->cap_bucket) {
        free(sc->bucket);
        sc->bucket = xmalloc((2 * n - 1) * sizeof *sc->bucket);
        sc->cap_bucket = 2 * n - 1;
    }
    /* bucket[(n - 1) + rel] for rel = key - query in [-(n-1), n-1] */
    for (size_t i = 0; i < 2 * n - 1; i++)
        sc->bucket[i] = rel_bucket((long)i - (long)(n - 1), true,
                                   m->n_buckets, m->max_distance);
    float *x = sc->buf, *rest = x + n * m->d;
    encode_seq(m, ids, x, rest, sc->bucket);
    ps->logits[task] = decode_step(m, x, n, rest);
}

static int t5_forward(struct model *base, const struct encoding *const *seqs,
                      size_t n_seqs, float *logits, struct err *e)
{
    struct t5_model *m = (struct t5_model *)base;
    for (size_t s = 0; s < n_seqs; s++)
        if (model_check_ids(base, s, &seqs[s]->input_ids, m->n_vocab, e))
            return -1;
    struct t5_pass ps = {m, seqs, logits};
    pool_run(m->pool, n_seqs, seq_task, &ps);
    return 0;
}

const struct model_family t5_family = {
    "t5",           t5_match,       t5_load,  t5_template_tokens, NULL,
    t5_forward,     t5_set_threads, t5_free,  t5_encode_text, NULL,
    NULL, NULL,
};
