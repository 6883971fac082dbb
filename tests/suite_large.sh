#!/bin/sh
# tests/suite_large.sh — the collection index at scale: tests/large_trec
# indexes and queries a generated 1,000,000-passage collection (400 MB,
# written under tests/out and removed) within a 512 MiB peak-RSS bound.
# Skipped under sanitizers and valgrind, where the bound means nothing.
cd "$(dirname "$0")/.." || exit 2
if [ -n "${RERANK_SANITIZED:-}${RERANK_VALGRIND:-}" ]; then
    echo "SKIP large collection: RSS bound not meaningful here"
    echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
if [ ! -x tests/large_trec ]; then
    echo "FAIL tests/large_trec is not built (make tests/large_trec)"; echo "0 passed, 1 failed"; exit 1
fi
mkdir -p tests/out
exec ./tests/large_trec 1000000 tests/out 512
