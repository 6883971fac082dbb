#!/bin/sh
# tests/suite_qwen3.sh — the Qwen3-Reranker family end to end: the 152
# golden rows of ../shared/golden/qwen3-reranker-cases.jsonl through the
# real binary with tiny-qwen3-reranker (Qwen3ForCausalLM) and
# tiny-qwen3-reranker-seqcls (tests/golden_llm.py: --tokenize ids, raw
# logits, default scores, custom instructions, empty texts, batch
# invariance).  Skipped without ../shared or python3.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
SHARED=${RERANK_SHARED:-../shared}
passed=0 failed=0 skipped=0
tmp=tests/out/qwen3; rm -rf "$tmp"; mkdir -p "$tmp"
add() { # the closing line of a checker's output
    line=$(tail -n 1 "$1")
    grep '^FAIL' "$1"
    p=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
    f=$(echo "$line" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')
    if [ -z "$p" ]; then failed=$((failed + 1)); cat "$1"; return; fi
    passed=$((passed + p)); failed=$((failed + f))
}
g="$SHARED/golden"
if [ -f "$g/qwen3-reranker-cases.jsonl" ] && command -v python3 > /dev/null; then
    python3 tests/golden_llm.py "$g/qwen3-reranker-cases.jsonl" "$g/tiny-qwen3-reranker" \
        logit_yes-logit_no score "$tmp/causal" > "$tmp/causal.log" 2>&1
    add "$tmp/causal.log"
    python3 tests/golden_llm.py "$g/qwen3-reranker-cases.jsonl" "$g/tiny-qwen3-reranker-seqcls" \
        seqcls_logit seqcls_score "$tmp/seqcls" > "$tmp/seqcls.log" 2>&1
    add "$tmp/seqcls.log"
else
    skipped=$((skipped + 1)); echo "SKIP qwen3 goldens: no $g/qwen3-reranker-cases.jsonl or python3"
fi
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
