/* test_colbert.c — the ColBERT family and scorer (src/models/colbert.c) against
 * the shared goldens: ids, skiplist masks and MaxSim scores computed by
 * the Stanford colbert-ai and PyLate code paths (float64 reference) for
 * tiny-colbert (HF_ColBERT) and tiny-pylate-colbert; a score that does not
 * depend on the other documents of its group or their order; the hidden-
 * state export's key mask (model_encode_hidden, on BERT and ModernBERT); and broken directories
 * refused with the file named.  Skipped without ../shared. */
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "models/colbert.h"
#include "crossenc.h"
#include "group.h"
#include "models/model.h"

static const char *const models[] = {"tiny-colbert", "tiny-pylate-colbert"};

/* The golden lines, parsed. */
static json_t *cases;

/* The lines of a cases file (JSON Lines), or NULL when it is absent. */
static json_t *read_cases(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    json_t *lines = json_array();
    char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        if (j)
            json_array_append_new(lines, j);
    }
    fclose(f);
    return lines;
}

static bool load_cases(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/colbert-cases.jsonl", shared_dir());
    cases = read_cases(path);
    return json_array_size(cases) > 0;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Group of the golden lines [first, first + n), candidates in the order
 * given by order (NULL: as read). */
static void make_group(struct group *g, size_t first, size_t n,
                       const size_t *order)
{
    group_reset(g);
    const json_t *c0 = json_array_get(cases, first);
    g->qid = str(c0, "qid");
    g->query = str(c0, "query");
    g->source = "golden";
    for (size_t k = 0; k < n; k++) {
        const json_t *c = json_array_get(cases, first + (order ? order[k] : k));
        struct candidate *cand = group_add(g);
        cand->docid = str(c, "docid");
        cand->text = str(c, "text");
        cand->text_len = strlen(cand->text);
        cand->source = "golden";
    }
}

/* The golden lines of the group starting at line first (same qid). */
static size_t group_size(size_t first)
{
    size_t n = 1;
    const char *qid = str(json_array_get(cases, first), "qid");
    while (first + n < json_array_size(cases) &&
           strcmp(str(json_array_get(cases, first + n), "qid"), qid) == 0)
        n++;
    return n;
}

/* The scorer of golden model name, or of directory name when it holds a
 * slash. */
static struct scorer *scorer_of(const char *name, size_t max_length,
                                struct err *e)
{
    char dir[1024];
    if (strchr(name, '/'))
        snprintf(dir, sizeof dir, "%s", name);
    else
        snprintf(dir, sizeof dir, "%s/golden/%s", shared_dir(), name);
    struct crossenc_options o = {.model_dir = dir, .threads = 2,
                                 .max_length = max_length, .label = -1};
    return colbert_scorer_new(&o, e);
}

static bool ids_equal(const struct ids *a, const json_t *want)
{
    if (a->n != json_array_size(want))
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i] != json_integer_value(json_array_get(want, i)))
            return false;
    return true;
}

struct ids_check {
    const char *model;
    size_t first;
    int bad;
};

static void check_ids(size_t cand, const struct ids *q, const struct ids *d,
                      const struct ids *keep, void *ctx)
{
    struct ids_check *k = ctx;
    const json_t *c = json_object_get(json_array_get(cases, k->first + cand), k->model);
    bool ok = ids_equal(q, json_object_get(c, "query_ids")) &&
              ids_equal(d, json_object_get(c, "doc_ids")) &&
              ids_equal(keep, json_object_get(c, "doc_mask"));
    if (!ok) {
        k->bad++;
        printf("FAIL %s: ids of %s differ\n", k->model,
               str(json_array_get(cases, k->first + cand), "docid"));
    }
}

/* Every golden group: ids and masks, scores within 1e-4; then each group
 * reversed and each candidate alone give the same scores (1e-6).  The
 * model is golden model name or directory dir, its values under key name
 * of the lines in `cases`; n_expected of them. */
