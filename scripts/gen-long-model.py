#!/usr/bin/python3
"""gen-long-model.py — a tiny XLM-RoBERTa cross-encoder with the position
range of BAAI/bge-reranker-v2-m3 (8,194 positions, so 8,192 tokens) and the
reference logits of one 8,192-token pair, computed in float64 with the plain
torch forward of gen-tiny-model.py (which reproduces the Hugging Face
goldens).  Writes testdata/long-xlmr/; tests/test_long.c reads it.

The pair's ids follow a formula the test repeats:
    ids[0] = 0 (<s>), ids[1 + i] = 4 + (i * 7919) % 2998 for i < 4000,
    ids[4001] = ids[4002] = 2 (</s></s>), then the same formula again for
    the document up to ids[8190], and ids[8191] = 2 (</s>).

usage: scripts/gen-long-model.py [OUT_DIR]"""
import importlib.util
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen", os.path.join(here, "gen-tiny-model.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def pair_ids(n=8192, n_query=4000):
    word = lambda i: 4 + (i * 7919) % 2998
    ids = [0] + [word(i) for i in range(n_query)] + [2, 2]
    ids += [word(i) for i in range(n - len(ids) - 1)] + [2]
    return ids


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "testdata", "long-xlmr")
    g = torch.Generator().manual_seed(8192)
    cfg = gen.make_config("xlm-roberta", hidden_size=16, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=32,
                          max_position_embeddings=8194, type_vocab_size=1,
                          vocab_size=3002, layer_norm_eps=1e-5, pad_token_id=1,
                          n_labels=1)
    w = gen.random_weights(cfg, g)
    ids = pair_ids()
    gen.write_model(out, cfg, w, [(ids, [0] * len(ids))])


if __name__ == "__main__":
    main()
