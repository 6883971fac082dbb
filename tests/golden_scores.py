#!/usr/bin/env python3
"""golden_scores.py — checks `rerank --model` end to end against PyTorch.

usage: golden_scores.py LOGITS.jsonl LOGITS_KEY MODEL_DIR OUT_DIR [TOL [ARG...]]
(LOGITS_KEY names a list of logits, or one logit.)
For each max_length in the golden file, writes the pairs as candidate lines
(one group per pair), runs the real binary on them twice, and compares each
score with the reference: with --activation none, the reference logit
(tolerance 1e-4); by default, what sentence-transformers' CrossEncoder.predict
makes of that logit (the activation named in config_sentence_transformers.json
or config.json, else sigmoid for one label and identity for several; tolerance
1e-4).  TOL replaces both tolerances and ARGs are added to rerank's (for
--quantize int8).  Prints one line per failure and "N passed, N failed".  Standard
library only."""
import json, math, os, subprocess, sys

logits_path, key, model, out = sys.argv[1:5]
tol = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-4
extra = sys.argv[6:]


def default_activation(model, n_labels):
    """CrossEncoder.get_default_activation_fn, for torch.* names."""
    def load(name):
        path = os.path.join(model, name)
        return json.load(open(path)) if os.path.exists(path) else {}
    config, st = load("config.json"), load("config_sentence_transformers.json")
    name = (st.get("activation_fn")
            or config.get("sentence_transformers", {}).get("activation_fn")
            or config.get("sbert_ce_default_activation_function"))
    if name and name.startswith("torch."):
        return {"Identity": lambda x: x, "Sigmoid": lambda x: 1 / (1 + math.exp(-x)),
                "Tanh": math.tanh}[name.rsplit(".", 1)[1]]
    return (lambda x: 1 / (1 + math.exp(-x))) if n_labels == 1 else (lambda x: x)


os.makedirs(out, exist_ok=True)
cases = [json.loads(l) for l in open(logits_path, encoding="utf-8")]
passed = failed = 0
for max_length in sorted({c["max_length"] for c in cases}):
    rows = [(i, c) for i, c in enumerate(cases) if c["max_length"] == max_length]
    inp = "".join(json.dumps({"qid": str(i), "query": c["query"], "docid": str(i),
                              "text": c["text"]}) + "\n" for i, c in rows)
    for activation in ("none", None):
        # Two threads and all pairs of a length in one run: batching and
        # threading must not change a score.
        args = ["rerank", "--model", model, "--max-length", str(max_length),
                "--threads", "2", "--no-text", "--quiet"] + extra
        if activation:
            args += ["--activation", activation]
        r = subprocess.run(args, input=inp.encode(), capture_output=True)
        if r.returncode != 0:
            print("FAIL max_length %d: exit %d: %s" % (max_length, r.returncode, r.stderr.decode()))
            failed += 1
            continue
        got = {o["docid"]: o["score"] for o in map(json.loads, r.stdout.decode().splitlines())}
        for i, c in rows:
            logits = c[key] if isinstance(c[key], list) else [c[key]]
            f = (lambda x: x) if activation else default_activation(model, len(logits))
            want = f(logits[-1])
            have = got.get(str(i))
            if have is not None and abs(have - want) <= tol:
                passed += 1
            else:
                failed += 1
                print("FAIL line %d (max_length %d, --activation %s): got %s, want %.7g"
                      % (i + 1, max_length, activation or "auto", have, want))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
