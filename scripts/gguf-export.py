#!/usr/bin/python3
"""gguf-export.py — write a Qwen3ForCausalLM safetensors directory (such as
the one scripts/gen-qwen3-random.py makes) as a GGUF v3 file that
llama.cpp loads as architecture "qwen3", so scripts/bench-llm can run
llama.cpp on the very weights rerank scores with.

usage: gguf-export.py MODEL_DIR OUT.gguf [--type f16|f32|q8_0]

Layout (llama.cpp's gguf-py naming): little-endian header "GGUF", version
3, tensor count, KV count; the KV pairs; one info record per tensor (name,
dims innermost first, type, offset); data aligned to 32 bytes.  Matrices
are stored F16 (or F32, or Q8_0: blocks of 32 values, an F16 scale
max|x|/127 then 32 int8, rounded half away from zero), 1-D norm weights F32.  The tokenizer is
tokenizer.json's byte-level BPE ("gpt2", pre "qwen2"), padded with unused
"[PADn]" entries up to the embedding's row count.  Needs numpy only."""
import json, os, struct, sys

import numpy as np

GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STR, GGUF_ARR = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
ALIGN = 32
TOK_NORMAL, TOK_CONTROL, TOK_USER, TOK_UNUSED = 1, 3, 4, 5


def fail(msg):
    sys.exit("gguf-export: " + msg)


