#!/usr/bin/python3
"""cranfield-fixture.py — builds the Cranfield fixture of tests/test_eval.c.

    scripts/cranfield-fixture.py [SHARED_DIR]   (default ../shared)

1. A BM25 run (k1 0.9, b 0.4, lowercase alphanumeric tokens) over
   SHARED/collections/cranfield, top 40 per query, written to
   testdata/eval/cranfield-bm25.run.  Scores are rounded to one decimal so
   that many documents tie and trec_eval's docid-descending tie-break (on
   numeric-looking docids, where "99" > "100") decides the order; the rank
   column is written in a different order on purpose.  Queries whose qid is
   a multiple of 9 are left out (judged queries without results), and a
   query "1000" that the qrels lack is added.
2. testdata/eval/cranfield-expected.tsv: scripts/trec_eval_ref.py --raw on that
   run for several option sets, as "OPTIONS<TAB>measure<TAB>qid<TAB>value"
   (OPTIONS "-" for none); per-query rows for the first set only.
"""
import collections
import math
import os
import re
import subprocess
import sys

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
coll = os.path.join(shared, "collections", "cranfield")
here = os.path.dirname(os.path.abspath(__file__))
out_dir = os.path.join(here, "..", "testdata", "eval")
run_path = os.path.join(out_dir, "cranfield-bm25.run")
qrels = os.path.join(coll, "qrels")


def tokens(s):
    return re.findall(r"[a-z0-9]+", s.lower())


docs = {}
with open(os.path.join(coll, "docs.tsv"), encoding="utf-8") as f:
    for line in f:
        docid, text = line.rstrip("\n").split("\t", 1)
        docs[docid] = collections.Counter(tokens(text))
df = collections.Counter(t for tf in docs.values() for t in tf)
n = len(docs)
avgdl = sum(sum(tf.values()) for tf in docs.values()) / n
k1, b = 0.9, 0.4


def bm25(q, tf):
    dl = sum(tf.values())
    s = 0.0
    for t in q:
        if t in tf:
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
            s += idf * tf[t] * (k1 + 1) / (tf[t] + k1 * (1 - b + b * dl / avgdl))
    return s


queries = []
with open(os.path.join(coll, "queries.tsv"), encoding="utf-8") as f:
    for line in f:
        qid, text = line.rstrip("\n").split("\t", 1)
        queries.append((qid, tokens(text)))
queries.append(("1000", tokens("boundary layer flow")))

with open(run_path, "w", encoding="utf-8") as out:
    out.write("# BM25 run for tests/test_eval.c (scripts/cranfield-fixture.py)\n")
    for qid, q in queries:
        if int(qid) % 9 == 0:
            continue
        scored = sorted(((round(bm25(q, tf), 1), d) for d, tf in docs.items()),
                        key=lambda x: (-x[0], int(x[1])))[:40]
        # Rank column deliberately in numeric-docid order, which trec_eval
        # ignores; lines are written in reverse to test re-sorting.
        for rank, (score, d) in reversed(list(enumerate(scored, 1))):
            out.write(f"{qid} Q0 {d} {rank} {score:.1f} bm25\n")

measures = ["ndcg_cut_5", "ndcg_cut_10", "ndcg_cut_20", "recip_rank", "mrr_10",
            "map", "recall_10", "recall_100", "P_5", "P_10", "P_20"]
option_sets = [[], ["-c"], ["-l", "2"], ["-M", "10"], ["-c", "-l", "3", "-M", "20"]]
ref = os.path.join(here, "trec_eval_ref.py")
with open(os.path.join(out_dir, "cranfield-expected.tsv"), "w") as out:
    for i, opts in enumerate(option_sets):
        args = [sys.executable, ref, "--raw", qrels, run_path] + opts
        for m in measures:
            args += ["-m", m]
        lines = subprocess.run(args, check=True, capture_output=True,
                               text=True).stdout.splitlines()
        for line in lines:
            if i == 0 or "\tall\t" in line:
                out.write((" ".join(opts) or "-") + "\t" + line + "\n")
