#!/usr/bin/python3
"""gen-tiny-model.py — small random cross-encoders and their reference logits.

Writes, with plain torch (no transformers library):
  testdata/tiny-bert/  BertForSequenceClassification, 3 layers, hidden 48,
                       6 heads, intermediate 96, 2 labels, made-up vocab.txt
  testdata/tiny-xlmr/  XLMRobertaForSequenceClassification, 2 layers,
                       hidden 24, 3 heads, intermediate 48, 3 labels
each with config.json, model.safetensors (F32) and logits.jsonl (one line per
sequence: input_ids, token_type_ids, logits computed in float64).

The forward pass below follows transformers' BertModel /
XLMRobertaModel module by module.  `--check-golden DIR` first proves it
against the Hugging Face goldens in DIR (../shared/golden): it must
reproduce tiny-bert-ce-logits.jsonl (F32, F16, BF16 weights) and
tiny-xlmr-ce-logits.jsonl.  `--minilm DIR` writes an uncommitted random
model of MiniLM-L6 shape for benchmarks, `--xlmr-base DIR` one of
bge-reranker-base's shape (XLM-RoBERTa base: 12 layers, hidden 768, vocab
250002); `--gain G` scales their dense weights (G < 1: better conditioned).

Usage: scripts/gen-tiny-model.py [--check-golden ../shared/golden]
                                 [--minilm DIR] [--xlmr-base DIR] [--gain G]
"""
import argparse
import json
import math
import os
import struct

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """name -> tensor (float32), from a .safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]),
                             dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).to(torch.float32)
    return out


def write_safetensors(path, tensors):
    """Writes name -> float32 tensor as F32 safetensors (header padded with
    spaces to a multiple of 8, as the reference writer does)."""
    header, chunks, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


FAMILIES = {
    "bert": {"prefix": "bert.", "head_dense": "bert.pooler.dense",
             "head_out": "classifier", "roberta_positions": False},
    "xlm-roberta": {"prefix": "roberta.", "head_dense": "classifier.dense",
                    "head_out": "classifier.out_proj",
                    "roberta_positions": True},
}


def linear(w, name, x):
    return torch.nn.functional.linear(x, w[name + ".weight"], w[name + ".bias"])


def layer_norm(w, name, x, eps):
    return torch.nn.functional.layer_norm(
        x, x.shape[-1:], w[name + ".weight"], w[name + ".bias"], eps)


def forward(w, cfg, input_ids, token_type_ids):
    """Logits (n_labels,) of one unpadded sequence, in the dtype of w."""
    fam = FAMILIES[cfg["model_type"]]
    p, eps = fam["prefix"], cfg["layer_norm_eps"]
    ids = torch.tensor(input_ids)
    types = torch.tensor(token_type_ids)
    # Embeddings: BERT positions 0..n-1; RoBERTa's
    # create_position_ids_from_input_ids: cumsum over non-pad + pad_idx.
    if fam["roberta_positions"]:
        pad = cfg["pad_token_id"]
        mask = (ids != pad).long()
        pos = torch.cumsum(mask, 0) * mask + pad
    else:
        pos = torch.arange(len(input_ids))
    x = w[p + "embeddings.word_embeddings.weight"][ids]
    x = x + w[p + "embeddings.token_type_embeddings.weight"][types]
    x = x + w[p + "embeddings.position_embeddings.weight"][pos]
    x = layer_norm(w, p + "embeddings.LayerNorm", x, eps)
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // heads
    n = len(input_ids)
    for l in range(cfg["num_hidden_layers"]):
        L = f"{p}encoder.layer.{l}."
        # BertSelfAttention
        q, k, v = (linear(w, L + "attention.self." + s, x)
                   .view(n, heads, d).transpose(0, 1)
                   for s in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        ctx = (torch.softmax(scores, -1) @ v).transpose(0, 1).reshape(n, -1)
        # BertSelfOutput
        x = layer_norm(w, L + "attention.output.LayerNorm",
                       linear(w, L + "attention.output.dense", ctx) + x, eps)
        # BertIntermediate (exact erf GELU), BertOutput
        y = torch.nn.functional.gelu(linear(w, L + "intermediate.dense", x))
        x = layer_norm(w, L + "output.LayerNorm",
                       linear(w, L + "output.dense", y) + x, eps)
    # BertPooler + classifier, or RobertaClassificationHead: first token.
    pooled = torch.tanh(linear(w, fam["head_dense"], x[0]))
    return linear(w, fam["head_out"], pooled)


def check_golden(golden):
    worst = 0.0
    with open(os.path.join(golden, "tiny-bert-ce-logits.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    for dt in ("f32", "f16", "bf16"):
        d = os.path.join(golden, "tiny-bert-ce-" + dt)
        cfg = json.load(open(os.path.join(d, "config.json")))
        w = read_safetensors(os.path.join(d, "model.safetensors"))
        for r in rows:
            got = forward(w, cfg, r["input_ids"], r["token_type_ids"])
            worst = max(worst, max(abs(a - b) for a, b in
                                   zip(got.tolist(), r["logits_" + dt])))
    d = os.path.join(golden, "tiny-xlmr-ce")
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = read_safetensors(os.path.join(d, "model.safetensors"))
    with open(os.path.join(golden, "tiny-xlmr-ce-logits.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            got = forward(w, cfg, r["input_ids"], [0] * len(r["input_ids"]))
            worst = max(worst, max(abs(a - b) for a, b in
                                   zip(got.tolist(), r["logits"])))
    print(f"golden check: max |logit difference| {worst:.3g}")
    if worst > 1e-5:
        raise SystemExit("the torch forward does not reproduce the goldens")


def random_weights(cfg, gen, gain=1.0):
    """Random weights, larger than transformers' init (std 0.02) so that
    every layer visibly moves the logits.  `gain` scales the dense layers'
    weights (std gain / sqrt(fan-in)): below 1 the model is better
    conditioned (each layer a milder change of the residual stream)."""
    fam = FAMILIES[cfg["model_type"]]
    p, h, inter = fam["prefix"], cfg["hidden_size"], cfg["intermediate_size"]

    def normal(*shape, std=0.3):
        return torch.randn(*shape, generator=gen) * std

    w = {}

    def dense(name, n_out, n_in):
        w[name + ".weight"] = normal(n_out, n_in, std=gain / math.sqrt(n_in))
        w[name + ".bias"] = normal(n_out, std=0.1)

    def norm(name):
        w[name + ".weight"] = 1 + normal(h, std=0.2)
        w[name + ".bias"] = normal(h, std=0.1)

    w[p + "embeddings.word_embeddings.weight"] = normal(cfg["vocab_size"], h)
    w[p + "embeddings.position_embeddings.weight"] = normal(
        cfg["max_position_embeddings"], h)
    w[p + "embeddings.token_type_embeddings.weight"] = normal(
        cfg["type_vocab_size"], h)
    norm(p + "embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        L = f"{p}encoder.layer.{l}."
        for s in ("query", "key", "value"):
            dense(L + "attention.self." + s, h, h)
        dense(L + "attention.output.dense", h, h)
        norm(L + "attention.output.LayerNorm")
        dense(L + "intermediate.dense", inter, h)
        dense(L + "output.dense", h, inter)
        norm(L + "output.LayerNorm")
    dense(fam["head_dense"], h, h)
    dense(fam["head_out"], len(cfg["id2label"]), h)
    return w


def make_config(model_type, **dims):
    arch = {"bert": "BertForSequenceClassification",
            "xlm-roberta": "XLMRobertaForSequenceClassification"}[model_type]
    labels = dims.pop("n_labels")
    cfg = {"architectures": [arch], "model_type": model_type,
           "hidden_act": "gelu", "position_embedding_type": "absolute",
           "id2label": {str(i): f"LABEL_{i}" for i in range(labels)},
           "label2id": {f"LABEL_{i}": i for i in range(labels)},
           "torch_dtype": "float32"}
    cfg.update(dims)
    return cfg


def pair(gen, n_q, n_d, vocab_lo, vocab_hi, cls, sep, n_mid_sep, second_type):
    """A [CLS] q [SEP]... d [SEP] sequence of random word ids."""
    def words(n):
        return torch.randint(vocab_lo, vocab_hi, (n,), generator=gen).tolist()
    q, d = words(n_q), words(n_d)
    ids = [cls] + q + [sep] * n_mid_sep + d + [sep]
    types = [0] * (n_q + 1 + n_mid_sep) + [second_type] * (n_d + 1)
    return ids, types


def write_model(out, cfg, w, seqs, files=None):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), w)
    for name, text in (files or {}).items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    w64 = {k: v.double() for k, v in w.items()}
    with open(os.path.join(out, "logits.jsonl"), "w") as f:
        for ids, types in seqs:
            logits = forward(w64, cfg, ids, types).tolist()
            f.write(json.dumps({"input_ids": ids, "token_type_ids": types,
                                "logits": [round(v, 7) for v in logits]},
                               separators=(",", ":")) + "\n")


def tiny_bert(root):
    gen = torch.Generator().manual_seed(1234)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    syll = ["ka", "lo", "mi", "nu", "re", "sa", "te", "vo", "zi", "pu"]
    words = [a + b + c for a in syll for b in syll for c in syll[:3]]
    vocab = specials + words  # 305 entries
    cfg = make_config("bert", hidden_size=48, num_hidden_layers=3,
                      num_attention_heads=6, intermediate_size=96,
                      max_position_embeddings=320, type_vocab_size=2,
                      vocab_size=len(vocab), layer_norm_eps=1e-12,
                      pad_token_id=0, n_labels=2)
    w = random_weights(cfg, gen)
    seqs = [pair(gen, nq, nd, 5, len(vocab), 2, 3, 1, 1)
            for nq, nd in [(1, 1), (2, 5), (4, 11), (3, 30), (6, 57), (0, 0),
                           (9, 9), (5, 120), (2, 3), (7, 72)]]
    seqs.append(pair(gen, 12, 290, 5, len(vocab), 2, 3, 1, 1))  # > 256 rows
    seqs.append(([2], [0]))                                      # one token
    write_model(os.path.join(root, "tiny-bert"), cfg, w, seqs,
                {"vocab.txt": "".join(t + "\n" for t in vocab)})


def tiny_xlmr(root):
    gen = torch.Generator().manual_seed(5678)
    cfg = make_config("xlm-roberta", hidden_size=24, num_hidden_layers=2,
                      num_attention_heads=3, intermediate_size=48,
                      max_position_embeddings=66, type_vocab_size=1,
                      vocab_size=200, layer_norm_eps=1e-5, pad_token_id=1,
                      bos_token_id=0, eos_token_id=2, n_labels=3)
    w = random_weights(cfg, gen)
    seqs = [pair(gen, nq, nd, 4, 200, 0, 2, 2, 0)
            for nq, nd in [(1, 1), (3, 8), (5, 20), (2, 54), (4, 4)]]
    # A pad id inside the text: RoBERTa gives it position pad_token_id and
    # does not count it.
    ids, types = pair(gen, 3, 6, 4, 200, 0, 2, 2, 0)
    ids[5] = 1
    seqs.append((ids, types))
    write_model(os.path.join(root, "tiny-xlmr"), cfg, w, seqs)


def bench_model(out, seed, gain, model_type, **dims):
    """A random model of a real shape, for benchmarks (no logits file)."""
    gen = torch.Generator().manual_seed(seed)
    cfg = make_config(model_type, **dims)
    w = random_weights(cfg, gen, gain)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(out, "model.safetensors"), w)


def minilm(out, gain=1.0):
    """cross-encoder/ms-marco-MiniLM-L-6-v2's shape."""
    bench_model(out, 99, gain, "bert", hidden_size=384, num_hidden_layers=6,
                num_attention_heads=12, intermediate_size=1536,
                max_position_embeddings=512, type_vocab_size=2,
                vocab_size=30522, layer_norm_eps=1e-12, pad_token_id=0,
                n_labels=1)


def xlmr_base(out, gain=1.0):
    """BAAI/bge-reranker-base's shape: XLM-RoBERTa base, 12 layers."""
    bench_model(out, 77, gain, "xlm-roberta", hidden_size=768,
                num_hidden_layers=12, num_attention_heads=12,
                intermediate_size=3072, max_position_embeddings=514,
                type_vocab_size=1, vocab_size=250002, layer_norm_eps=1e-5,
                pad_token_id=1, bos_token_id=0, eos_token_id=2, n_labels=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check-golden", metavar="DIR")
    ap.add_argument("--minilm", metavar="DIR")
    ap.add_argument("--xlmr-base", metavar="DIR")
    ap.add_argument("--gain", type=float, default=1.0,
                    help="with --minilm or --xlmr-base: scale of the dense weights (default 1)")
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "testdata"))
    args = ap.parse_args()
    if args.check_golden:
        check_golden(args.check_golden)
    if args.minilm:
        minilm(args.minilm, args.gain)
    if args.xlmr_base:
        xlmr_base(args.xlmr_base, args.gain)
    if args.minilm or args.xlmr_base:
        return
    tiny_bert(args.out)
    tiny_xlmr(args.out)


if __name__ == "__main__":
    main()
