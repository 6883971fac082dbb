/* model.c — the family table, the model directory and weight access that
 * every model family shares (see model.h).
 *
 * Adding a family: write src/NAME.c exporting `const struct model_family
 * NAME_family` (match, load, template_tokens, encode, forward, set_threads,
 * free), declare it below and add it to `families`.  Nothing else changes:
 * crossenc.c drives every family through the table's ops. */
#include "models/model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nn/kernels.h"

/* The families, tried in order; the first whose match() accepts wins
 * (colbert before bert: a ColBERT directory has model_type "bert"). */
extern const struct model_family bert_family, xlm_roberta_family,
    modernbert_family, qwen3_family, t5_family, deberta_family, jina_family,
    colbert_family;
static const struct model_family *const families[] = {
    &colbert_family,
    &bert_family,
    &xlm_roberta_family,
    &modernbert_family,
    &qwen3_family,
    &t5_family,
    &deberta_family,
    &jina_family,
};
enum { N_FAMILIES = sizeof families / sizeof *families };

/* ---- model directory -------------------------------------------------- */

bool model_dir_file(const struct model_dir *d, const char *relpath, char *buf,
                    size_t size)
{
    int n = snprintf(buf, size, "%s/%s", d->path, relpath);
    return n >= 0 && (size_t)n < size;
}

json_t *model_dir_json(const struct model_dir *d, const char *relpath,
                       struct err *e)
{
    char path[4096];
    if (!model_dir_file(d, relpath, path, sizeof path)) {
        err_set(e, "%s/%s: path too long", d->path, relpath);
        return NULL;
    }
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return NULL;
    size_t len;
    char *text = read_file(path, &len, e);
    if (!text)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    /* transformers writes "no limit" as int(1e30) (tokenizer_config.json's
     * model_max_length), beyond jansson's integers: such a file is read
     * with every integer as a real. */
    if (!j && strstr(je.text, "too big integer"))
        j = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &je);
    free(text);
    if (!j)
        err_set(e, "%s:%d: %s", path, je.line, je.text);
    return j;
}

int model_json_bool(const json_t *o, const char *path, const char *key, bool def,
                    bool *out, struct err *e)
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

int model_json_str(const json_t *o, const char *path, const char *key,
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

/* An optional JSON object file into *out (NULL when absent).  0 or -1. */
static int optional_object(const struct model_dir *d, const char *relpath,
                           json_t **out, struct err *e)
{
    e->msg[0] = 0;
    *out = model_dir_json(d, relpath, e);
    if (!*out)
        return e->msg[0] ? -1 : 0;
    if (!json_is_object(*out))
        return err_set(e, "%s/%s: not a JSON object", d->path, relpath);
    return 0;
}

int model_dir_open(struct model_dir *d, const char *path, struct err *e)
{
    memset(d, 0, sizeof *d);
    d->path = xstrdup(path);
    d->model_type = d->architecture = "";
    e->msg[0] = 0;
    d->config = model_dir_json(d, "config.json", e);
    if (!d->config) {
        if (!e->msg[0])
            err_set(e, "%s/config.json: %s", path, strerror(ENOENT));
        goto fail;
    }
    if (!json_is_object(d->config)) {
        err_set(e, "%s/config.json: not a JSON object", path);
        goto fail;
    }
    if (optional_object(d, "tokenizer_config.json", &d->tokenizer_config, e) ||
        optional_object(d, "config_sentence_transformers.json", &d->st_config,
                        e))
        goto fail;
    e->msg[0] = 0;
    d->modules = model_dir_json(d, "modules.json", e);
    if (!d->modules && e->msg[0])
        goto fail;
    if (d->modules && !json_is_array(d->modules)) {
        err_set(e, "%s/modules.json: not a JSON array", path);
        goto fail;
    }
    const char *type = json_string_value(json_object_get(d->config, "model_type"));
    const char *arch = json_string_value(
        json_array_get(json_object_get(d->config, "architectures"), 0));
    d->model_type = type ? type : "";
    d->architecture = arch ? arch : "";
    return 0;
fail:
    model_dir_close(d);
    return -1;
}

void model_dir_close(struct model_dir *d)
{
    json_decref(d->config);
    json_decref(d->tokenizer_config);
    json_decref(d->modules);
    json_decref(d->st_config);
    free(d->path);
    memset(d, 0, sizeof *d);
}

int model_dir_dim(const struct model_dir *d, const char *key, size_t *out,
                  struct err *e)
{
    const json_t *v = json_object_get(d->config, key);
    if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
        json_integer_value(v) > INT_MAX)
        return err_set(e, "%s/config.json: \"%s\" missing or not a positive "
                       "integer", d->path, key);
    *out = (size_t)json_integer_value(v);
    return 0;
}

