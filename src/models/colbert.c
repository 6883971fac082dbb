/* colbert.c — the ColBERT family and its MaxSim scorer (see colbert.h).
 *
 * Loading reads one of two layouts into one model: the encoder of the
 * base's family (model.h load_encoder: BERT, XLM-RoBERTa, ModernBERT,
 * shared with the cross-encoders), the projection after it (one
 * or more Dense layers), the markers, lengths and skiplist.
 *   Stanford / HF_ColBERT: artifact.metadata (ColBERTConfig, flat or under
 *     "config"), bert.* tensors, linear.weight (dim, hidden) without bias.
 *   PyLate: modules.json (Transformer at the root, then Dense modules with
 *     config.json and model.safetensors each), config_sentence_transformers
 *     .json (prefixes, lengths, skiplist, expansion).
 *
 * Inputs, as colbert-ai's tokenizers and PyLate's ColBERT.tokenize build
 * them: [CLS] marker text… [SEP], the text cut to length − 3 tokens (− 2
 * without a marker: PyLate's prefix ""); the query then padded with the
 * tokenizer's mask token to exactly its length (query expansion), the
 * padding hidden as attention keys unless the model attends to it.  PyLate
 * texts are first str.strip()ped, and lowercased with do_lower_case, as
 * sentence-transformers' Transformer.tokenize does.  [CLS], [SEP] and
 * [MASK] are the tokenizer's own (<s>, </s>, <mask> for XLM-RoBERTa).
 * Scoring: every token's hidden state is projected and L2-normalised; the
 * score is Σ over all query vectors ([MASK]s included) of the max dot
 * product over the document's kept vectors (skiplisted punctuation
 * dropped; [CLS], marker and [SEP] always kept).
 *
 * The query is encoded once per group, documents in packed batches of
 * about BATCH_TOKENS tokens (batch.h, as the cross-encoder); the encoder
 * and the projection work per sequence, so a score never depends on the
 * other documents.  With --cache a document's vectors are looked up by
 * (model identity, input ids) before it joins a batch and stored after
 * it has been encoded (cache.h). */
#include "models/colbert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#include "models/batch.h"
#include "cache.h"
#include "nn/kernels.h"
#include "models/model.h"

enum { MAX_DENSE = 4 };

/* One projection after the encoder: y = act(x W^T + b). */
struct dense {
    const float *w;  /* (out, in) linear.weight */
    const float *b;  /* (out) linear.bias, or NULL */
    size_t in, out;
    bool tanh;       /* Tanh, else Identity */
    struct weights file;
};

struct colbert_model {
    struct model base;       /* first: the seam's view */
    struct model *enc;       /* the base's encoder (model_load_encoder) */
    size_t hidden, dim, widest;
    struct dense dense[MAX_DENSE];
    size_t n_dense;
    int32_t q_marker, d_marker, mask_id; /* a marker is -1 when the prefix
                                            is "" (PyLate: none inserted) */
    bool strip;              /* texts stripped first (sentence-transformers) */
    bool lower;              /* then lowercased (sentence_bert_config.json
                                do_lower_case) */
    struct buf lowered;      /* the lowercased text */
    size_t q_len, d_len;     /* tokens, specials included */
    bool expand_query;       /* pad queries with [MASK] to q_len */
    bool attend_expansion;   /* the [MASK] padding is attended to */
    int32_t *skip;           /* sorted skiplisted ids */
    size_t n_skip;
    char *dir;               /* the model directory */
};

extern const struct model_family colbert_family;

/* ---- reading the configuration ---------------------------------------- */

/* obj[key] as an integer in [lo, hi] into *out, def when absent or null.
 * 0, or -1 with e naming file and key. */
static int get_size(const json_t *obj, const char *key, size_t def, size_t lo,
                    size_t hi, const char *file, size_t *out, struct err *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        json_integer_value(v) > (json_int_t)hi)
        return err_set(e, "%s: \"%s\" is not an integer from %zu to %zu", file,
                       key, lo, hi);
    *out = (size_t)json_integer_value(v);
    return 0;
}

/* ---- token lookup (transformers' convert_tokens_to_ids) ---------------- */

/* The vocabulary as token -> id objects: the model's and the added
 * tokens, which win. */
struct lookup {
    json_t *vocab, *added;
};

/* From tokenizer.json (model.vocab, added_tokens), else vocab.txt and
 * added_tokens.json.  0, or -1 with e. */
static int lookup_open(struct lookup *l, const struct model_dir *d,
                       struct err *e)
{
    memset(l, 0, sizeof *l);
    e->msg[0] = 0;
    json_t *tj = model_dir_json(d, "tokenizer.json", e);
    if (tj) {
        json_t *vocab = json_object_get(json_object_get(tj, "model"), "vocab");
        json_t *added = json_object_get(tj, "added_tokens");
        if (json_is_array(vocab)) {
            /* Unigram (SentencePiece): [piece, score] pairs, id = index */
            l->vocab = json_object();
            size_t i;
            json_t *p;
            json_array_foreach(vocab, i, p) {
                const char *piece = json_string_value(json_array_get(p, 0));
                if (piece && !json_object_get(l->vocab, piece))
                    json_object_set_new(l->vocab, piece, json_integer((json_int_t)i));
            }
        } else if (json_is_object(vocab)) {
            l->vocab = json_incref(vocab);
        } else {
            json_decref(tj);
            return err_set(e, "%s/tokenizer.json: model.vocab is not a "
                           "token -> id object or a list of pieces", d->path);
        }
        l->added = json_object();
        size_t i;
        json_t *a;
        json_array_foreach(added, i, a) {
            const json_t *c = json_object_get(a, "content"), *id = json_object_get(a, "id");
            if (json_is_string(c) && json_is_integer(id))
                json_object_set(l->added, json_string_value(c), (json_t *)id);
        }
        json_decref(tj);
        return 0;
    }
    if (e->msg[0])
        return -1;
    char path[4096];
    size_t len;
    if (!model_dir_file(d, "vocab.txt", path, sizeof path))
        return err_set(e, "%s: path too long", d->path);
    char *text = read_file(path, &len, e);
    if (!text)
        return -1;
    l->vocab = json_object();
    json_int_t id = 0;
    for (char *p = text, *end = text + len; p < end; id++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - p);
        if (n && p[n - 1] == '\r')
            n--;
        json_object_setn_new(l->vocab, p, n, json_integer(id));
        p = stop + 1;
    }
    free(text);
    l->added = model_dir_json(d, "added_tokens.json", e);
    if (!l->added && e->msg[0])
        return -1;
    if (!l->added)
        l->added = json_object();
    if (!json_is_object(l->added))
        return err_set(e, "%s/added_tokens.json: not a JSON object", d->path);
    return 0;
}

