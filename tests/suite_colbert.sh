#!/bin/sh
# tests/suite_colbert.sh — ColBERT (MaxSim) through the real binary: the 95
# golden candidates of ../shared/golden/colbert-cases.jsonl scored by
# `rerank --model` for the Stanford (tiny-colbert) and PyLate
# (tiny-pylate-colbert) layouts: ids and masks of --tokenize identical,
# scores within 1e-4 of the reference, the same scores (1e-6) when the
# candidates come in reverse order.  Then three variants of the tiny models
# the goldens do not cover, against scores of scripts/colbert-reference.py
# (a float64 PyTorch ColBERT that reproduces the goldens to 1e-14) kept in
# testdata/colbert/variants.jsonl: attend_to_mask_tokens (Stanford), no
# query expansion (PyLate), a Dense with bias and Tanh (PyLate,
# testdata/colbert/dense-bias).  Last, --cache shared by four concurrent
# --shard processes, a warm run and a read-only one (all hits of the score
# cache, which ColBERT goes through): the scores of a run without it.
# Also the tiny PyLate models on ModernBERT and XLM-R bases in
# testdata/colbert: --tokenize ids and scores (1e-4) against
# testdata/colbert/{modernbert,xlmr}-cases.jsonl (transformers' encoders).
# RERANK_COLBERT_REGEN=1 rewrites that file
# with /usr/bin/python3's torch.  Skipped without ../shared or python3.
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
# The variants: copies of the shared models with one setting changed.
g="$SHARED/golden"
v="$tmp/stanford-attend"; cp -r "$g/tiny-colbert" "$v"; chmod -R u+w "$v"
sed 's/"attend_to_mask_tokens": false/"attend_to_mask_tokens": true/' "$g/tiny-colbert/artifact.metadata" > "$v/artifact.metadata"
v="$tmp/pylate-noexp"; cp -r "$g/tiny-pylate-colbert" "$v"; chmod -R u+w "$v"
sed 's/"do_query_expansion": true/"do_query_expansion": false/' "$g/tiny-pylate-colbert/config_sentence_transformers.json" > "$v/config_sentence_transformers.json"
v="$tmp/pylate-dense-bias"; cp -r "$g/tiny-pylate-colbert" "$v"; chmod -R u+w "$v"
cp testdata/colbert/dense-bias/config.json testdata/colbert/dense-bias/model.safetensors "$v/1_Dense/"
want=testdata/colbert/variants.jsonl
if [ -n "${RERANK_COLBERT_REGEN:-}" ]; then
    for x in stanford-attend:tiny-colbert pylate-noexp:tiny-pylate-colbert pylate-dense-bias:tiny-pylate-colbert; do
        /usr/bin/python3 scripts/colbert-reference.py "$tmp/${x%%:*}" "${x#*:}" < "$cases" > "$tmp/${x%%:*}.ref" || exit 1
    done
    python3 - "$tmp" "$want" <<'PY'
import json, sys
tmp, want = sys.argv[1], sys.argv[2]
names = ("stanford-attend", "pylate-noexp", "pylate-dense-bias")
refs = {n: [json.loads(l) for l in open("%s/%s.ref" % (tmp, n))] for n in names}
with open(want, "w") as f:
    for rows in zip(*(refs[n] for n in names)):
        line = {"qid": rows[0]["qid"], "docid": rows[0]["docid"]}
        line.update({n: r["score"] for n, r in zip(names, rows)})
        f.write(json.dumps(line) + "\n")
PY
fi
for x in stanford-attend pylate-noexp pylate-dense-bias; do
    rerank --model "$tmp/$x" --threads 2 --no-text < "$tmp/in.jsonl" > "$tmp/$x.out" 2> "$tmp/$x.err"
    echo $? > "$tmp/$x.rc"
done

# PyLate models on the ModernBERT and XLM-R bases (testdata/colbert): the
# binary's ids and scores against transformers' (tests/test_colbert.c
# test_bases says how they were made).
for b in modernbert xlmr; do
    rerank --model testdata/colbert/$b --threads 2 --no-text < testdata/colbert/bases-texts.jsonl > "$tmp/$b.out" 2> "$tmp/$b.err"
    echo $? > "$tmp/$b.rc"
    rerank --model testdata/colbert/$b --tokenize < testdata/colbert/bases-texts.jsonl > "$tmp/$b.tok" 2>> "$tmp/$b.err"
    echo $? >> "$tmp/$b.rc"
