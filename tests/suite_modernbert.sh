#!/bin/sh
# tests/suite_modernbert.sh — the ModernBERT family end to end on the shared
# goldens (HF head with cls pooling in F32, mean pooling in BF16, and the
# sentence-transformers layout of the Ettin rerankers): scores of the real
# binary against the float64 references (--activation none and the default),
# --tokenize ids against Hugging Face's tokenizers, and a score's
# independence from the rest of its batch.  Skipped without ../shared.
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
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