static void lookup_close(struct lookup *l)
{
    json_decref(l->vocab);
    json_decref(l->added);
}

/* The id of token, or -1 when the vocabulary has none. */
static int32_t lookup_id(const struct lookup *l, const char *token)
{
    const json_t *v = json_object_get(l->added, token);
    if (!v)
        v = json_object_get(l->vocab, token);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > INT32_MAX)
        return -1;
    return (int32_t)json_integer_value(v);
}

/* The id of a marker token, which must exist; -1 for "" (PyLate inserts
 * no prefix then).  0, or -1 with e. */
static int marker_id(const struct lookup *l, const char *token,
                     const char *where, int32_t *out, struct err *e)
{
    if (!*token) {
        *out = -1;
        return 0;
    }
    *out = lookup_id(l, token);
    if (*out < 0)
        return err_set(e, "%s: token \"%.60s\" is not in the vocabulary",
                       where, token);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void skip_add(struct colbert_model *m, int32_t id, size_t *cap)
{
    grow((void **)&m->skip, cap, m->n_skip + 1, sizeof *m->skip);
    m->skip[m->n_skip++] = id;
}

static bool skipped(const struct colbert_model *m, int32_t id)
{
    return m->n_skip &&
           bsearch(&id, m->skip, m->n_skip, sizeof *m->skip, cmp_id) != NULL;
}

/* The mask token's id: the token named by tokenizer_config.json's
 * "mask_token" (a string or {"content": ...}), else special_tokens_map
 * .json's, else the tokenizer class's default ("<mask>" for XLM-RoBERTa,
 * "[MASK]" otherwise), as transformers' tokenizer.mask_token_id; PyLate
 * and colbert-ai expand queries with it.  0, or -1 with e. */
static int mask_id(const struct model_dir *d, const struct lookup *l,
                   int32_t *out, struct err *e)
{
    const char *name =
        strcmp(d->model_type, "xlm-roberta") == 0 ? "<mask>" : "[MASK]";
    const json_t *v = json_object_get(d->tokenizer_config, "mask_token");
    e->msg[0] = 0;
    json_t *map = NULL;
    if (!v || json_is_null(v)) {
        map = model_dir_json(d, "special_tokens_map.json", e);
        if (!map && e->msg[0])
            return -1;
        v = json_object_get(map, "mask_token");
    }
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (json_is_string(v))
        name = json_string_value(v);
    int rc = 0;
    if ((*out = lookup_id(l, name)) < 0)
        rc = err_set(e, "%s: mask token \"%.60s\" is not in the vocabulary",
                     d->path, name);
    json_decref(map);
    return rc;
}

/* The code point at s[0..n) (valid UTF-8, n > 0); its length in *len. */
static int32_t decode(const char *s, size_t n, size_t *len)
{
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s,
                                          (utf8proc_ssize_t)n, &c);
    *len = k > 0 ? (size_t)k : 1;
    return k > 0 ? c : 0xFFFD;
}

/* Python's str.isspace: Unicode White_Space and U+001C..U+001F; the
 * character's length in *len. */
static bool py_space(const char *s, size_t n, size_t *len)
{
    int32_t c = decode(s, n, len);
    return rust_is_whitespace(c) || (c >= 0x1c && c <= 0x1f);
}

/* Python's unicodedata notions for the final-sigma rule: cased (Lu, Ll,
 * Lt) and case-ignorable (Mn, Me, Cf, Lm, Sk, and the MidLetter /
 * MidNumLet / Single_Quote word-break characters). */
static bool cased(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL ||
           k == UTF8PROC_CATEGORY_LT;
}

