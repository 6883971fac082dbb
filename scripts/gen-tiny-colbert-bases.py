#!/usr/bin/python3
"""gen-tiny-colbert-bases.py — tiny random-weight PyLate ColBERT models on
the bases other than BERT, in the layout PyLate saves (the one of
lightonai/GTE-ModernColBERT-v1):

    config.json                    the base's config (architectures
                                   ["ModernBertModel"] / ["XLMRobertaModel"]),
                                   vocab_size grown by the two prefixes
    model.safetensors              the bare encoder, tensors unprefixed
    tokenizer.json                 the base tokenizer of the shared golden
                                   cross-encoder, with PyLate's added tokens
                                   "[Q] " and "[D] " (ids vocab, vocab + 1)
    tokenizer_config.json, special_tokens_map.json
    modules.json                   Transformer, then pylate.models.Dense.Dense
    1_Dense/config.json, 1_Dense/model.safetensors   (hidden -> 16, no bias)
    config_sentence_transformers.json   prefixes, lengths, skiplist
    sentence_bert_config.json

--base modernbert: a ModernBertModel of hidden 32, 3 layers (global, local,
global; local_attention 32, so every [MASK] row of a 16-token query still
sees a real key), on ../shared/golden/tiny-modernbert-ce's byte-level BPE
tokenizer (mask "[MASK]").
--base xlmr: an XLMRobertaModel of hidden 16, 2 layers, on
../shared/golden/tiny-xlmr-ce's SentencePiece (Unigram) tokenizer (mask
"<mask>", cls "<s>", sep "</s>").

The shared files are read, never copied whole: the tokenizer is rewritten
with the added tokens.  Expected ids come from scripts/colbert-ids.js (Rust
tokenizers, PyLate's tokenize) and scores from
scripts/colbert-reference-hf.py (transformers' own modeling_modernbert.py,
passed by path as for scripts/modernbert_reference.py):

    scripts/gen-tiny-colbert-bases.py --base modernbert testdata/colbert/modernbert
    NODE_PATH=/tmp/node_modules node scripts/colbert-ids.js \
        testdata/colbert/modernbert modernbert < testdata/colbert/bases-texts.jsonl |
      scripts/colbert-reference-hf.py --source modeling_modernbert.py \
        testdata/colbert/modernbert modernbert > testdata/colbert/modernbert-cases.jsonl

and likewise --base xlmr into testdata/colbert/xlmr with key xlmr and
transformers' modeling_xlm_roberta.py.  The variants are copies of
testdata/colbert/modernbert with one file changed, run the same way:
modernbert-variants.jsonl (keys noprefix-attend: query_prefix and
document_prefix "", attend_to_expansion_tokens true; noexp:
do_query_expansion false) and modernbert-lower.jsonl (key lower:
sentence_bert_config.json do_lower_case true, on lower-texts.jsonl).
tests/test_colbert.c test_bases reads them all.

usage: scripts/gen-tiny-colbert-bases.py --base modernbert|xlmr OUT_DIR [SHARED_DIR]"""
import argparse
import importlib.util
import json
import os
import string

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen", os.path.join(here, "gen-tiny-model.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

PREFIXES = ["[Q] ", "[D] "]


def modernbert_config(vocab):
    return dict(architectures=["ModernBertModel"], model_type="modernbert",
                vocab_size=vocab, hidden_size=32, intermediate_size=48,
                num_hidden_layers=3, num_attention_heads=2,
                hidden_activation="gelu", max_position_embeddings=8192,
                norm_eps=1e-5, norm_bias=False, attention_bias=False,
                mlp_bias=False, global_attn_every_n_layers=2,
                local_attention=32, global_rope_theta=160000.0,
                local_rope_theta=10000.0, pad_token_id=2287,
                cls_token_id=2285, sep_token_id=2286, bos_token_id=2285,
                eos_token_id=2286, torch_dtype="float32")


def tensors(g):
    """A name -> tensor dict and rand(name, *shape, std, mean), which adds
    a normal random tensor to it from generator g."""
    t = {}

    def rand(name, *shape, std=0.2, mean=0.0):
        t[name] = torch.randn(*shape, generator=g) * std + mean

    return t, rand


def modernbert_weights(c, g):
    h, i = c["hidden_size"], c["intermediate_size"]
    t, rand = tensors(g)
    rand("embeddings.tok_embeddings.weight", c["vocab_size"], h, std=1.0)
    rand("embeddings.norm.weight", h, std=0.1, mean=1.0)
    for l in range(c["num_hidden_layers"]):
        p = "layers.%d." % l
        if l:
            rand(p + "attn_norm.weight", h, std=0.1, mean=1.0)
        rand(p + "attn.Wqkv.weight", 3 * h, h, std=0.4)
        rand(p + "attn.Wo.weight", h, h)
        rand(p + "mlp_norm.weight", h, std=0.1, mean=1.0)
        rand(p + "mlp.Wi.weight", 2 * i, h)
        rand(p + "mlp.Wo.weight", h, i)
    rand("final_norm.weight", h, std=0.1, mean=1.0)
    return t


