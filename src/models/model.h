/* model.h — the model-family seam under the cross-encoder scorer.
 *
 * A family (bert.c: BERT and XLM-RoBERTa; modernbert.c; ...) is one file
 * exporting one `const struct model_family` and one row in the table in
 * model.c.  It owns loading and validating its weights, its input template
 * (how a query and a document become one id sequence, truncation included),
 * its forward pass over a packed batch and its head (labels, default
 * activation).  Everything above it — batching, --long max windows,
 * threads, --tokenize, activation, label choice — lives once in crossenc.c
 * and talks only to struct model / struct model_family.
 *
 * Shared by every family: struct model_dir (config.json, tokenizer_config
 * .json and the sentence-transformers files, read once) and struct weights
 * (a validated safetensors file, tensors fetched by name with their shape
 * checked against the config before anything those sizes drive is
 * allocated). */
#ifndef RERANK_MODEL_H
#define RERANK_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/quant.h"
#include "models/safetensors.h"
#include "tokenizers/tokenizer.h"
#include "util.h"

/* What turns a sequence's logits into its score.  AUTO means the model's
 * default (struct model's activation), which is never AUTO itself. */
enum activation {
    ACTIVATION_AUTO,
    ACTIVATION_NONE,    /* the logit of the chosen label (torch Identity) */
    ACTIVATION_SIGMOID, /* its sigmoid */
    ACTIVATION_SOFTMAX, /* softmax over the labels, the chosen one's share
                           (CrossEncoder.predict(apply_softmax=True)) */
    ACTIVATION_TANH,    /* its tanh: only when a model's config names it */
};

/* --activation's names: auto, none, sigmoid, softmax.  The activation, or
 * -1 for another name. */
int activation_from_name(const char *name);

/* ---- the model directory --------------------------------------------- */

/* A Hugging Face model directory, its JSON files parsed once.  The json_t
 * pointers are owned by the struct (borrow them; never decref). */
struct model_dir {
    char *path;
    json_t *config;           /* config.json (an object) */
    json_t *tokenizer_config; /* tokenizer_config.json, or NULL */
    json_t *modules;          /* sentence-transformers modules.json, or NULL */
    json_t *st_config;        /* config_sentence_transformers.json, or NULL */
    const char *model_type;   /* config "model_type"; "" when absent */
    const char *architecture; /* config "architectures"[0]; "" when absent */
    const struct weight_names *names; /* NULL; a family that reads another
                                         family's tensors under other names
                                         sets it (weights_open keeps it) */
};

/* A tensor naming: rename(name) writes the name the file uses for tensor
 * `name` into out and returns the part of it that is meant (0 the whole;
 * k in 1..parts: rows [(k-1) rows/parts, k rows/parts) of a fused matrix),
 * or -1 when it maps nothing. */
struct weight_names {
    int (*rename)(const char *name, char *out, size_t size);
    int parts;
};

/* Opens directory path: config.json must exist and be an object; the other
 * files are optional but, when present, must be valid JSON.  0, or -1 with
 * e naming the file (and line); *d then needs no close. */
int model_dir_open(struct model_dir *d, const char *path, struct err *e);
void model_dir_close(struct model_dir *d);

/* A further JSON file of the directory (relpath such as "1_Pooling/
 * config.json"), as a new reference.  Returns NULL both when the file is
 * absent (e->msg left empty: callers set e->msg[0] = 0 first and test it)
 * and when it is unreadable or not JSON (e set, naming file and line). */
json_t *model_dir_json(const struct model_dir *d, const char *relpath,
                       struct err *e);

/* o[key] as a bool, or a string (valid while o is), def when absent or
 * null: the optional keys of the families' JSON files.  0, or -1 with e
 * naming path and key. */
int model_json_bool(const json_t *o, const char *path, const char *key, bool def,
                    bool *out, struct err *e);
int model_json_str(const json_t *o, const char *path, const char *key,
                   const char *def, const char **out, struct err *e);

/* d->path + "/" + relpath in buf; false when it does not fit. */
bool model_dir_file(const struct model_dir *d, const char *relpath, char *buf,
                    size_t size);

/* config[key] as an integer in [1, INT_MAX] into *out.  0, or -1 with e
 * naming config.json and the key. */
int model_dir_dim(const struct model_dir *d, const char *key, size_t *out,
                  struct err *e);

/* Logits per sequence as transformers derives num_labels: the size of
 * id2label, else num_labels, else 2.  0, or -1 with e. */
int model_dir_n_labels(const struct model_dir *d, size_t *out, struct err *e);

/* What sentence-transformers' CrossEncoder.predict applies to a model with
 * n_labels logits: the activation named by config_sentence_transformers.json
 * "activation_fn" (5.x modular layout), else config.json
 * sentence_transformers.activation_fn (4.x), else the legacy
 * sbert_ce_default_activation_function (< 4); otherwise Sigmoid for one
 * label and Identity for several.  A name outside torch.* is ignored as
 * CrossEncoder ignores it without trust_remote_code; a torch.* activation
 * other than Identity, Sigmoid and Tanh is refused by name.  0, or -1
 * with e. */
