#!/usr/bin/python3
"""export-onnx-t5.py — a monoT5 directory (T5ForConditionalGeneration,
v1.0 ReLU or v1.1 gated-GELU) to ONNX, for scripts/bench-families.

The graph is the monoT5 scoring path as transformers' modeling_t5.py
computes it, batched and padded: encoder (T5LayerNorm, no 1/sqrt(d_kv)
scaling, bidirectional relative position bias from block 0, padding mask
added to the scores), one decoder step from decoder_start_token_id
(causal bias, cross-attention over the unpadded encoder states), final
norm, d_model**-0.5 with tied embeddings, then only the ▁true and ▁false
rows of the head: output logits (batch, 1) = logit(▁true) - logit(▁false),
what `rerank --activation none` prints.  Inputs input_ids, attention_mask
(int64, dynamic batch and sequence axes).  Float32; the weights are read
with scripts/gen-tiny-t5.py's safetensors reader, the ▁true/▁false ids
from spiece.model by name.

usage: export-onnx-t5.py MODEL_DIR OUT.onnx
       export-onnx-t5.py --check MODEL_DIR CASES.jsonl RERANK_OUT.jsonl
--check scores the CASES (rows with input_ids, qid, docid) in padded
batches of 8 with this module and prints the largest difference from the
scores in RERANK_OUT.jsonl (rerank --activation none, on the rows it holds)
and from the golden logit_true - logit_false (Hugging Face's); exits 1
above 1e-4."""
import importlib.util
import json
import math
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("t5ref", os.path.join(here, "gen-tiny-t5.py"))
t5ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(t5ref)


class MonoT5(torch.nn.Module):
    def __init__(self, cfg, w, true_id, false_id):
        super().__init__()
        self.cfg = cfg
        self.w = {k: torch.nn.Parameter(v.float(), requires_grad=False) for k, v in w.items()}
        for i, v in enumerate(self.w.values()):
            self.register_parameter("p%d" % i, v)
        self.H, self.dk = cfg["num_heads"], cfg["d_kv"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-6)
        self.gated = cfg.get("feed_forward_proj", "relu").startswith("gated")
        self.tied = cfg.get("tie_word_embeddings", True)
        head = self.w["shared.weight"] if self.tied else self.w["lm_head.weight"]
        self.head = torch.nn.Parameter(head[[true_id, false_id]].clone(), requires_grad=False)  # (2, D)

    def norm(self, x, name):  # T5LayerNorm: no mean, no bias
        return self.w[name] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def attn(self, p, x, kv, add):  # x (b, nq, D), kv (b, nk, D), add broadcast to (b, H, nq, nk)
        b = x.shape[0]
        q = (x @ self.w[p + "q.weight"].T).view(b, -1, self.H, self.dk).transpose(1, 2)
        k = (kv @ self.w[p + "k.weight"].T).view(b, -1, self.H, self.dk).transpose(1, 2)
        v = (kv @ self.w[p + "v.weight"].T).view(b, -1, self.H, self.dk).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) + add, -1) @ v  # (b, H, nq, dk)
        return a.transpose(1, 2).reshape(b, -1, self.H * self.dk) @ self.w[p + "o.weight"].T

    def ffn(self, p, x):
        w = self.w
        if self.gated:  # gelu_new
            g = x @ w[p + "wi_0.weight"].T
            g = 0.5 * g * (1 + torch.tanh(math.sqrt(2 / math.pi) * (g + 0.044715 * g.pow(3))))
            return (g * (x @ w[p + "wi_1.weight"].T)) @ w[p + "wo.weight"].T
        return torch.relu(x @ w[p + "wi.weight"].T) @ w[p + "wo.weight"].T

    def bias(self, stack, nq, nk, bidirectional):  # (H, nq, nk)
        rel = torch.arange(nk)[None, :] - torch.arange(nq)[:, None]
        b = t5ref.bucket(rel, bidirectional, self.cfg.get("relative_attention_num_buckets", 32),
                         self.cfg.get("relative_attention_max_distance", 128))
        return self.w[stack + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight"][b].permute(2, 0, 1)

    def forward(self, input_ids, attention_mask):
        cfg, w = self.cfg, self.w
        b, n = input_ids.shape
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = w["shared.weight"][input_ids]  # (b, n, D)
        add = self.bias("encoder", n, n, True)[None] + mask  # (b, H, n, n)
        for l in range(cfg["num_layers"]):
            p = "encoder.block.%d.layer." % l
            h = self.norm(x, p + "0.layer_norm.weight")
            x = x + self.attn(p + "0.SelfAttention.", h, h, add)
            x = x + self.ffn(p + "1.DenseReluDense.", self.norm(x, p + "1.layer_norm.weight"))
        enc = self.norm(x, "encoder.final_layer_norm.weight")
        start = torch.full((b, 1), cfg.get("decoder_start_token_id", 0), dtype=torch.long)
        y = w["shared.weight"][start]  # (b, 1, D)
        dadd = self.bias("decoder", 1, 1, False)[None]
        for l in range(cfg.get("num_decoder_layers", cfg["num_layers"])):
            p = "decoder.block.%d.layer." % l
            h = self.norm(y, p + "0.layer_norm.weight")
            y = y + self.attn(p + "0.SelfAttention.", h, h, dadd)
            y = y + self.attn(p + "1.EncDecAttention.", self.norm(y, p + "1.layer_norm.weight"), enc, mask)
            y = y + self.ffn(p + "2.DenseReluDense.", self.norm(y, p + "2.layer_norm.weight"))
        y = self.norm(y, "decoder.final_layer_norm.weight")[:, 0]  # (b, D)
        if self.tied:
            y = y * cfg["d_model"] ** -0.5
        tf = y @ self.head.T  # (b, 2)
        return tf[:, :1] - tf[:, 1:]


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = t5ref.read_safetensors(os.path.join(model_dir, "model.safetensors"))
    ids = t5ref.spm_ids(os.path.join(model_dir, "spiece.model"))
    return MonoT5(cfg, w, ids["\u2581true"], ids["\u2581false"]).eval()


def padded(rows):
    n = max(len(r["input_ids"]) for r in rows)
    ids = torch.zeros(len(rows), n, dtype=torch.long)
    mask = torch.zeros(len(rows), n, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r["input_ids"])] = torch.tensor(r["input_ids"])
        mask[i, :len(r["input_ids"])] = 1
    return ids, mask


