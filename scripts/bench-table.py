#!/usr/bin/python3
"""bench-table.py — the tables of scripts/bench, from the files it leaves in
its output directory.

usage: bench-table.py OUT THREADS ROUNDS"""
import importlib.util
import json
import os
import statistics
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("agreement", os.path.join(here, "agreement.py"))
agr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(agr)

out, threads, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
P = lambda *a: os.path.join(out, *a)
ENGINES = [("ort-fp32-input", "onnxruntime fp32, input order", "ort-fp32-sorted"),
           ("ort-fp32-sorted", "onnxruntime fp32, length-sorted", "ort-fp32-sorted"),
           ("ort-int8-sorted", "onnxruntime int8, length-sorted", "ort-int8-sorted"),
           ("rerank-fp32", "rerank fp32", "ort-fp32-sorted"),
           ("rerank-int8", "rerank int8", "ort-int8-sorted")]

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "").split()
isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8") if f in flags]
core = open(P("blas-core")).read().strip()
kernel = open(P("qgemm-kernel")).read().strip()
p1, core1, pn, coren = open(P("sgemm-peak.txt")).read().split()
pn = float(pn)
if core == "default":  # rerank kept OpenBLAS's own choice
    core = "%s (OpenBLAS's own choice)" % core1
print("CPU: %s (%s), %d threads, %d core(s) online" % (cpu, " ".join(isa), threads, os.cpu_count()))
print("OpenBLAS core type rerank runs with: %s; cblas_sgemm peak with it (measured last, under the"
      " same load): %s GFLOP/s on 1 thread, %.1f on %d" % (core, p1, pn, threads))
print("rerank int8 kernel: %s" % kernel)


def best(set_, engine):
    f = P("%s.%s.rounds" % (set_, engine))
    if not os.path.exists(f):
        return None
    rows = [tuple(map(float, l.split())) for l in open(f) if l.strip()]
    return min(r[0] for r in rows), max(r[1] for r in rows)


def scores(set_, engine, data):
    """{qid: {docid: score}} of an engine's last run on a data set."""
    g = {}
    if engine.startswith("ort"):
        o = json.load(open(P("%s.%s.json" % (set_, engine))))
        for x, s in zip(data, o["scores"]):
            g.setdefault(x["qid"], {})[x["docid"]] = s
    else:
        for o in map(json.loads, open(P("%s.%s.jsonl" % (set_, engine)))):
            g.setdefault(o["qid"], {})[o["docid"]] = o["score"]
    return g


def table(set_, title, timed):
    model = set_.split("@")[1]
    cfg = json.load(open(P(model, "config.json")))
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    data = [json.loads(l) for l in open(P(set_.split("@")[0] + ".jsonl"))]
    toks = [len(json.loads(l)["input_ids"]) for l in open(P(set_ + ".tokens.jsonl"))]
    flops = sum(2 * n * (4 * h * h + 2 * h * inter) + 4 * n * n * h for n in toks) * layers
    load = open(P(set_ + ".load")).read().split("\n")
    n = len(toks)
    print()
    print("%s: %d layers, hidden %d; %d pairs, %d tokens (%.1f per pair, longest %d)"
          % (title, layers, h, n, sum(toks), sum(toks) / n, max(toks)))
    print("load average before: %s; after: %s" % (" ".join(load[0].split()[:3]), " ".join(load[1].split()[:3])))
    ref = scores(set_, "rerank-fp32", data)
    if timed:
        print("%-32s %8s %8s %8s %6s %7s %9s %14s %13s" % (
            "", "pairs/s", "vs peer", "GFLOP/s", "%peak", "RSS MB", "max|diff|", "tau mean/min", "top10 mean/min"))
    else:
        print("%-32s %9s %14s %13s" % ("agreement with rerank fp32", "max|diff|", "tau mean/min", "top10 mean/min"))
    secs = {e: best(set_, e) for e, _, _ in ENGINES}
    for e, label, peer in ENGINES:
        if secs[e] is None:
            continue
        _, diff, tmean, tmin, omean, omin = agr.agreement(ref, scores(set_, e, data))
        a = "%9.2g %7.4f/%.4f %6.3f/%.3f" % (diff, tmean, tmin, omean, omin)
        if e == "rerank-fp32":
            a = "%9s" % "(ref)"
        if timed:
            s, rss = secs[e]
            vs = secs[peer][0] / s if secs[peer] else float("nan")
            print("%-32s %8.1f %7.2fx %8.1f %5.0f%% %7.0f %s" % (
                label, n / s, vs, flops / s / 1e9, 100 * flops / s / 1e9 / pn, rss / 1024, a))
        else:
            print("%-32s %s" % (label, a))


table("bench@minilm", "MiniLM-L6 shape (ms-marco-MiniLM-L-6-v2), bench data", True)
table("cranfield@minilm", "MiniLM-L6 shape, Cranfield (20 queries x 40 BM25 candidates)", False)
if os.path.exists(P("bench400@xlmrb.tokens.jsonl")):
    table("bench400@xlmrb", "XLM-R base shape (bge-reranker-base), bench data", True)

ten = statistics.median(float(t) for t in open(P("ten.time")).read().split())
ten8 = statistics.median(float(t) for t in open(P("ten-int8.time")).read().split())
print()
print("1 query x 10 passages, process start to last byte (MiniLM shape, median of 11): "
      "rerank fp32 %.0f ms, int8 %.0f ms" % (1000 * ten, 1000 * ten8))
print("pairs/s: best of %d round(s).  vs peer: against onnxruntime length-sorted of the same precision." % rounds)
print("onnxruntime gets pre-tokenized input and is timed after a warm-up batch (model load not")
print("counted); rerank is timed from process start: model load, JSON, tokenization, output.")
print("RSS of onnxruntime includes node.  Agreement: largest |logit difference| and per-query")
print("Kendall tau and top-10 overlap against rerank fp32 (onnxruntime fp32 rows: the same check).")
