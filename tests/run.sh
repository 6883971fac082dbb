#!/bin/sh
# tests/run.sh — runs every unit-test program given as an argument, then every
# tests/suite_*.sh, and adds up their closing "N passed, N failed[, N skipped]"
# lines.  Exit status 0 only when nothing failed.
#
# RERANK_VALGRIND=1 runs the unit programs and every `rerank` the suites start
# under valgrind (definite leaks and invalid accesses fail the test).
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
mkdir -p tests/out
passed=0 failed=0 skipped=0 broken=""

vg=""
if [ -n "${RERANK_VALGRIND:-}" ]; then
    vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
    mkdir -p tests/out/vgbin
    # OPENBLAS_NUM_THREADS set: rerank then needs no re-exec (which valgrind
    # would not follow).
    printf '#!/bin/sh\nOPENBLAS_NUM_THREADS=1 exec %s "%s/rerank" "$@"\n' "$vg" "$top" > tests/out/vgbin/rerank
    chmod +x tests/out/vgbin/rerank
    PATH="$top/tests/out/vgbin:$PATH"
else
    PATH="$top:$PATH"
fi
export PATH

tally() { # name, log file, exit status
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$1: no summary line (exit $3)"; sed 's/^/  | /' "$2" | tail -n 20
        failed=$((failed + 1)); broken="$broken $1"; return
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
    grep -E '^(FAIL|SKIP)' "$2" | sed "s|^|$1: |"
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$1: exit status $3 with no failed check"; failed=$((failed + 1)); broken="$broken $1"
    fi
    echo "$1: $line"
}

for t in "$@"; do
    name=$(basename "$t")
    $vg "./$t" > "tests/out/$name.log" 2>&1
    tally "$name" "tests/out/$name.log" $?
done
for s in tests/suite_*.sh; do
    [ -e "$s" ] || continue
    name=$(basename "$s" .sh)
    sh "$s" > "tests/out/$name.log" 2>&1
    tally "$name" "tests/out/$name.log" $?
done

echo
[ -n "$broken" ] && echo "broken:$broken"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