int model_dir_n_labels(const struct model_dir *d, size_t *out, struct err *e)
{
    const json_t *id2label = json_object_get(d->config, "id2label");
    if (id2label) {
        if (!json_is_object(id2label) || json_object_size(id2label) == 0)
            return err_set(e, "%s/config.json: \"id2label\" is not a "
                           "non-empty object", d->path);
        *out = json_object_size(id2label);
        return 0;
    }
    if (json_object_get(d->config, "num_labels"))
        return model_dir_dim(d, "num_labels", out, e);
    *out = 2;
    return 0;
}

int activation_from_name(const char *name)
{
    static const char *const names[] = {
        [ACTIVATION_AUTO] = "auto", [ACTIVATION_NONE] = "none",
        [ACTIVATION_SIGMOID] = "sigmoid", [ACTIVATION_SOFTMAX] = "softmax"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i] && strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

/* The activation a torch class path names.  0, or -1 with e. */
static int activation_named(const char *where, const char *name,
                            enum activation *out, struct err *e)
{
    static const struct {
        const char *path;
        enum activation a;
    } known[] = {
        {"torch.nn.modules.linear.Identity", ACTIVATION_NONE},
        {"torch.nn.Identity", ACTIVATION_NONE},
        {"torch.nn.modules.activation.Sigmoid", ACTIVATION_SIGMOID},
        {"torch.nn.Sigmoid", ACTIVATION_SIGMOID},
        {"torch.nn.modules.activation.Tanh", ACTIVATION_TANH},
        {"torch.nn.Tanh", ACTIVATION_TANH},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(name, known[i].path) == 0) {
            *out = known[i].a;
            return 0;
        }
    return err_set(e, "%s: activation \"%.100s\" is not supported (Identity, "
                   "Sigmoid or Tanh); choose one with --activation", where,
                   name);
}

int model_dir_activation(const struct model_dir *d, size_t n_labels,
                         enum activation *out, struct err *e)
{
    char where[4200];
    const char *name = NULL;
    const json_t *st = json_object_get(d->config, "sentence_transformers");
    const char *legacy = json_string_value(
        json_object_get(d->config, "sbert_ce_default_activation_function"));
    const char *modular =
        json_string_value(json_object_get(d->st_config, "activation_fn"));
    if (modular) {
        name = modular;
        snprintf(where, sizeof where, "%s/config_sentence_transformers.json",
                 d->path);
    } else if (json_object_get(st, "activation_fn")) {
        name = json_string_value(json_object_get(st, "activation_fn"));
        snprintf(where, sizeof where,
                 "%s/config.json: sentence_transformers.activation_fn", d->path);
    } else if (legacy) {
        name = legacy;
        snprintf(where, sizeof where,
                 "%s/config.json: sbert_ce_default_activation_function",
                 d->path);
    }
    /* CrossEncoder imports only torch.* paths unless trust_remote_code; it
     * falls back to the default for the rest. */
    if (name && strncmp(name, "torch.", 6) == 0)
        return activation_named(where, name, out, e);
    *out = n_labels == 1 ? ACTIVATION_SIGMOID : ACTIVATION_NONE;
    return 0;
}

/* model_max_length from tokenizer_config.json; 0 when absent or unset
 * (transformers writes a huge number for "no limit"). */
static size_t dir_model_max_length(const struct model_dir *d)
{
    const json_t *v = json_object_get(d->tokenizer_config, "model_max_length");
    if (json_is_number(v)) {
        double x = json_number_value(v);
        if (x >= 1 && x < 1e9)
            return (size_t)x;
    }
    return 0;
}

/* ---- weights ---------------------------------------------------------- */

/* When dir has no model.safetensors, says what it has instead. */
static int missing_weights(const struct model_dir *d, const char *path,
                           struct err *e)
{
    static const char *const others[] = {
        "model.safetensors.index.json", "pytorch_model.bin", "model.onnx",
        "onnx/model.onnx", "tf_model.h5", "flax_model.msgpack"};
    char p[4096];
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        if (model_dir_file(d, others[i], p, sizeof p) && access(p, F_OK) == 0)
            return err_set(e, "%s: not found; the directory has %s, but only "
                           "single-file safetensors weights are supported "
                           "(convert with safetensors' convert.py or "
                           "save_pretrained(safe_serialization=True))",
                           path, others[i]);
    return err_set(e, "%s: %s", path, strerror(ENOENT));
}

int weights_open(struct weights *w, const struct model_dir *d,
                 const char *family, struct err *e)
{
    memset(w, 0, sizeof *w);
    w->family = family;
    w->names = d->names;
    char path[4096];
    if (!model_dir_file(d, "model.safetensors", path, sizeof path))
        return err_set(e, "%s: path too long", d->path);
    if (access(path, F_OK) != 0)
        return missing_weights(d, path, e);
    return safetensors_open(&w->st, path, e);
}

void weights_close(struct weights *w)
{
    for (size_t i = 0; i < w->n_owned; i++)
        free(w->owned[i]);
    free(w->owned);
    safetensors_close(&w->st);
    memset(w, 0, sizeof *w);
}

/* The tensor called name, through w->names when set (a row slice of a
 * fused tensor is made in *slice); *file_name: the name the file uses.
 * NULL when absent. */
static const struct st_tensor *find(const struct weights *w, const char *name,
                                    char *file_name, size_t size,
                                    struct st_tensor *slice)
{
    snprintf(file_name, size, "%s", name);
    int part = w->names ? w->names->rename(name, file_name, size) : -1;
    if (part < 0)
        return safetensors_find(&w->st, name);
    const struct st_tensor *t = safetensors_find(&w->st, file_name);
    size_t k = (size_t)w->names->parts;
    if (!t || part == 0)
        return t;
    if (t->n_dims < 1 || t->n_dims > 2 || t->shape[0] % k)
        return NULL;
    *slice = *t;
    slice->shape[0] = t->shape[0] / k;
    slice->n_elems = t->n_elems / k;
    slice->n_bytes = t->n_bytes / k;
    slice->data = (const char *)t->data + (size_t)(part - 1) * slice->n_bytes;
    return slice;
}

bool weights_has(const struct weights *w, const char *name)
{
    char file_name[256];
    struct st_tensor slice;
    return find(w, name, file_name, sizeof file_name, &slice) != NULL;
}

float *weights_own(struct weights *w, size_t n_floats)
{
    grow((void **)&w->owned, &w->cap_owned, w->n_owned + 1, sizeof *w->owned);
    float *p = xmalloc(n_floats * sizeof *p);
    w->owned[w->n_owned++] = p;
    return p;
}

void weights_release(const struct weights *w, const float *p, size_t n)
{
    uintptr_t map = (uintptr_t)w->st.map, lo = (uintptr_t)p,
              hi = lo + n * sizeof *p;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || lo < map || hi > map + w->st.map_len)
        return;
    lo = (lo + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    hi = hi / (uintptr_t)page * (uintptr_t)page;
    /* A read-only private file mapping: dropped pages are read again
     * from the file, unchanged. */
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
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

/* The tensor, shape-checked (a slice made in *slice); NULL with e. */
static const struct st_tensor *checked(const struct weights *w,
                                       const char *name, size_t d0, size_t d1,
                                       struct st_tensor *slice, struct err *e)
{
    char file_name[256];
    const struct st_tensor *t =
        find(w, name, file_name, sizeof file_name, slice);
    if (!t) {
        err_set(e, "%s: tensor %s is missing (model_type %s)", w->st.path,
                file_name, w->family);
        return NULL;
    }
    size_t want[2] = {d0, d1};
    int want_dims = d1 ? 2 : 1;
    if (t->n_dims != want_dims || t->shape[0] != d0 ||
        (want_dims == 2 && t->shape[1] != d1)) {
        char got_s[128], want_s[64];
        shape_text(got_s, sizeof got_s, t->shape, t->n_dims);
        shape_text(want_s, sizeof want_s, want, want_dims);
        err_set(e, "%s: tensor %s has shape %s, expected %s from config.json",
                w->st.path, file_name, got_s, want_s);
        return NULL;
    }
    return t;
}

int weights_check(const struct weights *w, const char *name, size_t d0,
                  size_t d1, struct err *e)
{
    struct st_tensor slice;
    return checked(w, name, d0, d1, &slice, e) ? 0 : -1;
}

const float *weights_get(struct weights *w, const char *name, size_t d0,
                         size_t d1, struct err *e)
{
    struct st_tensor slice;
    const struct st_tensor *t = checked(w, name, d0, d1, &slice, e);
    if (!t)
        return NULL;
    switch (t->dtype) {
    case ST_F32:
        if ((uintptr_t)t->data % sizeof(float) == 0)
            return t->data;
        float *copy = weights_own(w, t->n_elems);
        memcpy(copy, t->data, t->n_bytes);
        return copy;
    case ST_F16: {
        float *f = weights_own(w, t->n_elems);
        f16_to_f32(f, t->data, t->n_elems);
        return f;
    }
    case ST_BF16: {
        float *f = weights_own(w, t->n_elems);
        bf16_to_f32(f, t->data, t->n_elems);
        return f;
    }
    default:
        err_set(e, "%s: tensor %s has dtype %s; supported: F32, F16, BF16",
                w->st.path, t->name, safetensors_dtype_name(t->dtype));
        return NULL;
    }
}

/* The tensor name a printf-style format and its arguments make. */
#define TENSOR_NAME(name, fmt)                                                 \
    char name[256];                                                            \
    va_list ap;                                                                \
    va_start(ap, fmt);                                                         \
    vsnprintf(name, sizeof name, fmt, ap);                                     \
    va_end(ap)

int weights_checkf(const struct weights *w, size_t d0, size_t d1,
                   struct err *e, const char *fmt, ...)
{
    TENSOR_NAME(name, fmt);
    return weights_check(w, name, d0, d1, e);
}

const float *weights_getf(struct weights *w, size_t d0, size_t d1,
                          struct err *e, const char *fmt, ...)
{
    TENSOR_NAME(name, fmt);
    return weights_get(w, name, d0, d1, e);
}

/* ---- model ------------------------------------------------------------ */

void model_family_names(char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_FAMILIES && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
                                families[i]->name);
}

const struct model_family *model_family_find(const struct model_dir *d)
{
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (families[i]->match(d))
            return families[i];
    return NULL;
}

/* model_load and model_load_weights. */
static struct model *load(const char *dir, bool with_tokenizer, struct err *e)
{
    struct model_dir d;
    if (model_dir_open(&d, dir, e))
        return NULL;
    const struct model_family *f = model_family_find(&d);
    struct model *m = NULL;
    if (!f) {
        char names[256];
        model_family_names(names, sizeof names);
        if (!d.model_type[0])
            err_set(e, "%s/config.json: no \"model_type\"; supported: %s",
                    dir, names);
        else
            err_set(e, "%s/config.json: model_type \"%.100s\" is not "
                    "supported; supported: %s", dir, d.model_type, names);
    } else if ((m = f->load(&d, e))) {
        m->family = f;
        m->model_max_length = dir_model_max_length(&d);
        if (with_tokenizer && !m->tok && !(m->tok = tokenizer_load(dir, e))) {
            model_free(m);
            m = NULL;
        }
    }
    model_dir_close(&d);
    return m;
}

struct model *model_load(const char *dir, struct err *e)
{
    return load(dir, true, e);
}

struct model *model_load_weights(const char *dir, struct err *e)
{
    return load(dir, false, e);
}

struct model *model_load_encoder(const struct model_dir *d, bool prefixed,
                                 struct err *e)
{
    for (size_t i = 0; i < N_FAMILIES; i++) {
        const struct model_family *f = families[i];
        if (!f->load_encoder || !f->match(d))
            continue;
        struct model *m = f->load_encoder(d, prefixed, e);
        if (m)
            m->family = f;
        return m;
    }
    char names[256];
    size_t len = 0;
    names[0] = 0;
    for (size_t i = 0; i < N_FAMILIES && len < sizeof names; i++)
        if (families[i]->load_encoder)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
                                    len ? ", " : "", families[i]->name);
    return err_set(e, "%s/config.json: model_type \"%.100s\": no encoder for "
                   "it (supported: %s)", d->path, d->model_type, names),
           NULL;
}