def xlmr_config(vocab):
    return dict(architectures=["XLMRobertaModel"], model_type="xlm-roberta",
                vocab_size=vocab, hidden_size=16, intermediate_size=32,
                num_hidden_layers=2, num_attention_heads=2,
                hidden_act="gelu", max_position_embeddings=130,
                type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
                bos_token_id=0, eos_token_id=2,
                position_embedding_type="absolute", torch_dtype="float32")


def xlmr_weights(c, g):
    h, i = c["hidden_size"], c["intermediate_size"]
    t, rand = tensors(g)
    rand("embeddings.word_embeddings.weight", c["vocab_size"], h, std=1.0)
    rand("embeddings.position_embeddings.weight", c["max_position_embeddings"], h, std=0.5)
    rand("embeddings.token_type_embeddings.weight", 1, h, std=0.1)
    rand("embeddings.LayerNorm.weight", h, std=0.1, mean=1.0)
    rand("embeddings.LayerNorm.bias", h, std=0.1)
    for l in range(c["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        for n in ("query", "key", "value"):
            rand(p + "attention.self.%s.weight" % n, h, h, std=0.4)
            rand(p + "attention.self.%s.bias" % n, h, std=0.1)
        rand(p + "attention.output.dense.weight", h, h)
        rand(p + "attention.output.dense.bias", h, std=0.1)
        rand(p + "attention.output.LayerNorm.weight", h, std=0.1, mean=1.0)
        rand(p + "attention.output.LayerNorm.bias", h, std=0.1)
        rand(p + "intermediate.dense.weight", i, h)
        rand(p + "intermediate.dense.bias", i, std=0.1)
        rand(p + "output.dense.weight", h, i)
        rand(p + "output.dense.bias", h, std=0.1)
        rand(p + "output.LayerNorm.weight", h, std=0.1, mean=1.0)
        rand(p + "output.LayerNorm.bias", h, std=0.1)
    return t


BASES = {
    "modernbert": ("tiny-modernbert-ce", modernbert_config, modernbert_weights,
                   dict(query_length=16, document_length=48)),
    "xlmr": ("tiny-xlmr-ce", xlmr_config, xlmr_weights,
             dict(query_length=12, document_length=40)),
}


def dump(path, obj, indent=2):
    with open(path, "w") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", choices=sorted(BASES), required=True)
    ap.add_argument("out")
    ap.add_argument("shared", nargs="?", default=os.path.join(here, "..", "..", "shared"))
    a = ap.parse_args()
    src_name, make_config, make_weights, lengths = BASES[a.base]
    src = os.path.join(a.shared, "golden", src_name)
    os.makedirs(os.path.join(a.out, "1_Dense"), exist_ok=True)

    # PyLate's tokenizer.add_tokens(["[Q] ", "[D] "]): non-special added
    # tokens after the vocabulary, then resize_token_embeddings.
    tok = json.load(open(os.path.join(src, "tokenizer.json")))
    base_cfg = json.load(open(os.path.join(src, "config.json")))
    vocab = base_cfg["vocab_size"]
    assert max(t["id"] for t in tok["added_tokens"]) < vocab
    for k, p in enumerate(PREFIXES):
        tok["added_tokens"].append({"id": vocab + k, "content": p, "single_word": False,
                                    "lstrip": False, "rstrip": False,
                                    "normalized": True, "special": False})
    dump(os.path.join(a.out, "tokenizer.json"), tok, indent=None)
    tc = json.load(open(os.path.join(src, "tokenizer_config.json")))
    tc.pop("added_tokens_decoder", None)
    dump(os.path.join(a.out, "tokenizer_config.json"), tc)
    with open(os.path.join(src, "special_tokens_map.json")) as f:
        dump(os.path.join(a.out, "special_tokens_map.json"), json.load(f))

    g = torch.Generator().manual_seed(20261203 + len(a.base))
    c = make_config(vocab + len(PREFIXES))
    gen.write_safetensors(os.path.join(a.out, "model.safetensors"), make_weights(c, g))
    dump(os.path.join(a.out, "config.json"), c)
    dim = 16
    gen.write_safetensors(os.path.join(a.out, "1_Dense", "model.safetensors"),
                          {"linear.weight": torch.randn(dim, c["hidden_size"], generator=g) * 0.3})
    dump(os.path.join(a.out, "1_Dense", "config.json"),
         dict(in_features=c["hidden_size"], out_features=dim, bias=False,
              activation_function="torch.nn.modules.linear.Identity", use_residual=False))
    dump(os.path.join(a.out, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"}])
    st = {"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "MaxSim",
          "query_prefix": PREFIXES[0], "document_prefix": PREFIXES[1],
          "attend_to_expansion_tokens": False,
          "skiplist_words": list(string.punctuation), "do_query_expansion": True}
    st.update(lengths)
    dump(os.path.join(a.out, "config_sentence_transformers.json"), st)
    dump(os.path.join(a.out, "sentence_bert_config.json"),
         {"max_seq_length": lengths["document_length"] - 1, "do_lower_case": False})


if __name__ == "__main__":
    main()
