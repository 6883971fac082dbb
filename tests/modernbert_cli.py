#!/usr/bin/env python3
"""modernbert_cli.py — a ModernBERT golden through the real binary beyond
the scores golden_scores.py checks: `--tokenize` gives exactly the
reference input_ids (Hugging Face's Rust tokenizers), and a pair's score
does not depend on the other candidates of its batch (all pairs of a
max_length together, in reverse order with other threads, and the first
and last alone: within 1e-5).

usage: modernbert_cli.py LOGITS.jsonl MODEL_DIR
Prints one line per failure and "N passed, N failed".  Standard library only."""
import json, subprocess, sys

logits_path, model = sys.argv[1:3]
cases = [json.loads(l) for l in open(logits_path, encoding="utf-8")]
passed = failed = 0


def run(extra, lines):
    # --no-text applies to scores only (--tokenize prints ids).
    text = [] if "--tokenize" in extra else ["--no-text"]
    r = subprocess.run(["rerank", "--model", model, "--quiet"] + text + extra,
                       input="".join(json.dumps(l) + "\n" for l in lines).encode(),
                       capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("exit %d: %s" % (r.returncode, r.stderr.decode()))
    return [json.loads(o) for o in r.stdout.decode().splitlines()]


def check(ok, msg):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + msg)


for max_length in sorted({c["max_length"] for c in cases}):
    rows = [(i, c) for i, c in enumerate(cases) if c["max_length"] == max_length]
    # One group of candidates: the pairs share no query, so each line is its
    # own group (qid = line number).
    lines = [{"qid": str(i), "query": c["query"], "docid": str(i), "text": c["text"]}
             for i, c in rows]
    ml = ["--max-length", str(max_length)]
    none = ml + ["--activation", "none"]
    try:
        toks = {o["docid"]: o["input_ids"] for o in run(ml + ["--tokenize"], lines)}
        batch = {o["docid"]: o["score"] for o in run(none, lines)}
        # The same pairs in reverse order, and the first and last alone.
        other = {o["docid"]: o["score"] for o in run(none + ["--threads", "3"], lines[::-1])}
        for line in (lines[0], lines[-1]):
            other.update({o["docid"]: o["score"] for o in run(none, [line])})
    except RuntimeError as e:
        check(False, "max_length %d: %s" % (max_length, e))
        continue
    for i, c in rows:
        check(toks.get(str(i)) == c["input_ids"],
              "line %d: --tokenize %s, want %s" % (i + 1, toks.get(str(i)), c["input_ids"]))
        b, o = batch.get(str(i)), other.get(str(i))
        check(b is not None and o is not None and abs(b - o) <= 1e-5,
              "line %d: %s in one batch, %s in another" % (i + 1, b, o))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
