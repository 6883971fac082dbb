#!/usr/bin/python3
"""gen-bench-families.py — random-weight models in the shapes of
castorini/monot5-base-msmarco (T5 v1.0 base: d_model 768, 12 + 12 layers,
d_ff 3072, vocab 32128) and mixedbread-ai/mxbai-rerank-base-v1 (DeBERTa-v3
base: hidden 768, 12 layers, vocab 128100, 256 position buckets), F32, for
timing `rerank` (and another runtime on the same files).  The tokenizers
are the golden tiny models' (spiece.model / spm.model): token ids stay
below their few thousand pieces, which changes no cost but the embedding
lookup.  Writes OUT_DIR/monot5-base and OUT_DIR/mxbai-base (about 1.6 GB).

usage: scripts/gen-bench-families.py OUT_DIR"""
import json, os, shutil, struct, sys

import torch

out = sys.argv[1]
golden = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "golden")
def save(path, T):
    head, blobs, off = {}, [], 0
    for k, t in T.items():
        b = t.contiguous().numpy().tobytes()
        head[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(head).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs: f.write(b)
g = torch.Generator().manual_seed(1)
r = lambda *s: torch.randn(*s, generator=g) * 0.02
# monot5-base shape
d = os.path.join(out, "monot5-base"); os.makedirs(d, exist_ok=True)
D, H, F, L, V = 768, 12, 3072, 12, 32128
T = {"shared.weight": r(V, D), "encoder.final_layer_norm.weight": torch.ones(D), "decoder.final_layer_norm.weight": torch.ones(D)}
for st, parts in (("encoder", ["SelfAttention"]), ("decoder", ["SelfAttention", "EncDecAttention"])):
    for l in range(L):
        p = "%s.block.%d.layer." % (st, l)
        for k, name in enumerate(parts):
            for w in "qkvo": T[p + "%d.%s.%s.weight" % (k, name, w)] = r(D, D)
            T[p + "%d.layer_norm.weight" % k] = torch.ones(D)
        k = len(parts)
        T[p + "%d.DenseReluDense.wi.weight" % k] = r(F, D); T[p + "%d.DenseReluDense.wo.weight" % k] = r(D, F)
        T[p + "%d.layer_norm.weight" % k] = torch.ones(D)
    T[st + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = r(32, H)
save(d + "/model.safetensors", T); del T
cfg = json.load(open(os.path.join(golden, "tiny-monot5", "config.json")))
cfg.update(d_model=D, d_kv=64, num_heads=H, d_ff=F, num_layers=L, num_decoder_layers=L, vocab_size=V)
json.dump(cfg, open(d + "/config.json", "w"))
shutil.copy(os.path.join(golden, "tiny-monot5", "spiece.model"), d)
# mxbai-rerank-base-v1 shape
d = os.path.join(out, "mxbai-base"); os.makedirs(d, exist_ok=True)
V = 128100
T = {"deberta.embeddings.word_embeddings.weight": r(V, D), "deberta.embeddings.LayerNorm.weight": torch.ones(D),
     "deberta.embeddings.LayerNorm.bias": torch.zeros(D), "deberta.encoder.rel_embeddings.weight": r(512, D),
     "deberta.encoder.LayerNorm.weight": torch.ones(D), "deberta.encoder.LayerNorm.bias": torch.zeros(D),
     "pooler.dense.weight": r(D, D), "pooler.dense.bias": torch.zeros(D), "classifier.weight": r(1, D), "classifier.bias": torch.zeros(1)}
for l in range(12):
    p = "deberta.encoder.layer.%d." % l
    for n in ("query_proj", "key_proj", "value_proj"):
        T[p + "attention.self.%s.weight" % n] = r(D, D); T[p + "attention.self.%s.bias" % n] = torch.zeros(D)
    T[p + "attention.output.dense.weight"] = r(D, D); T[p + "attention.output.dense.bias"] = torch.zeros(D)
    T[p + "attention.output.LayerNorm.weight"] = torch.ones(D); T[p + "attention.output.LayerNorm.bias"] = torch.zeros(D)
    T[p + "intermediate.dense.weight"] = r(F, D); T[p + "intermediate.dense.bias"] = torch.zeros(F)
    T[p + "output.dense.weight"] = r(D, F); T[p + "output.dense.bias"] = torch.zeros(D)
    T[p + "output.LayerNorm.weight"] = torch.ones(D); T[p + "output.LayerNorm.bias"] = torch.zeros(D)
save(d + "/model.safetensors", T)
cfg = json.load(open(os.path.join(golden, "tiny-deberta-v3-ce", "config.json")))
cfg.update(hidden_size=D, num_attention_heads=12, intermediate_size=F, num_hidden_layers=12, vocab_size=V, pooler_hidden_size=D)
json.dump(cfg, open(d + "/config.json", "w"))
for f in ("spm.model", "tokenizer_config.json"): shutil.copy(os.path.join(golden, "tiny-deberta-v3-ce", f), d)
print("ok")
