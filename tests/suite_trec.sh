#!/bin/sh
# tests/suite_trec.sh — sharding a TREC re-scoring job: the README's GNU
# parallel recipe, run locally, must give the one-machine output byte for
# byte once both are sorted by qid then rank.  Skipped without `parallel`.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
tmp=tests/out/trec-shard; rm -rf "$tmp"; mkdir -p "$tmp"

# A collection of 2,000 documents, 60 queries, 50 candidates each.
awk 'BEGIN { srand(7); for (d = 0; d < 2000; d++) { printf "d%d\t", d;
      for (w = 0; w < 12; w++) printf "w%d ", int(rand() * 300); print "" } }' > "$tmp/docs.tsv"
awk 'BEGIN { srand(8); for (q = 0; q < 60; q++) printf "q%d\tw%d w%d w%d\n", q,
      int(rand() * 300), int(rand() * 300), int(rand() * 300) }' > "$tmp/queries.tsv"
awk 'BEGIN { srand(9); for (q = 0; q < 60; q++) for (r = 1; r <= 50; r++)
      printf "q%d Q0 d%d %d %.3f bm25\n", q, (q * 37 + r * 11) % 2000, r, 100 - r }' > "$tmp/run"
job="rerank -m bm25 --run $tmp/run --queries $tmp/queries.tsv --docs $tmp/docs.tsv --depth 20 --format trec"

$job > "$tmp/single" 2> "$tmp/single.err" || bad "single run failed: $(cat "$tmp/single.err")"
sort -k1,1 -k4,4n "$tmp/single" > "$tmp/single.sorted"
[ "$(wc -l < "$tmp/single")" = 3000 ] && ok || bad "single run: $(wc -l < "$tmp/single") lines"

# Shards concatenated in any order: same lines.
for k in 2 0 1; do $job --shard $k/3; done > "$tmp/loop"
sort -k1,1 -k4,4n "$tmp/loop" | cmp -s - "$tmp/single.sorted" && ok || bad "shard loop differs"

if command -v parallel > /dev/null; then
    # The README's recipe (--shard {}/N over N jobs; ssh hosts in real use).
    parallel --will-cite -j 3 "$job --shard {}/4" ::: 0 1 2 3 > "$tmp/parallel" 2> "$tmp/parallel.err"
    sort -k1,1 -k4,4n "$tmp/parallel" | cmp -s - "$tmp/single.sorted" && ok \
        || bad "GNU parallel shards differ from the single run: $(cat "$tmp/parallel.err")"
else
    skipped=$((skipped + 1)); echo "SKIP GNU parallel recipe: parallel is not installed"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