static void check_cases(const char *dir, const char *name, size_t n_expected)
{
    struct err e = {0};
    struct scorer *s = scorer_of(dir, 0, &e);
    CHECK_MSG(s != NULL, "%s: %s", name, e.msg);
    if (!s)
        return;
    CHECK_STR(s->name, "colbert");
    struct group g = {0};
    size_t n_cases = json_array_size(cases), n_scored = 0;
    double worst = 0, worst_order = 0;
    for (size_t first = 0; first < n_cases;) {
        size_t n = group_size(first);
        make_group(&g, first, n, NULL);
        struct ids_check k = {name, first, 0};
        CHECK_MSG(colbert_encode_group(s, &g, check_ids, &k, &e) == 0, "%s", e.msg);
        CHECK_MSG(k.bad == 0, "%s: group %s: %d candidates' ids differ", name,
                  str(json_array_get(cases, first), "qid"), k.bad);
        CHECK_MSG(s->score(s, &g, &e) == 0, "%s", e.msg);
        double *scores = xmalloc(n * sizeof *scores);
        for (size_t i = 0; i < n; i++) {
            const json_t *c = json_object_get(json_array_get(cases, first + i), name);
            double want = json_number_value(json_object_get(c, "score"));
            double d = fabs(g.cands[i].score - want);
            worst = d > worst ? d : worst;
            CHECK_MSG(d <= 1e-4, "%s %s: score %.9g, expected %.9g", name,
                      g.cands[i].docid, g.cands[i].score, want);
            scores[i] = g.cands[i].score;
            n_scored++;
        }
        size_t *order = xmalloc(n * sizeof *order);
        for (size_t i = 0; i < n; i++)
            order[i] = n - 1 - i;
        make_group(&g, first, n, order);
        CHECK(s->score(s, &g, &e) == 0);
        for (size_t i = 0; i < n; i++) {
            double d = fabs(g.cands[i].score - scores[n - 1 - i]);
            worst_order = d > worst_order ? d : worst_order;
        }
        for (size_t i = 0; i < n; i++) {
            order[0] = i;
            make_group(&g, first, 1, order);
            CHECK(s->score(s, &g, &e) == 0);
            double d = fabs(g.cands[0].score - scores[i]);
            worst_order = d > worst_order ? d : worst_order;
        }
        free(order);
        free(scores);
        first += n;
    }
    CHECK_MSG(n_scored == n_expected, "%s: %zu candidates", name, n_scored);
    CHECK_MSG(worst_order <= 1e-6, "%s: order/batch changes a score by %g",
              name, worst_order);
    printf("%s: %zu scores, worst difference %.3g, order/batch %.3g\n", name,
           n_scored, worst, worst_order);
    group_free(&g);
    scorer_free(s);
}

static void test_golden(const char *name)
{
    check_cases(name, name, 95);
}

static const char *variant(const char *name, const char *tag,
                           const char *const *replace, size_t n_replace);

/* PyLate ColBERTs on the other bases (testdata/colbert/, made by
 * scripts/gen-tiny-colbert-bases.py): ids from the Rust tokenizers with
 * PyLate's tokenize (scripts/colbert-ids.js), scores from transformers'
 * ModernBertModel and XLMRobertaModel (scripts/colbert-reference-hf.py);
 * punctuation-only, empty, truncated, padded and unicode documents, a
 * query past query_length, a query padded with spaces. */
static void test_bases(void)
{
    static const char *const bases[] = {"modernbert", "xlmr"};
    json_t *golden = cases;
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
        char path[256], dir[256];
        snprintf(path, sizeof path, "testdata/colbert/%s-cases.jsonl", bases[i]);
        snprintf(dir, sizeof dir, "testdata/colbert/%s", bases[i]);
        cases = read_cases(path);
        CHECK_MSG(cases != NULL, "%s missing", path);
        if (cases)
            check_cases(dir, bases[i], 14);
        json_decref(cases);
    }
    /* The ModernBERT model with empty prefixes and attended expansion, and
     * without query expansion (testdata/colbert/modernbert-variants.jsonl,
     * made as modernbert-cases.jsonl from copies of the model with those
     * settings in config_sentence_transformers.json). */
    cases = read_cases("testdata/colbert/modernbert-variants.jsonl");
    CHECK(cases != NULL);
    json_t *cfg = json_load_file("testdata/colbert/modernbert/"
                                 "config_sentence_transformers.json", 0, NULL);
    for (int k = 0; cases && cfg && k < 2; k++) {
        const char *tag = k ? "noexp" : "noprefix-attend";
        json_t *c = json_deep_copy(cfg);
        if (k) {
            json_object_set_new(c, "do_query_expansion", json_false());
        } else {
            json_object_set_new(c, "query_prefix", json_string(""));
            json_object_set_new(c, "document_prefix", json_string(""));
            json_object_set_new(c, "attend_to_expansion_tokens", json_true());
        }
        char *text = json_dumps(c, 0);
        const char *replace[] = {"config_sentence_transformers.json", text};
        const char *dir = variant("testdata/colbert/modernbert", tag, replace, 1);
        CHECK(dir != NULL);
        if (dir)
            check_cases(dir, tag, 14);
        free(text);
        json_decref(c);
    }
    json_decref(cfg);
    json_decref(cases);
    /* sentence_bert_config.json do_lower_case: Python's str.lower() (final
     * sigma, U+0130) before the tokenizer. */
    cases = read_cases("testdata/colbert/modernbert-lower.jsonl");
    CHECK(cases != NULL);
    const char *lower[] = {"sentence_bert_config.json",
                           "{\"max_seq_length\": 47, \"do_lower_case\": true}"};
    const char *dir = variant("testdata/colbert/modernbert", "lower", lower, 1);
    CHECK(dir != NULL);
    if (cases && dir)
        check_cases(dir, "lower", 4);
    json_decref(cases);
    cases = golden;
}