def read_safetensors(path):
    """Map a safetensors file: {name: (dtype, shape, mapped bytes)}."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, rec in header.items():
        if name == "__metadata__":
            continue
        a, b = rec["data_offsets"]
        out[name] = (rec["dtype"], tuple(rec["shape"]), data[a:b])
    return out


def to_f32(rec):
    """One safetensors record as a float32 array of its shape."""
    dtype, shape, raw = rec
    if dtype == "BF16":
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return u.view(np.float32).reshape(shape)
    if dtype == "F16":
        return np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(shape)
    if dtype == "F32":
        return np.frombuffer(raw, dtype="<f4").reshape(shape)
    fail("tensor dtype %s not supported" % dtype)


def q8_0(a):
    """float32 array (rows of a multiple of 32) as Q8_0 blocks: per 32
    values an F16 scale d = max|x|/127 and int8 round(x/d)."""
    x = a.reshape(-1, 32).astype(np.float32)
    d = np.abs(x).max(axis=1) / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0).astype(np.float32)
    v = x * inv[:, None]
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)
    blocks = np.empty(x.shape[0], dtype=[("d", "<f2"), ("q", "i1", 32)])
    blocks["d"], blocks["q"] = d.astype("<f2"), q
    return blocks.tobytes()


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    """One KV record: key, value type, value (arrays as (elem_type, list))."""
    out = gguf_str(key) + struct.pack("<I", vtype)
    if vtype == GGUF_ARR:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        if etype == GGUF_STR:
            out += b"".join(gguf_str(x) for x in items)
        else:
            out += np.asarray(items, dtype="<i4").tobytes()
        return out
    return out + {GGUF_U32: lambda v: struct.pack("<I", v),
                  GGUF_I32: lambda v: struct.pack("<i", v),
                  GGUF_F32: lambda v: struct.pack("<f", v),
                  GGUF_BOOL: lambda v: struct.pack("<?", v),
                  GGUF_STR: gguf_str}[vtype](value)


def tokenizer_kvs(model_dir, n_vocab):
    """Tokenizer KV records from tokenizer.json (+ tokenizer_config.json)."""
    tj = json.load(open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8"))
    if tj["model"]["type"] != "BPE":
        fail("tokenizer.json: model type %s, expected BPE" % tj["model"]["type"])
    tokens = [None] * n_vocab
    types = [TOK_UNUSED] * n_vocab
    for text, i in tj["model"]["vocab"].items():
        if i < n_vocab:
            tokens[i], types[i] = text, TOK_NORMAL
    ids = {}
    for t in tj.get("added_tokens", []):
        if t["id"] < n_vocab:
            tokens[t["id"]] = t["content"]
            # "<|...|>" added tokens are control tokens to llama.cpp too
            c = t["content"]
            looks = c.startswith("<|") and c.endswith("|>")
            types[t["id"]] = TOK_CONTROL if t["special"] or looks else TOK_USER
            ids[t["content"]] = t["id"]
    for i in range(n_vocab):
        if tokens[i] is None:
            tokens[i] = "[PAD%d]" % i
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    eos = ids.get("<|im_end|>")
    pad = ids.get("<|endoftext|>")
    if eos is None or pad is None:
        fail("tokenizer.json: no <|im_end|> / <|endoftext|> added token")
    return [
        kv("tokenizer.ggml.model", GGUF_STR, "gpt2"),
        kv("tokenizer.ggml.pre", GGUF_STR, "qwen2"),
        kv("tokenizer.ggml.tokens", GGUF_ARR, (GGUF_STR, tokens)),
        kv("tokenizer.ggml.token_type", GGUF_ARR, (GGUF_I32, types)),
        kv("tokenizer.ggml.merges", GGUF_ARR, (GGUF_STR, merges)),
        kv("tokenizer.ggml.bos_token_id", GGUF_U32, pad),
        kv("tokenizer.ggml.eos_token_id", GGUF_U32, eos),
        kv("tokenizer.ggml.padding_token_id", GGUF_U32, pad),
        kv("tokenizer.ggml.add_bos_token", GGUF_BOOL, False),
    ]


def main():
    args = sys.argv[1:]
    ftype = "f16"
    if "--type" in args:
        i = args.index("--type")
        ftype = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or ftype not in ("f16", "f32", "q8_0"):
        fail("usage: gguf-export.py MODEL_DIR OUT.gguf [--type f16|f32|q8_0]")
    model_dir, out_path = args
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    if cfg.get("architectures", [None])[0] != "Qwen3ForCausalLM":
        fail("config.json: architectures[0] must be Qwen3ForCausalLM")
    if cfg.get("rope_scaling"):
        fail("config.json: rope_scaling is not exported")
    st = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    L, H = cfg["num_hidden_layers"], cfg["hidden_size"]
    hd = cfg.get("head_dim") or H // cfg["num_attention_heads"]
    n_vocab = st["model.embed_tokens.weight"][1][0]

    # (gguf name, safetensors name) in llama.cpp's order
    names = [("token_embd.weight", "model.embed_tokens.weight")]
    per = [("attn_norm", "input_layernorm"), ("attn_q", "self_attn.q_proj"),
           ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"),
           ("attn_output", "self_attn.o_proj"), ("attn_q_norm", "self_attn.q_norm"),
           ("attn_k_norm", "self_attn.k_norm"), ("ffn_norm", "post_attention_layernorm"),
           ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"),
           ("ffn_down", "mlp.down_proj")]
    for l in range(L):
        names += [("blk.%d.%s.weight" % (l, g), "model.layers.%d.%s.weight" % (l, h)) for g, h in per]
    names.append(("output_norm.weight", "model.norm.weight"))
    if not cfg.get("tie_word_embeddings", False):
        names.append(("output.weight", "lm_head.weight"))
    nh, nkv, I = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"]
    want = {"input_layernorm": (H,), "post_attention_layernorm": (H,),
            "self_attn.q_proj": (nh * hd, H), "self_attn.k_proj": (nkv * hd, H),
            "self_attn.v_proj": (nkv * hd, H), "self_attn.o_proj": (H, nh * hd),
            "self_attn.q_norm": (hd,), "self_attn.k_norm": (hd,),
            "mlp.gate_proj": (I, H), "mlp.up_proj": (I, H), "mlp.down_proj": (H, I)}
    for _, h in names:
        if h not in st:
            fail("model.safetensors: no tensor %s" % h)
        key = h.split(".", 3)[-1][:-len(".weight")] if h.startswith("model.layers.") else None
        shape = want.get(key, (n_vocab, H) if "embed" in h or "lm_head" in h else (H,))
        if st[h][1] != shape:
            fail("model.safetensors: %s has shape %s, config.json says %s" % (h, list(st[h][1]), list(shape)))

    ft = {"f32": 0, "f16": 1, "q8_0": 7}[ftype]  # general.file_type
    kvs = [
        kv("general.architecture", GGUF_STR, "qwen3"),
        kv("general.name", GGUF_STR, os.path.basename(os.path.normpath(model_dir))),
        kv("general.file_type", GGUF_U32, ft),
        kv("general.alignment", GGUF_U32, ALIGN),
        kv("qwen3.block_count", GGUF_U32, L),
        kv("qwen3.context_length", GGUF_U32, cfg.get("max_position_embeddings", 40960)),
        kv("qwen3.embedding_length", GGUF_U32, H),
        kv("qwen3.feed_forward_length", GGUF_U32, cfg["intermediate_size"]),
        kv("qwen3.attention.head_count", GGUF_U32, cfg["num_attention_heads"]),
        kv("qwen3.attention.head_count_kv", GGUF_U32, cfg["num_key_value_heads"]),
        kv("qwen3.attention.key_length", GGUF_U32, hd),
        kv("qwen3.attention.value_length", GGUF_U32, hd),
        kv("qwen3.rope.freq_base", GGUF_F32, float(cfg.get("rope_theta", 1e6))),
        kv("qwen3.attention.layer_norm_rms_epsilon", GGUF_F32, float(cfg["rms_norm_eps"])),
    ] + tokenizer_kvs(model_dir, n_vocab)

    # tensor infos: dims innermost first (torch shape reversed)
    infos, plan, off = [], [], 0
    for g, h in names:
        shape = st[h][1]
        ttype = (GGML_F32 if len(shape) == 1 or ftype == "f32" else
                 GGML_Q8_0 if ftype == "q8_0" and shape[-1] % 32 == 0 else GGML_F16)
        n = int(np.prod(shape))
        nbytes = {GGML_F32: 4 * n, GGML_F16: 2 * n, GGML_Q8_0: n // 32 * 34}[ttype]
        infos.append(gguf_str(g) + struct.pack("<I", len(shape))
                     + b"".join(struct.pack("<Q", d) for d in reversed(shape))
                     + struct.pack("<IQ", ttype, off))
        plan.append((h, ttype, nbytes))
        off += nbytes + (-nbytes % ALIGN)

    with open(out_path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(kvs)))
        for r in kvs + infos:
            f.write(r)
        f.write(b"\0" * (-f.tell() % ALIGN))
        for h, ttype, nbytes in plan:
            a = to_f32(st[h])
            b = (q8_0(a) if ttype == GGML_Q8_0 else
                 a.astype("<f4" if ttype == GGML_F32 else "<f2").tobytes())
            assert len(b) == nbytes
            f.write(b + b"\0" * (-nbytes % ALIGN))


main()
