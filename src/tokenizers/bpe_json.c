/* bpe_json.c — reads a BPE tokenizer.json into struct bpe (bpe_impl.h),
 * as Hugging Face's `tokenizers` deserializes it: the model (vocabulary,
 * merges as "a b" strings or ["a", "b"] pairs, unk / prefix / suffix /
 * byte_fallback / ignore_merges), the normalizer and pre-tokenizer kinds
 * bpe.c implements (others are refused by name), the added tokens with the
 * ids AddedVocabulary gives them, and the post-processor's pair template
 * into struct tokenizer's cls / sep fields.  Every value is checked before
 * use: the file is untrusted input. */
#include "tokenizers/bpe_impl.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int opt_bool(const json_t *obj, const char *key, bool *out,
                    const char *path, const char *where, struct err *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return err_set(e, "%s: %s.%s must be a boolean", path, where, key);
    *out = json_is_true(v);
    return 0;
}

/* An optional string field; NULL when absent, null or empty (an empty
 * prefix or suffix changes nothing). */
static int opt_string(const json_t *obj, const char *key, char **out,
                      const char *path, struct err *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(e, "%s: model.%s must be a string", path, key);
    if (json_string_length(v))
        *out = xstrndup(json_string_value(v), json_string_length(v));
    return 0;
}

/* One merge of model.merges: "a b" (exactly one space) or ["a", "b"]. */
static int merge_parts(const json_t *m, size_t i, const char **a, size_t *na,
                       const char **b, size_t *nb, const char *path,
                       struct err *e)
{
    if (json_is_string(m)) {
        const char *s = json_string_value(m), *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return err_set(e, "%s: model.merges[%zu]: \"%s\" is not two "
                              "tokens separated by one space", path, i, s);
        *a = s;
        *na = (size_t)(sp - s);
        *b = sp + 1;
        *nb = strlen(sp + 1);
        return 0;
    }
    const json_t *x = json_array_get(m, 0), *y = json_array_get(m, 1);
    if (json_array_size(m) != 2 || !json_is_string(x) || !json_is_string(y))
        return err_set(e, "%s: model.merges[%zu] must be \"a b\" or "
                          "[\"a\", \"b\"]", path, i);
    *a = json_string_value(x);
    *na = json_string_length(x);
    *b = json_string_value(y);
    *nb = json_string_length(y);
    return 0;
}

/* The merges, ranked by their order (lines starting "#version" skipped in
 * the string form, as `tokenizers` does). */
static int load_merges(struct bpe *b, const json_t *merges, const char *path,
                       struct err *e)
{
    if (!json_is_array(merges))
        return err_set(e, "%s: model.merges must be an array", path);
    size_t n = json_array_size(merges), n_slots = 16;
    while (n_slots < 2 * n)
        n_slots *= 2;
    b->merges.slots = xreallocarray(NULL, n_slots, sizeof *b->merges.slots);
    b->merges.mask = n_slots - 1;
    for (size_t i = 0; i < n_slots; i++)
        b->merges.slots[i].new_id = -1;
    bool strings = json_is_string(json_array_get(merges, 0));
    size_t plen = b->prefix ? strlen(b->prefix) : 0;
    struct buf joined = {0};
    uint32_t rank = 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(merges, i);
        if (json_is_string(m) != strings) {
            err_set(e, "%s: model.merges mixes strings and pairs", path);
            goto out;
        }
        if (strings && strncmp(json_string_value(m), "#version", 8) == 0)
            continue;
        const char *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        if (merge_parts(m, i, &x, &nx, &y, &ny, path, e))
            goto out;
        int32_t ix = bpe_vocab_get(&b->vocab, x, nx), iy = bpe_vocab_get(&b->vocab, y, ny);
        if (ix < 0 || iy < 0) {
            err_set(e, "%s: model.merges[%zu]: \"%.*s\" is not in the "
                       "vocabulary", path, i, (int)(ix < 0 ? nx : ny),
                    ix < 0 ? x : y);
            goto out;
        }
        /* the merged token: a, then b without the continuing prefix */
        if (ny < plen) {
            err_set(e, "%s: model.merges[%zu]: \"%.*s\" is shorter than the "
                       "continuing_subword_prefix", path, i, (int)ny, y);
            goto out;
        }
        joined.len = 0;
        buf_put(&joined, x, nx);
        buf_put(&joined, y + plen, ny - plen);
        int32_t id = bpe_vocab_get(&b->vocab, joined.data, joined.len);
        if (id < 0) {
            err_set(e, "%s: model.merges[%zu]: the merged token \"%.*s\" is "
                       "not in the vocabulary", path, i, (int)joined.len,
                    joined.data);
            goto out;
        }
        struct merge_slot *s = bpe_merge_slot(&b->merges, bpe_pair_key(ix, iy));
        *s = (struct merge_slot){bpe_pair_key(ix, iy), rank++, id};
    }
    rc = 0;
