#!/usr/bin/python3
"""export-onnx.py — a BERT or XLM-RoBERTa cross-encoder directory to ONNX,
for scripts/bench.

Builds the batched, attention-masked BertForSequenceClassification forward
in plain torch (as transformers' modules compute it: extended mask
(1 - mask) * min_float added to the scores, exact erf GELU, pooler tanh on
[CLS], classifier; for XLMRobertaForSequenceClassification the "roberta."
names, positions counted from padding_idx + 1 over the non-pad tokens, and
the dense-tanh-out_proj head on <s>) from the directory's config.json and
model.safetensors,
and exports it with torch.onnx.export: inputs input_ids, attention_mask,
token_type_ids (int64, dynamic batch and sequence axes), output logits.

usage: export-onnx.py MODEL_DIR OUT.onnx"""
import importlib.util
import json
import math
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen", os.path.join(here, "gen-tiny-model.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


class Bert(torch.nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        self.cfg = cfg
        self.w = {k: torch.nn.Parameter(v, requires_grad=False) for k, v in w.items()}
        for i, (k, v) in enumerate(self.w.items()):
            self.register_parameter("p%d" % i, v)

    def lin(self, name, x):
        return torch.nn.functional.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def ln(self, name, x):
        return torch.nn.functional.layer_norm(x, (self.cfg["hidden_size"],), self.w[name + ".weight"],
                                              self.w[name + ".bias"], self.cfg["layer_norm_eps"])

    def forward(self, input_ids, attention_mask, token_type_ids):
        cfg, w = self.cfg, self.w
        fam = gen.FAMILIES[cfg["model_type"]]
        p = fam["prefix"]
        b, n = input_ids.shape
        heads = cfg["num_attention_heads"]
        d = cfg["hidden_size"] // heads
        if fam["roberta_positions"]:
            pad = cfg["pad_token_id"]
            real = (input_ids != pad).long() * attention_mask
            pos = torch.cumsum(real, 1) * real + pad
        else:
            pos = torch.arange(n).unsqueeze(0).expand(b, n)
        x = (w[p + "embeddings.word_embeddings.weight"][input_ids]
             + w[p + "embeddings.token_type_embeddings.weight"][token_type_ids]
             + w[p + "embeddings.position_embeddings.weight"][pos])
        x = self.ln(p + "embeddings.LayerNorm", x)
        ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in range(cfg["num_hidden_layers"]):
            L = p + "encoder.layer.%d." % l
            q, k, v = (self.lin(L + "attention.self." + s, x).view(b, n, heads, d).transpose(1, 2)
                       for s in ("query", "key", "value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(d) + ext
            ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, n, -1)
            x = self.ln(L + "attention.output.LayerNorm", self.lin(L + "attention.output.dense", ctx) + x)
            y = torch.nn.functional.gelu(self.lin(L + "intermediate.dense", x))
            x = self.ln(L + "output.LayerNorm", self.lin(L + "output.dense", y) + x)
        pooled = torch.tanh(self.lin(fam["head_dense"], x[:, 0]))
        return self.lin(fam["head_out"], pooled)


def main():
    model_dir, out = sys.argv[1:3]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = gen.read_safetensors(os.path.join(model_dir, "model.safetensors"))
    m = Bert(cfg, w).eval()
    ids = torch.ones(2, 8, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(m, (ids, torch.ones_like(ids), torch.zeros_like(ids)), out,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["logits"],
                          dynamic_axes={k: {0: "batch", 1: "seq"} for k in
                                        ("input_ids", "attention_mask", "token_type_ids")} |
                                       {"logits": {0: "batch"}},
                          opset_version=14, do_constant_folding=True)


if __name__ == "__main__":
    main()
