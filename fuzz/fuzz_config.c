/* fuzz_config — config.json of a model directory (src/models/model.c, src/models/bert.c): model type,
 * sizes, labels, position offsets, all to be validated against the weights
 * before anything is allocated from them.  The input is config.json; the
 * weights beside it are the valid model.safetensors of testdata/tiny-xlmr
 * when the input mentions "xlm", else of testdata/tiny-bert.  A model that
 * loads is run on one short sequence. */
#include "fuzz.h"

#include "models/model.h"
#define fuzz_model struct model
#define fuzz_model_load model_load_weights
#define fuzz_model_threads(m, n) (m)->family->set_threads((m), (n))
#define fuzz_model_labels(m) (m)->n_labels
#define fuzz_model_forward(m, s, n, l, e) (m)->family->forward((m), (s), (n), (l), (e))
#define fuzz_model_free model_free

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int linked = -1;
    int want = memmem(data, size, "xlm", 3) != NULL;
    if (linked != want) {
        char link[512];
        snprintf(link, sizeof link, "%s/model.safetensors", fuzz_dir());
        unlink(link);
        if (symlink(fuzz_testdata(want ? "tiny-xlmr/model.safetensors"
                                       : "tiny-bert/model.safetensors"), link) < 0)
            abort();
        linked = want;
    }
    fuzz_write("config.json", data, size);
    struct err e;
    fuzz_model *m = fuzz_model_load(fuzz_dir(), &e);
    if (!m) {
        if (!e.msg[0])
            abort();
        return 0;
    }
    fuzz_model_threads(m, 1);
    struct encoding enc = {0};
    for (int32_t i = 0; i < 4; i++) {
        ids_push(&enc.input_ids, i);
        ids_push(&enc.type_ids, 0);
    }
    const struct encoding *seqs[] = {&enc};
    float *logits = calloc(fuzz_model_labels(m), sizeof *logits);
    /* It may refuse the sequence (ids past a tiny vocabulary, too few
     * positions); what matters is that it reads no byte it should not. */
    if (logits)
        fuzz_model_forward(m, seqs, 1, logits, &e);
    free(logits);
    encoding_free(&enc);
    fuzz_model_free(m);
    return 0;
}