out:
    buf_free(&joined);
    return rc;
}

static int load_model(struct bpe *b, const json_t *model, int32_t *max_id,
                      size_t *n_vocab, const char *path, struct err *e)
{
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type || strcmp(type, "BPE") != 0)
        return err_set(e, "%s: model.type must be BPE", path);
    const json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) &&
        !(json_is_number(dropout) && json_number_value(dropout) == 0))
        return err_set(e, "%s: model.dropout (random merges) is not "
                          "supported", path);
    const json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab))
        return err_set(e, "%s: model.vocab must be an object", path);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || id >= INT32_MAX)
            return err_set(e, "%s: model.vocab: \"%s\": bad id", path, key);
        if (bpe_vocab_put(&b->vocab, key, strlen(key), (int32_t)id))
            return err_set(e, "%s: model.vocab is too large", path);
        if ((int32_t)id > *max_id)
            *max_id = (int32_t)id;
    }
    *n_vocab = b->vocab.n;
    char *unk = NULL;
    if (opt_string(model, "unk_token", &unk, path, e) ||
        opt_string(model, "continuing_subword_prefix", &b->prefix, path, e) ||
        opt_string(model, "end_of_word_suffix", &b->suffix, path, e) ||
        opt_bool(model, "fuse_unk", &b->fuse_unk, path, "model", e) ||
        opt_bool(model, "byte_fallback", &b->byte_fallback, path, "model", e) ||
        opt_bool(model, "ignore_merges", &b->ignore_merges, path, "model", e)) {
        free(unk);
        return -1;
    }
    b->unk_id = -1;
    if (unk) {
        b->unk_id = bpe_vocab_get(&b->vocab, unk, strlen(unk));
        if (b->unk_id < 0)
            err_set(e, "%s: model.unk_token \"%s\" is not in the vocabulary",
                    path, unk);
        free(unk);
        if (b->unk_id < 0)
            return -1;
    }
    for (int c = 0; c < 256; c++) {
        char code[8];
        snprintf(code, sizeof code, "<0x%02X>", c);
        b->byte_id[c] = bpe_vocab_get(&b->vocab, code, 6);
    }
    return load_merges(b, json_object_get(model, "merges"), path, e);
}

typedef int load_step_fn(struct bpe *b, const json_t *step, const char *path,
                         struct err *e);

/* A Sequence (normalizer or pre-tokenizer): load() on each member of
 * obj[member], in order. */
static int load_sequence(struct bpe *b, const json_t *obj, const char *member,
                         load_step_fn *load, const char *path, struct err *e)
{
    const json_t *list = json_object_get(obj, member);
    size_t i;
    json_t *item;
    if (!json_is_array(list))
        return err_set(e, "%s: Sequence without %s", path, member);
    json_array_foreach(list, i, item)
        if (load(b, item, path, e))
            return -1;
    return 0;
}

