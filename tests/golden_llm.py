#!/usr/bin/env python3
"""golden_llm.py — an LLM reranker's golden cases through the real binary.

usage: golden_llm.py CASES.jsonl MODEL_DIR LOGIT SCORE OUT_DIR [all] [ids=KEY]
                      [-- ARGS]
LOGIT names the reference logit: a key ("seqcls_logit") or "A-B", the
difference of two keys ("logit_yes-logit_no"); SCORE the key of the default
score.  Rows are run grouped by (max_length, instruction), each group in
one invocation with the rows' own qids (so candidates of a query share
batches), with two threads:
  --tokenize                 input_ids identical on every row;
  --activation none          within 1e-4 of LOGIT;
  default                    within 1e-5 of SCORE;
and the 30 documents of qid "grp" scored as 30 one-document queries equal
the group's scores (1e-5): a batch never changes a score.  With "all"
(cases whose qids are all distinct, as monoT5's), each group's documents
under its first row's query score the same as one query's candidates as
each alone instead.  ids=KEY names the golden ids (default input_ids);
ARGS after "--" go to every rerank run (e.g. --t5 rank).
Prints one line per failure and "N passed, N failed".  Standard library
only."""
import json, os, subprocess, sys

cases_path, model, logit_key, score_key, out = sys.argv[1:6]
rest = sys.argv[6:]
extra = rest[rest.index("--") + 1:] if "--" in rest else []
flags = rest[:rest.index("--")] if "--" in rest else rest
all_rows = "all" in flags
ids_key = next((f[4:] for f in flags if f.startswith("ids=")), "input_ids")
os.makedirs(out, exist_ok=True)
cases = [json.loads(l) for l in open(cases_path, encoding="utf-8")]
passed = failed = 0


def fail(msg):
    global failed
    failed += 1
    print("FAIL " + msg)


def ref_logit(c):
    if "-" in logit_key:
        a, b = logit_key.split("-")
        return c[a] - c[b]
    return c[logit_key]


def run(rows, more, qid=None):
    """stdout lines (parsed) of rerank over rows, or None on failure."""
    inp = "".join(json.dumps({"qid": qid(i, c) if qid else c["qid"],
                              "query": c["query"], "docid": str(i),
                              "text": c["text"]}) + "\n" for i, c in rows)
    c0 = rows[0][1]
    args = ["rerank", "--model", model, "--max-length", str(c0["max_length"]),
            "--threads", "2", "--quiet"] + extra + more
    if "--tokenize" not in extra + more:  # --no-text applies to scores only
        args.append("--no-text")
    if c0.get("instruction") is not None:
        args += ["--instruction", c0["instruction"]]
    r = subprocess.run(args, input=inp.encode(), capture_output=True)
    if r.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(args[3:]), r.returncode, r.stderr.decode()))
        return None
    return [json.loads(l) for l in r.stdout.decode().splitlines()]


groups = {}
for i, c in enumerate(cases):
    groups.setdefault((c["max_length"], c.get("instruction")), []).append((i, c))
grp_scores = {}
for key, rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
    toks = run(rows, ["--tokenize"])
    if toks is not None:
        got = {o["docid"]: o["input_ids"] for o in toks}
        for i, c in rows:
            if got.get(str(i)) == c[ids_key]:
                passed += 1
            else:
                fail("line %d (%s): --tokenize ids differ" % (i + 1, c["qid"]))
    for activation, want_of, tol in (("none", ref_logit, 1e-4),
                                     (None, lambda c: c[score_key], 1e-5)):
        outs = run(rows, ["--activation", activation] if activation else [])
        if outs is None:
            continue
        got = {o["docid"]: o["score"] for o in outs}
        for i, c in rows:
            have, want = got.get(str(i)), want_of(c)
            if have is not None and abs(have - want) <= tol:
                passed += 1
            else:
                fail("line %d (%s, --activation %s): got %s, want %.9g"
                     % (i + 1, c["qid"], activation or "auto", have, want))
            if not activation and c["qid"] == "grp":
                grp_scores[i] = have

grp = [(i, c) for i, c in enumerate(cases) if c["qid"] == "grp"]
if all_rows:
    for key, rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        same_q = [(i, dict(c, query=rows[0][1]["query"])) for i, c in rows]
        alone = {o["docid"]: o["score"] for o in run(same_q, []) or []}
        for o in run(same_q, [], qid=lambda i, c: "all") or []:
            if o["docid"] in alone and abs(o["score"] - alone[o["docid"]]) <= 1e-5:
                passed += 1
            else:
                fail("line %s: %s alone, %s in one query"
                     % (int(o["docid"]) + 1, alone.get(o["docid"]), o["score"]))
elif len(grp) != 30:
    fail("%d rows in qid grp, want 30" % len(grp))
else:
    alone = run(grp, [], qid=lambda i, c: "alone%d" % i)
    if alone is not None:
        for o in alone:
            i = int(o["docid"])
            if grp_scores.get(i) is not None and abs(o["score"] - grp_scores[i]) <= 1e-5:
                passed += 1
            else:
                fail("grp line %d: %s in the group, %s alone" % (i + 1, grp_scores.get(i), o["score"]))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
