#!/bin/sh
# tests/suite_trec.sh — sharding a TREC re-scoring job: the shards merged
# with the README's recipe must be the one-machine output byte for byte (same
# CPU kernels here), with numeric qids, whose string order is not the run's
# order.  The GNU parallel part is skipped without `parallel`.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
tmp=tests/out/trec-shard; rm -rf "$tmp"; mkdir -p "$tmp"

# A collection of 2,000 documents, 60 queries (qids 1..60, in numeric order in
# the run, as TREC runs usually are), 50 candidates each.
awk 'BEGIN { srand(7); for (d = 0; d < 2000; d++) { printf "d%d\t", d;
      for (w = 0; w < 12; w++) printf "w%d ", int(rand() * 300); print "" } }' > "$tmp/docs.tsv"
awk 'BEGIN { srand(8); for (q = 1; q <= 60; q++) printf "%d\tw%d w%d w%d\n", q,
      int(rand() * 300), int(rand() * 300), int(rand() * 300) }' > "$tmp/queries.tsv"
awk 'BEGIN { srand(9); for (q = 1; q <= 60; q++) for (r = 1; r <= 50; r++)
      printf "%d Q0 d%d %d %.3f bm25\n", q, (q * 37 + r * 11) % 2000, r, 100 - r }' > "$tmp/run"
job="rerank -m bm25 --run $tmp/run --queries $tmp/queries.tsv --docs $tmp/docs.tsv --depth 20 --format trec"

# The README's merge: each line keyed by its query's position in the run (the
# order rerank writes queries in), then by rank.
merge() { # shard outputs...
    awk 'NR == FNR { if (!($1 in pos)) pos[$1] = ++n; next } { print pos[$1], $0 }' \
        "$tmp/run" "$@" | sort -k1,1n -k5,5n | cut -d' ' -f2-
}

$job > "$tmp/single" 2> "$tmp/single.err" || bad "single run failed: $(cat "$tmp/single.err")"
[ "$(wc -l < "$tmp/single")" = 3000 ] && ok || bad "single run: $(wc -l < "$tmp/single") lines"

# Shards concatenated in any order, merged: the one-process output.
for k in 2 0 1; do $job --shard $k/3 > "$tmp/shard-$k.run"; done
merge "$tmp/shard-2.run" "$tmp/shard-0.run" "$tmp/shard-1.run" | cmp -s - "$tmp/single" && ok \
    || bad "merged shards differ from the single run"
# What the README used to say, sort -k1,1 -k4,4n, orders qids as strings
# (1, 10, 11, ...): not the one-process output when qids are numbers.
sort -k1,1 -k4,4n "$tmp/single" | cmp -s - "$tmp/single" && bad "string-sorted qids kept the run's order" || ok

if command -v parallel > /dev/null; then
    # The README's recipe (--shard {}/N over N jobs; ssh hosts in real use).
    parallel --will-cite -j 3 "$job --shard {}/4" ::: 0 1 2 3 > "$tmp/parallel" 2> "$tmp/parallel.err"
    merge "$tmp/parallel" | cmp -s - "$tmp/single" && ok \
        || bad "GNU parallel shards differ from the single run: $(cat "$tmp/parallel.err")"
else
    skipped=$((skipped + 1)); echo "SKIP GNU parallel recipe: parallel is not installed"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
