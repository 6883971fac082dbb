#!/bin/sh
# tests/suite_colbert.sh — ColBERT (MaxSim) through the real binary: the 95
# golden candidates of ../shared/golden/colbert-cases.jsonl scored by
# `rerank --model` for the Stanford (tiny-colbert) and PyLate
# (tiny-pylate-colbert) layouts: ids and masks of --tokenize identical,
# scores within 1e-4 of the reference, the same scores (1e-6) when the
# candidates come in reverse order.  Skipped without ../shared or python3.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
SHARED=${RERANK_SHARED:-../shared}
cases="$SHARED/golden/colbert-cases.jsonl"
if [ ! -f "$cases" ] || ! command -v python3 > /dev/null; then
    echo "SKIP colbert goldens: no $cases or python3"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
tmp=tests/out/colbert-suite; rm -rf "$tmp"; mkdir -p "$tmp"
python3 - "$cases" "$tmp" <<'PY'
import json, sys
cases, tmp = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(cases)]
with open(tmp + "/in.jsonl", "w") as f, open(tmp + "/rev.jsonl", "w") as r:
    groups = {}
    for x in rows:
        line = json.dumps({k: x[k] for k in ("qid", "query", "docid", "text")})
        f.write(line + "\n")
        groups.setdefault(x["qid"], []).append(line)
    for lines in groups.values():
        r.write("\n".join(reversed(lines)) + "\n")
PY
for m in tiny-colbert tiny-pylate-colbert; do
    rerank --model "$SHARED/golden/$m" --threads 2 --no-text < "$tmp/in.jsonl" > "$tmp/$m.out" 2> "$tmp/$m.err"
    echo $? > "$tmp/$m.rc"
    rerank --model "$SHARED/golden/$m" --threads 1 --no-text < "$tmp/rev.jsonl" > "$tmp/$m.rev" 2>> "$tmp/$m.err"
    echo $? >> "$tmp/$m.rc"
    rerank --model "$SHARED/golden/$m" --tokenize < "$tmp/in.jsonl" > "$tmp/$m.tok" 2>> "$tmp/$m.err"
    echo $? >> "$tmp/$m.rc"
done
python3 - "$cases" "$tmp" <<'PY'
import json, sys
cases, tmp = sys.argv[1], sys.argv[2]
gold = {(x["qid"], x["docid"]): x for x in map(json.loads, open(cases))}
passed = failed = 0
def check(ok, what):
    global passed, failed
    if ok: passed += 1
    else: failed += 1; print("FAIL " + what)
for m in ("tiny-colbert", "tiny-pylate-colbert"):
    rcs = open("%s/%s.rc" % (tmp, m)).read().split()
    check(rcs == ["0", "0", "0"], "%s: exit statuses %s: %s" % (m, rcs, open("%s/%s.err" % (tmp, m)).read()[:300]))
    def scores(path):
        return {(o["qid"], o["docid"]): o["score"] for o in map(json.loads, open(path))}
    got, rev = scores("%s/%s.out" % (tmp, m)), scores("%s/%s.rev" % (tmp, m))
    check(len(got) == len(gold) == len(rev), "%s: %d and %d scores for %d candidates" % (m, len(got), len(rev), len(gold)))
    for key, x in gold.items():
        want = x[m]["score"]
        check(key in got and abs(got[key] - want) <= 1e-4, "%s %s: score %s, expected %.9g" % (m, key, got.get(key), want))
        check(key in rev and key in got and abs(rev[key] - got[key]) <= 1e-6, "%s %s: reversed order gives %s, not %s" % (m, key, rev.get(key), got.get(key)))
    toks = [json.loads(l) for l in open("%s/%s.tok" % (tmp, m))]
    check(len(toks) == len(gold), "%s: %d --tokenize lines" % (m, len(toks)))
    for t in toks:
        x = gold[(t["qid"], t["docid"])][m]
        check([t["query_ids"], t["doc_ids"], t["doc_mask"]] == [x["query_ids"], x["doc_ids"], x["doc_mask"]],
              "%s %s: --tokenize ids differ" % (m, t["docid"]))
    # the output is sorted by score within each group
    out = [json.loads(l) for l in open("%s/%s.out" % (tmp, m))]
    ordered = all(a["score"] >= b["score"] for a, b in zip(out, out[1:]) if a["qid"] == b["qid"])
    check(ordered, "%s: output not sorted by score" % m)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
