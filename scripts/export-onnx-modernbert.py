#!/usr/bin/python3
"""export-onnx-modernbert.py — a ModernBertForSequenceClassification
directory to ONNX, for scripts/bench.

Builds the batched, padded forward in plain torch as transformers' eager
ModernBERT computes it (LayerNorm(tok_embeddings); pre-norm layers with
rotary embeddings (rotate_half) and a sliding-window mask |i - j| <=
local_attention / 2 on the local layers, GLU MLP with exact GELU;
final_norm; cls or mean pooling, head.dense -> GELU -> head.norm ->
classifier) and exports it with torch.onnx.export: inputs input_ids and
attention_mask (int64, dynamic batch and sequence axes), output logits.
`--check GOLDEN_DIR LOGITS.jsonl` first proves the torch module against a
reference (e.g. ../shared/golden/tiny-modernbert-ce).

usage: export-onnx-modernbert.py [--check DIR LOGITS.jsonl] MODEL_DIR OUT.onnx"""
import argparse
import importlib.util
import json
import os

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen", os.path.join(here, "gen-tiny-model.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


class ModernBert(torch.nn.Module):
    def __init__(self, c, w):
        super().__init__()
        self.c = c
        self.w = {}
        for i, (k, v) in enumerate(w.items()):
            p = torch.nn.Parameter(v, requires_grad=False)
            self.register_parameter("p%d" % i, p)
            self.w[k] = p
        n = c["num_hidden_layers"]
        types = c.get("layer_types") or [
            "sliding_attention" if i % c.get("global_attn_every_n_layers", 3) else "full_attention"
            for i in range(n)]
        self.local = [t == "sliding_attention" for t in types]
        g = c.get("global_rope_theta", 160000.0)
        self.theta = (g, c.get("local_rope_theta") or g)

    def lin(self, name, x):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def ln(self, name, x):
        w = self.w[name + ".weight"]
        return F.layer_norm(x, (w.shape[0],), w, self.w.get(name + ".bias"),
                            self.c.get("norm_eps", 1e-5))

    def rope(self, n, theta, d):
        inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        freqs = torch.arange(n, dtype=torch.float32)[:, None] * inv[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    def forward(self, input_ids, attention_mask):
        c = self.c
        h, nh = c["hidden_size"], c["num_attention_heads"]
        d = h // nh
        b, n = input_ids.shape
        x = self.ln("model.embeddings.norm", F.embedding(input_ids, self.w["model.embeddings.tok_embeddings.weight"]))
        lowest = torch.finfo(x.dtype).min
        keep = attention_mask[:, None, None, :].to(x.dtype)
        pad = (1.0 - keep) * lowest
        pos = torch.arange(n)
        near = ((pos[None, :] - pos[:, None]).abs() <= c.get("local_attention", 128) // 2)
        window = pad.masked_fill(~near[None, None], lowest)
        ropes = [self.rope(n, t, d) for t in self.theta]

        def rotate(t, cos, sin):
            t1, t2 = t[..., : d // 2], t[..., d // 2:]
            return t * cos + torch.cat((-t2, t1), dim=-1) * sin

        for l in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % l
            y = x if l == 0 else self.ln(p + "attn_norm", x)
            qkv = self.lin(p + "attn.Wqkv", y).view(b, n, 3, nh, d)
            q, k, v = qkv.transpose(3, 1).unbind(dim=2)
            cos, sin = ropes[1 if self.local[l] else 0]
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            s = torch.matmul(q, k.transpose(2, 3)) * d ** -0.5
            s = s + (window if self.local[l] else pad)
            a = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(b, n, h)
            x = x + self.lin(p + "attn.Wo", a)
            inp, gate = self.lin(p + "mlp.Wi", self.ln(p + "mlp_norm", x)).chunk(2, dim=-1)
            x = x + self.lin(p + "mlp.Wo", F.gelu(inp) * gate)
        x = self.ln("model.final_norm", x)
        if c.get("classifier_pooling", "cls") == "mean":
            m = attention_mask[:, :, None].to(x.dtype)
            pooled = (x * m).sum(dim=1) / m.sum(dim=1)
        else:
            pooled = x[:, 0]
        return self.lin("classifier", self.ln("head.norm", F.gelu(self.lin("head.dense", pooled))))


def load(model_dir):
    c = json.load(open(os.path.join(model_dir, "config.json")))
    return ModernBert(c, gen.read_safetensors(os.path.join(model_dir, "model.safetensors")))


def check(model_dir, logits_path):
    m = load(model_dir).double()
    worst = 0.0
    for line in open(logits_path):
        case = json.loads(line)
        ids = torch.tensor([case["input_ids"]])
        with torch.no_grad():
            got = float(m(ids, torch.ones_like(ids))[0, -1])
        worst = max(worst, abs(got - case["logit"]))
    print("export-onnx-modernbert: %s: max |logit - reference| %.2g" % (model_dir, worst))
    if worst > 1e-4:
        raise SystemExit("export-onnx-modernbert: the torch module disagrees with the reference")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", nargs=2, metavar=("DIR", "LOGITS"))
    ap.add_argument("model_dir")
    ap.add_argument("out")
    a = ap.parse_args()
    if a.check:
        check(*a.check)
    m = load(a.model_dir).eval()
    ids = torch.tensor([[1, 5, 6, 7, 2, 8, 9, 2], [1, 5, 6, 2, 8, 2, 0, 0]])
    mask = (torch.arange(8)[None, :] < torch.tensor([[8], [6]])).long()
    torch.onnx.export(m, (ids, mask), a.out, input_names=["input_ids", "attention_mask"],
                      output_names=["logits"], opset_version=14,
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                    "attention_mask": {0: "batch", 1: "seq"},
                                    "logits": {0: "batch"}})


if __name__ == "__main__":
    main()
