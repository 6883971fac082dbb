/* test_bert.c — the BERT / XLM-RoBERTa forward pass against PyTorch
 * reference logits (testdata/ from scripts/gen-tiny-model.py, and the
 * Hugging Face goldens in the shared directory), batching invariance, and
 * broken model directories built from a valid one in tests/out/. */
#include "models/model.h"
#include "check.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reference cases ------------------------------------------------- */

struct cases {
    struct encoding *enc;      /* (n) */
    float *want;               /* (n, n_labels) */
    size_t n, n_labels;
};

static struct ids ids_from_json(const json_t *a, size_t n_default)
{
    struct ids r = {0};
    r.n = a ? json_array_size(a) : n_default;
    r.v = xcalloc(r.n, sizeof *r.v);
    for (size_t i = 0; a && i < r.n; i++)
        r.v[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return r;
}

/* Reads path's lines: input_ids, token_type_ids (zeros when absent) and
 * the logits under logits_key.  0, or -1 when the file is unreadable. */
static int cases_load(struct cases *c, const char *path, const char *logits_key)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            break;
        const json_t *ids = json_object_get(j, "input_ids");
        const json_t *logits = json_object_get(j, logits_key);
        c->enc = xreallocarray(c->enc, c->n + 1, sizeof *c->enc);
        c->enc[c->n].input_ids = ids_from_json(ids, 0);
        c->enc[c->n].type_ids = ids_from_json(
            json_object_get(j, "token_type_ids"), json_array_size(ids));
        c->n_labels = json_array_size(logits);
        c->want = xreallocarray(c->want, (c->n + 1) * c->n_labels,
                                sizeof *c->want);
        for (size_t k = 0; k < c->n_labels; k++)
            c->want[c->n * c->n_labels + k] =
                (float)json_number_value(json_array_get(logits, k));
        c->n++;
        json_decref(j);
    }
    free(line);
    fclose(f);
    return c->n ? 0 : -1;
}

static void cases_free(struct cases *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->enc[i].input_ids.v);
        free(c->enc[i].type_ids.v);
    }
    free(c->enc);
    free(c->want);
}

/* Scores every case alone, compares with the reference, then scores all of
 * them as one batch in a scrambled order and in small batches, which must
 * give bitwise the same logits. */
