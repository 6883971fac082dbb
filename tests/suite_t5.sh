#!/bin/sh
# tests/suite_t5.sh — the T5 family end to end: the 106 golden monoT5 rows
# of ../shared/golden/monot5-cases.jsonl through the real binary with
# tiny-monot5 (tests/golden_llm.py: --tokenize ids, logit(▁true) -
# logit(▁false) with --activation none, default P(true) scores, and every
# row scored alone equal to the rows scored as one query's candidates),
# then the same checks on testdata/tiny-t5-gated (T5 v1.1 layout: gated
# GELU, untied head, F16; scripts/gen-tiny-t5.py), with tiny-monot5's
# spiece.model linked in.  Skipped without ../shared or python3.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
SHARED=${RERANK_SHARED:-../shared}
g="$SHARED/golden"
tmp=tests/out/t5; rm -rf "$tmp"; mkdir -p "$tmp"
if [ ! -f "$g/monot5-cases.jsonl" ] || ! command -v python3 > /dev/null; then
    echo "SKIP monoT5 goldens: no $g/monot5-cases.jsonl or python3"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
python3 tests/golden_llm.py "$g/monot5-cases.jsonl" "$g/tiny-monot5" \
    logit_true-logit_false score "$tmp/mono" all > "$tmp/mono.log" 2>&1
rc1=$?
gated=$tmp/tiny-t5-gated; mkdir -p "$gated"
ln -s "$(pwd)/testdata/tiny-t5-gated/config.json" "$(pwd)/testdata/tiny-t5-gated/model.safetensors" \
    "$(cd "$g/tiny-monot5" && pwd)/spiece.model" "$gated/"
python3 tests/golden_llm.py testdata/tiny-t5-gated/cases.jsonl "$gated" \
    logit score "$tmp/gated" all > "$tmp/gated.log" 2>&1
rc2=$?
grep '^FAIL' "$tmp/mono.log" "$tmp/gated.log"
p=0 f=0
for log in "$tmp/mono.log" "$tmp/gated.log"; do
    line=$(tail -n 1 "$log")
    p=$((p + $(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')))
    f=$((f + $(echo "$line" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')))
done
echo "$p passed, $f failed"
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