def check(m, name, cases, rerank_out, golden_key):
    """Scores CASES with module m in padded batches of 8; prints and checks
    the largest differences from rerank's scores and from golden_key(row)."""
    rows = [json.loads(l) for l in open(cases, encoding="utf-8")]
    got = {(o["qid"], o["docid"]): o["score"] for o in map(json.loads, open(rerank_out))}
    worst_rerank = worst_golden = 0.0
    compared = 0
    with torch.no_grad():
        for i in range(0, len(rows), 8):
            chunk = rows[i:i + 8]
            out = m(*padded(chunk))[:, 0]
            for r, s in zip(chunk, out.tolist()):
                if (r["qid"], r["docid"]) in got:
                    worst_rerank = max(worst_rerank, abs(s - got[(r["qid"], r["docid"])]))
                    compared += 1
                worst_golden = max(worst_golden, abs(s - golden_key(r)))
    print("%s: torch module vs rerank: max |difference| %.3g over %d pairs; vs golden: %.3g over %d"
          % (name, worst_rerank, compared, worst_golden, len(rows)))
    return 0 if compared and max(worst_rerank, worst_golden) <= 1e-4 else 1


def export(m, out):
    """m (input_ids, attention_mask) -> logits (batch, 1), to ONNX at out."""
    ids = torch.ones(2, 8, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(m, (ids, torch.ones_like(ids)), out,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch"}},
                          opset_version=14, do_constant_folding=True)


def main():
    if sys.argv[1] == "--check":
        model_dir, cases, rerank_out = sys.argv[2:5]
        sys.exit(check(load(model_dir), os.path.basename(model_dir.rstrip("/")), cases, rerank_out,
                       lambda r: r["logit_true"] - r["logit_false"]))
    export(load(sys.argv[1]), sys.argv[2])


if __name__ == "__main__":
    main()