static void check_model(const char *dir, const char *jsonl, const char *key,
                        double tol)
{
    struct cases c;
    if (cases_load(&c, jsonl, key)) {
        CHECK_MSG(0, "cannot read %s", jsonl);
        return;
    }
    struct err e = {0};
    struct model *m = model_load_weights(dir, &e);
    CHECK_MSG(m != NULL, "%s: %s", dir, e.msg);
    if (!m) {
        cases_free(&c);
        return;
    }
    size_t nl = m->n_labels;
    CHECK_MSG(nl == c.n_labels, "%s: %zu labels, reference has %zu", dir, nl,
              c.n_labels);
    float *alone = xcalloc(c.n * nl, sizeof *alone);
    float *batch = xcalloc(c.n * nl, sizeof *batch);
    const struct encoding **seqs = xcalloc(c.n, sizeof *seqs);
    size_t *order = xcalloc(c.n, sizeof *order);

    double worst = 0;
    for (size_t i = 0; i < c.n; i++) {
        const struct encoding *one = &c.enc[i];
        int rc = m->family->forward(m, &one, 1, alone + i * nl, &e);
        CHECK_MSG(rc == 0, "%s: case %zu: %s", dir, i, e.msg);
        for (size_t k = 0; k < nl && nl == c.n_labels; k++)
            worst = fmax(worst, fabs(alone[i * nl + k] - c.want[i * nl + k]));
    }
    CHECK_MSG(worst <= tol, "%s: max |logit - reference| %g > %g", dir, worst,
              tol);

    /* One batch, order scrambled (a stride coprime with most sizes). */
    for (size_t i = 0; i < c.n; i++)
        order[i] = (i * 7 + 3) % c.n;
    for (size_t i = 0; i < c.n; i++) /* fix collisions when 7 | n */
        for (size_t j = 0; j < i; j++)
            if (order[j] == order[i])
                order[i] = (order[i] + 1) % c.n, j = (size_t)-1;
    for (size_t i = 0; i < c.n; i++)
        seqs[i] = &c.enc[order[i]];
    CHECK(m->family->forward(m, seqs, c.n, batch, &e) == 0);
    size_t same = 0;
    for (size_t i = 0; i < c.n; i++)
        same += memcmp(batch + i * nl, alone + order[i] * nl,
                       nl * sizeof *batch) == 0;
    CHECK_MSG(same == c.n, "%s: %zu of %zu logits differ in one batch", dir,
              c.n - same, c.n);

    /* Batches of 3 in input order, after the big batch grew the buffers. */
    for (size_t i = 0; i < c.n; i += 3) {
        size_t n = c.n - i < 3 ? c.n - i : 3;
        for (size_t j = 0; j < n; j++)
            seqs[j] = &c.enc[i + j];
        CHECK(m->family->forward(m, seqs, n, batch + i * nl, &e) == 0);
    }
    CHECK_MSG(memcmp(batch, alone, c.n * nl * sizeof *batch) == 0,
              "%s: logits differ in batches of 3", dir);

    /* The thread count changes who computes what, never the result. */
    for (int threads = 1; threads <= 3; threads += 2) {
        m->family->set_threads(m, threads);
        for (size_t i = 0; i < c.n; i++)
            seqs[i] = &c.enc[i];
        memset(batch, 0, c.n * nl * sizeof *batch);
        CHECK(m->family->forward(m, seqs, c.n, batch, &e) == 0);
        CHECK_MSG(memcmp(batch, alone, c.n * nl * sizeof *batch) == 0,
                  "%s: logits differ with %d threads", dir, threads);
    }

    model_free(m);
    free(alone), free(batch), free(seqs), free(order);
    cases_free(&c);
}

static void test_testdata(void)
{
    /* The last layer folded (the default) and as written. */
    for (int fold = 1; fold >= 0; fold--) {
        if (!fold)
            setenv("RERANK_FOLD_LAST", "0", 1);
        check_model("testdata/tiny-bert", "testdata/tiny-bert/logits.jsonl",
                    "logits", 1e-4);
        check_model("testdata/tiny-xlmr", "testdata/tiny-xlmr/logits.jsonl",
                    "logits", 1e-4);
    }
    unsetenv("RERANK_FOLD_LAST");
}

static void test_golden(void)
{
    char dir[1024], jsonl[1024];
    snprintf(jsonl, sizeof jsonl, "%s/golden/tiny-bert-ce-logits.jsonl",
             shared_dir());
    struct stat sb;
    if (stat(jsonl, &sb) != 0) {
        SKIP("golden logits: %s absent", jsonl);
        return;
    }
    static const char *const dtypes[] = {"f32", "f16", "bf16"};
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(dir, sizeof dir, "%s/golden/tiny-bert-ce-%s", shared_dir(),
                 dtypes[i]);
        snprintf(key, sizeof key, "logits_%s", dtypes[i]);
        check_model(dir, jsonl, key, 1e-4);
    }
    snprintf(dir, sizeof dir, "%s/golden/tiny-xlmr-ce", shared_dir());
    snprintf(jsonl, sizeof jsonl, "%s/golden/tiny-xlmr-ce-logits.jsonl",
             shared_dir());
    check_model(dir, jsonl, "logits", 1e-4);
}

