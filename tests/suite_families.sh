#!/bin/sh
# tests/suite_families.sh — the T5, DeBERTa-v3 and jina-reranker-v2
# families end to end
# through the real binary (tests/golden_llm.py: --tokenize ids identical,
# logits with --activation none within 1e-4, default scores within 1e-5,
# one query's candidates scored together equal to each alone):
#   the 106 rows of ../shared/golden/monot5-cases.jsonl with tiny-monot5
#     (logit(▁true) - logit(▁false), score P(true));
#   the same rows as RankT5 (--t5 rank: rank_input_ids, the logit of
#     <extra_id_10> as the score);
#   testdata/tiny-t5-gated (T5 v1.1 layout: gated GELU, untied head, F16;
#     scripts/gen-tiny-t5.py) with tiny-monot5's spiece.model linked in;
#   the 106 rows of deberta-v3-cases.jsonl with tiny-deberta-v3-ce;
#   the 110 rows of jina-v2-cases.jsonl with tiny-jina-v2-ce;
#   the duoT5 groups of duot5-groups.jsonl with --pairwise tiny-monot5
#     (tests/golden_duot5.py: sym-sum scores, --cascade 2 after bm25).
# Skipped without ../shared or python3.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
SHARED=${RERANK_SHARED:-../shared}
g="$SHARED/golden"
tmp=tests/out/families; rm -rf "$tmp"; mkdir -p "$tmp"
if [ ! -d "$g" ] || ! command -v python3 > /dev/null; then
    echo "SKIP T5 / DeBERTa / jina goldens: no $g or python3"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
gated=$tmp/tiny-t5-gated; mkdir -p "$gated"
ln -s "$(pwd)/testdata/tiny-t5-gated/config.json" "$(pwd)/testdata/tiny-t5-gated/model.safetensors" \
    "$(cd "$g/tiny-monot5" && pwd)/spiece.model" "$gated/"
p=0 f=0 rc=0
run() { # name, cases, model dir, logit key ("duo": duoT5 groups), score key, [golden_llm.py flags]
    name=$1 cases=$2 dir=$3 logit=$4 score=$5
    shift 5
    if [ "$logit" = duo ]; then
        python3 tests/golden_duot5.py "$cases" "$dir" > "$tmp/$name.log" 2>&1 || rc=1
    else
        python3 tests/golden_llm.py "$cases" "$dir" "$logit" "$score" "$tmp/$name" all "$@" \
            > "$tmp/$name.log" 2>&1 || rc=1
    fi
    set -- "$name"
    grep '^FAIL' "$tmp/$1.log" | sed "s/^/$1: /"
    line=$(tail -n 1 "$tmp/$1.log")
    n=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
    if [ -z "$n" ]; then f=$((f + 1)); rc=1; cat "$tmp/$1.log"; return; fi
    p=$((p + n)); f=$((f + $(echo "$line" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')))
}
run monot5 "$g/monot5-cases.jsonl" "$g/tiny-monot5" logit_true-logit_false score
run rankt5 "$g/monot5-cases.jsonl" "$g/tiny-monot5" rank_logit rank_logit ids=rank_input_ids -- --t5 rank
run t5-gated testdata/tiny-t5-gated/cases.jsonl "$gated" logit score
run deberta "$g/deberta-v3-cases.jsonl" "$g/tiny-deberta-v3-ce" logit score
run jina "$g/jina-v2-cases.jsonl" "$g/tiny-jina-v2-ce" logit score
run duot5 "$g/duot5-groups.jsonl" "$g/tiny-monot5" duo -
echo "$p passed, $f failed"
[ $rc -eq 0 ] && [ $f -eq 0 ]