int model_dir_activation(const struct model_dir *d, size_t n_labels,
                         enum activation *out, struct err *e);

/* ---- weights ---------------------------------------------------------- */

/* A mapped, validated safetensors file and the float copies made from it
 * (F16/BF16 conversions, fused matrices).  family names the model in
 * "missing tensor" messages. */
struct weights {
    struct safetensors st;
    float **owned;
    size_t n_owned, cap_owned;
    const char *family;
    const struct weight_names *names;  /* from the model_dir, or NULL */
};

/* Opens dir's model.safetensors (or explains what the directory has
 * instead).  0, or -1 with e; *w then needs no close. */
int weights_open(struct weights *w, const struct model_dir *d,
                 const char *family, struct err *e);
void weights_close(struct weights *w);

/* Whether tensor name exists (under w->names' name, when set). */
bool weights_has(const struct weights *w, const char *name);

/* Checks that tensor name exists with shape (d0) when d1 == 0, else
 * (d0, d1); converts nothing and allocates nothing.  Use it to prove a
 * config size against the file before allocating what that size drives.
 * 0, or -1 with e naming file, tensor, expected and actual shape. */
int weights_check(const struct weights *w, const char *name, size_t d0,
                  size_t d1, struct err *e);

/* The tensor name, shape-checked as weights_check does, as float32: in
 * place when stored as aligned F32, else a converted copy owned by w.
 * NULL with e. */
const float *weights_get(struct weights *w, const char *name, size_t d0,
                         size_t d1, struct err *e);

