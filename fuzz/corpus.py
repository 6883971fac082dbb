#!/usr/bin/env python3
"""fuzz/corpus.py — seed corpora for the fuzz targets, from testdata/ and
tests/cases/ (and a few small files written here, in each format's shape).

Usage: python3 fuzz/corpus.py OUTDIR TARGET...
Writes OUTDIR/TARGET/seed-* for each target (existing files, findings and
what the fuzzer added, are kept).  Run from the repository root; `make fuzz`
does.  Generated corpora are not committed."""
import glob
import hashlib
import json
import os
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        return f.read()


def files(*patterns):
    return [read(p) for pat in patterns for p in sorted(glob.glob(pat))]


def jsonl_texts():
    """Query and document texts of the JSON Lines test data."""
    out = []
    for path in sorted(glob.glob("testdata/*/*.jsonl")):
        if "logits" in path:
            continue
        for line in read(path).splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            for key in ("query", "text", "document", "passage", "contents"):
                if isinstance(obj.get(key), str):
                    out.append(obj[key])
    return out


def pairs():
    """query 0xff document, as fuzz_tokenize.h splits its input."""
    texts = jsonl_texts()
    seeds = [t.encode() for t in texts]
    for q, d in zip(texts, texts[1:]):
        seeds.append(q.encode() + b"\xff" + d.encode())
    return seeds


def wordpiece_tokenizer_json():
    vocab = read("testdata/tiny-bert/vocab.txt").decode().split("\n")
    vocab = {tok: i for i, tok in enumerate(vocab) if tok}
    added = [{"id": vocab[t], "content": t, "special": True, "single_word": False,
              "lstrip": False, "rstrip": False, "normalized": False}
             for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t in vocab]
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": True, "strip_accents": None,
                       "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}},
                                    {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                           "special_tokens": {}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]",
                  "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                  "vocab": vocab},
    }
    return json.dumps(tj).encode()


def unigram_tokenizer_json_small():
    """The Unigram tokenizer.json of testdata/spm cut to 64 pieces."""
    tj = json.loads(read("testdata/spm/tokenizer.json"))
    tj["model"]["vocab"] = tj["model"]["vocab"][:64]
    norm = tj.get("normalizer") or {}
    if norm.get("type") == "Sequence":
        norm["normalizers"] = [n for n in norm["normalizers"] if n.get("type") != "Precompiled"]
    return json.dumps(tj).encode()


def safetensors_file(tensors, metadata=None):
    """tensors: (name, dtype, shape, raw bytes)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors_small():
    return [
        safetensors_file([("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                          ("b", "F16", [2], b"\x00\x3c\x00\x40"),
                          ("ids", "I64", [1, 2], struct.pack("<2q", 0, 1)),
                          ("s", "BF16", [], b"\x80\x3f"),
                          ("e", "F32", [0, 3], b""),
                          ("m", "BOOL", [3], b"\x01\x00\x01")],
                         {"format": "pt"}),
        safetensors_file([]),
    ]


def colbert_seeds():
    """config_sentence_transformers.json variants, then 0xff query 0xff
    document (fuzz_colbert's input)."""
    st = json.loads(read("testdata/colbert/modernbert/config_sentence_transformers.json"))
    seeds = []
    for over in ({}, {"query_prefix": "", "document_prefix": ""},
                 {"do_query_expansion": False}, {"attend_to_expansion_tokens": True},
                 {"skiplist_words": ["[MASK]", "zz", ""]}, {"query_length": 3},
                 {"document_length": 8193}, {"query_prefix": "[CLS]", "lower": 1}):
        c = dict(st)
        c.update(over)
        seeds.append(json.dumps(c).encode())
    texts = [t.encode() for t in jsonl_texts()[:40]]
    seeds += [seeds[i % 8] + b"\xff" + q + b"\xff" + d
              for i, (q, d) in enumerate(zip(texts, texts[1:]))]
    return seeds


def api_answers():
    r3 = [{"index": i, "relevance_score": s} for i, s in ((2, 0.9), (0, 0.5), (1, 0.1))]
    s3 = [{"index": i, "score": s} for i, s in ((1, 3.5), (0, -1.25), (2, 1e-3))]
    seeds = [
        {"id": "x", "results": r3, "meta": {"billed_units": {"search_units": 1}}},
        {"object": "list", "data": r3, "model": "rerank-2.5", "usage": {"total_tokens": 9}},
        {"model": "m", "data": s3},
        s3,
        {"results": r3[:2]},
        {"results": [{"index": 0, "relevance_score": 1}, {"index": 0, "relevance_score": 1}]},
        {"error": {"message": "invalid api key sk-fuzz-0123456789abcdef", "type": "auth"}},
        {"message": "rate limited"},
        {"detail": [{"loc": ["body", "documents"], "msg": "field required"}]},
        {"error": "model not found"},
    ]
    out = [json.dumps(s).encode() for s in seeds]
    out += [b"<html><body>502 Bad Gateway</body></html>", b"120",
            b"Wed, 21 Oct 2015 07:28:00 GMT", b"1.5"]
    return out


def chat(content, logprobs=None):
    choice = {"index": 0, "message": {"role": "assistant", "content": content},
              "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = {"content": [{"token": content, "logprob": -0.1,
                                           "top_logprobs": logprobs}]}
    return json.dumps({"id": "c", "object": "chat.completion", "choices": [choice]}).encode()


