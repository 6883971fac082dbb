#!/usr/bin/python3
"""colbert-reference.py — an independent float64 ColBERT scorer in PyTorch
(Debian's python3-torch; no transformers), for expected values of the
ColBERT cases that the shared goldens do not cover.

It reads a model directory of either layout (HF_ColBERT: artifact.metadata,
bert.* and linear.weight; PyLate: modules.json, Dense modules,
config_sentence_transformers.json), runs BERT as transformers' BertModel
does (additive finfo.min attention mask, erf GELU, LayerNorm eps from
config.json) in float64, projects, L2-normalises (eps 1e-12) and scores
MaxSim.  Token ids come from the golden file (the reference tokenization of
colbert-ai and PyLate), adapted to the model's flags: without query
expansion the [MASK] padding is dropped; with attend_to_mask_tokens /
attend_to_expansion_tokens it is attended to.

    colbert-reference.py MODEL_DIR GOLDEN_KEY < colbert-cases.jsonl > scores.jsonl

Prints {"qid","docid","score","golden"} per line (golden: the shared
reference score of GOLDEN_KEY, to check this script against it)."""
import json, math, os, struct, sys
import torch

def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (name, t["dtype"])
        a, b = t["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(t["shape"]).double()
    return out

def load(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = tensors(os.path.join(d, "model.safetensors"))
    m = {"cfg": cfg, "dense": []}
    if cfg.get("architectures", [""])[0] == "HF_ColBERT":
        meta = {}
        p = os.path.join(d, "artifact.metadata")
        if os.path.exists(p):
            meta = json.load(open(p))
            meta = meta.get("config", meta) if isinstance(meta.get("config"), dict) else meta
        m["prefix"] = "bert."
        m["attend"] = meta.get("attend_to_mask_tokens", False)
        m["expand"] = True
        m["dense"].append((w["linear.weight"], None, False))
    else:
        st = json.load(open(os.path.join(d, "config_sentence_transformers.json")))
        m["prefix"] = ""
        m["attend"] = st.get("attend_to_expansion_tokens", False)
        m["expand"] = st.get("do_query_expansion", True)
        for mod in json.load(open(os.path.join(d, "modules.json")))[1:]:
            sub = os.path.join(d, mod["path"])
            c = json.load(open(os.path.join(sub, "config.json")))
            t = tensors(os.path.join(sub, "model.safetensors"))
            act = c.get("activation_function", "torch.nn.modules.linear.Identity")
            m["dense"].append((t["linear.weight"], t["linear.bias"] if c.get("bias", True) else None,
                               act.endswith("Tanh")))
    m["w"] = w
    return m

def layer_norm(x, g, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), g, b, eps)

def encode(m, ids, n_keys):
    cfg, w, p = m["cfg"], m["w"], m["prefix"]
    eps, H = cfg["layer_norm_eps"], cfg["num_attention_heads"]
    ids = torch.tensor(ids)
    n = len(ids)
    x = w[p + "embeddings.word_embeddings.weight"][ids] + \
        w[p + "embeddings.token_type_embeddings.weight"][0] + \
        w[p + "embeddings.position_embeddings.weight"][:n]
    x = layer_norm(x, w[p + "embeddings.LayerNorm.weight"], w[p + "embeddings.LayerNorm.bias"], eps)
    mask = torch.zeros(n, dtype=torch.float64)
    mask[n_keys:] = torch.finfo(torch.float64).min
    for l in range(cfg["num_hidden_layers"]):
        q = lambda name: w["%sencoder.layer.%d.%s" % (p, l, name)]
        lin = lambda t, name: t @ q(name + ".weight").T + q(name + ".bias")
        hd = x.shape[1] // H
        heads = lambda t: t.reshape(n, H, hd).transpose(0, 1)
        Q, K, V = (heads(lin(x, "attention.self." + s)) for s in ("query", "key", "value"))
        att = torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(hd) + mask, dim=-1)
        ctx = (att @ V).transpose(0, 1).reshape(n, -1)
        x = layer_norm(lin(ctx, "attention.output.dense") + x, q("attention.output.LayerNorm.weight"),
                       q("attention.output.LayerNorm.bias"), eps)
        inter = torch.nn.functional.gelu(lin(x, "intermediate.dense"))
        x = layer_norm(lin(inter, "output.dense") + x, q("output.LayerNorm.weight"), q("output.LayerNorm.bias"), eps)
    for W, b, tanh in m["dense"]:
        x = x @ W.T + (b if b is not None else 0)
        if tanh:
            x = torch.tanh(x)
    return torch.nn.functional.normalize(x, p=2, dim=-1, eps=1e-12)

def main():
    m = load(sys.argv[1])
    key = sys.argv[2]
    MASK = 103
    for line in sys.stdin:
        case = json.loads(line)
        g = case[key]
        q = list(g["query_ids"])
        real = q.index(102) + 1  # [SEP] ends the text; [MASK]s follow
        if not m["expand"]:
            q = q[:real]
        keys = len(q) if m["attend"] else real
        Q = encode(m, q, keys)
        D = encode(m, g["doc_ids"], len(g["doc_ids"]))
        kept = torch.tensor(g["doc_mask"], dtype=torch.bool)
        score = (Q @ D[kept].T).max(dim=1).values.sum().item()
        print(json.dumps({"qid": case["qid"], "docid": case["docid"], "score": score, "golden": g["score"]}))

main()
