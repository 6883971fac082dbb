#!/usr/bin/python3
"""colbert-reference-hf.py — reference MaxSim scores of a PyLate ColBERT on
a ModernBERT or XLM-RoBERTa base, the encoder run by transformers' own
modeling code (modeling_modernbert.py through the shims of
scripts/modernbert_reference.py; modeling_xlm_roberta.py through the few
more below; float64, eager attention), the rest as PyLate computes it
(pylate/models/colbert.py encode, pylate/models/Dense.py,
pylate/scores/colbert.py):

  - the query alone, attention_mask 1 on its first query_keys tokens and
    0 on the [MASK] expansion after them;
  - each document alone.  PyLate batches them, padded to the longest with
    attention 0 on the padding, which changes nothing but rounding; here
    that padding would poison the float64 run: a padding row past the
    local attention window of every real token sees no key, its additive
    finfo(float64).min mask becomes -inf in the eager softmax's float32
    upcast, the row NaN, and 0 * NaN reaches the real rows through V;
  - token_embeddings -> each Dense (linear, + bias, activation) ->
    F.normalize(p=2, eps 1e-12) of the kept vectors (queries: all;
    documents: doc_mask) -> score = sum over the query vectors of the max
    dot product over the document's.

Input: the lines of scripts/colbert-ids.js (ids and masks under KEY);
output: the same lines with KEY.score added.  The modeling source (the file
for the model's model_type, tested with transformers' 4.48 sources) is
passed by path, as for modernbert_reference.py (not part of this
repository).

usage: colbert-reference-hf.py --source modeling_FAMILY.py MODEL_DIR KEY < ids > cases"""
import argparse
import importlib.util
import json
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("mbref", os.path.join(here, "modernbert_reference.py"))
mbref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mbref)

ACTS = {"torch.nn.modules.linear.Identity": torch.nn.Identity(),
        "torch.nn.modules.activation.Tanh": torch.nn.Tanh()}


def load_dense(model_dir):
    steps = []
    for m in json.load(open(os.path.join(model_dir, "modules.json")))[1:]:
        sub = os.path.join(model_dir, m["path"])
        c = json.load(open(os.path.join(sub, "config.json")))
        w = mbref.read_safetensors(os.path.join(sub, "model.safetensors"))
        lin = torch.nn.Linear(c["in_features"], c["out_features"], bias=c.get("bias", True))
        lin.load_state_dict({k.split(".", 1)[1]: v for k, v in w.items()}, strict=True)
        act = ACTS[c.get("activation_function", "torch.nn.modules.linear.Identity")]
        steps.append(torch.nn.Sequential(lin, act).double())
    return steps


class XLMRConfig:
    """XLMRobertaConfig's defaults, then config.json."""

    def __init__(self, d):
        self.__dict__.update(dict(
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.02,
            position_embedding_type="absolute", use_cache=False, is_decoder=False,
            add_cross_attention=False, chunk_size_feed_forward=0, pruned_heads={}))
        self.__dict__.update(d)
        self._attn_implementation = "eager"
        self.use_return_dict = False
        self.output_attentions = False
        self.output_hidden_states = False


