#!/bin/sh
# tests/suite_llm.sh — the real binary with --llm against the project's fake
# OpenAI-compatible server (scripts/fake-llm-server.py) on 127.0.0.1.  The
# fake ranks by a documented hidden rule: a passage's relevance is how many
# of its tokens are query tokens.  Expected orders are computed here from
# that rule, not from rerank.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
if ! command -v python3 >/dev/null; then
    echo "SKIP llm suite: no python3"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=tests/out/llm; rm -rf "$tmp"; mkdir -p "$tmp"
python3 scripts/fake-llm-server.py --port-file "$tmp/port" --key sk-llm-test --idle 20 \
    > /dev/null 2> "$tmp/server.log" &
server=$!
trap 'kill $server 2>/dev/null' EXIT INT TERM
for i in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$tmp/port")"
export RERANK_LLM_API_KEY=sk-llm-test
unset OPENAI_API_KEY

# 30 passages; passage i holds "gold" rel(i) = (7 i) mod 31 times, so the
# relevances are 1..30, each once.
awk 'BEGIN { for (i = 1; i <= 30; i++) { r = (7 * i) % 31; t = "";
      for (k = 0; k < r; k++) t = t " gold"; for (k = 0; k < 3; k++) t = t " lead";
      printf "{\"qid\":\"q\",\"query\":\"gold\",\"docid\":\"d%d\",\"text\":\"%s\"}\n", i, t } }' > "$tmp/in.jsonl"
# The ten most relevant, best first: relevance 30 down to 21.
want=$(awk 'BEGIN { for (r = 30; r > 20; r--) for (i = 1; i <= 30; i++) if ((7 * i) % 31 == r) printf "d%d ", i }')

# Listwise, window 20 step 10 from the bottom up: the best ten reach the top
# in order whatever their starting place.
rerank --llm listwise --llm-model fake-llm --llm-url "$base/v1/chat/completions?tag=lw" --format tsv --no-text \
    "$tmp/in.jsonl" > "$tmp/lw.tsv" 2> "$tmp/lw.err"
rc=$?
got=$(head -n 10 "$tmp/lw.tsv" | cut -f2 | tr '\n' ' ')
[ $rc = 0 ] && [ "$got" = "$want" ] && ok || bad "listwise top 10: exit $rc: '$got' vs '$want' $(cat "$tmp/lw.err")"
[ "$(cut -f2 "$tmp/lw.tsv" | sort -u | wc -l)" = 30 ] && ok || bad "listwise lost or duplicated a passage"
n_req=$(python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/_stats?tag=lw"))["requests"])' "$base")
[ "$n_req" = 2 ] && ok || bad "listwise over 30 passages sent $n_req requests, not 2"

# Pointwise: score = rel / (rel + 2) exactly (from the logprobs).
rerank --llm pointwise --llm-model fake-llm --llm-url "$base/v1/chat/completions" --format tsv --no-text \
    "$tmp/in.jsonl" > "$tmp/pw.tsv" 2> "$tmp/pw.err"
rc=$?
awk -F'\t' '{ i = substr($2, 2) + 0; r = (7 * i) % 31; d = $4 - r / (r + 2);
              if (d < 0) d = -d; if (d > 1e-6) { print "bad " $2 " " $4; bad = 1 } }
            END { exit bad }' "$tmp/pw.tsv" && [ $rc = 0 ] && ok || bad "pointwise scores: $(cat "$tmp/pw.err")"

# Cascade: BM25 first, the LLM on its top 5; the rest stay in BM25's order.
rerank -m bm25 --format tsv --no-text "$tmp/in.jsonl" | cut -f2 > "$tmp/bm25.order"
rerank -m bm25 --cascade 5 --llm pointwise --llm-model fake-llm --llm-url "$base/v1/chat/completions" \
    --format tsv --no-text "$tmp/in.jsonl" > "$tmp/cas.tsv" 2> "$tmp/cas.err"
rc=$?
top5=$(head -n 5 "$tmp/bm25.order" | sort | tr '\n' ' ')
got5=$(head -n 5 "$tmp/cas.tsv" | cut -f2 | sort | tr '\n' ' ')
rest_want=$(tail -n +6 "$tmp/bm25.order" | tr '\n' ' ')
rest_got=$(tail -n +6 "$tmp/cas.tsv" | cut -f2 | tr '\n' ' ')
[ $rc = 0 ] && [ "$top5" = "$got5" ] && [ "$rest_want" = "$rest_got" ] && ok \
    || bad "cascade: exit $rc, top '$got5' vs '$top5', rest differs: $(cat "$tmp/cas.err")"

# A dry run sends nothing, needs no key, and writes nothing to stdout (no
# placeholder ranking a cron job could take for a real one).
env -u RERANK_LLM_API_KEY rerank --llm listwise --dry-run --llm-model fake-llm --llm-url "$base/v1/chat/completions?tag=dry" \
    "$tmp/in.jsonl" > "$tmp/dry.out" 2> "$tmp/dry.err"
rc=$?
n_req=$(python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/_stats?tag=dry"))["requests"])' "$base")
[ $rc = 0 ] && [ "$n_req" = 0 ] && grep -q 'dry run:.*2 requests' "$tmp/dry.err" && [ ! -s "$tmp/dry.out" ] && ok \
    || bad "dry run: exit $rc, $n_req requests, $(wc -l < "$tmp/dry.out") stdout lines: $(cat "$tmp/dry.err")"

# OpenAI's endpoint without a key: a clear error before any request.
env -u RERANK_LLM_API_KEY rerank --llm listwise "$tmp/in.jsonl" > /dev/null 2> "$tmp/nokey.err"
[ $? = 2 ] && grep -q OPENAI_API_KEY "$tmp/nokey.err" && ok || bad "no key: $(cat "$tmp/nokey.err")"

# Malformed answers are retried, then the window keeps its order (warning).
rerank --llm listwise --retries 1 --llm-model fake-llm --llm-url "$base/v1/chat/completions?fault=nonumbers" \
    --format tsv --no-text "$tmp/in.jsonl" > "$tmp/mal.tsv" 2> "$tmp/mal.err"
rc=$?
[ $rc = 0 ] && grep -q 'keeps its order' "$tmp/mal.err" && \
    [ "$(cut -f2 "$tmp/mal.tsv" | tr '\n' ' ')" = "$(cut -d'"' -f12 "$tmp/in.jsonl" | tr '\n' ' ')" ] && ok \
    || bad "malformed answers: exit $rc: $(cat "$tmp/mal.err")"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