static void test_accessors_and_bad_input(void)
{
    struct err e = {0};
    struct model *m = model_load_weights("testdata/tiny-bert", &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (!m)
        return;
    CHECK(m->n_labels == 2);
    CHECK(m->max_tokens == 320);
    CHECK(strcmp(m->family->name, "bert") == 0);

    int32_t ids[321] = {2, 10, 3}, types[321] = {0};
    struct encoding enc = {{.v = ids, .n = 3, .cap = 3}, {.v = types, .n = 3, .cap = 3}};
    const struct encoding *one = &enc;
    float logits[2];
    CHECK(m->family->forward(m, &one, 1, logits, &e) == 0);
    CHECK(m->family->forward(m, &one, 0, logits, &e) == 0);

    ids[1] = 305; /* vocab_size */
    CHECK(m->family->forward(m, &one, 1, logits, &e) == -1);
    CHECK_MSG(strstr(e.msg, "token id 305 outside the vocabulary"), "%s", e.msg);
    ids[1] = -1;
    CHECK(m->family->forward(m, &one, 1, logits, &e) == -1);
    ids[1] = 10;
    types[2] = 2;
    CHECK(m->family->forward(m, &one, 1, logits, &e) == -1);
    CHECK_MSG(strstr(e.msg, "token type id 2"), "%s", e.msg);
    types[2] = 0;
    enc.type_ids.n = 2;
    CHECK(m->family->forward(m, &one, 1, logits, &e) == -1);
    CHECK_MSG(strstr(e.msg, "2 token type ids for 3 tokens"), "%s", e.msg);
    enc.input_ids.n = enc.type_ids.n = 321;
    CHECK(m->family->forward(m, &one, 1, logits, &e) == -1);
    CHECK_MSG(strstr(e.msg, "321 tokens (the model takes 1 to 320)"), "%s",
              e.msg);
    enc.input_ids.n = enc.type_ids.n = 0;
    CHECK(m->family->forward(m, &one, 1, logits, &e) == -1);
    model_free(m);

    m = model_load_weights("testdata/tiny-xlmr", &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK(m->n_labels == 3);
        CHECK(m->max_tokens == 64); /* 66 positions less pad + 1 */
        CHECK(strcmp(m->family->name, "xlm-roberta") == 0);
        model_free(m);
    }
}

/* ---- broken model directories --------------------------------------- */

#define SRC "testdata/tiny-bert"
#define OUT "tests/out/bert"

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        printf("FAIL cannot write %s\n", path);
        exit(1);
    }
}

/* A fresh directory OUT/name; returns its path in a static buffer. */
static const char *fresh_dir(const char *name)
{
    static char dir[512];
    mkdir("tests/out", 0777);
    mkdir(OUT, 0777);
    snprintf(dir, sizeof dir, OUT "/%s", name);
    mkdir(dir, 0777);
    char p[600];
    static const char *const files[] = {"config.json", "model.safetensors",
                                        "pytorch_model.bin"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    return dir;
}

static void put(const char *dir, const char *file, const void *p, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    write_file(path, p, n);
}

/* The valid model's files, loaded once. */
static char *cfg_text, *st_blob;
static size_t cfg_len, st_len;

/* Writes dir/model.safetensors from a header (consumed) and the valid
 * data area followed by `zeros` zero bytes. */
static void put_safetensors_zeros(const char *dir, json_t *header,
                                  size_t zeros)
{
    uint64_t n_old = 0;
    for (int i = 7; i >= 0; i--)
        n_old = n_old << 8 | (unsigned char)st_blob[i];
    char *h = json_dumps(header, JSON_COMPACT);
    size_t n = strlen(h), padded = (n + 7) / 8 * 8;
    size_t data_len = st_len - 8 - n_old;
    char *out = xcalloc(1, 8 + padded + data_len + zeros);
    for (int i = 0; i < 8; i++)
        out[i] = (char)(padded >> (8 * i));
    memcpy(out + 8, h, n);
    memset(out + 8 + n, ' ', padded - n);
    memcpy(out + 8 + padded, st_blob + 8 + n_old, data_len);
    put(dir, "model.safetensors", out, 8 + padded + data_len + zeros);
    free(out);
    free(h);
    json_decref(header);
}

static void put_safetensors(const char *dir, json_t *header)
{
    put_safetensors_zeros(dir, header, 0);
}

/* Points tensor name of header h at n_floats new F32 zeros of the given
 * shape (d1 == 0: one dimension) past the data area's *end, which grows. */
static void zero_tensor(json_t *h, const char *name, size_t d0, size_t d1,
                        size_t *end)
{
    size_t bytes = d0 * (d1 ? d1 : 1) * 4;
    json_t *shape = d1 ? json_pack("[II]", (json_int_t)d0, (json_int_t)d1)
                       : json_pack("[I]", (json_int_t)d0);
    json_object_set_new(h, name,
                        json_pack("{s:s, s:o, s:[II]}", "dtype", "F32", "shape",
                                  shape, "data_offsets", (json_int_t)*end,
                                  (json_int_t)(*end + bytes)));
    *end += bytes;
}

/* The valid header as a new json_t. */
static json_t *header(void)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | (unsigned char)st_blob[i];
    return json_loadb(st_blob + 8, n, 0, NULL);
}

