#!/bin/sh
# tests/suite_cache.sh — the score cache (--cache FILE) on the tiny BERT of
# testdata: hit/miss accounting, output identical with and without it, no
# stale hit after a changed option or model file, 4 concurrent writers, a
# SIGKILL mid-run, corrupt and foreign files, --cache-readonly, and a
# 20 x 100 cron-style re-run that calls the model zero times.  The counts
# come from --verbose's "score cache:" line (scorer calls = calls of the
# model behind the cache).
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
tmp=tests/out/cache; rm -rf "$tmp"; mkdir -p "$tmp"
model=testdata/tiny-bert

# groups Q D [SALT]: Q queries of D candidates as JSON Lines.
groups() {
    awk -v nq="$1" -v nd="$2" -v salt="${3:-}" 'BEGIN { for (q = 1; q <= nq; q++) for (d = 1; d <= nd; d++)
        printf "{\"qid\":\"q%d\",\"query\":\"what do cats eat %d\",\"docid\":\"d%d\",\"text\":\"document %d%s says cats eat fish %d times\"}\n", q, q, d, d, salt, (d * q) % 17 }'
}
# counts FILE: "hits misses calls stored" from a --verbose stderr.
counts() {
    sed -n 's/^rerank: score cache: \([0-9]*\) hits, \([0-9]*\) misses, \([0-9]*\) scorer calls, \([0-9]*\) scores stored$/\1 \2 \3 \4/p' "$1"
}
# expect WHAT WANT FILE: the counts of FILE are WANT.
expect() {
    got=$(counts "$3")
    if [ "$got" = "$2" ]; then ok; else bad "$1: counts '$got', expected '$2'"; sed 's/^/  | /' "$3"; fi
}
run() { # db, input, then options; stdout to $tmp/out, stderr to $tmp/err
    db=$1 in=$2; shift 2
    rerank --model $model --cache "$db" --verbose "$@" < "$in" > $tmp/out 2> $tmp/err
}

groups 3 5 > $tmp/in.jsonl
rerank --model $model $tmp/in.jsonl > $tmp/plain.out || bad "no cache: exit $?"

# Cold, then warm: every candidate a miss, then a hit; same bytes out.
run $tmp/a.db $tmp/in.jsonl; expect cold "0 15 3 15" $tmp/err
cmp -s $tmp/out $tmp/plain.out && ok || bad "cold output differs from the run without cache"
run $tmp/a.db $tmp/in.jsonl; expect warm "15 0 0 0" $tmp/err
cmp -s $tmp/out $tmp/plain.out && ok || bad "warm output differs from the run without cache"

# Two changed texts in q2: only they are scored, in one call.
sed '/"qid":"q2"/ { s/"docid":"d1","text":"document 1 /&changed /; s/"docid":"d4","text":"document 4 /&changed /; }' \
    $tmp/in.jsonl > $tmp/in2.jsonl
run $tmp/a.db $tmp/in2.jsonl; expect "changed texts" "13 2 1 2" $tmp/err
rerank --model $model $tmp/in2.jsonl > $tmp/plain2.out
cmp -s $tmp/out $tmp/plain2.out && ok || bad "partial hits: output differs from the run without cache"

# A docid is not a key: a renamed document with the same text hits.
sed 's/"docid":"d3"/"docid":"renamed"/' $tmp/in.jsonl > $tmp/in3.jsonl
run $tmp/a.db $tmp/in3.jsonl; expect "renamed docid" "15 0 0 0" $tmp/err

# Options that change scores miss.
run $tmp/a.db $tmp/in.jsonl --max-length 16; expect "--max-length" "0 15 3 15" $tmp/err
run $tmp/a.db $tmp/in.jsonl --activation none; expect "--activation" "0 15 3 15" $tmp/err
run $tmp/a.db $tmp/in.jsonl --activation none; expect "--activation again" "15 0 0 0" $tmp/err

# A changed model file misses (a copy, then a byte added to config.json).
cp -r $model $tmp/model
rerank --model $tmp/model --cache $tmp/a.db --verbose < $tmp/in.jsonl > /dev/null 2> $tmp/err
expect "copied model" "15 0 0 0" $tmp/err
printf ' ' >> $tmp/model/config.json
rerank --model $tmp/model --cache $tmp/a.db --verbose < $tmp/in.jsonl > /dev/null 2> $tmp/err
expect "changed config.json" "0 15 3 15" $tmp/err

