#!/usr/bin/env python3
"""golden_scores.py — checks `rerank --model` end to end against PyTorch.

usage: golden_scores.py LOGITS.jsonl LOGITS_KEY MODEL_DIR OUT_DIR
For each max_length in the golden file, writes the pairs as candidate lines
(one group per pair), runs the real binary on them, and compares each score
with the reference logit (tolerance 1e-4).  Prints one line per failure and
"N passed, N failed".  Standard library only."""
import json, os, subprocess, sys

logits_path, key, model, out = sys.argv[1:5]
os.makedirs(out, exist_ok=True)
cases = [json.loads(l) for l in open(logits_path, encoding="utf-8")]
passed = failed = 0
for max_length in sorted({c["max_length"] for c in cases}):
    rows = [(i, c) for i, c in enumerate(cases) if c["max_length"] == max_length]
    inp = "".join(json.dumps({"qid": str(i), "query": c["query"], "docid": str(i),
                              "text": c["text"]}) + "\n" for i, c in rows)
    # Two threads and all pairs of a length in one run: batching and
    # threading must not change a score.
    r = subprocess.run(["rerank", "--model", model, "--max-length", str(max_length),
                        "--threads", "2", "--no-text", "--quiet"],
                       input=inp.encode(), capture_output=True)
    if r.returncode != 0:
        print("FAIL max_length %d: exit %d: %s" % (max_length, r.returncode, r.stderr.decode()))
        failed += 1
        continue
    got = {o["docid"]: o["score"] for o in map(json.loads, r.stdout.decode().splitlines())}
    for i, c in rows:
        want = c[key][-1]
        have = got.get(str(i))
        if have is not None and abs(have - want) <= 1e-4:
            passed += 1
        else:
            failed += 1
            print("FAIL line %d (max_length %d): got %s, want %.7g" % (i + 1, max_length, have, want))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