static json_t *config(void)
{
    return json_loadb(cfg_text, cfg_len, 0, NULL);
}

static void put_config(const char *dir, json_t *cfg)
{
    char *s = json_dumps(cfg, 0);
    put(dir, "config.json", s, strlen(s));
    free(s);
    json_decref(cfg);
}

/* model_load_weights(dir) must fail with every `want` substring in the message. */
static void expect_error(const char *dir, const char *want1, const char *want2)
{
    struct err e = {0};
    struct model *m = model_load_weights(dir, &e);
    CHECK_MSG(m == NULL, "%s loaded", dir);
    model_free(m);
    CHECK_MSG(strstr(e.msg, want1) && (!want2 || strstr(e.msg, want2)),
              "%s: message \"%s\" lacks \"%s\"%s%s", dir, e.msg, want1,
              want2 ? " / " : "", want2 ? want2 : "");
}

static void set_offsets(json_t *h, const char *tensor, json_int_t b,
                        json_int_t end)
{
    json_t *t = json_object_get(h, tensor);
    json_object_set_new(t, "data_offsets", json_pack("[II]", b, end));
}

static void test_default_activation(void);

static void test_broken(void)
{
    struct err e;
    cfg_text = read_file(SRC "/config.json", &cfg_len, &e);
    st_blob = read_file(SRC "/model.safetensors", &st_len, &e);
    if (!cfg_text || !st_blob) {
        CHECK_MSG(0, "cannot read " SRC);
        free(cfg_text);
        free(st_blob);
        return;
    }
    const char *d;
    json_t *h, *c;
    const char *bias = "bert.encoder.layer.1.output.dense.bias";

    /* The copy itself loads: the edits below are what break it. */
    d = fresh_dir("valid");
    put(d, "config.json", cfg_text, cfg_len);
    put_safetensors(d, header());
    struct model *m = model_load_weights(d, &e);
    CHECK_MSG(m != NULL, "valid copy: %s", e.msg);
    model_free(m);

    /* transformers writes "no limit" as int(1e30), beyond jansson's
     * integers: the model loads and the limit counts as unset. */
    static const struct {
        const char *name, *json;
        size_t want;
    } tcs[] = {
        {"max-length-huge", "{\"model_max_length\": "
         "1000000000000000019884624838656}", 0},
        {"max-length-128", "{\"model_max_length\": 128}", 128},
    };
    for (int i = 0; i < 2; i++) {
        d = fresh_dir(tcs[i].name);
        put(d, "config.json", cfg_text, cfg_len);
        put_safetensors(d, header());
        put(d, "tokenizer_config.json", tcs[i].json, strlen(tcs[i].json));
        m = model_load_weights(d, &e);
        CHECK_MSG(m && m->model_max_length == tcs[i].want, "%s: %s",
                  tcs[i].name, m ? "wrong model_max_length" : e.msg);
        model_free(m);
        char p[600];
        snprintf(p, sizeof p, "%s/tokenizer_config.json", d);
        unlink(p);
    }

    d = fresh_dir("no-config");
    put(d, "model.safetensors", st_blob, st_len);
    expect_error(d, "no-config/config.json", "No such file");

    d = fresh_dir("no-weights");
    put(d, "config.json", cfg_text, cfg_len);
    expect_error(d, "no-weights/model.safetensors", "No such file");

    d = fresh_dir("pytorch-only");
    put(d, "config.json", cfg_text, cfg_len);
    put(d, "pytorch_model.bin", "PK", 2);
    expect_error(d, "has pytorch_model.bin", "only single-file safetensors");

    d = fresh_dir("tiny-file");
    put(d, "config.json", cfg_text, cfg_len);
    put(d, "model.safetensors", st_blob, 5);
    expect_error(d, "5 bytes, too short", NULL);

    d = fresh_dir("truncated");
    put(d, "config.json", cfg_text, cfg_len);
    put(d, "model.safetensors", st_blob, st_len / 2);
    expect_error(d, "truncated/model.safetensors: tensor ", "past the end");

    d = fresh_dir("header-past-end");
    put(d, "config.json", cfg_text, cfg_len);
    {
        char *b = xmalloc(st_len);
        memcpy(b, st_blob, st_len);
        b[4] = 1; /* header length + 2^32 */
        put(d, "model.safetensors", b, st_len);
        free(b);
    }
    expect_error(d, "header length 42949", "exceeds the file");

    d = fresh_dir("header-garbage");
    put(d, "config.json", cfg_text, cfg_len);
    {
        char *b = xmalloc(st_len);
        memcpy(b, st_blob, st_len);
        b[8] = '[';
        put(d, "model.safetensors", b, st_len);
        free(b);
    }
    expect_error(d, "header is not valid JSON", NULL);

    d = fresh_dir("offsets-past-end");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    set_offsets(h, bias, 364000, 364000 + 192); /* data area < 364000 */
    put_safetensors(d, h);
    expect_error(d, bias, "past the end of the data area");

    d = fresh_dir("offsets-overflow");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    set_offsets(h, bias, INT64_MAX - 100, INT64_MAX);
    put_safetensors(d, h);
    expect_error(d, bias, "past the end");

    d = fresh_dir("offsets-reversed");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    set_offsets(h, bias, 200, 8);
    put_safetensors(d, h);
    expect_error(d, bias, "begin past end");

    d = fresh_dir("offsets-negative");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    set_offsets(h, bias, -192, 0);
    put_safetensors(d, h);
    expect_error(d, bias, "non-negative integers");

    d = fresh_dir("offsets-overlap");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    {
        /* Point one bias at another's bytes (same size). */
        json_t *other = json_object_get(
            h, "bert.encoder.layer.0.output.dense.bias");
        json_object_set(json_object_get(h, bias), "data_offsets",
                        json_object_get(other, "data_offsets"));
    }
    put_safetensors(d, h);
    expect_error(d, "overlap", bias);

    d = fresh_dir("size-mismatch");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    json_object_set_new(json_object_get(h, bias), "shape", json_pack("[i]", 47));
    put_safetensors(d, h);
    expect_error(d, bias, "hold 192 bytes but F32 shape needs 188");

    d = fresh_dir("shape-overflow");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    json_object_set_new(json_object_get(h, bias), "shape",
                        json_pack("[II]", (json_int_t)1 << 40,
                                  (json_int_t)1 << 40));
    put_safetensors(d, h);
    expect_error(d, bias, "overflows");

    d = fresh_dir("unknown-dtype");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    json_object_set_new(json_object_get(h, bias), "dtype", json_string("Q4_K"));
    put_safetensors(d, h);
    expect_error(d, bias, "unknown dtype \"Q4_K\"");

    d = fresh_dir("unsupported-dtype");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    json_object_set_new(json_object_get(h, bias), "dtype", json_string("I32"));
    put_safetensors(d, h);
    expect_error(d, bias, "dtype I32; supported: F32, F16, BF16");

    d = fresh_dir("missing-tensor");
    put(d, "config.json", cfg_text, cfg_len);
    h = header();
    json_object_del(h, "bert.pooler.dense.weight");
    put_safetensors(d, h);
    expect_error(d, "tensor bert.pooler.dense.weight is missing", NULL);

    d = fresh_dir("shape-vs-config");
    put_safetensors(d, header());
    c = config();
    json_object_set_new(c, "intermediate_size", json_integer(64));
    put_config(d, c);
    expect_error(d, "intermediate.dense.weight has shape [96, 48], "
                 "expected [64, 48]", NULL);

    d = fresh_dir("too-few-layers");
    put_safetensors(d, header());
    c = config();
    json_object_set_new(c, "num_hidden_layers", json_integer(2));
    put_config(d, c);
    expect_error(d, "encoder.layer.2", "num_hidden_layers 2");

    d = fresh_dir("labels-vs-config");
    put_safetensors(d, header());
    c = config();
    json_object_del(json_object_get(c, "id2label"), "1");
    put_config(d, c);
    expect_error(d, "tensor classifier.weight has shape [2, 48], expected "
                 "[1, 48]", NULL);

    d = fresh_dir("model-type");
    put_safetensors(d, header());
    c = config();
    json_object_set_new(c, "model_type", json_string("gpt2"));
    put_config(d, c);
    expect_error(d, "model_type \"gpt2\" is not supported",
                 "bert, xlm-roberta");

    d = fresh_dir("architecture");
    put_safetensors(d, header());
    c = config();
    json_object_set_new(c, "architectures", json_pack("[s]", "BertModel"));
    put_config(d, c);
    expect_error(d, "architectures BertModel is not supported",
                 "BertForSequenceClassification");

    d = fresh_dir("activation");
    put_safetensors(d, header());
    c = config();
    json_object_set_new(c, "hidden_act", json_string("gelu_new"));
    put_config(d, c);
    expect_error(d, "hidden_act \"gelu_new\" is not supported", NULL);

    d = fresh_dir("heads");
    put_safetensors(d, header());
    c = config();
    json_object_set_new(c, "num_attention_heads", json_integer(5));
    put_config(d, c);
    expect_error(d, "not a multiple of num_attention_heads 5", NULL);

    /* Sizes in config.json are proven against the file before they size
     * any allocation: these allocated hundreds of GB and aborted. */
    d = fresh_dir("layers-huge");
    put_safetensors(d, header());
    c = config();
    json_object_set_new(c, "num_hidden_layers", json_integer(2147483647));
    put_config(d, c);
    expect_error(d, "config.json says num_hidden_layers 2147483647",
                 "tensor bert.encoder.layer.2147483646.intermediate.dense."
                 "weight is missing");

    d = fresh_dir("hidden-huge");
    h = header();
    {
        /* Embeddings that match hidden_size 65536 (vocabulary, positions
         * and types cut to 1 so the file stays small); the rest is 48. */
        uint64_t n_old = 0;
        for (int i = 7; i >= 0; i--)
            n_old = n_old << 8 | (unsigned char)st_blob[i];
        size_t end = st_len - 8 - n_old, start = end;
        static const char *const emb[3] = {"word", "position", "token_type"};
        char name[128];
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "bert.embeddings.%s_embeddings.weight",
                     emb[i]);
            zero_tensor(h, name, 1, 65536, &end);
        }
        zero_tensor(h, "bert.embeddings.LayerNorm.weight", 65536, 0, &end);
        zero_tensor(h, "bert.embeddings.LayerNorm.bias", 65536, 0, &end);
        put_safetensors_zeros(d, h, end - start);
    }
    c = config();
    json_object_set_new(c, "hidden_size", json_integer(65536));
    json_object_set_new(c, "num_attention_heads", json_integer(1));
    json_object_set_new(c, "vocab_size", json_integer(1));
    json_object_set_new(c, "max_position_embeddings", json_integer(1));
    json_object_set_new(c, "type_vocab_size", json_integer(1));
    json_object_set_new(c, "pad_token_id", json_integer(0));
    put_config(d, c);
    expect_error(d, "has shape [2, 48], expected [2, 65536] from config.json",
                 NULL);

    d = fresh_dir("config-syntax");
    put_safetensors(d, header());
    put(d, "config.json", "{\"model_type\": ", 15);
    expect_error(d, "config-syntax/config.json:1:", NULL);

    test_default_activation();
    free(cfg_text);
    free(st_blob);
}

