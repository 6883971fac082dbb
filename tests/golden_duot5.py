#!/usr/bin/env python3
"""golden_duot5.py — duoT5 pairwise groups through the real binary.

usage: golden_duot5.py GROUPS.jsonl MODEL_DIR
Each group of GROUPS.jsonl (qid, query, docs, scores: the sym-sum scores
transformers gave) is scored with `rerank --pairwise MODEL_DIR` (two
threads, all groups in one run): every score within 1e-4.  Then
`--cascade 2` after BM25: the two top BM25 documents of each group score
as a group of those two alone (1e-4), below them the others in BM25 order.
Prints one line per failure and "N passed, N failed".  Standard library
only."""
import json, subprocess, sys

groups_path, model = sys.argv[1:3]
groups = [json.loads(l) for l in open(groups_path, encoding="utf-8")]
passed = failed = 0


def fail(msg):
    global failed
    failed += 1
    print("FAIL " + msg)


def run(args, groups):
    inp = "".join(json.dumps({"qid": g["qid"], "query": g["query"], "docid": d["docid"],
                              "text": d["text"]}) + "\n" for g in groups for d in g["docs"])
    r = subprocess.run(["rerank", "--pairwise", model, "--threads", "2", "--no-text",
                        "--quiet"] + args, input=inp.encode(), capture_output=True)
    if r.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()))
        return []
    return [json.loads(l) for l in r.stdout.decode().splitlines()]


got = {(o["qid"], o["docid"]): o["score"] for o in run([], groups)}
for g in groups:
    for d, want in zip(g["docs"], g["scores"]):
        have = got.get((g["qid"], d["docid"]))
        if have is not None and abs(have - want) <= 1e-4:
            passed += 1
        else:
            fail("%s/%s: got %s, want %.9g" % (g["qid"], d["docid"], have, want))

cascade = run(["--cascade", "2", "-m", "bm25"], groups)
for g in groups:
    rows = [o for o in cascade if o["qid"] == g["qid"]]
    top = [o["docid"] for o in rows[:2]]
    alone = run([], [dict(g, docs=[d for d in g["docs"] if d["docid"] in top])])
    want = {o["docid"]: o["score"] for o in alone}
    for o in rows[:2]:
        if abs(o["score"] - want.get(o["docid"], float("nan"))) <= 1e-4:
            passed += 1
        else:
            fail("%s/%s with --cascade 2: %s, alone %s" % (g["qid"], o["docid"], o["score"], want.get(o["docid"])))
    if len(rows) == len(g["docs"]) and all(r["score"] < rows[1]["score"] for r in rows[2:]):
        passed += 1
    else:
        fail("%s with --cascade 2: the rest not below the top 2" % g["qid"])
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
