#!/usr/bin/python3
"""gen-tiny-modernbert.py — a small random ModernBertForSequenceClassification
with every optional bias switched on (norm_bias, attention_bias, mlp_bias,
classifier_bias: the shared goldens have none), mean pooling, local
attention 128 (window 64) on layers 1 and 2 and a global layer 0, and the
input ids of a few pairs, one of 8,192 tokens.

Writes OUT_DIR/config.json, OUT_DIR/model.safetensors (F32) and
OUT_DIR/cases.jsonl (one {"input_ids": [...]} per line).  The expected
logits come from scripts/modernbert_reference.py, which runs transformers'
own modeling_modernbert.py:

    scripts/gen-tiny-modernbert.py testdata/long-modernbert
    scripts/modernbert_reference.py --source modeling_modernbert.py \\
        testdata/long-modernbert testdata/long-modernbert/cases.jsonl \\
        > testdata/long-modernbert/logits.jsonl

`--shape ettin-17m|gte-base OUT_DIR` instead writes a random model with the
real configuration of cross-encoder/ettin-reranker-17m-v1 or
Alibaba-NLP/gte-reranker-modernbert-base (for scripts/bench; not committed).

usage: scripts/gen-tiny-modernbert.py [--shape NAME] OUT_DIR"""
import argparse
import importlib.util
import json
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen", os.path.join(here, "gen-tiny-model.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

TINY = dict(vocab_size=600, hidden_size=32, intermediate_size=48,
            num_hidden_layers=3, num_attention_heads=2,
            global_attn_every_n_layers=3, local_attention=128,
            norm_bias=True, attention_bias=True, mlp_bias=True,
            classifier_bias=True, classifier_pooling="mean",
            id2label={"0": "LABEL_0"})
# The published configurations (sizes, attention pattern, pooling).
SHAPES = {
    "ettin-17m": dict(vocab_size=50368, hidden_size=256, intermediate_size=384,
                      num_hidden_layers=7, num_attention_heads=4,
                      global_attn_every_n_layers=3, local_attention=128,
                      classifier_pooling="cls", id2label={"0": "LABEL_0"}),
    "gte-base": dict(vocab_size=50368, hidden_size=768, intermediate_size=1152,
                     num_hidden_layers=22, num_attention_heads=12,
                     global_attn_every_n_layers=3, local_attention=128,
                     classifier_pooling="mean", id2label={"0": "LABEL_0"}),
}


def config(**over):
    c = dict(architectures=["ModernBertForSequenceClassification"],
             model_type="modernbert", hidden_activation="gelu",
             max_position_embeddings=8192, norm_eps=1e-5, norm_bias=False,
             attention_bias=False, mlp_bias=False, classifier_bias=False,
             classifier_activation="gelu", global_rope_theta=160000.0,
             local_rope_theta=10000.0, pad_token_id=0, cls_token_id=1,
             sep_token_id=2, bos_token_id=1, eos_token_id=2,
             torch_dtype="float32")
    c.update(over)
    return c


def weights(c, g, flat_std=None):
    """Random tensors named as ModernBertForSequenceClassification's: large
    ones for the tiny test model (attention that depends on position and
    content), or all of standard deviation flat_std (transformers' 0.02
    initialisation: a well-conditioned model of a real shape, whose float32
    scores agree across implementations for the benchmark)."""
    h, i, n = c["hidden_size"], c["intermediate_size"], len(c["id2label"])
    t = {}

    def rand(name, *shape, std=0.02, mean=0.0):
        t[name] = torch.randn(*shape, generator=g) * (flat_std or std) + mean

    def norm(name):
        rand(name + ".weight", h, std=0.1, mean=1.0)
        if c["norm_bias"]:
            rand(name + ".bias", h, std=0.1)

    rand("model.embeddings.tok_embeddings.weight", c["vocab_size"], h, std=1.0)
    norm("model.embeddings.norm")
    for l in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % l
        if l:
            norm(p + "attn_norm")
        rand(p + "attn.Wqkv.weight", 3 * h, h, std=0.4)
        rand(p + "attn.Wo.weight", h, h, std=0.2)
        norm(p + "mlp_norm")
        rand(p + "mlp.Wi.weight", 2 * i, h, std=0.2)
        rand(p + "mlp.Wo.weight", h, i, std=0.2)
        if c["attention_bias"]:
            rand(p + "attn.Wqkv.bias", 3 * h, std=0.1)
            rand(p + "attn.Wo.bias", h, std=0.1)
        if c["mlp_bias"]:
            rand(p + "mlp.Wi.bias", 2 * i, std=0.1)
            rand(p + "mlp.Wo.bias", h, std=0.1)
    norm("model.final_norm")
    rand("head.dense.weight", h, h, std=0.2)
    if c["classifier_bias"]:
        rand("head.dense.bias", h, std=0.1)
    norm("head.norm")
    rand("classifier.weight", n, h, std=0.2)
    rand("classifier.bias", n, std=0.1)
    return t


def pair_ids(n, vocab, n_query):
    """[CLS] query [SEP] document [SEP], n ids, words from a formula."""
    word = lambda k: 3 + (k * 7919) % (vocab - 3)
    ids = [1] + [word(k) for k in range(n_query)] + [2]
    ids += [word(k + 31) for k in range(n - len(ids) - 1)] + [2]
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES))
    ap.add_argument("out")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    g = torch.Generator().manual_seed(20261202)
    c = config(**(SHAPES[a.shape] if a.shape else TINY))
    w = weights(c, g, 0.02 if a.shape else None)
    gen.write_safetensors(os.path.join(a.out, "model.safetensors"), w)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    if a.shape:
        return
    with open(os.path.join(a.out, "cases.jsonl"), "w") as f:
        for n, nq in ((8192, 4000), (300, 20), (129, 60), (40, 10)):
            f.write(json.dumps({"input_ids": pair_ids(n, c["vocab_size"], nq)}) + "\n")


if __name__ == "__main__":
    main()