const float *model_encode_hidden(struct model *m,
                                 const struct encoding *const *seqs,
                                 size_t n_seqs, const size_t *n_keys,
                                 struct err *e)
{
    if (n_seqs == 0)
        return err_set(e, "an empty batch"), NULL;
    return m->family->encode_hidden(m, seqs, n_seqs, n_keys, e);
}

int model_check_ids(const struct model *m, size_t s, const struct ids *ids,
                    size_t n_vocab, struct err *e)
{
    if (ids->n == 0 || ids->n > m->max_tokens)
        return err_set(e, "sequence %zu: %zu tokens (the model takes 1 to "
                       "%zu)", s, ids->n, m->max_tokens);
    for (size_t i = 0; i < ids->n; i++)
        if (ids->v[i] < 0 || (size_t)ids->v[i] >= n_vocab)
            return err_set(e, "sequence %zu: token id %ld outside the "
                           "vocabulary (%zu)", s, (long)ids->v[i], n_vocab);
    return 0;
}

int model_default_threads(void)
{
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    return n_cpu > 0 ? (int)(n_cpu < 64 ? n_cpu : 64) : 1;
}

int model_quantize(struct model *m, enum quantize q, struct err *e)
{
    if (q == QUANTIZE_NONE)
        return 0;
    if (!m->family->quantize)
        return err_set(e, "--quantize int8 is not supported for model family "
                       "%s (only fp32)", m->family->name);
    return m->family->quantize(m, e);
}

size_t model_pair_template_tokens(const struct model *m)
{
    return tokenizer_pair_specials(m->tok);
}

void model_pair_encode(const struct model *m, const struct ids *q,
                       const struct ids *d, size_t max_length,
                       struct encoding *out)
{
    tokenizer_encode_ids(m->tok, q, d, max_length, out);
}

int model_check_batch(const struct model *m, size_t n_vocab, size_t widest,
                      const struct encoding *const *seqs, size_t n_seqs,
                      size_t *n_tokens, size_t *max_len, struct err *e)
{
    size_t total = 0, longest = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        const struct ids *ids = &seqs[s]->input_ids;
        if (model_check_ids(m, s, ids, n_vocab, e))
            return -1;
        total += ids->n;
        longest = ids->n > longest ? ids->n : longest;
        if (total > (size_t)INT_MAX / widest)
            return err_set(e, "batch of %zu sequences is too large", n_seqs);
    }
    *n_tokens = total;
    *max_len = longest;
    return 0;
}

void model_reserve(float **p, size_t *cap, size_t n)
{
    if (n > *cap) {
        free(*p);
        *p = xmalloc(n * sizeof **p);
        *cap = n;
    }
}