/* Appends the normalizer `n` (a Sequence flattened) to b->norm. */
static int load_normalizer(struct bpe *b, const json_t *n, const char *path,
                           struct err *e)
{
    if (!n || json_is_null(n))
        return 0;
    const char *type = json_string_value(json_object_get(n, "type"));
    if (type && strcmp(type, "Sequence") == 0)
        return load_sequence(b, n, "normalizers", load_normalizer, path, e);
    static const struct {
        const char *name;
        enum norm_kind kind;
    } kinds[] = {{"NFC", NORM_NFC}, {"NFD", NORM_NFD}, {"NFKC", NORM_NFKC},
                 {"NFKD", NORM_NFKD}, {"Lowercase", NORM_LOWERCASE},
                 {"Strip", NORM_STRIP}, {"Prepend", NORM_PREPEND},
                 {"Replace", NORM_REPLACE}};
    struct norm_step st = {0};
    size_t k = 0;
    while (k < sizeof kinds / sizeof *kinds &&
           (!type || strcmp(type, kinds[k].name) != 0))
        k++;
    if (k == sizeof kinds / sizeof *kinds)
        return err_set(e, "%s: normalizer %s is not supported (NFC, NFD, "
                          "NFKC, NFKD, Lowercase, Strip, Prepend, Replace, "
                          "Sequence are)", path, type ? type : "without type");
    st.kind = kinds[k].kind;
    if (st.kind == NORM_STRIP &&
        (opt_bool(n, "strip_left", &st.left, path, "normalizer", e) ||
         opt_bool(n, "strip_right", &st.right, path, "normalizer", e)))
        return -1;
    if (st.kind == NORM_PREPEND) {
        const char *p = json_string_value(json_object_get(n, "prepend"));
        if (!p)
            return err_set(e, "%s: normalizer Prepend without prepend", path);
        st.text = xstrdup(p);
    }
    if (st.kind == NORM_REPLACE) {
        const char *p = json_string_value(
            json_object_get(json_object_get(n, "pattern"), "String"));
        const char *c = json_string_value(json_object_get(n, "content"));
        if (!p || !*p || !c)
            return err_set(e, "%s: normalizer Replace: only a non-empty "
                              "String pattern with a content is supported",
                           path);
        st.text = xstrdup(p);
        st.content = xstrdup(c);
    }
    b->norm = xreallocarray(b->norm, b->n_norm + 1, sizeof *b->norm);
    b->norm[b->n_norm++] = st;
    return 0;
}

/* The pre-tokenizer regexes with a matcher here. */
static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+"
    "|\\s+(?!\\S)|\\s+";
static const char QWEN2_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static int pre_add(struct bpe *b, enum pretok_kind kind, int max_digits,
                   const char *path, struct err *e)
{
    if (b->n_pre == sizeof b->pre / sizeof *b->pre)
        return err_set(e, "%s: pre_tokenizer has too many steps", path);
    b->pre[b->n_pre++] = (struct pretok_step){kind, max_digits};
    return 0;
}