done

# --cache shared by four --shard processes writing at once, then a warm
# run: every exit 0, and the same scores as without the cache.
m="$SHARED/golden/tiny-pylate-colbert"
rm -f "$tmp/shared.db"*
for k in 0 1 2 3; do
    rerank --model "$m" --threads 1 --no-text --shard $k/4 --cache "$tmp/shared.db" < "$tmp/in.jsonl" > "$tmp/shard$k.out" 2> "$tmp/shard$k.err" &
done
wait
cat "$tmp"/shard?.err > "$tmp/shards.err"
rerank --model "$m" --threads 1 --no-text --cache "$tmp/shared.db" < "$tmp/in.jsonl" > "$tmp/warm.out" 2>> "$tmp/shards.err"
echo $? >> "$tmp/shards.err"
# Read-only and verbose: every score a hit, nothing scored or stored.
rerank --model "$m" --threads 1 --no-text --cache "$tmp/shared.db" --cache-readonly --verbose < "$tmp/in.jsonl" > "$tmp/ro.out" 2> "$tmp/ro.err"

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
for b in ("modernbert", "xlmr"):
    ref = {(x["qid"], x["docid"]): x[b] for x in map(json.loads, open("testdata/colbert/%s-cases.jsonl" % b))}
    rcs = open("%s/%s.rc" % (tmp, b)).read().split()
    check(rcs == ["0", "0"], "%s: exit statuses %s: %s" % (b, rcs, open("%s/%s.err" % (tmp, b)).read()[:300]))
    got = {(o["qid"], o["docid"]): o["score"] for o in map(json.loads, open("%s/%s.out" % (tmp, b)))}
    check(len(got) == len(ref) == 14, "%s: %d scores" % (b, len(got)))
    for key, x in ref.items():
        check(key in got and abs(got[key] - x["score"]) <= 1e-4, "%s %s: score %s, expected %.9g" % (b, key, got.get(key), x["score"]))
    for t in map(json.loads, open("%s/%s.tok" % (tmp, b))):
        x = ref[(t["qid"], t["docid"])]
        check([t["query_ids"], t["doc_ids"], t["doc_mask"]] == [x["query_ids"], x["doc_ids"], x["doc_mask"]],
              "%s %s: --tokenize ids differ" % (b, t["docid"]))
want = {(x["qid"], x["docid"]): x for x in map(json.loads, open("testdata/colbert/variants.jsonl"))}
for v in ("stanford-attend", "pylate-noexp", "pylate-dense-bias"):
    rc = open("%s/%s.rc" % (tmp, v)).read().strip()
    check(rc == "0", "%s: exit status %s: %s" % (v, rc, open("%s/%s.err" % (tmp, v)).read()[:300]))
    got = {(o["qid"], o["docid"]): o["score"] for o in map(json.loads, open("%s/%s.out" % (tmp, v)))}
    check(len(got) == len(want), "%s: %d scores" % (v, len(got)))
    for key, x in want.items():
        check(key in got and abs(got[key] - x[v]) <= 1e-4, "%s %s: score %s, expected %.9g" % (v, key, got.get(key), x[v]))
plain = {(o["qid"], o["docid"]): o["score"] for o in map(json.loads, open(tmp + "/tiny-pylate-colbert.out"))}
err = open(tmp + "/shards.err").read()
check(err == "0\n", "--cache with four shards: " + err[:300])
union = {}
for k in range(4):
    union.update({(o["qid"], o["docid"]): o["score"] for o in map(json.loads, open("%s/shard%d.out" % (tmp, k)))})
warm = {(o["qid"], o["docid"]): o["score"] for o in map(json.loads, open(tmp + "/warm.out"))}
check(union == plain, "four shards with --cache differ from a run without it")
check(warm == plain, "a warm --cache run differs from a run without it")
ro = {(o["qid"], o["docid"]): o["score"] for o in map(json.loads, open(tmp + "/ro.out"))}
check(ro == plain, "a --cache-readonly run differs from a run without it")
ro_err = open(tmp + "/ro.err").read()
check("score cache: %d hits, 0 misses, 0 scorer calls, 0 scores stored" % len(plain) in ro_err,
      "--cache-readonly --verbose: " + ro_err[-300:])
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
