#!/bin/sh
# tests/suite_modernbert.sh — the ModernBERT family end to end on the shared
# goldens (HF head with cls pooling in F32, mean pooling in BF16, and the
# sentence-transformers layout of the Ettin rerankers): scores of the real
# binary against the float64 references (--activation none and the default),
# --tokenize ids against Hugging Face's tokenizers, a score's independence
# from the rest of its batch, and an 8,192-token pair.  Skipped without
# ../shared.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
SHARED=${RERANK_SHARED:-../shared}
passed=0 failed=0 skipped=0
tmp=tests/out/modernbert-cli; rm -rf "$tmp"; mkdir -p "$tmp"
add() { # the closing line of a checker's output
    line=$(tail -n 1 "$1")
    grep '^FAIL' "$1"
    p=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
    f=$(echo "$line" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')
    if [ -z "$p" ]; then failed=$((failed + 1)); cat "$1"; return; fi
    passed=$((passed + p)); failed=$((failed + f))
}

if [ -d "$SHARED/golden" ] && command -v python3 > /dev/null; then
    for m in tiny-modernbert-ce tiny-modernbert-ce-mean tiny-ettin-ce; do
        python3 tests/golden_scores.py "$SHARED/golden/$m-logits.jsonl" logit \
            "$SHARED/golden/$m" "$tmp/$m" > "$tmp/$m.scores.log" 2>&1
        add "$tmp/$m.scores.log"
        python3 tests/modernbert_cli.py "$SHARED/golden/$m-logits.jsonl" \
            "$SHARED/golden/$m" > "$tmp/$m.cli.log" 2>&1
        add "$tmp/$m.cli.log"
    done
else
    skipped=$((skipped + 1)); echo "SKIP ModernBERT goldens: no $SHARED/golden or python3"
fi

# An 8,192-token pair (text longer than that, truncated longest_first) on
# the Ettin golden: --tokenize ids equal to Hugging Face's Rust tokenizers'
# (scripts/gen-long-modernbert-pair.js), the score within 1e-4 of
# transformers + sentence-transformers in float64
# (scripts/modernbert_reference.py), peak RSS under 160 MB.
pair=testdata/long-ettin/pair.jsonl
if [ -d "$SHARED/golden/tiny-ettin-ce" ] && command -v python3 > /dev/null; then
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({k: r[k] for k in ("qid", "query", "docid", "text")}))' "$pair" > "$tmp/long.in"
    rm -f "$tmp/long.time"
    timer=""; [ -x /usr/bin/time ] && timer="/usr/bin/time -f %M -o $tmp/long.time"
    $timer rerank --model "$SHARED/golden/tiny-ettin-ce" --max-length 8192 --activation none \
        --no-text < "$tmp/long.in" > "$tmp/long.out" 2> "$tmp/long.err"
    rerank --model "$SHARED/golden/tiny-ettin-ce" --max-length 8192 --tokenize \
        < "$tmp/long.in" > "$tmp/long.tok" 2>> "$tmp/long.err"
    python3 - "$pair" "$tmp/long.out" "$tmp/long.tok" "$tmp/long.time" > "$tmp/long.log" <<'PY'
import json, os, sys
want = json.load(open(sys.argv[1]))
passed = failed = 0
def check(ok, msg):
    global passed, failed
    passed += ok
    failed += not ok
    if not ok:
        print("FAIL long pair: " + msg)
try:
    got = json.load(open(sys.argv[2]))["score"]
    ids = json.load(open(sys.argv[3]))["input_ids"]
except (ValueError, KeyError) as e:
    got, ids = None, None
check(ids == want["input_ids"], "--tokenize gives %s ids, not the reference's %d"
      % (len(ids) if ids else None, len(want["input_ids"])))
check(got is not None and abs(got - want["logit"]) <= 1e-4,
      "score %s, reference %.9g" % (got, want["logit"]))
if os.path.exists(sys.argv[4]):
    kb = int(open(sys.argv[4]).read().split()[-1])
    check(kb < 160 * 1024, "peak RSS %d KB" % kb)
print("%d passed, %d failed" % (passed, failed))
PY
    add "$tmp/long.log"
    [ -s "$tmp/long.err" ] && cat "$tmp/long.err"
else
    skipped=$((skipped + 1)); echo "SKIP long ModernBERT pair: no $SHARED/golden or python3"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