def xlmr_encoder(source, model_dir):
    """transformers' XLMRobertaModel (no pooler) with model_dir's weights."""
    import types
    mbref.install_shims()
    pt = mbref.PreTrainedModel
    # ModuleUtilsMixin's masks, as transformers 4.48 makes them.
    pt.get_extended_attention_mask = lambda self, mask, shape, dtype=None: \
        (1.0 - mask[:, None, None, :].to(self.dtype)) * torch.finfo(self.dtype).min
    pt.get_head_mask = lambda self, head_mask, n, is_attention_chunked=False: [None] * n
    mbref.module("packaging", version=types.SimpleNamespace(parse=lambda v: tuple(
        int(x) for x in v.split("+")[0].split(".")[:2] if x.isdigit())))
    mbref.module("transformers.activations", ACT2FN={"gelu": torch.nn.GELU()},
                 gelu=torch.nn.GELU())
    mbref.module("transformers.generation", GenerationMixin=object)
    mbref.module("transformers.modeling_attn_mask_utils",
                 _prepare_4d_attention_mask_for_sdpa=None,
                 _prepare_4d_causal_attention_mask_for_sdpa=None)
    sys.modules["transformers.modeling_outputs"].__dict__.update(
        BaseModelOutputWithPastAndCrossAttentions=mbref.Output,
        BaseModelOutputWithPoolingAndCrossAttentions=mbref.Output,
        CausalLMOutputWithCrossAttentions=mbref.Output)
    mbref.module("transformers.pytorch_utils", apply_chunking_to_forward=
                 lambda fn, chunk, dim, *x: fn(*x),
                 find_pruneable_heads_and_indices=None, prune_linear_layer=None)
    sys.modules["transformers.utils"].__dict__.update(
        get_torch_version=lambda: torch.__version__,
        replace_return_docstrings=mbref.identity_decorator)
    mbref.package("transformers.models.xlm_roberta")
    mbref.module("transformers.models.xlm_roberta.configuration_xlm_roberta",
                 XLMRobertaConfig=XLMRConfig)
    name = "transformers.models.xlm_roberta.modeling_xlm_roberta"
    m = types.ModuleType(name)
    m.__package__ = "transformers.models.xlm_roberta"
    sys.modules[name] = m
    with open(source) as f:
        exec(compile(f.read(), source, "exec"), m.__dict__)
    cfg = XLMRConfig(json.load(open(os.path.join(model_dir, "config.json"))))
    model = m.XLMRobertaModel(cfg, add_pooling_layer=False).double().eval()
    model.load_state_dict(mbref.read_safetensors(os.path.join(model_dir, "model.safetensors")),
                          strict=True)
    return model


def modernbert_encoder(source, model_dir):
    """transformers' ModernBertModel with model_dir's weights."""
    mbref.install_shims()
    mb = mbref.load_source(source)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    encoder = mb.ModernBertModel(mbref.Config(mbref.transformers5_config(cfg))).double().eval()
    encoder.load_state_dict(mbref.read_safetensors(os.path.join(model_dir, "model.safetensors")),
                            strict=True)
    return encoder


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True, help="transformers' modeling_modernbert.py")
    ap.add_argument("model_dir")
    ap.add_argument("key")
    a = ap.parse_args()
    model_type = json.load(open(os.path.join(a.model_dir, "config.json")))["model_type"]
    encoder = {"modernbert": modernbert_encoder,
               "xlm-roberta": xlmr_encoder}[model_type](a.source, a.model_dir)
    dense = load_dense(a.model_dir)
    lines = [json.loads(l) for l in sys.stdin if l.strip()]

    def embed(ids, mask):
        with torch.no_grad():
            x = encoder(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))[0]
            for step in dense:
                x = step(x)
        return x

    groups = {}
    for c in lines:
        groups.setdefault(c["qid"], []).append(c)
    for group in groups.values():
        r0 = group[0][a.key]
        q_ids = r0["query_ids"]
        q_mask = [1 if i < r0["query_keys"] else 0 for i in range(len(q_ids))]
        Q = torch.nn.functional.normalize(embed([q_ids], [q_mask])[0], p=2, dim=-1, eps=1e-12)
        for c in group:
            r = c[a.key]
            assert r["query_ids"] == q_ids
            D = embed([r["doc_ids"]], [[1] * len(r["doc_ids"])])[0]
            keep = torch.tensor(r["doc_mask"], dtype=torch.bool)
            d = torch.nn.functional.normalize(D[keep], p=2, dim=-1, eps=1e-12)
            r["score"] = (Q @ d.T).max(dim=1).values.sum().item()
            print(json.dumps(c, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
