/* test_long.c — an 8,192-token pair on an XLM-RoBERTa model with
 * bge-reranker-v2-m3's position range (testdata/long-xlmr, made by
 * scripts/gen-long-model.py): the logit equals the float64 PyTorch
 * reference, and peak memory stays far below what a full 8k x 8k
 * attention matrix per head would take. */
#include "check.h"

#include <jansson.h>
#include <sys/resource.h>

#include "bert.h"
#include "tokenizer.h"

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
    struct bert_model *m = bert_load(DIR, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK(bert_max_tokens(m) == 8192);
        const struct encoding *seqs[] = {&enc};
        float logit = 0;
        int rc = bert_forward(m, seqs, 1, &logit, &e);
        CHECK_MSG(rc == 0, "%s", e.msg);
        double want = json_real_value(json_array_get(json_object_get(ref, "logits"), 0));
        CHECK_NEAR(logit, want, 1e-4);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        /* One 8k x 8k float matrix per head would be 256 MB each. */
        CHECK_MSG(ru.ru_maxrss < 200 * 1024, "peak RSS %ld KiB", ru.ru_maxrss);
        printf("8192-token pair: logit %.7g (reference %.7g), peak RSS %ld KiB\n",
               logit, want, ru.ru_maxrss);
        bert_free(m);
    }
    encoding_free(&enc);
    json_decref(ref);
    return check_report();
}