static void doc_length(size_t cand, const struct ids *q, const struct ids *d,
                       const struct ids *keep, void *ctx)
{
    *(size_t *)ctx = d->n;
}

/* --max-length replaces the document length: documents get cut there. */
static void test_max_length(void)
{
    struct err e = {0};
    struct scorer *s = scorer_of("tiny-colbert", 10, &e);
    CHECK_MSG(s != NULL, "%s", e.msg);
    if (!s)
        return;
    struct group g = {0};
    make_group(&g, 0, 1, NULL);
    size_t len = 0;
    CHECK(colbert_encode_group(s, &g, doc_length, &len, &e) == 0);
    CHECK_MSG(len == 10, "document of %zu tokens", len);
    CHECK(s->score(s, &g, &e) == 0);
    CHECK(isfinite(g.cands[0].score));
    group_free(&g);
    scorer_free(s);
    CHECK(scorer_of("tiny-colbert", 2, &e) == NULL);
    CHECK(strstr(e.msg, "--max-length 2") != NULL);
}

/* model_encode_hidden with n_keys = k gives the first k rows that the
 * sequence cut to k tokens gives (attention to the rest masked), for the
 * encoder of golden model name (h hidden; ids: 5 real tokens, then 3
 * [MASK]s). */
static void check_key_mask(const char *name, bool prefixed, size_t h,
                           const int32_t ids[8])
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/%s", shared_dir(), name);
    struct model_dir d;
    struct err e = {0};
    CHECK_MSG(model_dir_open(&d, dir, &e) == 0, "%s", e.msg);
    struct model *m = model_load_encoder(&d, prefixed, &e);
    model_dir_close(&d);
    CHECK_MSG(m != NULL, "%s: %s", name, e.msg);
    if (!m)
        return;
    CHECK(m->hidden == h);
    int32_t types[8] = {0};
    struct encoding full = {{(int32_t *)ids, NULL, 8, 8}, {types, NULL, 8, 8}};
    struct encoding cut = {{(int32_t *)ids, NULL, 5, 5}, {types, NULL, 5, 5}};
    const struct encoding *one = &full, *two = &cut;
    size_t keys = 5;
    const float *x = model_encode_hidden(m, &one, 1, &keys, &e);
    CHECK_MSG(x != NULL, "%s", e.msg);
    float masked[8 * 64];
    memcpy(masked, x, 8 * h * sizeof *x);
    x = model_encode_hidden(m, &two, 1, NULL, &e);
    double worst = 0;
    for (size_t i = 0; i < 5 * h; i++)
        worst = fmax(worst, fabs(masked[i] - x[i]));
    CHECK_MSG(worst < 1e-5, "%s: masked keys change the kept rows by %g",
              name, worst);
    x = model_encode_hidden(m, &one, 1, NULL, &e);
    worst = 0;
    for (size_t i = 0; i < 5 * h; i++)
        worst = fmax(worst, fabs(masked[i] - x[i]));
    CHECK_MSG(worst > 1e-3, "%s: unmasked [MASK]s should change the rows (%g)",
              name, worst);
    keys = 9;
    CHECK(model_encode_hidden(m, &one, 1, &keys, &e) == NULL);
    CHECK(strstr(e.msg, "attended") != NULL);
    model_free(m);
}