static bool case_ignorable(int32_t c)
{
    static const int32_t mid[] = {0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F, 0x5F4,
                                  0x2018, 0x2019, 0x2024, 0x2027, 0xFE13,
                                  0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    for (size_t i = 0; i < sizeof mid / sizeof *mid; i++)
        if (c == mid[i])
            return true;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME ||
           k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_LM ||
           k == UTF8PROC_CATEGORY_SK;
}

/* Whether the capital sigma at s[at] ends a word as str.lower() decides
 * it: a cased letter before it and none after it, case-ignorable
 * characters skipped on both sides. */
static bool final_sigma(const char *s, size_t n, size_t at, size_t sigma_len)
{
    size_t i = at, len;
    bool before = false;
    while (i > 0) {
        size_t j = i - 1;
        while (j && ((unsigned char)s[j] & 0xc0) == 0x80)
            j--;
        int32_t c = decode(s + j, n - j, &len);
        i = j;
        if (!case_ignorable(c)) {
            before = cased(c);
            break;
        }
    }
    if (!before)
        return false;
    for (i = at + sigma_len; i < n; i += len) {
        int32_t c = decode(s + i, n - i, &len);
        if (!case_ignorable(c))
            return !cased(c);
    }
    return true;
}

/* s[0..n) lowercased as Python's str.lower() does it (sentence-
 * transformers' do_lower_case): each code point's lowercase mapping, the
 * one full mapping (U+0130 to "i" U+0307) and final sigma, into out. */
static void py_lower(const char *s, size_t n, struct buf *out)
{
    out->len = 0;
    size_t len;
    for (size_t i = 0; i < n; i += len) {
        int32_t c = decode(s + i, n - i, &len);
        utf8proc_uint8_t u[8];
        if (c == 0x130) {
            buf_put(out, "i\xcc\x87", 3);
            continue;
        }
        c = c == 0x3A3 && final_sigma(s, n, i, len) ? 0x3C2 : utf8proc_tolower(c);
        buf_put(out, u, (size_t)utf8proc_encode_char(c, u));
    }
}

/* The ids of text (len bytes of UTF-8) into out (replacing its contents),
 * stripped first as sentence-transformers' Transformer.tokenize does
 * (str.strip()) when the model says so: it matters to byte-level BPE,
 * where a leading space is part of the first token; then lowercased when
 * sentence_bert_config.json says do_lower_case. */
static void tokenize_text(struct colbert_model *m, const char *text,
                          size_t len, struct ids *out)
{
    size_t n;
    while (m->strip && len && py_space(text, len, &n)) {
        text += n;
        len -= n;
    }
    while (m->strip && len) {
        size_t start = len - 1;
        while (start && ((unsigned char)text[start] & 0xc0) == 0x80)
            start--;
        if (!py_space(text + start, len - start, &n) || start + n != len)
            break;
        len = start;
    }
    if (m->lower) {
        py_lower(text, len, &m->lowered);
        text = m->lowered.data ? m->lowered.data : "";
        len = m->lowered.len;
    }
    out->n = 0;
    m->base.tok->tokenize(m->base.tok, text, len, out);
}

/* ---- the two layouts ---------------------------------------------------- */

static const char punctuation[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/* Both lengths fit the encoder's positions and leave room for text. */
static int check_lengths(const struct colbert_model *m, const char *where,
                         struct err *e)
{
    size_t limit = m->enc->max_tokens;
    if (m->q_len < 3 || m->d_len < 3 || m->q_len > limit || m->d_len > limit)
        return err_set(e, "%s: query length %zu and document length %zu must "
                       "be from 3 to the encoder's %zu positions", where,
                       m->q_len, m->d_len, limit);
    return 0;
}

/* Stanford's HF_ColBERT: artifact.metadata and linear.weight.
 * 0, or -1 with e. */
static int load_stanford(struct colbert_model *m, const struct model_dir *d,
                         const struct lookup *l, struct err *e)
{
    char where[4200];
    snprintf(where, sizeof where, "%s/artifact.metadata", d->path);
    e->msg[0] = 0;
    json_t *meta = model_dir_json(d, "artifact.metadata", e);
    if (!meta && e->msg[0])
        return -1;
    const json_t *cfg = meta;
    if (json_is_object(json_object_get(meta, "config")))
        cfg = json_object_get(meta, "config");
    const char *q_tok = NULL, *d_tok = NULL;
    bool mask_punct = false;
    int rc = -1;
    if (meta && !json_is_object(meta)) {
        err_set(e, "%s: not a JSON object", where);
        goto done;
    }
    if (model_json_str(cfg, where, "query_token_id", "[unused0]", &q_tok, e) ||
        model_json_str(cfg, where, "doc_token_id", "[unused1]", &d_tok, e) ||
        get_size(cfg, "query_maxlen", 32, 1, 1 << 20, where, &m->q_len, e) ||
        get_size(cfg, "doc_maxlen", 220, 1, 1 << 20, where, &m->d_len, e) ||
        get_size(cfg, "dim", 128, 1, 1 << 16, where, &m->dim, e) ||
        model_json_bool(cfg, where, "mask_punctuation", true, &mask_punct, e) ||
        model_json_bool(cfg, where, "attend_to_mask_tokens", false,
                        &m->attend_expansion, e) ||
        marker_id(l, q_tok, where, &m->q_marker, e) ||
        marker_id(l, d_tok, where, &m->d_marker, e) ||
        check_lengths(m, where, e))
        goto done;
    if (m->q_marker < 0 || m->d_marker < 0) {
        err_set(e, "%s: query_token_id and doc_token_id must name tokens",
                where);
        goto done;
    }
    m->expand_query = true;
    /* colbert-ai skips the first id of each ASCII punctuation mark. */
    size_t cap = 0;
    struct ids ids = {0};
    for (const char *p = punctuation; mask_punct && *p; p++) {
        ids.n = 0;
        m->base.tok->tokenize(m->base.tok, p, 1, &ids);
        if (ids.n)
            skip_add(m, ids.v[0], &cap);
    }
    ids_free(&ids);
    struct dense *lin = &m->dense[0];
    if (weights_open(&lin->file, d, "colbert", e))
        goto done;
    m->n_dense = 1;
    lin->in = m->hidden;
    lin->out = m->dim;
    /* dim comes from artifact.metadata, not config.json: say so. */
    const struct st_tensor *t = safetensors_find(&lin->file.st, "linear.weight");
    if (t && (t->n_dims != 2 || t->shape[0] != m->dim ||
              t->shape[1] != m->hidden)) {
        err_set(e, "%s: tensor linear.weight is not (dim %zu from %s, "
                "hidden_size %zu)", lin->file.st.path, m->dim, where,
                m->hidden);
        goto done;
    }
    if (!(lin->w = weights_get(&lin->file, "linear.weight", m->dim, m->hidden,
                               e)))
        goto done;
    rc = 0;
done:
    json_decref(meta);
    return rc;
}

/* Dense module relpath of a PyLate model, taking `in` features.
 * 0, or -1 with e. */
static int load_dense(struct colbert_model *m, const struct model_dir *d,
                      const char *relpath, bool pylate_dense, size_t in,
                      struct err *e)
{
    if (m->n_dense == MAX_DENSE)
        return err_set(e, "%s/modules.json: more than %d Dense modules",
                       d->path, MAX_DENSE);
    char path[4096], where[4200];
    if (!model_dir_file(d, relpath, path, sizeof path))
        return err_set(e, "%s: path too long", d->path);
    snprintf(where, sizeof where, "%s/config.json", path);
    struct model_dir sub;
    if (model_dir_open(&sub, path, e))
        return -1;
    struct dense *ds = &m->dense[m->n_dense];
    const char *act = NULL;
    bool bias = false, residual = false;
    size_t n_in;
    int rc = -1;
    /* sentence-transformers' Dense defaults to Tanh, PyLate's to Identity. */
    if (get_size(sub.config, "in_features", 0, 1, 1 << 20, where, &n_in, e) ||
        get_size(sub.config, "out_features", 0, 1, 1 << 20, where, &ds->out, e) ||
        model_json_bool(sub.config, where, "bias", true, &bias, e) ||
        model_json_bool(sub.config, where, "use_residual", false, &residual, e) ||
        model_json_str(sub.config, where, "activation_function",
                       pylate_dense ? "torch.nn.modules.linear.Identity"
                                    : "torch.nn.modules.activation.Tanh",
                       &act, e))
        goto done;
    if (n_in != in || !ds->out) {
        err_set(e, "%s: in_features %zu and out_features %zu; %zu features "
                "come in", where, n_in, ds->out, in);
        goto done;
    }
    if (residual) {
        err_set(e, "%s: use_residual is not supported", where);
        goto done;
    }
    if (strcmp(act, "torch.nn.modules.activation.Tanh") == 0 ||
        strcmp(act, "torch.nn.Tanh") == 0) {
        ds->tanh = true;
    } else if (strcmp(act, "torch.nn.modules.linear.Identity") != 0 &&
               strcmp(act, "torch.nn.Identity") != 0) {
        err_set(e, "%s: activation_function \"%.100s\" is not supported "
                "(Identity or Tanh)", where, act);
        goto done;
    }
    ds->in = in;
    if (weights_open(&ds->file, &sub, "dense", e))
        goto done;
    m->n_dense++;
    if (!(ds->w = weights_get(&ds->file, "linear.weight", ds->out, in, e)) ||
        (bias && !(ds->b = weights_get(&ds->file, "linear.bias", ds->out, 0, e))))
        goto done;
    rc = 0;
done:
    model_dir_close(&sub);
    return rc;
}

static bool is_pylate_type(const char *type)
{
    return type && strncmp(type, "pylate.", 7) == 0;
}

/* PyLate: modules.json's Dense chain and config_sentence_transformers.json.
 * 0, or -1 with e. */
static int load_pylate(struct colbert_model *m, const struct model_dir *d,
                       const struct lookup *l, struct err *e)
{
    char where[4200];
    snprintf(where, sizeof where, "%s/modules.json", d->path);
    size_t i, features = m->hidden;
    json_t *mod;
    json_array_foreach(d->modules, i, mod) {
        const char *type = json_string_value(json_object_get(mod, "type"));
        const char *path = json_string_value(json_object_get(mod, "path"));
        if (!type || !path)
            return err_set(e, "%s: module %zu has no \"type\" and \"path\"",
                           where, i);
        if (i == 0) {
            if (strcmp(type, "sentence_transformers.models.Transformer") != 0 ||
                path[0])
                return err_set(e, "%s: the first module must be the "
                               "Transformer at the root (path \"\")", where);
            continue;
        }
        bool pylate = strcmp(type, "pylate.models.Dense.Dense") == 0 ||
                      strcmp(type, "pylate.models.Dense") == 0;
        if (!pylate && strcmp(type, "sentence_transformers.models.Dense") != 0 &&
            strcmp(type, "sentence_transformers.models.Dense.Dense") != 0)
            return err_set(e, "%s: module \"%.100s\" is not supported (only "
                           "Dense after the Transformer)", where, type);
        if (strstr(path, "..") || path[0] == '/')
            return err_set(e, "%s: module path \"%.100s\" leaves the model "
                           "directory", where, path);
        if (load_dense(m, d, path, pylate, features, e))
            return -1;
        features = m->dense[m->n_dense - 1].out;
    }
    m->dim = features;

    const json_t *st = d->st_config;
    snprintf(where, sizeof where, "%s/config_sentence_transformers.json",
             d->path);
    const char *q_prefix = NULL, *d_prefix = NULL;
    if (model_json_str(st, where, "query_prefix", "[Q] ", &q_prefix, e) ||
        model_json_str(st, where, "document_prefix", "[D] ", &d_prefix, e) ||
        get_size(st, "query_length", 32, 1, 1 << 20, where, &m->q_len, e) ||
        get_size(st, "document_length", 180, 1, 1 << 20, where, &m->d_len, e) ||
        model_json_bool(st, where, "attend_to_expansion_tokens", false,
                        &m->attend_expansion, e) ||
        model_json_bool(st, where, "do_query_expansion", true, &m->expand_query, e) ||
        marker_id(l, q_prefix, where, &m->q_marker, e) ||
        marker_id(l, d_prefix, where, &m->d_marker, e) ||
        check_lengths(m, where, e))
        return -1;
    /* PyLate's encode prepends prompts[default_prompt_name] to queries and
     * documents alike; not done here, so refused when it is not "". */
    const char *prompt_name = NULL;
    if (model_json_str(st, where, "default_prompt_name", NULL, &prompt_name, e))
        return -1;
    const json_t *prompt = prompt_name
        ? json_object_get(json_object_get(st, "prompts"), prompt_name) : NULL;
    if (json_is_string(prompt) && json_string_length(prompt))
        return err_set(e, "%s: default_prompt_name \"%.60s\" (a prompt before "
                       "every text) is not supported", where, prompt_name);
    /* PyLate skips convert_tokens_to_ids(word): [UNK] for a word outside
     * the vocabulary. */
    const json_t *words = json_object_get(st, "skiplist_words");
    size_t cap = 0;
    if (!words || json_is_null(words)) {
        for (const char *p = punctuation; *p; p++) {
            char w[2] = {*p, 0};
            int32_t id = lookup_id(l, w);
            skip_add(m, id >= 0 ? id : m->base.tok->unk_id, &cap);
        }
        return 0;
    }
    if (!json_is_array(words))
        return err_set(e, "%s: \"skiplist_words\" is not a list", where);
    const json_t *w;
    json_array_foreach(words, i, w) {
        if (!json_is_string(w))
            return err_set(e, "%s: skiplist_words[%zu] is not a string", where,
                           i);
        int32_t id = lookup_id(l, json_string_value(w));
        skip_add(m, id >= 0 ? id : m->base.tok->unk_id, &cap);
    }
    return 0;
}

/* ---- the family (model.h) ------------------------------------------------ */

static bool pylate_layout(const struct model_dir *d)
{
    size_t i;
    const json_t *mod;
    json_array_foreach(d->modules, i, mod)
        if (is_pylate_type(json_string_value(json_object_get(mod, "type"))))
            return true;
    const char *sim =
        json_string_value(json_object_get(d->st_config, "similarity_fn_name"));
    return d->modules && sim && strcmp(sim, "MaxSim") == 0;
}

static bool colbert_match(const struct model_dir *d)
{
    return strcmp(d->architecture, "HF_ColBERT") == 0 || pylate_layout(d);
}

static void colbert_free(struct model *base)
{
    struct colbert_model *m = (struct colbert_model *)base;
    if (!m)
        return;
    tokenizer_free(m->base.tok);
    model_free(m->enc);
    for (size_t i = 0; i < MAX_DENSE; i++)
        weights_close(&m->dense[i].file);
    free(m->skip);
    free(m->dir);
    buf_free(&m->lowered);
    free(m);
}

static void colbert_set_threads(struct model *base, int n)
{
    struct colbert_model *m = (struct colbert_model *)base;
    m->enc->family->set_threads(m->enc, n);
}

/* The ids every input holds ([CLS], markers, [MASK], [SEP]) are ids of
 * the encoder's vocabulary: one short sequence of them through the
 * encoder, so that a vocabulary the weights lack fails here, naming the
 * directory, not on the first group.  0, or -1 with e. */
static int check_specials(struct colbert_model *m, const struct model_dir *d,
                          struct err *e)
{
    const struct tokenizer *tok = m->base.tok;
    int32_t ids[5] = {tok->cls_id, m->mask_id, tok->sep_id}, types[5] = {0};
    size_t n = 3;
    if (m->q_marker >= 0)
        ids[n++] = m->q_marker;
    if (m->d_marker >= 0)
        ids[n++] = m->d_marker;
    struct encoding enc = {{ids, NULL, n, 5}, {types, NULL, n, 5}};
    const struct encoding *one = &enc;
    if (!model_encode_hidden(m->enc, &one, 1, NULL, e))
        return err_prefix(e, "%s: [CLS], markers, [MASK] and [SEP]", d->path);
    return 0;
}

/* sentence_bert_config.json's do_lower_case (false when the file or the
 * key is absent).  0, or -1 with e. */
static int sbert_lower(const struct model_dir *d, bool *out, struct err *e)
{
    char where[4200];
    snprintf(where, sizeof where, "%s/sentence_bert_config.json", d->path);
    e->msg[0] = 0;
    json_t *c = model_dir_json(d, "sentence_bert_config.json", e);
    if (!c && e->msg[0])
        return -1;
    int rc = model_json_bool(c, where, "do_lower_case", false, out, e);
    json_decref(c);
    return rc;
}

static struct model *colbert_load(const struct model_dir *d, struct err *e)
{
    struct colbert_model *m = xcalloc(1, sizeof *m);
    m->base.family = &colbert_family;
    m->base.activation = ACTIVATION_NONE;
    m->dir = xstrdup(d->path);
    bool stanford = strcmp(d->architecture, "HF_ColBERT") == 0;
    struct lookup l;
    if (lookup_open(&l, d, e)) {
        lookup_close(&l);
        goto fail;
    }
    int rc = -1;
    if (!(m->enc = model_load_encoder(d, stanford, e)) ||
        !(m->base.tok = tokenizer_load(d->path, e)) ||
        mask_id(d, &l, &m->mask_id, e))
        goto close;
    m->strip = !stanford;
    if (!stanford && sbert_lower(d, &m->lower, e))
        goto close;
    m->hidden = m->enc->hidden;
    m->base.max_tokens = m->enc->max_tokens;
    rc = stanford ? load_stanford(m, d, &l, e) : load_pylate(m, d, &l, e);
close:
    lookup_close(&l);
    if (rc)
        goto fail;
    if (check_specials(m, d, e))
        goto fail;
    qsort(m->skip, m->n_skip, sizeof *m->skip, cmp_id);
    m->widest = m->hidden;
    for (size_t i = 0; i < m->n_dense; i++)
        if (m->dense[i].out > m->widest)
            m->widest = m->dense[i].out;
    return &m->base;
fail:
    colbert_free(&m->base);
    return NULL;
}

/* [CLS] marker t… [SEP], t cut to len − 3 tokens, into out; without a
 * marker (-1) [CLS] t… [SEP], t cut to len − 2. */
static void encode_text(const struct colbert_model *m, const struct ids *t,
                        int32_t marker, size_t len, struct encoding *out)
{
    const struct tokenizer *tok = m->base.tok;
    size_t room = len - (marker >= 0 ? 3 : 2);
    size_t n = t->n < room ? t->n : room;
    out->input_ids.n = out->type_ids.n = 0;
    ids_push(&out->input_ids, tok->cls_id);
    if (marker >= 0)
        ids_push(&out->input_ids, marker);
    for (size_t i = 0; i < n; i++)
        ids_push(&out->input_ids, t->v[i]);
    ids_push(&out->input_ids, tok->sep_id);
    for (size_t i = 0; i < out->input_ids.n; i++)
        ids_push(&out->type_ids, 0);
}

/* The query's input (expanded with [MASK]) into out; returns how many of
 * its tokens are attended to as keys. */
static size_t encode_query(const struct colbert_model *m, const struct ids *t,
                           struct encoding *out)
{
    encode_text(m, t, m->q_marker, m->q_len, out);
    size_t real = out->input_ids.n;
    while (m->expand_query && out->input_ids.n < m->q_len) {
        ids_push(&out->input_ids, m->mask_id);
        ids_push(&out->type_ids, 0);
    }
    return m->attend_expansion ? out->input_ids.n : real;
}

/* Whether document vector i of ids (n tokens) counts in MaxSim. */
static bool kept(const struct colbert_model *m, const struct ids *ids,
                 size_t i)
{
    size_t first = m->d_marker >= 0 ? 2 : 1;
    return i < first || i + 1 == ids->n || !skipped(m, ids->v[i]);
}

/* The seam's template and encode: a document's input, [CLS] [D] d [SEP]
 * (the query is encoded on its own: colbert_encode_group). */
static size_t colbert_template_tokens(const struct model *base)
{
    return 3;
}

static void colbert_encode(const struct model *base, const struct ids *q,
                           const struct ids *d, size_t max_length,
                           struct encoding *out)
{
    const struct colbert_model *m = (const struct colbert_model *)base;
    encode_text(m, d, m->d_marker, max_length, out);
}

static int colbert_forward(struct model *base,
                           const struct encoding *const *seqs, size_t n_seqs,
                           float *logits, struct err *e)
{
    return err_set(e, "a ColBERT model scores by MaxSim over separate query "
                   "and document encodings, not pairs (colbert.h)");
}

const struct model_family colbert_family = {
    "colbert", colbert_match, colbert_load, colbert_template_tokens,
    colbert_encode, colbert_forward, colbert_set_threads, colbert_free, NULL, NULL,
    NULL, NULL, /* no encoder of its own to lend */
};

/* ---- the scorer ---------------------------------------------------------- */

struct colbert {
    struct colbert_model *m;
    size_t d_len;               /* document length in force */
    struct ids text;            /* a tokenized text */
    struct encoding q;          /* the query's input */
    float *qv;                  /* (q_len, dim) query vectors */
    float *proj[2];             /* (max(q_len, d_len), widest) each */
    struct batch batch;         /* the pending documents, their candidates */
    struct group *g;
    struct scorer *s;           /* this scorer, for its progress callback */
    /* --cache: document vectors by (model files, input ids); the caller's. */
    struct cache *cache;
    uint64_t identity[2];       /* the model's files: hash and size */
    struct buf key;
    size_t n_encoded, n_cached; /* documents through the encoder, from the cache */
};

/* The n vectors (n, dim) of one sequence's hidden states h (n, hidden):
 * through the Dense chain, then each L2-normalised (eps 1e-12).  Returns
 * a pointer into c->proj. */
static float *project(struct colbert *c, const float *h, size_t n)
{
    const struct colbert_model *m = c->m;
    const float *x = h;
    float *y = c->proj[0];
    for (size_t k = 0; k < m->n_dense; k++) {
        const struct dense *ds = &m->dense[k];
        y = c->proj[k % 2];
        /* y(n, out) = x(n, in) W^T + b, one sequence per call */
        matmul(n, ds->out, ds->in, 1.0f, x, ds->in, ds->w, ds->in, true, 0.0f,
               y, ds->out);
        if (ds->b)
            add_bias(y, ds->b, n, ds->out);
        if (ds->tanh)
            tanh_inplace(y, n * ds->out);
        x = y;
    }
    if (!m->n_dense)
        memcpy(y, h, n * m->dim * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        float *v = y + i * m->dim;
        double ss = 0;
        for (size_t j = 0; j < m->dim; j++)
            ss += (double)v[j] * v[j];
        double norm = sqrt(ss);
        float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
        for (size_t j = 0; j < m->dim; j++)
            v[j] *= inv;
    }
    return y;
}

/* Σ over the query vectors of the max dot product over the kept vectors
 * dv (one per token of doc). */
static double maxsim(const struct colbert *c, const float *dv,
                     const struct ids *doc)
{
    const struct colbert_model *m = c->m;
    size_t nq = c->q.input_ids.n, dim = m->dim;
    double total = 0;
    for (size_t i = 0; i < nq; i++) {
        const float *q = c->qv + i * dim;
        double best = -INFINITY;
        for (size_t j = 0; j < doc->n; j++) {
            if (!kept(m, doc, j))
                continue;
            const float *d = dv + j * dim;
            double dot = 0;
            for (size_t k = 0; k < dim; k++)
                dot += (double)q[k] * d[k];
            best = dot > best ? dot : best;
        }
        total += best;
    }
    return total;
}

/* Tokenizes g's query, encodes it and keeps its vectors in c->qv.
 * 0, or -1 with e. */
static int query_vectors(struct colbert *c, const struct group *g, bool run,
                         struct err *e)
{
    struct colbert_model *m = c->m;
    tokenize_text(m, g->query, group_query_len(g), &c->text);
    size_t keys = encode_query(m, &c->text, &c->q);
    if (!run)
        return 0;
    const struct encoding *one = &c->q;
    const float *h = model_encode_hidden(m->enc, &one, 1, &keys, e);
    if (!h)
        return err_prefix(e, "the query: ");
    memcpy(c->qv, project(c, h, c->q.input_ids.n),
           c->q.input_ids.n * m->dim * sizeof *c->qv);
    return 0;
}

/* Candidate i's document input, in a fresh pending slot. */
static struct encoding *encode_doc(struct colbert *c, const struct group *g,
                                   size_t i)
{
    const struct candidate *cand = &g->cands[i];
    tokenize_text(c->m, cand->text, cand->text_len, &c->text);
    struct encoding *enc = batch_slot(&c->batch, i);
    encode_text(c->m, &c->text, c->m->d_marker, c->d_len, enc);
    return enc;
}

/* The cache key of a document's input: the model's identity, then its
 * ids (which hold the marker and the cut to the document length). */
static const struct buf *doc_key(struct colbert *c, const struct ids *doc)
{
    c->key.len = 0;
    buf_put(&c->key, c->identity, sizeof c->identity);
    buf_put(&c->key, doc->v, doc->n * sizeof *doc->v);
    return &c->key;
}

/* Scores the document just put in the batch from the cache when it is
 * there (taking its slot back).  1 scored, 0 not cached, -1 with e. */
static int from_cache(struct colbert *c, size_t cand, struct err *e)
{
    struct batch *b = &c->batch;
    const struct ids *doc = &b->encs[b->n - 1].input_ids;
    const struct buf *k = doc_key(c, doc);
    void *val;
    size_t len;
    int hit = cache_get(c->cache, "colbert-doc", k->data, k->len, &val, &len, e);
    if (hit <= 0)
        return hit;
    if (len != doc->n * c->m->dim * sizeof(float)) {
        free(val);
        return err_setk(e, ERR_MODEL, "--cache: a damaged ColBERT entry (%zu bytes "
                        "for %zu vectors of %zu)", len, doc->n, c->m->dim);
    }
    c->g->cands[cand].score = maxsim(c, val, doc);
    free(val);
    batch_unslot(b);
    c->n_cached++;
    return 1;
}

/* Encodes the pending documents and scores them.  0, or -1 with e. */
static int flush_batch(struct colbert *c, struct err *e)
{
    struct batch *b = &c->batch;
    if (!b->n)
        return 0;
    const float *h = model_encode_hidden(c->m->enc, batch_seqs(b), b->n, NULL, e);
    if (!h)
        return -1;
    /* The batch's vectors go into the cache in one short transaction,
     * taken after encoding so that processes sharing the file (--shard)
     * hold its write lock only for the writes. */
    struct cache *store = c->cache && !cache_readonly(c->cache) ? c->cache : NULL;
    if (store && cache_begin(store, e))
        return -1;
    size_t hidden = c->m->hidden;
    for (size_t k = 0; k < b->n; k++) {
        const struct ids *doc = &b->encs[k].input_ids;
        const float *dv = project(c, h, doc->n);
        c->g->cands[b->owner[k]].score = maxsim(c, dv, doc);
        h += doc->n * hidden;
        /* The vectors just scored are the ones stored: a later run from
         * the cache prints the same scores. */
        const struct buf *key = store ? doc_key(c, doc) : NULL;
        if (key && cache_put(store, "colbert-doc", key->data, key->len, dv,
                             doc->n * c->m->dim * sizeof *dv, e)) {
            cache_rollback(store);
            return -1;
        }
    }
    if (store && cache_commit(store, e))
        return -1;
    c->n_encoded += b->n;
    /* Candidates up to the batch's last one are scored. */
    scorer_progress(c->s, b->owner[b->n - 1] + 1, c->g->n_cands);
    batch_clear(b);
    return 0;
}

static int colbert_score(struct scorer *s, struct group *g, struct err *e)
{
    struct colbert *c = s->state;
    if (!g->n_cands)
        return 0;
    if (query_vectors(c, g, true, e))
        return -1;
    c->g = g;
    batch_clear(&c->batch);
    for (size_t i = 0; i < g->n_cands; i++) {
        encode_doc(c, g, i);
        int hit = c->cache ? from_cache(c, i, e) : 0;
        if (hit < 0 || (hit == 0 && batch_add(&c->batch) && flush_batch(c, e)))
            return -1;
    }
    return flush_batch(c, e);
}

int colbert_encode_group(struct scorer *s, const struct group *g,
                         void (*fn)(size_t, const struct ids *,
                                    const struct ids *, const struct ids *,
                                    void *),
                         void *ctx, struct err *e)
{
    struct colbert *c = s->state;
    if (query_vectors(c, g, false, e))
        return -1;
    struct ids keep = {0};
    for (size_t i = 0; i < g->n_cands; i++) {
        batch_clear(&c->batch);
        const struct ids *d = &encode_doc(c, g, i)->input_ids;
        keep.n = 0;
        for (size_t j = 0; j < d->n; j++)
            ids_push(&keep, kept(c->m, d, j));
        fn(i, &c->q.input_ids, d, &keep, ctx);
    }
    batch_clear(&c->batch);
    ids_free(&keep);
    return 0;
}

static void colbert_scorer_free(struct scorer *s)
{
    struct colbert *c = s->state;
    batch_free(&c->batch);
    buf_free(&c->key);
    encoding_free(&c->q);
    ids_free(&c->text);
    free(c->qv);
    free(c->proj[0]);
    free(c->proj[1]);
    model_free(&c->m->base);
    free(c);
    free(s);
}

bool colbert_is_model(const char *dir)
{
    struct model_dir d;
    struct err e;
    if (model_dir_open(&d, dir, &e))
        return false;
    bool yes = colbert_match(&d);
    model_dir_close(&d);
    return yes;
}

/* The cross-encoder options that mean nothing for MaxSim, refused rather
 * than ignored.  0, or -1 with e. */
static int check_options(const struct crossenc_options *o, struct err *e)
{
    if (o->activation != ACTIVATION_AUTO)
        return err_setk(e, ERR_USAGE, "--activation: a ColBERT score is a sum of "
                        "similarities, with no activation");
    if (o->label >= 0)
        return err_setk(e, ERR_USAGE, "--label: a ColBERT model has no labels");
    if (o->long_mode != LONG_FIRST || o->stride)
        return err_setk(e, ERR_USAGE, "--long max and --stride: ColBERT documents are "
                        "cut at the document length (--max-length)");
    if (o->instruction)
        return err_setk(e, ERR_USAGE, "--instruction: a ColBERT model takes no "
                        "instruction (it applies to LLM rerankers)");
    return 0;
}

struct scorer *colbert_scorer_new(const struct crossenc_options *o,
                                  struct err *e)
{
    if (check_options(o, e))
        return NULL;
    struct model *base = model_load(o->model_dir, e);
    if (!base)
        return NULL;
    if (base->family != &colbert_family) {
        err_set(e, "%s: not a ColBERT model", o->model_dir);
        model_free(base);
        return NULL;
    }
    struct colbert_model *m = (struct colbert_model *)base;
    size_t d_len = m->d_len;
    if (o->max_length) {
        if (o->max_length < 3 || o->max_length > m->base.max_tokens) {
            err_set(e, "--max-length %zu: a ColBERT document takes 3 to %zu "
                    "tokens", o->max_length, m->base.max_tokens);
            model_free(base);
            return NULL;
        }
        d_len = o->max_length;
    }
    int threads = o->threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    colbert_set_threads(base, threads);
    struct colbert *c = xcalloc(1, sizeof *c);
    c->m = m;
    c->d_len = d_len;
    size_t rows = m->q_len > d_len ? m->q_len : d_len;
    c->qv = xmalloc(m->q_len * m->dim * sizeof *c->qv);
    c->proj[0] = xmalloc(rows * m->widest * sizeof *c->proj[0]);
    c->proj[1] = xmalloc(rows * m->widest * sizeof *c->proj[1]);
    struct scorer *s = xcalloc(1, sizeof *s);
    *s = (struct scorer){.name = "colbert", .score = colbert_score,
                         .free = colbert_scorer_free, .state = c};
    c->s = s;
    return s;
}

/* Hashes the bytes of a mapped weights file into id (FNV-1a, then the
 * size). */
static void identity_add(uint64_t id[2], const struct weights *w)
{
    id[0] = hash_bytes(w->st.map, w->st.map_len, id[0]);
    id[1] = hash_mix64(id[1] ^ (uint64_t)w->st.map_len);
}

int colbert_use_cache(struct scorer *s, struct cache *cache, struct buf *ident,
                      struct err *e)
{
    struct colbert *c = s->state;
    struct colbert_model *m = c->m;
    /* The encoder's weights are mapped inside bert.c: map them once more
     * (the pages are shared) to hash them. */
    struct model_dir d;
    struct weights w;
    if (model_dir_open(&d, m->dir, e))
        return -1;
    int rc = weights_open(&w, &d, "colbert", e);
    model_dir_close(&d);
    if (rc)
        return -1;
    c->identity[0] = c->identity[1] = 0;
    identity_add(c->identity, &w);
    weights_close(&w);
    /* The projection: its files and the activation, which is not in them. */
    for (size_t i = 0; i < m->n_dense; i++) {
        identity_add(c->identity, &m->dense[i].file);
        c->identity[1] = hash_mix64(c->identity[1] ^ (m->dense[i].tanh ? 2 : 1));
    }
    c->cache = cache;
    if (ident)
        buf_printf(ident, "vectors=%016llx%016llx\n", (unsigned long long)c->identity[0],
                   (unsigned long long)c->identity[1]);
    return 0;
}

size_t colbert_max_length(const struct scorer *s)
{
    return ((const struct colbert *)s->state)->d_len;
}

size_t colbert_n_encoded(const struct scorer *s)
{
    return ((const struct colbert *)s->state)->n_encoded;
}

size_t colbert_n_cached(const struct scorer *s)
{
    return ((const struct colbert *)s->state)->n_cached;
}
