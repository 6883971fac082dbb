#!/usr/bin/python3
"""export-onnx-deberta.py — a DeBERTa-v3 cross-encoder directory
(DebertaV2ForSequenceClassification, mxbai-rerank-v1) to ONNX, for
scripts/bench-families.

The graph is transformers' modeling_deberta_v2.py computation, batched and
padded, in plain torch: word embeddings -> LayerNorm -> * mask; relative
embeddings -> encoder LayerNorm; per layer q/k/v with bias, scores
q.k / sqrt(d * (1 + len(pos_att_type))) plus c2p and p2c terms gathered at
make_log_bucket_position's buckets (shared attention key), the padding
mask (XSoftmax: masked keys get the float minimum), post-LN blocks with
exact-erf GELU; ContextPooler (token 0 -> dense -> GELU) -> classifier.
Like transformers it forms the (batch, heads, n, 2 * buckets) c2p/p2c
products before gathering.  Inputs input_ids, attention_mask (int64,
dynamic axes), output logits (batch, labels).  Float32.

usage: export-onnx-deberta.py MODEL_DIR OUT.onnx
       export-onnx-deberta.py --check MODEL_DIR CASES.jsonl RERANK_OUT.jsonl
(--check as in export-onnx-t5.py, against the golden rows' logit.)"""
import importlib.util
import json
import math
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("t5x", os.path.join(here, "export-onnx-t5.py"))
t5x = importlib.util.module_from_spec(spec)
spec.loader.exec_module(t5x)


def log_bucket(rel, bucket_size, max_position):
    """make_log_bucket_position, verbatim."""
    sign = torch.sign(rel)
    mid = bucket_size // 2
    abs_pos = torch.where((rel < mid) & (rel > -mid), torch.tensor(mid - 1).type_as(rel), torch.abs(rel))
    log_pos = torch.ceil(torch.log(abs_pos / mid) / torch.log(torch.tensor((max_position - 1) / mid))
                         * (mid - 1)) + mid
    return torch.where(abs_pos <= mid, rel.type_as(log_pos), log_pos * sign).long()


class Deberta(torch.nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        self.cfg = cfg
        self.w = {k: torch.nn.Parameter(v.float(), requires_grad=False) for k, v in w.items()}
        for i, v in enumerate(self.w.values()):
            self.register_parameter("p%d" % i, v)
        self.H = cfg["num_attention_heads"]
        self.D = cfg["hidden_size"]
        self.types = cfg.get("pos_att_type", [])
        self.buckets = cfg.get("position_buckets", -1)
        mrp = cfg.get("max_relative_positions", -1)
        self.max_rel = mrp if mrp >= 1 else cfg["max_position_embeddings"]
        self.span = self.buckets if self.buckets > 0 else self.max_rel
        assert cfg.get("share_att_key", False) and cfg.get("norm_rel_ebd", "") == "layer_norm"

    def lin(self, name, x):
        return torch.nn.functional.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def ln(self, name, x):
        return torch.nn.functional.layer_norm(x, (self.D,), self.w[name + ".weight"], self.w[name + ".bias"],
                                              self.cfg.get("layer_norm_eps", 1e-7))

    def heads(self, x):  # (b, n, D) -> (b, H, n, d)
        return x.view(x.shape[0], -1, self.H, self.D // self.H).transpose(1, 2)

    def forward(self, input_ids, attention_mask):
        b, n = input_ids.shape
        d = self.D // self.H
        factor = 1 + len(self.types)
        x = self.ln("deberta.embeddings.LayerNorm", self.w["deberta.embeddings.word_embeddings.weight"][input_ids])
        x = x * attention_mask.unsqueeze(2).float()
        rel_emb = self.ln("deberta.encoder.LayerNorm",
                          self.w["deberta.encoder.rel_embeddings.weight"][:2 * self.span])[None]  # (1, 2S, D)
        rel = torch.arange(n)[:, None] - torch.arange(n)[None, :]
        if self.buckets > 0:
            rel = log_bucket(rel, self.buckets, self.max_rel)
        c2p_idx = torch.clamp(rel + self.span, 0, 2 * self.span - 1).expand(b, self.H, n, n)
        p2c_idx = torch.clamp(-rel + self.span, 0, 2 * self.span - 1).expand(b, self.H, n, n)
        keep = attention_mask[:, None, None, :].bool()
        for l in range(self.cfg["num_hidden_layers"]):
            L = "deberta.encoder.layer.%d." % l
            A = L + "attention.self."
            q, k, v = (self.heads(self.lin(A + s, x)) for s in ("query_proj", "key_proj", "value_proj"))
            scale = math.sqrt(d * factor)
            s = q @ k.transpose(-1, -2) / scale
            if "c2p" in self.types:
                pk = self.heads(self.lin(A + "key_proj", rel_emb))  # (1, H, 2S, d)
                s = s + torch.gather(q @ pk.transpose(-1, -2), -1, c2p_idx) / scale
            if "p2c" in self.types:
                pq = self.heads(self.lin(A + "query_proj", rel_emb))
                s = s + torch.gather(k @ pq.transpose(-1, -2), -1, p2c_idx).transpose(-1, -2) / scale
            s = s.masked_fill(~keep, torch.finfo(torch.float32).min)
            ctx = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(b, n, self.D)
            x = self.ln(L + "attention.output.LayerNorm", self.lin(L + "attention.output.dense", ctx) + x)
            y = torch.nn.functional.gelu(self.lin(L + "intermediate.dense", x))
            x = self.ln(L + "output.LayerNorm", self.lin(L + "output.dense", y) + x)
        pooled = torch.nn.functional.gelu(self.lin("pooler.dense", x[:, 0]))
        return self.lin("classifier", pooled)


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    return Deberta(cfg, t5x.t5ref.read_safetensors(os.path.join(model_dir, "model.safetensors"))).eval()


def main():
    if sys.argv[1] == "--check":
        model_dir, cases, rerank_out = sys.argv[2:5]
        sys.exit(t5x.check(load(model_dir), os.path.basename(model_dir.rstrip("/")), cases, rerank_out,
                           lambda r: r["logit"]))
    t5x.export(load(sys.argv[1]), sys.argv[2])


if __name__ == "__main__":
    main()