static void test_key_mask(void)
{
    static const int32_t bert[8] = {101, 30522, 2054, 14402, 102, 103, 103, 103};
    static const int32_t modernbert[8] = {2285, 2289, 700, 1500, 2286,
                                          2288, 2288, 2288};
    check_key_mask("tiny-pylate-colbert", false, 16, bert);
    /* the cross-encoder's encoder, under "model." */
    check_key_mask("tiny-modernbert-ce", true, 64, modernbert);
    /* a family without an encoder to lend is refused by model_type */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny-monot5", shared_dir());
    struct model_dir d;
    struct err e = {0};
    CHECK_MSG(model_dir_open(&d, dir, &e) == 0, "%s", e.msg);
    CHECK(model_load_encoder(&d, false, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "no encoder") != NULL, "%s", e.msg);
    model_dir_close(&d);
}

/* A copy of golden model name (or of directory name, when it holds a
 * slash) in tests/out/colbert/<tag>, files as
 * symbolic links, each of `replace` (relpath, content) pairs written as a
 * file instead (content NULL: the file removed).  Returns the directory. */
static const char *variant(const char *name, const char *tag,
                           const char *const *replace, size_t n_replace)
{
    static char dir[1024];
    char src[1024], cmd[8192];
    snprintf(dir, sizeof dir, "tests/out/colbert/%s", tag);
    if (strchr(name, '/'))
        snprintf(src, sizeof src, "%s", name);
    else
        snprintf(src, sizeof src, "%s/golden/%s", shared_dir(), name);
    char abs[1024];
    if (!realpath(src, abs))
        return NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/1_Dense' && "
             "for f in '%s'/* '%s'/1_Dense/*; do [ -f \"$f\" ] && "
             "ln -s \"$f\" '%s'/\"${f#%s/}\"; done; true",
             dir, dir, abs, abs, dir, abs);
    if (system(cmd) != 0)
        return NULL;
    for (size_t i = 0; i < n_replace; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, replace[2 * i]);
        unlink(path);
        if (!replace[2 * i + 1])
            continue;
        FILE *f = fopen(path, "w");
        if (!f)
            return NULL;
        fputs(replace[2 * i + 1], f);
        fclose(f);
    }
    return dir;
}

static void expect_refused(const char *dir, const char *needle)
{
    struct err e = {0};
    CHECK(dir != NULL);
    if (!dir)
        return;
    CHECK(colbert_is_model(dir));
    struct crossenc_options o = {.model_dir = dir, .threads = 1, .label = -1};
    struct scorer *s = colbert_scorer_new(&o, &e);
    CHECK_MSG(s == NULL && strstr(e.msg, needle), "%s: want \"%s\", got \"%s\"",
              dir, needle, e.msg);
    scorer_free(s);
}

/* The cross-encoder's options that mean nothing here are usage errors. */
static void test_options(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny-colbert", shared_dir());
    struct crossenc_options o[] = {
        {.model_dir = dir, .activation = ACTIVATION_SIGMOID, .label = -1},
        {.model_dir = dir, .label = 0},
        {.model_dir = dir, .label = -1, .long_mode = LONG_MAX},
        {.model_dir = dir, .label = -1, .stride = 8},
        {.model_dir = dir, .label = -1, .instruction = "judge"},
    };
    const char *const want[] = {"--activation", "--label", "--long max", "--stride",
                                "--instruction"};
    for (size_t i = 0; i < 5; i++) {
        struct err e = {0};
        struct scorer *s = colbert_scorer_new(&o[i], &e);
        CHECK_MSG(!s && strstr(e.msg, want[i]) && e.kind == ERR_USAGE,
                  "%s: got \"%s\" (kind %d)", want[i], e.msg, (int)e.kind);
        scorer_free(s);
    }
}

