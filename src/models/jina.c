/* jina.c — jina-reranker-v2-base-multilingual: XLM-RoBERTa sequence
 * classification (bert.c's xlm-roberta family, unchanged) under the tensor
 * names of jina's flash-attention remote code, which is never run.
 *
 * Recognised from config.json: architectures XLMRobertaForSequenceClass-
 * ification with jina's auto_map (no model_type).  The names map onto
 * XLM-R's: roberta.emb_ln -> embeddings.LayerNorm; encoder.layers.N ->
 * encoder.layer.N with mixer.Wqkv (rows [q; k; v], bias too) ->
 * attention.self.{query,key,value}, mixer.out_proj -> attention.output.
 * dense, norm1 / norm2 -> the two LayerNorms, mlp.fc1 / mlp.fc2 ->
 * intermediate.dense / output.dense; embeddings and classifier keep their
 * names.  The tokenizer is tokenizer.json's Unigram (tokenizer_load). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "models/model.h"

extern const struct model_family xlm_roberta_family;

/* weight_names.rename: the jina name of XLM-R tensor name. */
static int jina_rename(const char *name, char *out, size_t size)
{
    static const char emb[] = "roberta.embeddings.LayerNorm.";
    if (strncmp(name, emb, sizeof emb - 1) == 0) {
        snprintf(out, size, "roberta.emb_ln.%s", name + sizeof emb - 1);
        return 0;
    }
    static const struct {
        const char *xlmr, *jina;
        int part;
    } map[] = {
        {"attention.self.query.", "mixer.Wqkv.", 1},
        {"attention.self.key.", "mixer.Wqkv.", 2},
        {"attention.self.value.", "mixer.Wqkv.", 3},
        {"attention.output.dense.", "mixer.out_proj.", 0},
        {"attention.output.LayerNorm.", "norm1.", 0},
        {"intermediate.dense.", "mlp.fc1.", 0},
        {"output.dense.", "mlp.fc2.", 0},
        {"output.LayerNorm.", "norm2.", 0},
    };
    unsigned layer;
    int at = 0;
    if (sscanf(name, "roberta.encoder.layer.%u.%n", &layer, &at) != 1 || !at)
        return -1;
    const char *rest = name + at;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        size_t n = strlen(map[i].xlmr);
        if (strncmp(rest, map[i].xlmr, n) == 0) {
            snprintf(out, size, "roberta.encoder.layers.%u.%s%s", layer,
                     map[i].jina, rest + n);
            return map[i].part;
        }
    }
    return -1;
}

static const struct weight_names jina_names = {jina_rename, 3};

static bool jina_match(const struct model_dir *d)
{
    const json_t *auto_map = json_object_get(d->config, "auto_map");
    const char *cls = json_string_value(
        json_object_get(auto_map, "AutoModelForSequenceClassification"));
    return !d->model_type[0] &&
           strcmp(d->architecture, "XLMRobertaForSequenceClassification") ==
               0 &&
           cls && strstr(cls, "modeling_xlm_roberta.");
}

static struct model *jina_load(const struct model_dir *d, struct err *e)
{
    struct model_dir named = *d;
    named.names = &jina_names;
    return xlm_roberta_family.load(&named, e);
}

/* The rest is xlm-roberta's (model.c sets m->family to this family, so
 * its ops forward there). */
static int jina_forward(struct model *m, const struct encoding *const *seqs,
                        size_t n_seqs, float *logits, struct err *e)
{
    return xlm_roberta_family.forward(m, seqs, n_seqs, logits, e);
}

static void jina_set_threads(struct model *m, int n)
{
    xlm_roberta_family.set_threads(m, n);
}

static void jina_free(struct model *m)
{
    xlm_roberta_family.free(m);
}

const struct model_family jina_family = {
    "jina-xlm-roberta", jina_match,       jina_load, model_pair_template_tokens,
    model_pair_encode,  jina_forward,     jina_set_threads, jina_free,
    NULL, NULL, NULL, NULL,
};