/* Appends the pre-tokenizer `p` (a Sequence flattened) to b->pre. */
static int load_pre_tokenizer(struct bpe *b, const json_t *p,
                              const char *path, struct err *e)
{
    if (!p || json_is_null(p))
        return 0;
    const char *type = json_string_value(json_object_get(p, "type"));
    if (type && strcmp(type, "Sequence") == 0)
        return load_sequence(b, p, "pretokenizers", load_pre_tokenizer, path, e);
    if (type && strcmp(type, "ByteLevel") == 0) {
        bool prefix = true, regex = true;
        if (opt_bool(p, "add_prefix_space", &prefix, path, "pre_tokenizer", e) ||
            opt_bool(p, "use_regex", &regex, path, "pre_tokenizer", e))
            return -1;
        return (prefix && pre_add(b, PRE_PREFIX_SPACE, 0, path, e)) ||
               (regex && pre_add(b, PRE_SPLIT_GPT2, 0, path, e)) ||
               pre_add(b, PRE_BYTES, 0, path, e) ? -1 : 0;
    }
    if (type && strcmp(type, "Split") == 0) {
        const char *re = json_string_value(
            json_object_get(json_object_get(p, "pattern"), "Regex"));
        const char *behavior = json_string_value(json_object_get(p, "behavior"));
        bool invert = false;
        if (opt_bool(p, "invert", &invert, path, "pre_tokenizer", e))
            return -1;
        if (!behavior || strcmp(behavior, "Isolated") != 0 || invert)
            return err_set(e, "%s: pre_tokenizer Split: only behavior "
                              "Isolated without invert is supported", path);
        if (re && strcmp(re, GPT2_RE) == 0)
            return pre_add(b, PRE_SPLIT_GPT2, 0, path, e);
        if (re && strcmp(re, QWEN2_RE) == 0)
            return pre_add(b, PRE_SPLIT_LLAMA, 1, path, e);
        if (re && strcmp(re, LLAMA3_RE) == 0)
            return pre_add(b, PRE_SPLIT_LLAMA, 3, path, e);
        return err_set(e, "%s: pre_tokenizer Split: pattern %s is not "
                          "supported (the GPT-2, Qwen2 and Llama-3 regexes "
                          "are)", path, re ? re : "without Regex");
    }
    return err_set(e, "%s: pre_tokenizer %s is not supported (ByteLevel, "
                      "Split, Sequence are)", path, type ? type : "without type");
}

/* Where added token `id` sits in b->added: a map from the id's 4 bytes. */
static int32_t added_index(const struct vocab *by_id, int32_t id)
{
    return bpe_vocab_get(by_id, (const char *)&id, sizeof id);
}

/* added_tokens, as AddedVocabulary::add_tokens assigns them: a token keeps
 * the id its content has (in the added map, then the model's vocabulary),
 * else takes the next id past the vocabulary; the id in the file only
 * makes `tokenizers` warn when it differs.  Then the two tries. */
static int load_added(struct bpe *b, const json_t *list, size_t n_vocab,
                      int32_t *max_id, const char *path, struct err *e)
{
    if (list && !json_is_array(list))
        return err_set(e, "%s: added_tokens must be an array", path);
    struct vocab by_content = {0}, by_id = {0};
    struct buf norm = {0}, tmp = {0};
    int64_t next_id = (int64_t)n_vocab;
    int rc = -1;
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        const json_t *c = json_object_get(item, "content");
        if (!json_is_string(c)) {
            err_set(e, "%s: added_tokens[%zu]: content must be a string", path, i);
            goto out;
        }
        const char *content = json_string_value(c);
        size_t len = json_string_length(c);
        if (!len || memchr(content, 0, len))
            continue; /* `tokenizers` ignores empty ones */
        struct added_token a = {.content = NULL};
        bool special = json_is_true(json_object_get(item, "special"));
        a.normalized = !special; /* AddedToken::from's default */
        const char *w = "added_tokens[]";
        if (opt_bool(item, "special", &special, path, w, e) ||
            opt_bool(item, "single_word", &a.single_word, path, w, e) ||
            opt_bool(item, "lstrip", &a.lstrip, path, w, e) ||
            opt_bool(item, "rstrip", &a.rstrip, path, w, e) ||
            opt_bool(item, "normalized", &a.normalized, path, w, e))
            goto out;
        int32_t id = bpe_vocab_get(&by_content, content, len);
        if (id < 0)
            id = bpe_vocab_get(&b->vocab, content, len);
        if (id < 0) {
            if (next_id >= INT32_MAX) {
                err_set(e, "%s: too many added tokens", path);
                goto out;
            }
            id = (int32_t)next_id++;
        }
        bpe_vocab_put(&by_content, content, len, id);
        a.id = id;
        a.content = xstrndup(content, len);
        int32_t k = added_index(&by_id, id);
        if (k >= 0) { /* the id's token is replaced */
            free(b->added[k].content);
            b->added[k] = a;
        } else {
            b->added = xreallocarray(b->added, b->n_added + 1, sizeof *b->added);
            bpe_vocab_put(&by_id, (const char *)&id, sizeof id, (int32_t)b->n_added);
            b->added[b->n_added++] = a;
        }
        if (id > *max_id)
            *max_id = id;
    }
    for (size_t k = 0; k < b->n_added; k++) {
        const struct added_token *a = &b->added[k];
        const char *pat = a->content;
        size_t n = strlen(pat);
        if (a->normalized) {
            bpe_normalize(b->norm, b->n_norm, pat, n, &norm, &tmp);
            pat = norm.data;
            n = norm.len;
        }
        if (!n) {
            err_set(e, "%s: added token \"%s\" normalizes to nothing", path,
                    a->content);
            goto out;
        }
        if (bpe_trie_add(a->normalized ? &b->norm_trie : &b->raw_trie, pat, n,
                     (int32_t)k)) {
            err_set(e, "%s: added token \"%s\" matches the same text as "
                       "another", path, a->content);
            goto out;
        }
    }
    rc = 0;
