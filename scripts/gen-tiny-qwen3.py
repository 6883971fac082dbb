#!/usr/bin/python3
"""gen-tiny-qwen3.py — a Qwen3ForCausalLM reranker layout the shared goldens
do not cover, with reference logits: untied head (lm_head.weight), GQA
ratio 4 (8 heads / 2 kv heads), head_dim 16 (not hidden / heads),
attention_bias true, F16 weights.

usage: /usr/bin/python3 scripts/gen-tiny-qwen3.py OUT_DIR [GOLDEN_DIR]
Writes OUT_DIR/config.json, model.safetensors and logits.jsonl: for rows
of GOLDEN_DIR/qwen3-reranker-cases.jsonl (their input_ids; long ones
included), logit_yes and logit_no at the last position, in float64.

The reference is a float64 forward pass written from transformers'
modeling_qwen3.py (4.51): RMSNorm (variance in float32 there, float64
here), q/k/v (+ bias), q_norm / k_norm per head, rotate_half RoPE with
inv_freq = 1 / theta^(arange(0, d, 2) / d), repeat_kv, causal softmax
attention scaled by head_dim^-0.5, o_proj, SwiGLU.  Before writing anything
it must reproduce the goldens that transformers itself computed (the
shared tiny-qwen3-reranker, all 152 rows, to 1e-9), so it is checked
against Hugging Face, not against rerank.  The model directory needs the
golden tokenizer beside it: tests copy tokenizer.json at run time."""
import json, os, struct, sys

import torch

out = sys.argv[1]
golden = sys.argv[2] if len(sys.argv) > 2 else "../shared/golden"
torch.set_default_dtype(torch.float64)


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base, tensors = 8 + n, {}
    kinds = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = bytearray(raw[base + a:base + b])
        x = torch.frombuffer(buf, dtype=kinds[t["dtype"]]).reshape(t["shape"])
        tensors[name] = x.to(torch.float64)
    return tensors


def write_safetensors(path, tensors, dtype):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.to(torch.float16).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def rms(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def forward(c, W, ids):
    """Hidden state after the final norm at the last position."""
    H, nh, nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    d = c.get("head_dim") or H // nh
    eps, theta = c["rms_norm_eps"], c["rope_theta"]
    n = len(ids)
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.int64).double() / d)
    ang = torch.outer(torch.arange(n).double(), inv)
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)

    def rot(t):
        return torch.cat([-t[..., d // 2:], t[..., :d // 2]], -1)

    def lin(name, t):
        y = t @ W[name + ".weight"].T
        return y + W[name + ".bias"] if name + ".bias" in W else y

    mask = torch.full((n, n), float("-inf")).triu(1)
    for l in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        q = lin(p + "self_attn.q_proj", h).view(n, nh, d).transpose(0, 1)
        k = lin(p + "self_attn.k_proj", h).view(n, nkv, d).transpose(0, 1)
        v = lin(p + "self_attn.v_proj", h).view(n, nkv, d).transpose(0, 1)
        if p + "self_attn.q_norm.weight" in W:
            q = rms(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k = k.repeat_interleave(nh // nkv, 0)
        v = v.repeat_interleave(nh // nkv, 0)
        a = torch.softmax(q @ k.transpose(1, 2) * d ** -0.5 + mask, -1) @ v
        x = x + lin(p + "self_attn.o_proj", a.transpose(0, 1).reshape(n, nh * d))
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        g, u = lin(p + "mlp.gate_proj", h), lin(p + "mlp.up_proj", h)
        x = x + lin(p + "mlp.down_proj", torch.nn.functional.silu(g) * u)
    return rms(x[-1], W["model.norm.weight"], eps)


def head(W):
    return W.get("lm_head.weight", W["model.embed_tokens.weight"])


YES, NO = 0, 0
cases = [json.loads(l) for l in open(os.path.join(golden, "qwen3-reranker-cases.jsonl"))]
vocab = json.load(open(os.path.join(golden, "tiny-qwen3-reranker", "tokenizer.json")))["model"]["vocab"]
YES, NO = vocab["yes"], vocab["no"]

# The reference against transformers' own numbers.
gdir = os.path.join(golden, "tiny-qwen3-reranker")
gc = json.load(open(os.path.join(gdir, "config.json")))
gw = read_safetensors(os.path.join(gdir, "model.safetensors"))
worst = 0.0
for r in cases:
    hs = forward(gc, gw, r["input_ids"])
    hw = head(gw)
    worst = max(worst, abs(float(hs @ hw[YES]) - r["logit_yes"]),
                abs(float(hs @ hw[NO]) - r["logit_no"]))
assert worst < 1e-9, "the reference differs from transformers by %g" % worst
print("reference vs transformers on %d golden rows: %.2g" % (len(cases), worst))

# The new layout.
c = {
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
    "attention_bias": True, "head_dim": 16, "hidden_act": "silu",
    "hidden_size": 48, "intermediate_size": 80, "max_position_embeddings": 4096,
    "num_attention_heads": 8, "num_hidden_layers": 2, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-6, "rope_scaling": None, "rope_theta": 10000.0,
    "tie_word_embeddings": False, "torch_dtype": "float16",
    "use_sliding_window": False, "vocab_size": gc["vocab_size"],
}
H, I, nh, nkv, d, V = 48, 80, 8, 2, 16, gc["vocab_size"]
g = torch.Generator().manual_seed(12)
shapes = {"model.embed_tokens.weight": (V, H), "lm_head.weight": (V, H),
          "model.norm.weight": (H,)}
for l in range(c["num_hidden_layers"]):
    p = "model.layers.%d." % l
    shapes.update({
        p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
        p + "self_attn.q_proj.weight": (nh * d, H), p + "self_attn.q_proj.bias": (nh * d,),
        p + "self_attn.k_proj.weight": (nkv * d, H), p + "self_attn.k_proj.bias": (nkv * d,),
        p + "self_attn.v_proj.weight": (nkv * d, H), p + "self_attn.v_proj.bias": (nkv * d,),
        p + "self_attn.o_proj.weight": (H, nh * d), p + "self_attn.o_proj.bias": (H,),
        p + "self_attn.q_norm.weight": (d,), p + "self_attn.k_norm.weight": (d,),
        p + "mlp.gate_proj.weight": (I, H), p + "mlp.up_proj.weight": (I, H),
        p + "mlp.down_proj.weight": (H, I),
    })
W = {}
for name, shape in shapes.items():
    scale = 0.3 if len(shape) == 2 else 0.1
    t = torch.randn(shape, generator=g) * scale
    if name.endswith("norm.weight"):
        t = 1 + t
    W[name] = t.to(torch.float16).to(torch.float64)  # what the file holds
os.makedirs(out, exist_ok=True)
json.dump(c, open(os.path.join(out, "config.json"), "w"), indent=1)
write_safetensors(os.path.join(out, "model.safetensors"), W, "F16")
rows = [r for r in cases if r["qid"] != "grp"][::3]
with open(os.path.join(out, "logits.jsonl"), "w") as f:
    for r in rows:
        hs = forward(c, W, r["input_ids"])
        f.write(json.dumps({"input_ids": r["input_ids"],
                            "logit_yes": float(hs @ W["lm_head.weight"][YES]),
                            "logit_no": float(hs @ W["lm_head.weight"][NO])}) + "\n")
print("%s: %d rows, longest %d tokens" % (out, len(rows), max(len(r["input_ids"]) for r in rows)))
