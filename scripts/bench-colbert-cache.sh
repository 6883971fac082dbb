#!/bin/sh
# scripts/bench-colbert-cache.sh — the end-to-end speed of a ColBERT rerank
# with a cold --cache and a warm one, on 2 queries x 100 long Cranfield
# abstracts (200 documents).  Usage:
#   scripts/bench-colbert-cache.sh MODEL_DIR [THREADS]
# MODEL_DIR: a ColBERT model (for a realistic size, a BERT-base one such as
# colbert-ir/colbertv2.0).  Prints the two wall times and their ratio.
set -e
cd "$(dirname "$0")/.."
model=${1:?usage: $0 MODEL_DIR [THREADS]}
threads=${2:-0}
SHARED=${RERANK_SHARED:-../shared}
tmp=${TMPDIR:-/tmp}/bench-colbert-cache.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
python3 - "$SHARED/collections/cranfield/docs.jsonl" "$SHARED/collections/cranfield/queries.tsv" > "$tmp/in.jsonl" <<'PY'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
docs = sorted(docs, key=lambda d: -len(d.get("text", "")))[:100]  # the longest
queries = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2])][:2]
for qid, q in queries:
    for d in docs:
        print(json.dumps({"qid": qid, "query": q, "docid": d.get("docid", d.get("_id")), "text": d["text"]}))
PY
run() {
    start=$(date +%s.%N)
    ./rerank --model "$model" --threads "$threads" --cache "$tmp/cache.db" --no-text < "$tmp/in.jsonl" > "$tmp/$1.out"
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
cold=$(run cold)
warm=$(run warm)
cmp -s "$tmp/cold.out" "$tmp/warm.out" || { echo "cold and warm outputs differ" >&2; exit 1; }
echo "200 documents: cold ${cold}s, warm ${warm}s, $(echo "scale=1; $cold / $warm" | bc)x faster"
