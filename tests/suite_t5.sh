#!/bin/sh
# tests/suite_t5.sh — the T5 family end to end: the 106 golden monoT5 rows
# of ../shared/golden/monot5-cases.jsonl through the real binary with
# tiny-monot5 (tests/golden_llm.py: --tokenize ids, logit(▁true) -
# logit(▁false) with --activation none, default P(true) scores, and every
# row scored alone equal to the rows scored as one query's candidates).
# Skipped without ../shared or python3.
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
    logit_true-logit_false score "$tmp/mono" all