/* ---- default activation (sentence-transformers' rule) ----------------- */

/* The activation model_dir_activation gives a directory holding the tiny
 * config edited by cfg_edit (a JSON object merged in; null values delete)
 * and, when st is not NULL, config_sentence_transformers.json = st. */
static int activation_of(const char *name, const char *cfg_edit,
                         const char *st, enum activation *out, struct err *e)
{
    const char *d = fresh_dir(name);
    char p[600];
    snprintf(p, sizeof p, "%s/config_sentence_transformers.json", d);
    unlink(p);
    json_t *c = config();
    json_t *edit = json_loads(cfg_edit, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(edit, k, v) {
        if (json_is_null(v))
            json_object_del(c, k);
        else
            json_object_set(c, k, v);
    }
    json_decref(edit);
    put_config(d, c);
    if (st)
        put(d, "config_sentence_transformers.json", st, strlen(st));
    struct model_dir md;
    if (model_dir_open(&md, d, e))
        return -1;
    size_t n_labels = 0;
    int rc = model_dir_n_labels(&md, &n_labels, e) ||
             model_dir_activation(&md, n_labels, out, e);
    model_dir_close(&md);
    return rc ? -1 : 0;
}

static void test_default_activation(void)
{
    struct err e = {0};
    static const char one[] = "{\"id2label\": {\"0\": \"LABEL_0\"}";
    char cfg[512];
    static const struct {
        const char *name, *cfg, *st;
        bool one_label;
        enum activation want;
    } cases[] = {
        /* No activation named: sigmoid for one label, identity else. */
        {"act-two-labels", "{}", NULL, false, ACTIVATION_NONE},
        {"act-one-label", "}", NULL, true, ACTIVATION_SIGMOID},
        /* sentence-transformers < 4 (ms-marco cross-encoders). */
        {"act-legacy", ", \"sbert_ce_default_activation_function\": "
         "\"torch.nn.modules.linear.Identity\"}", NULL, true, ACTIVATION_NONE},
        /* 4.x: config.json's sentence_transformers wins over the legacy key. */
        {"act-st4", ", \"sentence_transformers\": {\"activation_fn\": "
         "\"torch.nn.modules.activation.Sigmoid\"}, "
         "\"sbert_ce_default_activation_function\": "
         "\"torch.nn.modules.linear.Identity\"}", NULL, true,
         ACTIVATION_SIGMOID},
        /* 5.x modular layout: config_sentence_transformers.json first. */
        {"act-st5", ", \"sentence_transformers\": {\"activation_fn\": "
         "\"torch.nn.modules.activation.Sigmoid\"}}",
         "{\"activation_fn\": \"torch.nn.modules.linear.Identity\"}", true,
         ACTIVATION_NONE},
        {"act-tanh", ", \"sbert_ce_default_activation_function\": "
         "\"torch.nn.modules.activation.Tanh\"}", NULL, true, ACTIVATION_TANH},
        /* Outside torch.* CrossEncoder does not import without
         * trust_remote_code: the default applies. */
        {"act-untrusted", ", \"sbert_ce_default_activation_function\": "
         "\"mypackage.Scale\"}", NULL, true, ACTIVATION_SIGMOID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].one_label)
            snprintf(cfg, sizeof cfg, "%s%s", one, cases[i].cfg);
        else
            snprintf(cfg, sizeof cfg, "%s", cases[i].cfg);
        enum activation got = ACTIVATION_AUTO;
        int rc = activation_of(cases[i].name, cfg, cases[i].st, &got, &e);
        CHECK_MSG(rc == 0 && got == cases[i].want, "%s: rc %d, activation %d, "
                  "want %d (%s)", cases[i].name, rc, (int)got,
                  (int)cases[i].want, rc ? e.msg : "");
    }
    enum activation got;
    snprintf(cfg, sizeof cfg, "%s, \"sbert_ce_default_activation_function\": "
             "\"torch.nn.modules.activation.ReLU\"}", one);
    CHECK(activation_of("act-relu", cfg, NULL, &got, &e) == -1);
    CHECK_MSG(strstr(e.msg, "activation \"torch.nn.modules.activation.ReLU\" "
                     "is not supported"), "%s", e.msg);
}

int main(void)
{
    test_testdata();
    test_golden();
    test_accessors_and_bad_input();
    test_broken();
    return check_report();
}
