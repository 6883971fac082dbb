/* test_long.c — long inputs in bounded memory.
 *
 * An 8,192-token pair on an XLM-RoBERTa model with bge-reranker-v2-m3's
 * position range (testdata/long-xlmr, made by scripts/gen-long-model.py):
 * the logit equals the float64 PyTorch reference, and peak memory stays far
 * below what a full 8k x 8k attention matrix per head would take.
 *
 * A long document under --long max (testdata/tiny-bert, short windows):
 * peak memory does not grow with the document, since windows are flushed
 * to the model by token budget, and the MaxP score equals the best window's
 * own score across flushes. */
#include "check.h"

#include <jansson.h>
#include <sys/resource.h>

#include "crossenc.h"
#include "models/model.h"
#include "tokenizers/tokenizer.h"

#define DIR "testdata/long-xlmr"

/* The pair of gen-long-model.py's pair_ids(). */
static void pair_ids(struct encoding *enc)
{
    enc->input_ids.n = enc->type_ids.n = 0;
    ids_push(&enc->input_ids, 0);
    for (int i = 0; i < 4000; i++)
        ids_push(&enc->input_ids, 4 + (i * 7919) % 2998);
    ids_push(&enc->input_ids, 2);
    ids_push(&enc->input_ids, 2);
    for (int i = 0; enc->input_ids.n < 8191; i++)
        ids_push(&enc->input_ids, 4 + (i * 7919) % 2998);
    ids_push(&enc->input_ids, 2);
    for (size_t i = 0; i < enc->input_ids.n; i++)
        ids_push(&enc->type_ids, 0);
}

/* Peak RSS so far, KiB. */
static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A document of n_words one-token words of tiny-bert's vocabulary. */
static char *long_text(size_t n_words, size_t *len)
{
    static const char *const words[] = {"kakaka", "kakalo", "kakami",
                                        "kaloka", "kalolo", "kalomi"};
    struct buf b = {0};
    for (size_t i = 0; i < n_words; i++)
        buf_printf(&b, "%s%s", i ? " " : "", words[(i * 7 + i / 5) % 6]);
    *len = b.len;
    return b.data;
}

/* Scores one candidate of n_words under --long max; its score in *score. */
static int score_long(struct scorer *s, size_t n_words, double *score)
{
    struct group g = {0};
    g.query = "lokaka";
    struct candidate *cand = group_add(&g);
    size_t len;
    char *text = long_text(n_words, &len);
    cand->docid = "d";
    cand->text = text;
    cand->text_len = len;
    struct err e = {0};
    int rc = s->score(s, &g, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    *score = g.cands[0].score;
    free(text);
    group_free(&g);
    return rc;
}

/* The best score over windows, each scored alone. */
struct best_window {
    struct model *m;
    double best;
    size_t n;
};

/* The score crossenc gives one window's logits under --activation none
 * (two labels; the default label, the last). */
static double window_logits_score(const float *l)
{
    return l[1];
}

static void window_score(size_t cand, size_t window,
                         const struct encoding *enc, void *ctx)
{
    struct best_window *bw = ctx;
    struct err e = {0};
    float logits[2];
    const struct encoding *one = enc;
    if (bw->m->family->forward(bw->m, &one, 1, logits, &e)) {
        CHECK_MSG(0, "window %zu: %s", window, e.msg);
        return;
    }
    double sc = window_logits_score(logits);
    bw->best = sc > bw->best ? sc : bw->best;
    bw->n++;
    (void)cand;
}

static void test_long_max_memory(void)
{
    struct crossenc_options o = {
        .model_dir = "testdata/tiny-bert", .max_length = 16, .label = -1,
        .activation = ACTIVATION_NONE, .threads = 1, .long_mode = LONG_MAX};
    struct err e = {0};
    struct scorer *s = crossenc_scorer_new(&o, &e);
    CHECK_MSG(s != NULL, "%s", e.msg);
    if (!s)
        return;
    /* 20,000 words fill several batches (8,192 tokens each), so every
     * buffer has reached its working size; 100,000 words take five times
     * the windows.  Before windows were flushed by budget, the whole
     * document's windows went into one batch: about 1 KiB of activations
     * per token here, 100 MB for the long one. */
    double small, big;
    score_long(s, 20000, &small);
    long before = peak_kib();
    score_long(s, 100000, &big);
    long growth = peak_kib() - before;
    if (getenv("RERANK_SANITIZED") || getenv("RERANK_VALGRIND"))
        SKIP("--long max RSS bound: not meaningful under sanitizers");
    else
        CHECK_MSG(growth < 16 * 1024, "--long max: peak RSS grew by %ld KiB "
                  "from 20,000 to 100,000 words", growth);
    printf("--long max, 100,000 words: peak RSS +%ld KiB over 20,000 words\n",
           growth);
    (void)big;

    /* MaxP across flushes: the 20,000-word score is the best of its
     * windows, each run through the model on its own. */
    struct best_window bw = {NULL, -INFINITY, 0};
    bw.m = model_load("testdata/tiny-bert", &e);
    CHECK_MSG(bw.m != NULL, "%s", e.msg);
    struct group g = {0};
    g.query = "lokaka";
    struct candidate *cand = group_add(&g);
    size_t len;
    char *text = long_text(20000, &len);
    cand->docid = "d";
    cand->text = text;
    cand->text_len = len;
    if (bw.m) {
        CHECK(crossenc_encode_group(s, &g, window_score, &bw, &e) == 0);
        CHECK_MSG(bw.n > 2 * 8192 / 16, "only %zu windows", bw.n);
        CHECK_MSG(bw.best == small, "MaxP %.9g, best window alone %.9g",
                  small, bw.best);
        model_free(bw.m);
    }
    free(text);
    group_free(&g);
    scorer_free(s);
}

int main(void)
{
    json_error_t je;
    json_t *ref = json_load_file(DIR "/logits.jsonl", JSON_DISABLE_EOF_CHECK, &je);
    CHECK_MSG(ref != NULL, "%s: %s", DIR "/logits.jsonl", je.text);
    struct encoding enc = {0};
    pair_ids(&enc);
    CHECK(enc.input_ids.n == 8192);
    json_t *want_ids = json_object_get(ref, "input_ids");
    int same = json_array_size(want_ids) == enc.input_ids.n;
    for (size_t i = 0; same && i < enc.input_ids.n; i++)
        same = json_integer_value(json_array_get(want_ids, i)) == enc.input_ids.v[i];
    CHECK_MSG(same, "the pair differs from the generator's");

    struct err e = {0};
    struct model *m = model_load_weights(DIR, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK(m->max_tokens == 8192);
        const struct encoding *seqs[] = {&enc};
        float logit = 0;
        int rc = m->family->forward(m, seqs, 1, &logit, &e);
        CHECK_MSG(rc == 0, "%s", e.msg);
        double want = json_real_value(json_array_get(json_object_get(ref, "logits"), 0));
        CHECK_NEAR(logit, want, 1e-4);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        /* One 8k x 8k float matrix per head would be 256 MB each. */
        CHECK_MSG(ru.ru_maxrss < 200 * 1024, "peak RSS %ld KiB", ru.ru_maxrss);
        printf("8192-token pair: logit %.7g (reference %.7g), peak RSS %ld KiB\n",
               logit, want, ru.ru_maxrss);
        model_free(m);
    }
    encoding_free(&enc);
    json_decref(ref);
    test_long_max_memory();
    return check_report();
}