out:
    buf_free(&by_content.pool);
    free(by_content.slots);
    buf_free(&by_id.pool);
    free(by_id.slots);
    buf_free(&norm);
    buf_free(&tmp);
    return rc;
}

/* Reads the pair template of a TemplateProcessing post-processor:
 * X $A Y... $B Y with X, Y single tokens, one or two Y in the middle, type
 * 0 up to the middle and one type (0 or 1) for $B and the last Y. */
static int load_template(struct tokenizer *t, const json_t *pp,
                         const char *path, struct err *e)
{
    const json_t *pair = json_object_get(pp, "pair");
    size_t n = json_array_size(pair);
    const char *ids[6];
    json_int_t types[6];
    bool seq[6];
    if (n != 5 && n != 6)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(pair, i);
        const json_t *s = json_object_get(it, "SpecialToken");
        seq[i] = !s;
        if (!s)
            s = json_object_get(it, "Sequence");
        ids[i] = json_string_value(json_object_get(s, "id"));
        const json_t *ty = json_object_get(s, "type_id");
        if (!ids[i] || !json_is_integer(ty))
            goto bad;
        types[i] = json_integer_value(ty);
    }
    int mid = (int)n - 4; /* separators between the texts */
    if (seq[0] || !seq[1] || strcmp(ids[1], "A") || !seq[n - 2] ||
        strcmp(ids[n - 2], "B") || seq[n - 1] || types[0] || types[1])
        goto bad;
    for (int k = 0; k < mid; k++)
        if (seq[2 + k] || strcmp(ids[2 + k], ids[n - 1]) || types[2 + k])
            goto bad;
    if (types[n - 2] != types[n - 1] || (types[n - 1] != 0 && types[n - 1] != 1))
        goto bad;
    const json_t *specials = json_object_get(pp, "special_tokens");
    int32_t out[2];
    for (int k = 0; k < 2; k++) {
        const char *name = k ? ids[n - 1] : ids[0];
        const json_t *list = json_object_get(json_object_get(specials, name),
                                             "ids");
        const json_t *v = json_array_get(list, 0);
        if (json_array_size(list) != 1 || !json_is_integer(v) ||
            json_integer_value(v) < 0 || json_integer_value(v) >= INT32_MAX)
            return err_set(e, "%s: post_processor: %s must have one id", path,
                           name);
        out[k] = (int32_t)json_integer_value(v);
    }
    t->cls_id = out[0];
    t->sep_id = out[1];
    t->n_sep_middle = mid;
    t->second_type_one = types[n - 1] == 1;
    return 0;
bad:
    return err_set(e, "%s: post_processor: the pair template is not "
                      "X $A Y [Y] $B Y", path);
}

