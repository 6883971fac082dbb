#!/bin/sh
# tests/suite_progress.sh — the progress display on a terminal (a pty, from
# tests/pty_stderr.py): updates within a group (per batch), totals and an ETA
# for --run, no escape sequences under TERM=dumb, a summary line after a run
# of 3 s or more, and silence for short runs.  Slow inputs come from a pipe
# or a FIFO that waits, so the timings do not depend on the CPU.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
if ! command -v python3 > /dev/null || ! command -v mkfifo > /dev/null; then
    echo "SKIP progress suite: no python3 or mkfifo"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=$(pwd)/tests/out/progress; rm -rf "$tmp"; mkdir -p "$tmp"
m=testdata/tiny-bert
# 120 documents of 300 words (a batch of the cross-encoder holds about 27).
awk 'BEGIN { srand(3); split("kakaka kakalo kakami kaloka kalolo kalomi kamika kamilo kamimi kanuka", w, " ");
      for (d = 0; d < 120; d++) { printf "d%d\t", d; for (i = 0; i < 300; i++) printf "%s ", w[int(rand() * 10) + 1]; print "" } }' \
    > "$tmp/docs.tsv"
printf '1\tkakaka lokaka\n2\tkamika\n3\tkanuka kalolo\n' > "$tmp/queries.tsv"
awk 'BEGIN { for (q = 1; q <= 3; q++) for (r = 1; r <= 40; r++) printf "%d Q0 d%d %d %d bm25\n", q, (q - 1) * 40 + r - 1, r, 100 - r }' > "$tmp/run"
awk -F'\t' '{ printf "{\"qid\":\"2\",\"query\":\"kakaka lokaka\",\"docid\":\"%s\",\"text\":\"%s\"}\n", $1, $2 }' "$tmp/docs.tsv" > "$tmp/group2.jsonl"
printf '{"qid":"1","query":"kakaka","docid":"a","text":"kakaka"}\n' > "$tmp/group1.jsonl"
printf '{"qid":"3","query":"kakaka","docid":"a","text":"kakaka"}\n' > "$tmp/group3.jsonl"

# A stream of three groups: the second arrives after 2.6 s (the display is
# due), and is complete 0.6 s later, when the third starts, so its first batch
# ends a redraw interval after the last redraw whatever the CPU's speed:
# updates within that group ("this group N/120"), then, after 3.2 s, a
# summary line; escape sequences on xterm.
stream="(cat $tmp/group1.jsonl; sleep 2.6; cat $tmp/group2.jsonl; sleep 0.6; cat $tmp/group3.jsonl)"
python3 tests/pty_stderr.py xterm "$stream | rerank --model $m" > "$tmp/stream.tty"
grep -q 'this group [0-9]*/120' "$tmp/stream.tty" && ok || bad "no update within the group: $(cat "$tmp/stream.tty")"
grep -q 'rerank: 3 groups, 122 candidates in [0-9]*s ([0-9.]* candidates/s)\\r\\n' "$tmp/stream.tty" && ok \
    || bad "no summary line: $(cat "$tmp/stream.tty")"
grep -q '\\x1b\[K' "$tmp/stream.tty" && ok || bad "xterm: no line clearing: $(cat "$tmp/stream.tty")"
grep -q '^exit 0$' "$tmp/stream.tty" && ok || bad "stream: $(tail -n 1 "$tmp/stream.tty")"

# The same under TERM=dumb: no escape sequence at all.
python3 tests/pty_stderr.py dumb "$stream | rerank --model $m" > "$tmp/dumb.tty"
grep -q 'this group [0-9]*/120' "$tmp/dumb.tty" && grep -q 'candidates in' "$tmp/dumb.tty" && ok \
    || bad "dumb: no progress: $(cat "$tmp/dumb.tty")"
grep -q '\\x1b' "$tmp/dumb.tty" && bad "TERM=dumb got escape sequences: $(cat "$tmp/dumb.tty")" || ok

# --run: the totals are known, so the display shows them and an ETA.  The
# run file is a FIFO that opens after 1.5 s, so the display is due when the
# first batch ends.
mkfifo "$tmp/run.fifo"
(sleep 1.5; cat "$tmp/run" > "$tmp/run.fifo") &
python3 tests/pty_stderr.py xterm "rerank --model $m --run $tmp/run.fifo --queries $tmp/queries.tsv --docs $tmp/docs.tsv --format trec" > "$tmp/run.tty"
wait
grep -q '[0-9]/3 groups, [0-9]*/120 candidates, [0-9]* candidates/s, this group [0-9]*/40, ETA [0-9]' "$tmp/run.tty" && ok \
    || bad "--run: no totals or ETA: $(cat "$tmp/run.tty")"

# A short run prints nothing on the terminal.
python3 tests/pty_stderr.py xterm "rerank -m bm25 $tmp/group1.jsonl" > "$tmp/short.tty"
[ "$(head -n 1 "$tmp/short.tty")" = "''" ] && ok || bad "short run printed: $(cat "$tmp/short.tty")"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
