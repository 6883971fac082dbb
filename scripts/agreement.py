#!/usr/bin/env python3
"""agreement.py — how far two rerank runs' rankings agree, per query.

usage: agreement.py A.jsonl B.jsonl
A and B are rerank JSONL outputs over the same candidates (e.g. fp32 and
--quantize int8).  Prints the largest |score difference|, the mean and
worst per-query Kendall tau (tau-b, ties counted as in scipy) and the mean
and worst overlap of the top 10.  Standard library only."""
import json, sys
from collections import defaultdict


def load(path):
    groups = defaultdict(dict)
    for line in open(path, encoding="utf-8"):
        o = json.loads(line)
        groups[o.get("qid", o.get("query"))][o["docid"]] = o["score"]
    return groups


def kendall_tau_b(x, y):
    n = len(x)
    conc = disc = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tx += 1
            elif dy == 0:
                ty += 1
            elif (dx > 0) == (dy > 0):
                conc += 1
            else:
                disc += 1
    denom = ((conc + disc + tx) * (conc + disc + ty)) ** 0.5
    return (conc - disc) / denom if denom else 1.0


def agreement(a, b):
    """a, b: {query: {docid: score}}.  Returns (queries, max |score diff|,
    tau mean, tau min, top-10 overlap mean, overlap min)."""
    taus, overlaps, worst_diff = [], [], 0.0
    for q in a:
        docs = sorted(a[q])
        x = [a[q][d] for d in docs]
        y = [b[q][d] for d in docs]
        worst_diff = max(worst_diff, max(abs(u - v) for u, v in zip(x, y)))
        taus.append(kendall_tau_b(x, y))
        top = lambda s: set(sorted(docs, key=lambda d: -s[d])[:10])
        k = min(10, len(docs))
        overlaps.append(len(top(a[q]) & top(b[q])) / k)
    return (len(taus), worst_diff, sum(taus) / len(taus), min(taus),
            sum(overlaps) / len(overlaps), min(overlaps))


if __name__ == "__main__":
    print("queries %d, max |score diff| %.3g, Kendall tau mean %.4f min %.4f, "
          "top-10 overlap mean %.3f min %.3f" % agreement(load(sys.argv[1]), load(sys.argv[2])))
