#!/usr/bin/python3
"""eval-reference.py — an independent reference for `rerank eval`.

Computes trec_eval 9.0.x measures (ndcg_cut_K, recip_rank, mrr_K, map,
recall_K, P_K) straight from their definitions in trec_eval's m_*.c and
form_res_rels.c, without using rerank's C code, so tests/test_eval.c can
compare against committed output.

    scripts/eval-reference.py QRELS RUN [-c] [-l N] [-M N] [-m NAME]...

prints "measure<TAB>qid|all<TAB>value" lines with 12 decimals: every query
(sorted by qid, byte-wise) and then the means, plus "num_q<TAB>all<TAB>N".

Definitions (trec_eval 9.0.x):
  ranking   documents sorted by score descending, ties by docid descending
            (strcmp); -M keeps the first N of that ranking
  relevant  qrels value >= level (-l, default 1); unjudged documents never
  num_rel   judged documents of the query with value >= level
  ndcg_cut_K  sum over ranks r <= K of gain/log2(r+1), gain = qrels value if
            > 0; divided by the same sum over the judged positive values
            sorted descending (if that is > 0)
  recip_rank  1/rank of the first relevant document; mrr_K within rank K
  map       sum over relevant retrieved of (relevant so far / rank) / num_rel
  recall_K  relevant within rank K / num_rel (0 when num_rel is 0)
  P_K       relevant within rank K / K
  queries   those in both run and qrels; with -c every qrels query (a query
            missing from the run scores 0); means are plain averages
"""
import argparse
import math
import sys

DEFAULT = ["ndcg_cut_10", "recip_rank", "mrr_10", "map", "recall_100",
           "recall_1000", "P_10"]


def read_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            qid, _, docid, rel = line.split()
            qrels.setdefault(qid, {})[docid] = int(rel)
    return qrels


def read_run(path):
    run = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            qid, _, docid, _, score, _ = line.split()
            run.setdefault(qid, []).append((docid, float(score)))
    ranked = {}
    for qid, docs in run.items():
        # Two stable sorts: docid descending (bytes), then score descending.
        docs = sorted(docs, key=lambda d: d[0].encode(), reverse=True)
        docs = sorted(docs, key=lambda d: -d[1])
        ranked[qid] = [d for d, _ in docs]
    return ranked


def measure(name, ranking, judged, level):
    rels = [judged.get(d) for d in ranking]
    is_rel = [r is not None and r >= level for r in rels]
    num_rel = sum(1 for v in judged.values() if v >= 0 and v >= level)
    base, _, k = name.rpartition("_")
    if name == "recip_rank" or base == "mrr":
        top = is_rel if name == "recip_rank" else is_rel[:int(k)]
        for i, r in enumerate(top):
            if r:
                return 1.0 / (i + 1)
        return 0.0
    if name == "map":
        found, total = 0, 0.0
        for i, r in enumerate(is_rel):
            if r:
                found += 1
                total += found / (i + 1)
        return total / num_rel if found else 0.0
    k = int(k)
    if base == "ndcg_cut":
        dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rels[:k])
                  if r is not None and r > 0)
        ideal_gains = sorted((v for v in judged.values() if v > 0),
                             reverse=True)[:k]
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(ideal_gains))
        return dcg / ideal if ideal > 0 else dcg
    if base == "recall":
        return sum(is_rel[:k]) / num_rel if num_rel else 0.0
    if base == "P":
        return sum(is_rel[:k]) / k
    raise SystemExit("unknown measure " + name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qrels")
    ap.add_argument("run")
    ap.add_argument("-c", action="store_true")
    ap.add_argument("-l", type=int, default=1)
    ap.add_argument("-M", type=int, default=0)
    ap.add_argument("-m", action="append")
    a = ap.parse_args()
    names = a.m or DEFAULT
    qrels, run = read_qrels(a.qrels), read_run(a.run)
    qids = sorted((q for q in qrels if a.c or q in run), key=str.encode)
    sums = {n: 0.0 for n in names}
    out = sys.stdout
    for q in qids:
        ranking = run.get(q, [])
        if a.M:
            ranking = ranking[:a.M]
        for n in names:
            v = measure(n, ranking, qrels[q], a.l)
            sums[n] += v
            out.write(f"{n}\t{q}\t{v:.12f}\n")
    out.write(f"num_q\tall\t{len(qids)}\n")
    for n in names:
        out.write(f"{n}\tall\t{sums[n] / len(qids) if qids else 0.0:.12f}\n")


if __name__ == "__main__":
    main()
