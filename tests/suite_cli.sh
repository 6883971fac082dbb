#!/bin/sh
# tests/suite_cli.sh — runs the real binary on each case under tests/cases/
# and compares stdout, stderr and exit status with the expected files.
#
# A case is a directory holding:
#   cmd   one shell command line, run from the repository root with `rerank`
#         on the PATH (../shared is reachable as $SHARED)
#   in    standard input (optional; /dev/null otherwise)
#   out   expected stdout (optional; empty otherwise); numbers in it are
#         compared within a float tolerance (tests/numcmp.awk), the rest
#         byte for byte
#   err   expected stderr (optional; empty otherwise)
#   rc    expected exit status (optional; 0 otherwise)
#   needs "shared" when the case reads ../shared (skipped without it)
# RERANK_UPDATE=1 rewrites out/err/rc from the actual run, for authoring;
# review the diff before committing.
cd "$(dirname "$0")/.." || exit 2
# tests/run.sh puts the binary (or its valgrind wrapper) first on the PATH;
# run alone, the suite uses the binary of this checkout.
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
SHARED=${RERANK_SHARED:-../shared}
export SHARED
passed=0 failed=0 skipped=0
tmp=tests/out/cli
rm -rf "$tmp"; mkdir -p "$tmp"
for dir in tests/cases/*/; do
    name=$(basename "$dir")
    if [ -f "$dir/needs" ] && grep -q shared "$dir/needs" && [ ! -d "$SHARED/golden" ]; then
        echo "SKIP $name: needs $SHARED"; skipped=$((skipped + 1)); continue
    fi
    input=/dev/null; [ -f "$dir/in" ] && input="$dir/in"
    sh -c "$(cat "$dir/cmd")" < "$input" > "$tmp/$name.out" 2> "$tmp/$name.err"
    rc=$?
    if [ -n "${RERANK_UPDATE:-}" ]; then
        cp "$tmp/$name.out" "$dir/out"; cp "$tmp/$name.err" "$dir/err"; echo $rc > "$dir/rc"
        [ -s "$dir/out" ] || rm -f "$dir/out"; [ -s "$dir/err" ] || rm -f "$dir/err"
        [ "$rc" = 0 ] && rm -f "$dir/rc"
    fi
    want_rc=0; [ -f "$dir/rc" ] && want_rc=$(cat "$dir/rc")
    ok=1
    for stream in out err; do
        want=/dev/null; [ -f "$dir/$stream" ] && want="$dir/$stream"
        if ! cmp -s "$want" "$tmp/$name.$stream" &&
            ! { [ $stream = out ] && awk -f tests/numcmp.awk "$want" "$tmp/$name.$stream"; }; then
            ok=0; echo "FAIL $name: std$stream differs"
            diff "$want" "$tmp/$name.$stream" | head -n 20 | sed 's/^/  /'
        fi
    done
    if [ "$rc" != "$want_rc" ]; then
        ok=0; echo "FAIL $name: exit status $rc, expected $want_rc"
    fi
    if [ $ok = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