/* weights_check / weights_get of the tensor named by printf-style fmt. */
int weights_checkf(const struct weights *w, size_t d0, size_t d1,
                   struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
const float *weights_getf(struct weights *w, size_t d0, size_t d1,
                          struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* n_floats of memory owned by w (freed by weights_close).  Only for sizes
 * already proven against the file. */
float *weights_own(struct weights *w, size_t n_floats);

/* Says that p's n floats, got from weights_get, will not be read again
 * (a family that copied them into its own layout): the whole pages of
 * them that lie in the file's mapping leave memory, and come back from
 * the file if read after all.  Copies w owns are left alone. */
void weights_release(const struct weights *w, const float *p, size_t n);

/* ---- the model and its family ---------------------------------------- */

struct model_family;

/* The base every family's model starts with (first member). */
struct model {
    const struct model_family *family;
    struct tokenizer *tok;
    size_t n_labels;            /* logits per sequence */
    size_t max_tokens;          /* longest sequence, specials included */
    size_t model_max_length;    /* tokenizer_config.json's; 0 when unset */
    enum activation activation; /* CrossEncoder.predict's default; never AUTO */
    /* NULL for models with one input recipe (left so by xcalloc); else set
     * by the family's load: selects the recipe called name (T5: "mono",
     * "rank"), which may change the template, the logit and the default
     * activation; called before any encode.  0, or -1 with e. */
    int (*set_variant)(struct model *m, const char *name, struct err *e);
    size_t hidden;              /* hidden size of an encoder from
                                   model_load_encoder; 0 otherwise */
};

struct model_family {
    const char *name;           /* "bert", "xlm-roberta", "modernbert" */
    /* Whether this family reads d (model_type, architectures, modules.json). */
    bool (*match)(const struct model_dir *d);
    /* Weights, n_labels, max_tokens and activation, validated; tok when
     * the family needs a tokenizer other than tokenizer_load's (model_load
     * loads that one when tok is left NULL).  NULL with e. */
    struct model *(*load)(const struct model_dir *d, struct err *e);
    /* Tokens the pair template adds around the two texts. */
    size_t (*template_tokens)(const struct model *m);
    /* The (query ids, document ids) pair as one sequence into out
     * (replacing its contents), truncated to max_length tokens, which
     * exceeds template_tokens.  NULL when encode_text is set. */
    void (*encode)(const struct model *m, const struct ids *q,
                   const struct ids *d, size_t max_length,
                   struct encoding *out);
    /* Logits (n_seqs, n_labels) of a packed batch, row by row in input
     * order; a sequence's logits never depend on the rest of the batch.
     * 0, or -1 with e naming the bad sequence. */
    int (*forward)(struct model *m, const struct encoding *const *seqs,
                   size_t n_seqs, float *logits, struct err *e);
    /* Worker threads forward uses (n >= 1). */
    void (*set_threads)(struct model *m, int n);
    void (*free)(struct model *m);
    /* Optional; NULL for the pair-template families.  A family whose
     * template cannot be made from the texts' ids (an LLM prompt around
     * the texts, tokenized in parts, the boundary words merging with the
     * text around them) encodes from the texts themselves: instruction
     * (NULL: the family's default), query and document (valid UTF-8) into
     * out, cut to max_length tokens as the family's recipe does. */
    void (*encode_text)(const struct model *m, const char *instruction,
                        const char *q, size_t nq, const char *d, size_t nd,
                        size_t max_length, struct encoding *out);
    /* Switches the dense layers to int8 weights (quant.h: --quantize
     * int8); NULL when the family runs only in float.  0, or -1 with e. */
    int (*quantize)(struct model *m, struct err *e);
    /* Optional, both or neither: the encoder alone, for late-interaction
     * models built on it (colbert.c).  load_encoder reads d's encoder
     * without pooling or head (tensors under the family's usual prefix,
     * "bert." / "roberta." / "model.", when prefixed; else unprefixed, as
     * sentence-transformers saves them), sizes proven as load does; no
     * tokenizer, n_labels 0, hidden set; NULL with e.  encode_hidden is
     * model_encode_hidden's. */
    struct model *(*load_encoder)(const struct model_dir *d, bool prefixed,
                                  struct err *e);
    const float *(*encode_hidden)(struct model *m,
                                  const struct encoding *const *seqs,
                                  size_t n_seqs, const size_t *n_keys,
                                  struct err *e);
};

/* The family that reads d: the first in model.c's table whose match
 * accepts it, or NULL (also for `rerank models`). */
const struct model_family *model_family_find(const struct model_dir *d);
/* "bert, xlm-roberta, ...": the families' names, into buf. */
void model_family_names(char *buf, size_t size);

/* The model in directory dir, by the first family whose match accepts it,
 * with its tokenizer.  NULL with e (naming the supported families when
 * none does). */
struct model *model_load(const char *dir, struct err *e);

/* The encoder of d without its head, by the first family in the table
 * that has one and reads d (model_type): BERT, XLM-RoBERTa, ModernBERT.
 * See model_family.load_encoder.  NULL with e naming the model_type when
 * no family has an encoder for it. */
struct model *model_load_encoder(const struct model_dir *d, bool prefixed,
                                 struct err *e);

/* The last hidden states (n_tokens, m->hidden) of a packed batch (n_seqs
 * >= 1) through an encoder from model_load_encoder, rows in sequence
 * order, owned by m and valid until its next call.  n_keys (n_seqs), when
 * not NULL, lets sequence s attend to its first n_keys[s] tokens only
 * (attention_mask 1 on those, 0 after; every token is still encoded, and
 * the hidden keys are hidden from every row).  A sequence's rows never
 * depend on the rest of the batch.  NULL with e naming the bad sequence. */
const float *model_encode_hidden(struct model *m,
                                 const struct encoding *const *seqs,
                                 size_t n_seqs, const size_t *n_keys,
                                 struct err *e);

/* model_load without the tokenizer (tok NULL; template_tokens and encode
 * unusable): for running forward on ids made elsewhere (tests, benches). */
struct model *model_load_weights(const char *dir, struct err *e);

/* --quantize q for m: nothing for QUANTIZE_NONE (quant.h), else the
 * family's quantize, refused by name when the family has none.  0, or -1
 * with e. */
int model_quantize(struct model *m, enum quantize q, struct err *e);

static inline void model_free(struct model *m)
{
    if (m)
        m->family->free(m);
}

/* Checks a batch for a model of n_vocab tokens: every sequence 1 to
 * m->max_tokens ids, each in [0, n_vocab), and the packed token count
 * times `widest` (the widest activation row, in floats) within INT_MAX
 * (cblas sizes).  Token count into *n_tokens, longest sequence into
 * *max_len.  0, or -1 with e naming the sequence. */
int model_check_batch(const struct model *m, size_t n_vocab, size_t widest,
                      const struct encoding *const *seqs, size_t n_seqs,
                      size_t *n_tokens, size_t *max_len, struct err *e);

/* *p holds at least n floats, its capacity in *cap (grown without keeping
 * the contents): activation buffers sized by the largest batch seen. */
void model_reserve(float **p, size_t *cap, size_t n);

/* Checks sequence s of a batch before a forward pass: 1 to m->max_tokens
 * ids, each below n_vocab.  0, or -1 with e naming the sequence. */
int model_check_ids(const struct model *m, size_t s, const struct ids *ids,
                    size_t n_vocab, struct err *e);

/* Worker threads a family starts with: the online CPUs, 1 to 64. */
int model_default_threads(void);

/* The template and encode of tokenizers that hold the cross-encoder pair
 * template themselves ([CLS] q [SEP] d [SEP], <s> q </s></s> d </s>):
 * for families whose input is tokenizer_encode_pair. */
size_t model_pair_template_tokens(const struct model *m);
void model_pair_encode(const struct model *m, const struct ids *q,
                       const struct ids *d, size_t max_length,
                       struct encoding *out);

#endif
