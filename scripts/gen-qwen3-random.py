#!/usr/bin/python3
"""gen-qwen3-random.py — a Qwen3-Reranker-0.6B-shaped model with random BF16
weights, for measuring speed and memory (not for accuracy: see
../shared/golden for models scored by transformers).

usage: gen-qwen3-random.py OUT_DIR [N_LAYERS] [TOKENIZER_DIR]
The real 0.6B config (hidden 1024, 16 heads / 8 kv heads, head_dim 128,
intermediate 3072, vocabulary 151669, tied embeddings), N_LAYERS layers
(default 28, the real count).  The tokenizer files are copied from
TOKENIZER_DIR (default ../shared/golden/tiny-qwen3-reranker; its ids all
lie inside the vocabulary)."""
import json, os, shutil, struct, sys

import torch

out = sys.argv[1]
n_layers = int(sys.argv[2]) if len(sys.argv) > 2 else 28
tok_dir = sys.argv[3] if len(sys.argv) > 3 else "../shared/golden/tiny-qwen3-reranker"
H, I, NH, NKV, HD, V = 1024, 3072, 16, 8, 128, 151669
config = {
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
    "attention_bias": False, "head_dim": HD, "hidden_act": "silu",
    "hidden_size": H, "intermediate_size": I, "max_position_embeddings": 40960,
    "num_attention_heads": NH, "num_hidden_layers": n_layers,
    "num_key_value_heads": NKV, "rms_norm_eps": 1e-6, "rope_scaling": None,
    "rope_theta": 1000000, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "use_sliding_window": False, "vocab_size": V,
}
os.makedirs(out, exist_ok=True)
json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=1)
for f in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copy(os.path.join(tok_dir, f), out)

g = torch.Generator().manual_seed(0)
shapes = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,)}
for l in range(n_layers):
    p = "model.layers.%d." % l
    shapes.update({
        p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
        p + "self_attn.q_proj.weight": (NH * HD, H), p + "self_attn.k_proj.weight": (NKV * HD, H),
        p + "self_attn.v_proj.weight": (NKV * HD, H), p + "self_attn.o_proj.weight": (H, NH * HD),
        p + "self_attn.q_norm.weight": (HD,), p + "self_attn.k_norm.weight": (HD,),
        p + "mlp.gate_proj.weight": (I, H), p + "mlp.up_proj.weight": (I, H),
        p + "mlp.down_proj.weight": (H, I),
    })
header, blobs, off = {}, [], 0
for name, shape in shapes.items():
    t = (torch.ones(shape) if len(shape) == 1 else torch.randn(shape, generator=g) * 0.02)
    b = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for b in blobs:
        f.write(b)