static void test_broken(void)
{
    const char *dim[] = {"artifact.metadata", "{\"dim\": 7}"};
    expect_refused(variant("tiny-colbert", "dim", dim, 1), "linear.weight is not (dim 7 from");
    const char *nested[] = {"artifact.metadata", "{\"config\": {\"query_maxlen\": 600}}"};
    expect_refused(variant("tiny-colbert", "qlen", nested, 1), "query length 600");
    const char *marker[] = {"artifact.metadata", "{\"query_token_id\": \"[nope]\"}"};
    expect_refused(variant("tiny-colbert", "marker", marker, 1), "\"[nope]\" is not in the vocabulary");
    const char *meta[] = {"artifact.metadata", "{\"dim\": "};
    expect_refused(variant("tiny-colbert", "meta", meta, 1), "artifact.metadata:1");
    const char *act[] = {"1_Dense/config.json",
                         "{\"in_features\": 16, \"out_features\": 10, \"bias\": false, "
                         "\"activation_function\": \"torch.nn.modules.activation.ReLU\"}"};
    expect_refused(variant("tiny-pylate-colbert", "act", act, 1), "activation_function");
    const char *in[] = {"1_Dense/config.json", "{\"in_features\": 8, \"out_features\": 10}"};
    expect_refused(variant("tiny-pylate-colbert", "in", in, 1), "in_features 8");
    const char *bias[] = {"1_Dense/config.json", "{\"in_features\": 16, \"out_features\": 10}"};
    expect_refused(variant("tiny-pylate-colbert", "bias", bias, 1), "linear.bias is missing");
    const char *mods[] = {"modules.json",
                          "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                          "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"pylate.models.Pooling\"}]"};
    expect_refused(variant("tiny-pylate-colbert", "mods", mods, 1), "pylate.models.Pooling\" is not supported");
    const char *up[] = {"modules.json",
                        "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                        "{\"idx\":1,\"name\":\"1\",\"path\":\"../x\",\"type\":\"pylate.models.Dense.Dense\"}]"};
    expect_refused(variant("tiny-pylate-colbert", "up", up, 1), "leaves the model directory");
    const char *prompt[] = {"config_sentence_transformers.json",
                            "{\"prompts\": {\"query\": \"search: \"}, "
                            "\"default_prompt_name\": \"query\"}"};
    expect_refused(variant("tiny-pylate-colbert", "prompt", prompt, 1),
                   "default_prompt_name \"query\" (a prompt before every text) is not supported");
    const char *deberta[] = {"config.json", "{\"model_type\": \"deberta-v2\", "
                             "\"architectures\": [\"DebertaV2Model\"]}"};
    expect_refused(variant("tiny-pylate-colbert", "deberta", deberta, 1),
                   "model_type \"deberta-v2\": no encoder for it");
    const char *vocab[] = {"tokenizer.json", NULL,
                           "added_tokens.json", "{\"[QQ]\": 30522}",
                           "artifact.metadata", "{\"query_token_id\": \"[QQ]\", \"dim\": 12}"};
    expect_refused(variant("tiny-colbert", "vocab", vocab, 3),
                   "markers, [MASK] and [SEP]: sequence 0: token id 30522 outside");
    const char *skip[] = {"config_sentence_transformers.json", "{\"skiplist_words\": \"!\"}"};
    expect_refused(variant("tiny-pylate-colbert", "skip", skip, 1), "skiplist_words");

    /* A cross-encoder directory is not ColBERT; the family's pair forward
     * refuses. */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny-bert-ce-f32", shared_dir());
    CHECK(!colbert_is_model(dir));
    CHECK(!colbert_is_model("tests/out/colbert/no-such-dir"));
    struct err e = {0};
    snprintf(dir, sizeof dir, "%s/golden/tiny-colbert", shared_dir());
    struct model *m = model_load(dir, &e);
    CHECK_MSG(m && strcmp(m->family->name, "colbert") == 0, "%s", e.msg);
    if (m) {
        float logit;
        struct encoding enc;
        memset(&enc, 0, sizeof enc);
        const struct encoding *one = &enc;
        CHECK(m->family->forward(m, &one, 1, &logit, &e) == -1);
        CHECK(strstr(e.msg, "MaxSim") != NULL);
        model_free(m);
    }
}

/* Scores of every golden group of model name with cache file path (NULL:
 * none) into scores (95); documents encoded in *n_encoded.  text_of, when
 * not NULL, replaces candidate 0's text.  0 or -1 (e). */
static bool readonly; /* score_all opens the cache read-only */

static int score_all(const char *name, const char *path, size_t max_length,
                     const char *text_of, double *scores, size_t *n_encoded,
                     struct err *e)
{
    struct scorer *s = scorer_of(name, max_length, e);
    struct cache *cache = s && path ? cache_open(path, readonly, e) : NULL;
    if (!s || (path && (!cache || colbert_use_cache(s, cache, NULL, e)))) {
        scorer_free(s);
        cache_close(cache);
        return -1;
    }
    struct group g = {0};
    size_t n_cases = json_array_size(cases);
    int rc = 0;
    for (size_t first = 0; first < n_cases && rc == 0;) {
        size_t n = group_size(first);
        make_group(&g, first, n, NULL);
        if (text_of && first == 0) {
            g.cands[0].text = text_of;
            g.cands[0].text_len = strlen(text_of);
        }
        rc = s->score(s, &g, e);
        for (size_t i = 0; i < n; i++)
            scores[first + i] = g.cands[i].score;
        first += n;
    }
    *n_encoded = colbert_n_encoded(s);
    group_free(&g);
    scorer_free(s);
    cache_close(cache);
    return rc;
}

/* Runs sql on the SQLite file path, then expects scoring with it as the
 * cache to fail with needle in the message. */
static void expect_cache_error(const char *path, const char *sql,
                               const char *needle)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK &&
          sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    double scores[95];
    size_t n;
    struct err e = {0};
    CHECK(score_all("tiny-colbert", path, 0, NULL, scores, &n, &e) == -1);
    CHECK_MSG(strstr(e.msg, needle), "want \"%s\", got \"%s\"", needle, e.msg);
}

