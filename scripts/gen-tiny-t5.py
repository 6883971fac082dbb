#!/usr/bin/python3
"""gen-tiny-t5.py — a tiny T5 v1.1-style reranker (gated-GELU feed-forward,
untied lm_head, F16 weights, more encoder than decoder layers, 8 buckets
with max_distance 12 so 512-token inputs reach far past the bucket range)
and its reference logits, computed in float64 by a plain torch forward that
follows transformers' modeling_t5.py step by step.  `--check` first proves
that forward against ../shared/golden/monot5-cases.jsonl (scored by the real
transformers code) on tiny-monot5.

The cases reuse the golden rows' texts and Hugging Face input_ids (the
tokenizer is tiny-monot5's spiece.model, which the test links in at run
time: nothing of ../shared is copied here).  Writes testdata/tiny-t5-gated/
(config.json, model.safetensors, cases.jsonl); tests/suite_families.sh reads it.

usage: scripts/gen-tiny-t5.py [--check] [OUT_DIR]"""
import json
import math
import os
import struct
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
shared = os.path.join(here, "..", "..", "shared", "golden")
D = torch.float64


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": torch.float32, "F16": torch.float16}[v["dtype"]]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=dt).reshape(v["shape"])
        out[k] = t.to(D)
    return out


def write_safetensors(path, tensors):
    head, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.contiguous().numpy().tobytes()
        head[k] = {"dtype": "F16", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(head, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def bucket(rel, bidirectional, num_buckets, max_distance):
    """T5Attention._relative_position_bucket, verbatim."""
    ret = 0
    if bidirectional:
        num_buckets //= 2
        ret += (rel > 0).to(torch.long) * num_buckets
        rel = torch.abs(rel)
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return ret + torch.where(is_small, rel, large)


def norm(x, w, eps):  # T5LayerNorm
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def attention(W, p, x, kv, bias, H, dk):  # T5Attention: no 1/sqrt(d) scaling
    q = (x @ W[p + "q.weight"].T).view(-1, H, dk).transpose(0, 1)
    k = (kv @ W[p + "k.weight"].T).view(-1, H, dk).transpose(0, 1)
    v = (kv @ W[p + "v.weight"].T).view(-1, H, dk).transpose(0, 1)
    s = q @ k.transpose(1, 2)
    if bias is not None:
        s = s + bias
    a = torch.softmax(s, dim=-1) @ v
    return a.transpose(0, 1).reshape(-1, H * dk) @ W[p + "o.weight"].T


def ffn(W, p, x, gated):
    if gated:  # T5DenseGatedActDense with gelu_new
        g = x @ W[p + "wi_0.weight"].T
        g = 0.5 * g * (1 + torch.tanh(math.sqrt(2 / math.pi) * (g + 0.044715 * g.pow(3))))
        return (g * (x @ W[p + "wi_1.weight"].T)) @ W[p + "wo.weight"].T
    return torch.relu(x @ W[p + "wi.weight"].T) @ W[p + "wo.weight"].T


def position_bias(W, stack, n_q, n_k, cfg, bidirectional):
    rel = torch.arange(n_k)[None, :] - torch.arange(n_q)[:, None]
    b = bucket(rel, bidirectional, cfg.get("relative_attention_num_buckets", 32),
               cfg.get("relative_attention_max_distance", 128))
    table = W[stack + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
    return table[b].permute(2, 0, 1)  # (H, n_q, n_k)


def score(W, cfg, ids, true_id, false_id):
    """logit(true) - logit(false) of one decoder step, float64."""
    H, dk, eps = cfg["num_heads"], cfg["d_kv"], cfg.get("layer_norm_epsilon", 1e-6)
    gated = cfg.get("feed_forward_proj", "relu").startswith("gated")
    x = W["shared.weight"][torch.tensor(ids)]
    bias = position_bias(W, "encoder", len(ids), len(ids), cfg, True)
    for l in range(cfg["num_layers"]):
        p = "encoder.block.%d.layer." % l
        x = x + attention(W, p + "0.SelfAttention.", norm(x, W[p + "0.layer_norm.weight"], eps),
                          norm(x, W[p + "0.layer_norm.weight"], eps), bias, H, dk)
        x = x + ffn(W, p + "1.DenseReluDense.", norm(x, W[p + "1.layer_norm.weight"], eps), gated)
    enc = norm(x, W["encoder.final_layer_norm.weight"], eps)
    y = W["shared.weight"][torch.tensor([cfg.get("decoder_start_token_id", 0)])]
    dbias = position_bias(W, "decoder", 1, 1, cfg, False)
    for l in range(cfg.get("num_decoder_layers", cfg["num_layers"])):
        p = "decoder.block.%d.layer." % l
        h = norm(y, W[p + "0.layer_norm.weight"], eps)
        y = y + attention(W, p + "0.SelfAttention.", h, h, dbias, H, dk)
        y = y + attention(W, p + "1.EncDecAttention.", norm(y, W[p + "1.layer_norm.weight"], eps),
                          enc, None, H, dk)
        y = y + ffn(W, p + "2.DenseReluDense.", norm(y, W[p + "2.layer_norm.weight"], eps), gated)
    y = norm(y, W["decoder.final_layer_norm.weight"], eps)[0]
    if cfg.get("tie_word_embeddings", True):
        y = y * cfg["d_model"] ** -0.5
        head = W["shared.weight"]
    else:
        head = W["lm_head.weight"]
    return float(head[true_id] @ y - head[false_id] @ y)


def golden_rows():
    return [json.loads(l) for l in open(os.path.join(shared, "monot5-cases.jsonl"), encoding="utf-8")]


def spm_ids(path):
    """piece -> id of a T5 spiece.model: pieces are ModelProto field 1
    messages, piece i is id i in T5's layout."""
    spm, ids, i, pos = open(path, "rb").read(), {}, 0, 0
    while pos < len(spm):
        key = spm[pos]; pos += 1
        n = 0; shift = 0
        while True:
            b = spm[pos]; pos += 1
            n |= (b & 0x7f) << shift; shift += 7
            if b < 0x80:
                break
        if key >> 3 == 1 and key & 7 == 2:
            msg = spm[pos:pos + n]
            ln = msg[1]
            ids[msg[2:2 + ln].decode()] = i
            i += 1
        pos += n
    return ids


def true_false():
    """The ids of ▁true / ▁false in tiny-monot5's spiece.model."""
    ids = spm_ids(os.path.join(shared, "tiny-monot5", "spiece.model"))
    return ids["\u2581true"], ids["\u2581false"]


def check():
    d = os.path.join(shared, "tiny-monot5")
    W = read_safetensors(os.path.join(d, "model.safetensors"))
    cfg = json.load(open(os.path.join(d, "config.json")))
    t, f = true_false()
    worst = 0
    for r in golden_rows():
        got = score(W, cfg, r["input_ids"], t, f)
        worst = max(worst, abs(got - (r["logit_true"] - r["logit_false"])))
    print("reference vs golden tiny-monot5: worst |difference| %.3g" % worst)
    assert worst < 1e-9, worst


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    if "--check" in sys.argv:
        check()
    out = args[0] if args else os.path.join(here, "..", "testdata", "tiny-t5-gated")
    os.makedirs(out, exist_ok=True)
    cfg = {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5",
           "d_model": 16, "d_kv": 8, "num_heads": 3, "d_ff": 24, "num_layers": 3,
           "num_decoder_layers": 2, "vocab_size": 2176, "feed_forward_proj": "gated-gelu",
           "tie_word_embeddings": False, "relative_attention_num_buckets": 8,
           "relative_attention_max_distance": 12, "layer_norm_epsilon": 1e-5,
           "decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0,
           "is_encoder_decoder": True, "n_positions": 512}
    g = torch.Generator().manual_seed(511)
    r = lambda *s, sd=0.25: (torch.randn(*s, generator=g, dtype=D) * sd).to(torch.float16)
    T = {"shared.weight": r(2176, 16, sd=1.0), "lm_head.weight": r(2176, 16, sd=1.0),
         "encoder.final_layer_norm.weight": 1 + r(16, sd=0.1),
         "decoder.final_layer_norm.weight": 1 + r(16, sd=0.1)}
    for stack, n, parts in (("encoder", 3, (("SelfAttention", 0),)),
                            ("decoder", 2, (("SelfAttention", 0), ("EncDecAttention", 1)))):
        for l in range(n):
            p = "%s.block.%d.layer." % (stack, l)
            for name, k in parts:
                for w in "qkvo":
                    T[p + "%d.%s.%s.weight" % (k, name, w)] = r(24, 16) if w != "o" else r(16, 24)
                T[p + "%d.layer_norm.weight" % k] = 1 + r(16, sd=0.1)
            k = len(parts)
            T[p + "%d.DenseReluDense.wi_0.weight" % k] = r(24, 16)
            T[p + "%d.DenseReluDense.wi_1.weight" % k] = r(24, 16)
            T[p + "%d.DenseReluDense.wo.weight" % k] = r(16, 24)
            T[p + "%d.layer_norm.weight" % k] = 1 + r(16, sd=0.1)
        T[stack + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = r(8, 3, sd=1.0)
    write_safetensors(os.path.join(out, "model.safetensors"), T)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
    W = read_safetensors(os.path.join(out, "model.safetensors"))
    t, f = true_false()
    rows = golden_rows()
    # every length the golden has, the 512-token rows included
    picked = rows[:12] + [r for r in rows[12:] if len(r["input_ids"]) >= 256][:6]
    with open(os.path.join(out, "cases.jsonl"), "w", encoding="utf-8") as o:
        for r in picked:
            d = score(W, cfg, r["input_ids"], t, f)
            o.write(json.dumps({"qid": r["qid"], "query": r["query"], "text": r["text"],
                                "max_length": r["max_length"], "input_ids": r["input_ids"],
                                "logit": d, "score": 1 / (1 + math.exp(-d))},
                               ensure_ascii=False) + "\n")
    print("wrote %s (%d cases)" % (out, len(picked)))


if __name__ == "__main__":
    main()
