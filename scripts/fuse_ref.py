#!/usr/bin/env python3
"""scripts/fuse_ref.py — an independent reference for `rerank fuse`, written
from ranx's definitions (ranx.fuse: rrf, comb_sum, comb_mnz; ranx.normalize:
min-max and zmuv), not from rerank's C code.

  fuse_ref.py [--method rrf|combsum|combmnz] [--rrf-k K] [--norm none|minmax|zscore] RUN...

Ranks within a run follow trec_eval: score descending, ties by docid
descending.  Prints `qid docid score` lines, qids in order of first
appearance over the runs, documents by fused score (ties: docid descending)."""
import argparse
import math
import statistics


def read_run(path):
    run = {}
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        run.setdefault(f[0], {})[f[2]] = float(f[4])
    return run


def ranked(docs):
    # trec_eval order: score descending, then docid descending
    return sorted(docs.items(), key=lambda kv: (-kv[1], [-ord(c) for c in kv[0]] + [1]))


def normalise(docs, norm):
    if norm == "none" or not docs:
        return dict(docs)
    s = list(docs.values())
    if norm == "minmax":
        lo, hi = min(s), max(s)
        den = max(hi - lo, 1e-9)
        return {d: (v - lo) / den for d, v in docs.items()}
    mean = statistics.fmean(s)
    std = math.sqrt(sum((v - mean) ** 2 for v in s) / len(s))   # numpy's np.std
    den = max(std, 1e-9)
    return {d: (v - mean) / den for d, v in docs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="rrf")
    ap.add_argument("--rrf-k", type=float, default=60)
    ap.add_argument("--norm", default="minmax")
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    runs = [read_run(p) for p in a.runs]
    qids = []
    for r in runs:
        for q in r:
            if q not in qids:
                qids.append(q)
    for q in qids:
        fused, hits = {}, {}
        for r in runs:
            docs = r.get(q, {})
            if a.method == "rrf":
                vals = {d: 1.0 / (a.rrf_k + i + 1) for i, (d, _) in enumerate(ranked(docs))}
            else:
                vals = normalise(docs, a.norm)
            for d, v in vals.items():
                fused[d] = fused.get(d, 0.0) + v
                hits[d] = hits.get(d, 0) + 1
        if a.method == "combmnz":
            fused = {d: v * hits[d] for d, v in fused.items()}
        for d, v in ranked(fused):
            print(q, d, repr(v))


main()