/* How many distinct document inputs model name's golden cases have. */
static size_t distinct_docs(const char *name)
{
    json_t *seen = json_object();
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *ids = json_object_get(
            json_object_get(json_array_get(cases, i), name), "doc_ids");
        char *text = json_dumps(ids, JSON_COMPACT);
        json_object_set_new(seen, text, json_true());
        free(text);
    }
    size_t n = json_object_size(seen);
    json_decref(seen);
    return n;
}

/* --cache: the run that fills it and every run from it print the scores
 * of a run without it; a warm run encodes nothing; another model, an
 * edited document or another document length is never served a stale
 * vector; a foreign or damaged file is an error naming it. */
static void test_cache(void)
{
    const char *path = "tests/out/colbert/cache.db";
    unlink(path);
    double plain[95], cold[95], warm[95], other[95];
    size_t n = 0, n_plain = 0;
    struct err e = {0};
    CHECK_MSG(score_all("tiny-colbert", NULL, 0, NULL, plain, &n_plain, &e) == 0, "%s", e.msg);
    CHECK_MSG(score_all("tiny-colbert", path, 0, NULL, cold, &n, &e) == 0, "%s", e.msg);
    CHECK(n_plain == 95);
    /* A repeated input is encoded again only inside one batch. */
    CHECK_MSG(n >= distinct_docs("tiny-colbert") && n < 95, "a cold run encoded %zu", n);
    CHECK_MSG(score_all("tiny-colbert", path, 0, NULL, warm, &n, &e) == 0, "%s", e.msg);
    CHECK_MSG(n == 0, "a warm run encoded %zu documents", n);
    CHECK(memcmp(plain, cold, sizeof plain) == 0);
    CHECK(memcmp(plain, warm, sizeof plain) == 0);
    /* The other layout's model, from the same file: nothing shared. */
    CHECK_MSG(score_all("tiny-pylate-colbert", path, 0, NULL, other, &n, &e) == 0, "%s", e.msg);
    CHECK_MSG(n >= distinct_docs("tiny-pylate-colbert"),
              "another model encoded %zu documents", n);
    double worst = 0;
    for (size_t i = 0; i < 95; i++) {
        const json_t *c = json_object_get(json_array_get(cases, i), "tiny-pylate-colbert");
        worst = fmax(worst, fabs(other[i] - json_number_value(json_object_get(c, "score"))));
    }
    CHECK_MSG(worst <= 1e-4, "the other model's scores are off by %g", worst);
    /* A model with the same inputs but another Dense layer (bias, Tanh):
     * its own vectors, the reference's scores (suite_colbert.sh). */
    const char *dense = variant("tiny-pylate-colbert", "dense-bias", NULL, 0);
    CHECK(dense && system("ln -sf \"$(pwd)\"/testdata/colbert/dense-bias/* "
                          "tests/out/colbert/dense-bias/1_Dense/") == 0);
    CHECK_MSG(score_all("tests/out/colbert/dense-bias", path, 0, NULL, other,
                        &n, &e) == 0, "%s", e.msg);
    CHECK_MSG(n >= distinct_docs("tiny-pylate-colbert"), "another Dense: %zu encoded", n);
    FILE *vf = fopen("testdata/colbert/variants.jsonl", "r");
    char line[512];
    worst = 0;
    for (size_t i = 0; vf && i < 95 && fgets(line, sizeof line, vf); i++) {
        json_t *j = json_loads(line, 0, NULL);
        worst = fmax(worst, fabs(other[i] - json_number_value(
                                                json_object_get(j, "pylate-dense-bias"))));
        json_decref(j);
    }
    CHECK(vf != NULL);
    if (vf)
        fclose(vf);
    CHECK_MSG(worst <= 1e-4, "another Dense's scores are off by %g", worst);
    /* An edited document; another document length. */
    /* Read-only: another edit is encoded on every run, never stored. */
    readonly = true;
    for (int run = 0; run < 2; run++) {
        CHECK(score_all("tiny-colbert", path, 0, "another edit", warm, &n, &e) == 0);
        CHECK_MSG(n == 1, "read-only, run %d: %zu encoded", run, n);
    }
    readonly = false;
    CHECK(score_all("tiny-colbert", path, 0, "an edited document", warm, &n, &e) == 0);
    CHECK_MSG(n == 1, "an edited document: %zu encoded", n);
    /* Documents cut to 10 tokens: those shorter were cached already, the
     * others are encoded, and the scores are a run's without the cache. */
    double cut[95];
    CHECK(score_all("tiny-colbert", NULL, 10, NULL, cut, &n_plain, &e) == 0);
    CHECK(score_all("tiny-colbert", path, 10, NULL, warm, &n, &e) == 0);
    CHECK_MSG(n > 0 && n < n_plain, "--max-length 10: %zu encoded", n);
    CHECK(memcmp(cut, warm, sizeof cut) == 0);

    /* A damaged entry, a foreign SQLite file, a file that is no database. */
    expect_cache_error(path, "UPDATE rerank_cache SET value = x'00'",
                       "damaged ColBERT entry");
    const char *foreign = "tests/out/colbert/foreign.db";
    unlink(foreign);
    expect_cache_error(foreign, "CREATE TABLE t (x)",
                       "foreign.db: not a rerank cache (another program's database)");
    const char *junk = "tests/out/colbert/junk.db";
    FILE *f = fopen(junk, "w");
    if (f) {
        fputs("not a database, but long enough to have a header..........."
              "...........................................................\n", f);
        fclose(f);
    }
    CHECK(score_all("tiny-colbert", junk, 0, NULL, warm, &n, &e) == -1);
    CHECK_MSG(strstr(e.msg, "junk.db: not a rerank cache: file is not a database"), "%s", e.msg);
}

