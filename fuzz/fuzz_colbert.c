/* fuzz_colbert — a PyLate ColBERT's config_sentence_transformers.json and
 * the texts it encodes (src/models/colbert.c): prefixes and skiplist words
 * looked up in the vocabulary, lengths proven against the encoder, and the
 * strip / do_lower_case / tokenize / MaxSim path on arbitrary UTF-8.  The
 * input is the JSON, then optionally 0xff and the query, then 0xff and the
 * document.  The model is testdata/colbert/modernbert (its other files
 * linked into the scratch directory); sentence_bert_config.json says
 * do_lower_case when the JSON mentions "lower".  A model that loads scores
 * one group, and prints its encoder inputs as --tokenize does. */
#include "fuzz.h"

#include "group.h"
#include "models/colbert.h"
#include "util.h"

static void link_model(void)
{
    static const char *const files[] = {
        "config.json", "model.safetensors", "tokenizer.json",
        "tokenizer_config.json", "special_tokens_map.json", "modules.json",
        "1_Dense"};
    char rel[128], to[4096], link[512]; /* to: PATH_MAX on Linux */
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(rel, sizeof rel, "colbert/modernbert/%s", files[i]);
        if (!realpath(fuzz_testdata(rel), to))
            abort();
        snprintf(link, sizeof link, "%s/%s", fuzz_dir(), files[i]);
        unlink(link);
        if (symlink(to, link) < 0)
            abort();
    }
}

static void on_ids(size_t cand, const struct ids *q, const struct ids *d,
                   const struct ids *keep, void *ctx)
{
    if (keep->n != d->n || q->n == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool linked;
    if (!linked) {
        link_model();
        linked = true;
    }
    const uint8_t *cut = memchr(data, 0xff, size);
    size_t n_json = cut ? (size_t)(cut - data) : size;
    fuzz_write("config_sentence_transformers.json", data, n_json);
    static const char lower[] = "{\"do_lower_case\": true}", plain[] = "{}";
    bool lo = memmem(data, n_json, "lower", 5) != NULL;
    fuzz_write("sentence_bert_config.json", (const uint8_t *)(lo ? lower : plain),
               lo ? sizeof lower - 1 : sizeof plain - 1);
    /* the texts: valid UTF-8 without NUL, as the input readers give them */
    char *query = xstrdup("what shape?"), *doc = xstrdup("Delta wings, SHARP edges.");
    if (cut) {
        const uint8_t *q = cut + 1, *end = data + size;
        const uint8_t *cut2 = memchr(q, 0xff, (size_t)(end - q));
        size_t nq = (size_t)((cut2 ? cut2 : end) - q);
        if (utf8_invalid_at((const char *)q, nq) < 0 && !memchr(q, 0, nq)) {
            free(query);
            query = xstrndup((const char *)q, nq);
        }
        if (cut2) {
            size_t nd = (size_t)(end - cut2 - 1);
            if (utf8_invalid_at((const char *)cut2 + 1, nd) < 0 && !memchr(cut2 + 1, 0, nd)) {
                free(doc);
                doc = xstrndup((const char *)cut2 + 1, nd);
            }
        }
    }
    struct err e = {0};
    struct crossenc_options o = {.model_dir = fuzz_dir(), .threads = 1, .label = -1};
    struct scorer *s = colbert_scorer_new(&o, &e);
    if (!s) {
        if (!e.msg[0])
            abort();
    } else {
        struct group g = {0};
        group_reset(&g);
        g.qid = "q";
        g.query = query;
        g.source = "fuzz";
        struct candidate *c = group_add(&g);
        c->docid = "d";
        c->text = doc;
        c->text_len = strlen(doc);
        c->source = "fuzz";
        if (colbert_encode_group(s, &g, on_ids, NULL, &e) < 0 ||
            s->score(s, &g, &e) < 0)
            abort();
        group_free(&g);
        scorer_free(s);
    }
    free(query);
    free(doc);
    return 0;
}