def llm_answers():
    return [
        chat("[3] > [1] > [2]"),
        chat("<think>maybe [1] > [2]</think>\n[20] > [4] > [4] > [21] > [0]"),
        chat("①>③>２ and ¹² > ₇"),
        chat("Yes"),
        chat(" no."),
        chat(None),
        chat("Yes", [{"token": "Yes", "logprob": -0.05}, {"token": " no", "logprob": -3.2},
                     {"token": "YES", "logprob": -4}]),
        json.dumps({"choices": []}).encode(),
        json.dumps({"error": {"message": "bad key"}}).encode(),
    ]


def head(path, n):
    return b"".join(read(path).splitlines(keepends=True)[:n])


SEEDS = {
    "fuzz_jsonl": lambda: files("testdata/cli/*.jsonl", "testdata/api/*.jsonl",
                                "testdata/trec/*.jsonl", "testdata/spm/cases.jsonl",
                                "tests/cases/*/in", "tests/cases/*/out"),
    "fuzz_lines": lambda: files("testdata/cli/*.txt", "testdata/trec/*.tsv",
                                "tests/cases/*/in"),
    "fuzz_wordpiece": pairs,
    "fuzz_sentencepiece": pairs,
    "fuzz_vocab": lambda: files("testdata/tiny-bert/vocab.txt"),
    "fuzz_tokenizer_json": lambda: files("testdata/spm/tokenizer.json") +
                                   [wordpiece_tokenizer_json(), unigram_tokenizer_json_small()],
    "fuzz_tokjson": lambda: files("testdata/spm/tokenizer.json") +
                            [wordpiece_tokenizer_json(), unigram_tokenizer_json_small()],
    "fuzz_spm_model": lambda: files("testdata/spm/sentencepiece.bpe.model"),
    "fuzz_safetensors": lambda: files("testdata/tiny-xlmr/model.safetensors",
                                      "testdata/tiny-bert/model.safetensors") +
                                safetensors_small(),
    "fuzz_config": lambda: files("testdata/*/config.json"),
    "fuzz_colbert": colbert_seeds,
    "fuzz_trec_run": lambda: files("testdata/trec/run.txt", "testdata/eval/small.run") +
                             [head("testdata/eval/cranfield-bm25.run", 300)],
    "fuzz_trec_qrels": lambda: files("testdata/trec/qrels", "testdata/eval/small.qrels"),
    "fuzz_trec_queries": lambda: files("testdata/trec/queries.*", "testdata/trec/topics.txt"),
    "fuzz_trec_docs": lambda: files("testdata/trec/docs.*"),
    "fuzz_api": api_answers,
    "fuzz_llm": llm_answers,
}


def main():
    out, targets = sys.argv[1], sys.argv[2:]
    for t in targets:
        if t not in SEEDS:
            sys.exit("fuzz/corpus.py: no seeds for %s" % t)
        d = os.path.join(out, t)
        os.makedirs(d, exist_ok=True)
        for seed in SEEDS[t]():
            name = "seed-" + hashlib.sha1(seed).hexdigest()[:16]
            with open(os.path.join(d, name), "wb") as f:
                f.write(seed)


main()