/* A version-1 cache file written before the vector table existed: read
 * only, every document is encoded (nothing to find); opened for writing,
 * the table is added and the next run encodes nothing. */
static void test_cache_v1(void)
{
    const char *path = "tests/out/colbert/v1.db";
    unlink(path);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK &&
          sqlite3_exec(db, "CREATE TABLE rerank_cache_meta(name TEXT PRIMARY KEY, value);"
                       "INSERT INTO rerank_cache_meta VALUES ('format', 'rerank score cache'),"
                       " ('version', 1);"
                       "CREATE TABLE rerank_scores(key BLOB PRIMARY KEY, score REAL NOT NULL)"
                       " WITHOUT ROWID;", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    double scores[95];
    size_t n = 0, want = distinct_docs("tiny-colbert");
    struct err e = {0};
    readonly = true;
    CHECK_MSG(score_all("tiny-colbert", path, 0, NULL, scores, &n, &e) == 0, "%s", e.msg);
    CHECK_MSG(n >= want, "read-only, no vector table: %zu encoded", n);
    readonly = false;
    CHECK_MSG(score_all("tiny-colbert", path, 0, NULL, scores, &n, &e) == 0, "%s", e.msg);
    CHECK_MSG(n >= want, "the table added: %zu encoded", n);
    CHECK_MSG(score_all("tiny-colbert", path, 0, NULL, scores, &n, &e) == 0, "%s", e.msg);
    CHECK_MSG(n == 0, "then warm: %zu encoded", n);
}

int main(void)
{
    mkdir("tests/out", 0777);
    mkdir("tests/out/colbert", 0777);
    test_bases();
    if (!load_cases()) {
        SKIP("ColBERT goldens: %s/golden/colbert-cases.jsonl absent", shared_dir());
        return check_report();
    }
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        test_golden(models[i]);
    test_max_length();
    test_key_mask();
    test_options();
    test_cache();
    test_cache_v1();
    test_broken();
    json_decref(cases);
    return check_report();
}