# --cache-readonly: hits are read, misses scored and not stored.
run $tmp/a.db $tmp/in.jsonl --cache-readonly; expect "readonly warm" "15 0 0 0" $tmp/err
run $tmp/a.db $tmp/in.jsonl --cache-readonly -t 1 --max-length 20
expect "readonly cold" "0 15 3 0" $tmp/err
run $tmp/a.db $tmp/in.jsonl --cache-readonly -t 1 --max-length 20
expect "readonly stores nothing" "0 15 3 0" $tmp/err
chmod a-w $tmp/a.db
run $tmp/a.db $tmp/in.jsonl --cache-readonly; expect "readonly on a read-only file" "15 0 0 0" $tmp/err
chmod u+w $tmp/a.db
rerank --model $model --cache $tmp/none.db --cache-readonly < $tmp/in.jsonl > /dev/null 2> $tmp/err
rc=$?
[ $rc = 8 ] && [ ! -e $tmp/none.db ] && ok || bad "readonly, missing file: exit $rc"

# Corrupt and foreign files: exit 4 with a message, never a crash.
head -c 4096 /dev/urandom > $tmp/junk.db
run $tmp/junk.db $tmp/in.jsonl; rc=$?
[ $rc = 4 ] && grep -q "junk.db: not a rerank cache" $tmp/err && ok ||
    { bad "corrupt file: exit $rc"; cat $tmp/err; }
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("create table t(x)"); c.commit()' $tmp/foreign.db
run $tmp/foreign.db $tmp/in.jsonl; rc=$?
[ $rc = 4 ] && grep -q "foreign.db: not a rerank cache (another program's database)" $tmp/err &&
    ok || { bad "foreign file: exit $rc"; cat $tmp/err; }
cp $tmp/a.db $tmp/trunc.db
head -c 1000 $tmp/a.db > $tmp/trunc.db
run $tmp/trunc.db $tmp/in.jsonl; rc=$?
[ $rc = 4 ] || [ $rc = 8 ] && ok || { bad "truncated file: exit $rc"; cat $tmp/err; }

# The cron job: 20 queries x 100 candidates by 4 concurrent --shard
# writers on one file, then a warm re-run that calls the model zero times.
groups 20 100 x > $tmp/big.jsonl
rerank --model $model --no-text $tmp/big.jsonl > $tmp/big-plain.out
for k in 0 1 2 3; do
    rerank --model $model --no-text --shard $k/4 --cache $tmp/shared.db --verbose \
        < $tmp/big.jsonl > $tmp/shard$k.out 2> $tmp/shard$k.err &
done
wait
total=0
for k in 0 1 2 3; do
    if [ -s $tmp/shard$k.out ] && ! grep -qi "locked\|busy" $tmp/shard$k.err &&
        set -- $(counts $tmp/shard$k.err) && [ "$1" = 0 ]; then
        ok; total=$((total + $4))
    else bad "concurrent writer $k"; cat $tmp/shard$k.err; fi
done
[ $total = 2000 ] && ok || bad "concurrent writers stored $total scores, expected 2000"
rerank --model $model --no-text --cache $tmp/shared.db --verbose < $tmp/big.jsonl > $tmp/out 2> $tmp/err
expect "warm 20x100 re-run: zero model calls" "2000 0 0 0" $tmp/err
cmp -s $tmp/out $tmp/big-plain.out && ok || bad "warm 20x100 output differs from the run without cache"

# SIGKILL mid-run: groups fed through a FIFO; killed once 5 groups are
# out, with the 6th waiting; a re-run finds those 5 groups' scores.
groups 8 10 k > $tmp/kill.jsonl
mkfifo $tmp/fifo
rerank --model $model --no-text --cache $tmp/kill.db < $tmp/fifo > $tmp/kill.out 2> $tmp/kill.err &
pid=$!
exec 3> $tmp/fifo
head -n 51 $tmp/kill.jsonl >&3   # 5 groups and the first line of the 6th
i=0
while [ "$(wc -l < $tmp/kill.out)" -lt 50 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 $pid
wait $pid 2> /dev/null
exec 3>&-
[ "$(wc -l < $tmp/kill.out)" = 50 ] && ok || bad "SIGKILL: $(wc -l < $tmp/kill.out) lines before the kill"
check=$(python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute("pragma integrity_check").fetchone()[0], c.execute("select count(*) from rerank_scores").fetchone()[0])' $tmp/kill.db)
[ "$check" = "ok 50" ] && ok || bad "SIGKILL: database after the kill: $check"
run $tmp/kill.db $tmp/kill.jsonl; expect "re-run after SIGKILL" "50 30 3 30" $tmp/err

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
