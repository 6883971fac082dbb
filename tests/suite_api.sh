#!/bin/sh
# tests/suite_api.sh — the real binary against the project's fake rerank
# server (scripts/fake-rerank-server.py) on 127.0.0.1: every wire format,
# keys, retries, failures with and without --keep-going.  Expected scores
# follow the server's documented formula, |Q ∩ set(D)| + 1/(2 + len(D)).
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
if ! command -v python3 >/dev/null; then
    echo "SKIP api suite: no python3"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=tests/out/api; rm -rf "$tmp"; mkdir -p "$tmp"
python3 scripts/fake-rerank-server.py --port-file "$tmp/port" --key sk-test-123 --idle 20 \
    > /dev/null 2> "$tmp/server.log" &
server=$!
trap 'kill $server 2>/dev/null' EXIT INT TERM
for i in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$tmp/port")"
in=testdata/api/two-groups.jsonl
unset COHERE_API_KEY JINA_API_KEY VOYAGE_API_KEY MXBAI_API_KEY TOGETHER_API_KEY PINECONE_API_KEY
export RERANK_API_KEY=sk-test-123

# Expected ranking for every provider: q1: b (3 + 1/6), a (2 + 1/6), c;
# q2: d (2 + 1/7), e.
expect="q1 b 1
q1 a 2
q1 c 3
q2 d 1
q2 e 2"
for p in "cohere /v1/rerank" "cohere-v2 /v2/rerank" "jina /v1/rerank" "voyage /v1/rerank" \
         "mixedbread /v1/reranking" "together /v1/rerank" "pinecone /rerank" "tei /rerank"; do
    set -- $p
    model="--api-model m"; [ "$1" = tei ] && model=""
    rerank --api "$1" --api-url "$base/$1$2?order=shuffle" $model --format tsv --no-text \
        "$in" > "$tmp/$1.tsv" 2> "$tmp/$1.err"
    rc=$?
    got=$(cut -f1-3 "$tmp/$1.tsv" | tr '\t' ' ')
    if [ $rc = 0 ] && [ "$got" = "$expect" ]; then ok; else bad "$1: exit $rc: $(cat "$tmp/$1.err") $got"; fi
done
score=$(awk -F'\t' '$2 == "b" { print $4 }' "$tmp/cohere.tsv")
if [ "$score" = "3.1666666666666665" ]; then ok; else bad "cohere score of b: $score"; fi

# --cache with an API: the provider, URL and model are part of the key.
cached() { # expected "hits misses calls", then options
    want=$1; shift
    rerank --api cohere --api-url "$base/cohere/v1/rerank" --cache "$tmp/cache.db" --verbose \
        --format tsv --no-text "$@" "$in" > "$tmp/cached.tsv" 2> "$tmp/cached.err"
    got=$(sed -n 's/^rerank: score cache: \([0-9]*\) hits, \([0-9]*\) misses, \([0-9]*\) scorer calls.*/\1 \2 \3/p' "$tmp/cached.err")
    if [ "$got" = "$want" ] && cmp -s "$tmp/cached.tsv" "$tmp/cohere-m.tsv"; then ok
    else bad "api cache $*: '$got', expected '$want'"; cat "$tmp/cached.err"; fi
}
rerank --api cohere --api-url "$base/cohere/v1/rerank" --api-model m --format tsv --no-text "$in" > "$tmp/cohere-m.tsv"
cached "0 5 2" --api-model m
cached "5 0 0" --api-model m
cached "0 5 2" --api-model m2

# A hosted provider with no key fails before any request (exit 2).
env -u RERANK_API_KEY rerank --api cohere "$in" > "$tmp/nokey.out" 2> "$tmp/nokey.err"
if [ $? = 2 ] && grep -q COHERE_API_KEY "$tmp/nokey.err" && [ ! -s "$tmp/nokey.out" ]; then ok
else bad "missing key: $(cat "$tmp/nokey.err")"; fi

# 429 with Retry-After once: one retry line, then success.
rerank --api jina --api-url "$base/jina/v1/rerank?fault=429&times=1&tag=r429" --api-model m \
    --format tsv "$in" > "$tmp/429.out" 2> "$tmp/429.err"
if [ $? = 0 ] && [ "$(wc -l < "$tmp/429.out")" = 5 ] && grep -q 'retry 1 of 3' "$tmp/429.err"; then ok
else bad "429: $(cat "$tmp/429.err")"; fi

# 401 (never retried): the provider's message and a hint; exit 5.
rerank --api cohere --api-url "$base/cohere/v1/rerank?fault=401" --api-model m "$in" \
    > "$tmp/401.out" 2> "$tmp/401.err"
rc=$?
if [ $rc = 5 ] && grep -q 'HTTP 401' "$tmp/401.err" && ! grep -q sk-test-123 "$tmp/401.err"; then ok
else bad "401: exit $rc: $(cat "$tmp/401.err")"; fi

# A failure in the second group: the first is written, then exit 5.
# (TEI refuses more than 32 documents; group q2 has 40.)
awk 'BEGIN { for (i = 0; i < 3; i++) printf "{\"qid\":\"g1\",\"query\":\"x\",\"text\":\"x %d\"}\n", i;
             for (i = 0; i < 40; i++) printf "{\"qid\":\"g2\",\"query\":\"x\",\"text\":\"x %d\"}\n", i }' \
    > "$tmp/big.jsonl"
rerank --api tei --api-url "$base/tei/rerank" --api-batch 40 --format tsv "$tmp/big.jsonl" \
    > "$tmp/second.out" 2> "$tmp/second.err"
rc=$?
if [ $rc = 5 ] && [ "$(cut -f1 "$tmp/second.out" | sort -u)" = g1 ] && \
   [ "$(wc -l < "$tmp/second.out")" = 3 ] && grep -q 'was not written' "$tmp/second.err"; then ok
else bad "second group fails: exit $rc: $(cat "$tmp/second.err")"; fi

# --keep-going: the failed group is written in input order with "error".
rerank --api tei --api-url "$base/tei/rerank" --api-batch 40 --keep-going "$tmp/big.jsonl" \
    > "$tmp/keep.out" 2> "$tmp/keep.err"
rc=$?
n_err=$(grep -c '"error":' "$tmp/keep.out")
first_err=$(grep '"error":' "$tmp/keep.out" | head -n 1 | grep -c '"text":"x 0"')
if [ $rc = 6 ] && [ "$n_err" = 40 ] && [ "$first_err" = 1 ] && ! grep '"error"' "$tmp/keep.out" | grep -q '"score"'; then ok
else bad "keep-going: exit $rc, $n_err error lines"; fi

# --verbose shows requests, never the key.
rerank --api cohere --api-url "$base/cohere/v1/rerank" --api-model m --verbose "$in" \
    > /dev/null 2> "$tmp/verbose.err"
if grep -q 'POST' "$tmp/verbose.err" && ! grep -q sk-test-123 "$tmp/verbose.err"; then ok
else bad "verbose: $(cat "$tmp/verbose.err")"; fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