/* BertProcessing / RobertaProcessing: "cls": [token, id], "sep": [token, id]. */
static int load_cls_sep(struct tokenizer *t, const json_t *pp, bool roberta,
                        const char *path, struct err *e)
{
    const json_t *c = json_array_get(json_object_get(pp, "cls"), 1);
    const json_t *s = json_array_get(json_object_get(pp, "sep"), 1);
    if (!json_is_integer(c) || !json_is_integer(s) ||
        json_integer_value(c) < 0 || json_integer_value(c) >= INT32_MAX ||
        json_integer_value(s) < 0 || json_integer_value(s) >= INT32_MAX)
        return err_set(e, "%s: post_processor: cls and sep must be "
                          "[token, id]", path);
    t->cls_id = (int32_t)json_integer_value(c);
    t->sep_id = (int32_t)json_integer_value(s);
    t->n_sep_middle = roberta ? 2 : 1;
    t->second_type_one = !roberta;
    return 0;
}

/* The post-processor's pair template; ByteLevel (offsets only) and null
 * add no special tokens, leaving cls_id = sep_id = -1. */
static int load_post_processor(struct tokenizer *t, const json_t *pp,
                               const char *path, struct err *e)
{
    if (!pp || json_is_null(pp))
        return 0;
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (!type)
        return err_set(e, "%s: post_processor without type", path);
    if (strcmp(type, "Sequence") == 0) {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(pp, "processors"), i, item) {
            if (t->cls_id >= 0 &&
                strcmp(json_string_value(json_object_get(item, "type")) ?: "",
                       "ByteLevel") != 0)
                return err_set(e, "%s: post_processor Sequence with two "
                                  "templates", path);
            if (load_post_processor(t, item, path, e))
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "ByteLevel") == 0)
        return 0;
    if (strcmp(type, "TemplateProcessing") == 0)
        return load_template(t, pp, path, e);
    if (strcmp(type, "BertProcessing") == 0 ||
        strcmp(type, "RobertaProcessing") == 0)
        return load_cls_sep(t, pp, type[0] == 'R', path, e);
    return err_set(e, "%s: post_processor %s is not supported", path, type);
}

struct tokenizer *bpe_load_json(const json_t *tj, const char *path,
                                struct err *e)
{
    struct bpe *b = xcalloc(1, sizeof *b);
    struct tokenizer *t = xcalloc(1, sizeof *t);
    *t = (struct tokenizer){.kind = "bpe", .tokenize = bpe_tokenize,
                            .free = bpe_free, .state = b, .cls_id = -1,
                            .sep_id = -1, .pad_id = -1, .unk_id = -1};
    bpe_byte_chars_init(b);
    int32_t max_id = -1;
    size_t n_vocab = 0;
    if (!json_is_object(tj)) {
        err_set(e, "%s: not a JSON object", path);
        goto fail;
    }
    if (load_model(b, json_object_get(tj, "model"), &max_id, &n_vocab, path, e) ||
        load_normalizer(b, json_object_get(tj, "normalizer"), path, e) ||
        load_pre_tokenizer(b, json_object_get(tj, "pre_tokenizer"), path, e) ||
        load_added(b, json_object_get(tj, "added_tokens"), n_vocab, &max_id,
                   path, e) ||
        load_post_processor(t, json_object_get(tj, "post_processor"), path, e))
        goto fail;
    const json_t *pad = json_object_get(json_object_get(tj, "padding"), "pad_id");
    if (json_is_integer(pad) && json_integer_value(pad) >= 0 &&
        json_integer_value(pad) < INT32_MAX)
        t->pad_id = (int32_t)json_integer_value(pad);
    t->unk_id = b->unk_id;
    /* every id a text or the template can produce indexes the embeddings */
    if (t->cls_id > max_id)
        max_id = t->cls_id;
    if (t->sep_id > max_id)
        max_id = t->sep_id;
    t->vocab_size = (size_t)(max_id + 1);
    return t;
fail:
    bpe_free(t);
    return NULL;
}

struct tokenizer *bpe_load(const char *path, struct err *e)
{
    json_error_t je;
    json_t *tj = json_load_file(path, 0, &je);
    if (!tj) {
        err_set(e, "%s:%d: %s", path, je.line, je.text);
        return NULL;
    }
    struct tokenizer *t = bpe_load_json(tj, path, e);
    json_decref(tj);
    return t;
}
