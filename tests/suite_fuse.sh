#!/bin/sh
# tests/suite_fuse.sh — `rerank fuse` against scripts/fuse_ref.py, an
# independent reference written from ranx's definitions (RRF = sum of
# 1/(k + rank); CombSUM, CombMNZ; min-max and z-score normalisation), on the
# Cranfield runs of testdata/eval (ties included) and crafted edge cases:
# the same documents in the same order, scores within 1e-12 (relative).
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
passed=0 failed=0
tmp=tests/out/fuse; rm -rf "$tmp"; mkdir -p "$tmp"
e=testdata/eval
# Edge cases: tied scores, a query in one run only, one document per query,
# equal scores in a whole query (min-max and z-score denominators 0).
printf '%s\n' '1 Q0 a 1 5 x' '1 Q0 b 2 5 x' '1 Q0 c 3 4 x' '2 Q0 z 1 1 x' '4 Q0 s 1 2 x' '4 Q0 t 2 2 x' > $tmp/e1.run
printf '%s\n' '1 Q0 c 1 9 y' '1 Q0 aa 2 9 y' '3 Q0 q 1 -1 y' '4 Q0 t 1 0 y' > $tmp/e2.run
compare() { # name, then the options and runs
    name=$1; shift
    rerank fuse "$@" > $tmp/got 2> $tmp/err || { failed=$((failed + 1)); echo "FAIL $name: exit $?"; cat $tmp/err; return; }
    python3 scripts/fuse_ref.py "$@" > $tmp/want
    if python3 - $tmp/got $tmp/want <<'PY'
import sys
got = [l.split() for l in open(sys.argv[1])]
want = [l.split() for l in open(sys.argv[2])]
assert len(got) == len(want), (len(got), len(want))
rank = {}
for g, w in zip(got, want):
    assert (g[0], g[2]) == (w[0], w[1]), (g, w)
    rank[g[0]] = rank.get(g[0], 0) + 1
    assert g[1] == "Q0" and int(g[3]) == rank[g[0]], g
    x, y = float(g[4]), float(w[2])
    assert abs(x - y) <= 1e-12 * max(1.0, abs(y)), (g, w)
PY
    then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name"; fi
}
for runs in "$e/cranfield-bm25.run $e/cranfield-random.run $e/cranfield-rerank-bm25.run" "$tmp/e1.run $tmp/e2.run"; do
    compare "rrf $runs" $runs
    compare "rrf k=10 $runs" --rrf-k 10 $runs
    for norm in none minmax zscore; do
        compare "combsum $norm $runs" --method combsum --norm $norm $runs
        compare "combmnz $norm $runs" --method combmnz --norm $norm $runs
    done
done
compare "one run" $e/cranfield-bm25.run
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
