#!/bin/sh
# tests/suite_hub.sh — `--model ORG/NAME` against a fake hub on 127.0.0.1
# (scripts/fake-hub-server.py serving testdata/tiny-bert): download into the
# Hugging Face cache layout, a PyLate ColBERT's module directory (1_Dense), resume after a dropped connection, gated models
# and HF_TOKEN (never sent past a redirect to another host), HF_HUB_OFFLINE,
# a missing model.safetensors, reuse of the cache with no server at all,
# revisions that are not ref names, and downloads that cannot succeed
# (refused, unresolvable, 404, 403).
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
if ! command -v python3 >/dev/null; then
    echo "SKIP hub suite: no python3"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=$(pwd)/tests/out/hub; rm -rf "$tmp"; mkdir -p "$tmp"
pids=""
trap 'kill $pids 2>/dev/null' EXIT INT TERM
serve() { # name, dir, extra args...; sets $url
    n=$1; d=$2; shift 2
    python3 scripts/fake-hub-server.py --dir "$d" --port-file "$tmp/$n.port" \
        --log "$tmp/$n.log" --idle 20 "$@" 2> "$tmp/$n.err" &
    pids="$pids $!"
    for i in $(seq 50); do [ -s "$tmp/$n.port" ] && break; sleep 0.1; done
    url="http://127.0.0.1:$(cat "$tmp/$n.port")"
}
pair='{"qid":"1","query":"alpha beta","docid":"x","text":"gamma delta"}'
want=$(echo "$pair" | rerank --model testdata/tiny-bert --no-text 2>&1)

# A download that drops once mid-file, then resumes with a range request.
serve main testdata/tiny-bert --drop-once
export HF_HUB_CACHE="$tmp/cache" HF_ENDPOINT="$url"
unset HF_HUB_OFFLINE HF_TOKEN HF_HOME
got=$(echo "$pair" | rerank --model acme/tiny-ce --no-text 2> "$tmp/dl.err")
[ "$got" = "$want" ] && ok || bad "downloaded model scores differently: $got / $want / $(cat "$tmp/dl.err")"
grep -q 'resuming' "$tmp/dl.err" && ok || bad "no resume message: $(cat "$tmp/dl.err")"
grep -q 'range=bytes=' "$tmp/main.log" && ok || bad "no range request in $(cat "$tmp/main.log")"
repo="$tmp/cache/models--acme--tiny-ce"
commit=$(cat "$repo/refs/main" 2>/dev/null)
[ "$commit" = 0123456789abcdef0123456789abcdef01234567 ] && ok || bad "refs/main holds '$commit'"
link=$(readlink "$repo/snapshots/$commit/model.safetensors")
case "$link" in ../../blobs/*) ok ;; *) bad "model.safetensors is not a blob link: '$link'" ;; esac
cmp -s "$repo/snapshots/$commit/model.safetensors" testdata/tiny-bert/model.safetensors && ok \
    || bad "downloaded weights differ"
ls "$repo/blobs" | grep -q incomplete && bad "an .incomplete file was left" || ok

# A server that cannot resume answers the range request with the whole
# file: it is written from the start again.
serve norange testdata/tiny-bert --drop-once --no-range
got=$(echo "$pair" | HF_HUB_CACHE="$tmp/nrcache" HF_ENDPOINT="$url" rerank --model acme/tiny-ce \
    --no-text 2> "$tmp/nr.err")
[ "$got" = "$want" ] && grep -q 'range=bytes=' "$tmp/norange.log" && ok \
    || bad "no range support: $got $(cat "$tmp/nr.err")"
cmp -s "$tmp"/nrcache/models--acme--tiny-ce/snapshots/*/model.safetensors \
    testdata/tiny-bert/model.safetensors && ok || bad "restarted download differs"

# The cache is used as it is: no server needed, offline or not.
got=$(echo "$pair" | HF_ENDPOINT=http://127.0.0.1:9 rerank --model acme/tiny-ce --no-text 2>&1)
[ "$got" = "$want" ] && ok || bad "cached model: $got"
got=$(echo "$pair" | HF_HUB_OFFLINE=1 rerank --model "acme/tiny-ce@$commit" --no-text 2>&1)
[ "$got" = "$want" ] && ok || bad "cached model by commit: $got"

# Offline with nothing cached: exit 4 and a message naming HF_HUB_OFFLINE.
echo "$pair" | HF_HUB_OFFLINE=1 rerank --model acme/other > /dev/null 2> "$tmp/off.err"
[ $? = 4 ] && grep -q HF_HUB_OFFLINE "$tmp/off.err" && ok || bad "offline: $(cat "$tmp/off.err")"

# A gated model: 401 without the token, download with it (never echoed).
serve gated testdata/tiny-bert --token hf_secret_token
echo "$pair" | HF_ENDPOINT="$url" rerank --model acme/gated > /dev/null 2> "$tmp/gated.err"
[ $? = 4 ] && grep -q HF_TOKEN "$tmp/gated.err" && ok || bad "gated without token: $(cat "$tmp/gated.err")"
got=$(echo "$pair" | HF_ENDPOINT="$url" HF_TOKEN=hf_secret_token rerank --model acme/gated \
    --no-text 2> "$tmp/gated2.err")
[ "$got" = "$want" ] && ok || bad "gated with token: $got $(cat "$tmp/gated2.err")"
grep -q hf_secret_token "$tmp"/*.err && bad "the token was printed" || ok

# The token goes to the hub only, never to the storage host an LFS
# redirect names (here "localhost" for the same server).
serve cdn testdata/tiny-bert --token hf_secret_token --cdn-host localhost
got=$(echo "$pair" | HF_ENDPOINT="$url" HF_TOKEN=hf_secret_token rerank --model acme/cdn \
    --no-text 2> "$tmp/cdn.err")
[ "$got" = "$want" ] && ok || bad "redirect to another host: $got $(cat "$tmp/cdn.err")"
grep -q '^GET /cdn/.* auth=no$' "$tmp/cdn.log" && ! grep -q '^GET /cdn/.* auth=yes' "$tmp/cdn.log" \
    && ok || bad "the token followed the redirect: $(cat "$tmp/cdn.log")"

# A download that cannot succeed: one clear message naming the model and the
# host, the ways out, no "resuming", no retry of what cannot succeed, and
# no empty folders left in the cache.
fails() { # name, model, env...: runs rerank, checks the common points
    n=$1; m=$2; shift 2
    echo "$pair" | env HF_HUB_CACHE="$tmp/failcache/hub" "$@" rerank --model "$m" \
        > "$tmp/$n.out" 2> "$tmp/$n.err"
    rc=$?
    [ $rc = 4 ] && [ ! -s "$tmp/$n.out" ] && ok || bad "$n: exit $rc, stdout $(cat "$tmp/$n.out")"
    grep -q "cannot download model $m from " "$tmp/$n.err" && grep -q -- '--model DIR' "$tmp/$n.err" \
        && grep -q 'HF_HUB_OFFLINE=1' "$tmp/$n.err" && grep -q -- '-m bm25' "$tmp/$n.err" && ok \
        || bad "$n: message: $(cat "$tmp/$n.err")"
    grep -q resuming "$tmp/$n.err" && bad "$n: says resuming: $(cat "$tmp/$n.err")" || ok
    [ ! -e "$tmp/failcache" ] && ok || bad "$n: left $(find "$tmp/failcache")"
}
# Nothing listens: retried (the server may come back), then the message.
fails refused acme/tiny-ce HF_ENDPOINT=http://127.0.0.1:9
grep -q 'cannot download model acme/tiny-ce from 127.0.0.1:9: config.json: .*connect.* after 3 retries; ' "$tmp/refused.err" && ok \
    || bad "refused: $(cat "$tmp/refused.err")"
# A host that does not resolve is not retried.
fails nohost acme/tiny-ce HF_ENDPOINT=http://nohost.invalid
grep -q 'from nohost.invalid: config.json: .*resolve' "$tmp/nohost.err" && ! grep -q 'retry' "$tmp/nohost.err" \
    && ok || bad "nohost: $(cat "$tmp/nohost.err")"
# No such model (404) and no access (403): asked once, never retried.
mkdir -p "$tmp/empty"
serve missing "$tmp/empty"
fails missing acme/missing HF_ENDPOINT="$url"
grep -q 'config.json: HTTP 404 (Entry not found): no such model' "$tmp/missing.err" \
    && [ "$(wc -l < "$tmp/missing.log")" -eq 1 ] && ok \
    || bad "404: $(cat "$tmp/missing.err") $(cat "$tmp/missing.log")"
serve deny testdata/tiny-bert --deny
fails deny acme/deny@v2 HF_ENDPOINT="$url" HF_TOKEN=hf_other_token
grep -q 'from 127.0.0.1:[0-9]*: config.json: HTTP 403; check that HF_TOKEN has access' "$tmp/deny.err" \
    && [ "$(wc -l < "$tmp/deny.log")" -eq 1 ] && ! grep -q hf_other_token "$tmp/deny.err" && ok \
    || bad "403: $(cat "$tmp/deny.err") $(cat "$tmp/deny.log")"

# A repository without model.safetensors (pytorch_model.bin only).
mkdir -p "$tmp/binonly" && cp testdata/tiny-bert/config.json testdata/tiny-bert/vocab.txt "$tmp/binonly/"
serve binonly "$tmp/binonly"
echo "$pair" | HF_ENDPOINT="$url" rerank --model acme/binonly > /dev/null 2> "$tmp/bin.err"
[ $? = 4 ] && grep -q 'only safetensors' "$tmp/bin.err" && ok || bad "no safetensors: $(cat "$tmp/bin.err")"

# A revision is never a path: a hub (or mirror) answering
# ORG/NAME@../../../victim/file.txt must not make rerank write outside the
# cache (refs/REVISION).  Checked before any request or directory is made.
mkdir -p "$tmp/victim" && echo precious > "$tmp/victim/file.txt"
serve trav testdata/tiny-bert
for rev in ../../../victim/file.txt /etc/passwd 'a/../b' '.hidden' 'x.lock' 'a b' 'x~1' \
        "$(printf 'a\tb')" 'a//b' 'main/' '@' 'a@{1}' ''; do
    echo "$pair" | HF_HUB_CACHE="$tmp/travcache" HF_ENDPOINT="$url" \
        rerank --model "acme/tiny-ce@$rev" > /dev/null 2> "$tmp/trav.err"
    [ $? = 4 ] && grep -q 'neither a branch or tag name nor a 40-digit commit' "$tmp/trav.err" && ok \
        || bad "revision '$rev' accepted: $(cat "$tmp/trav.err")"
done
[ "$(cat "$tmp/victim/file.txt")" = precious ] && ok || bad "the victim file was overwritten"
[ ! -s "$tmp/trav.log" ] && [ ! -e "$tmp/travcache" ] && ok \
    || bad "a bad revision reached the hub or the cache: $(cat "$tmp/trav.log")"
# Branch and tag names git allows, and refs/pr/N, are fine.
for rev in v1.0 release/2024-01 refs/pr/1 feature_x; do
    got=$(echo "$pair" | HF_HUB_CACHE="$tmp/travcache" HF_ENDPOINT="$url" \
        rerank --model "acme/tiny-ce@$rev" --no-text 2> "$tmp/rev.err")
    [ "$got" = "$want" ] && ok || bad "revision $rev: $got $(cat "$tmp/rev.err")"
done
[ "$(cat "$tmp/travcache/models--acme--tiny-ce/refs/refs/pr/1" 2>/dev/null)" = \
    0123456789abcdef0123456789abcdef01234567 ] && ok || bad "refs/refs/pr/1 not written"
# Repository ids as the hub allows them.
for name in acme/-x acme/x- acme/a--b acme/a..b 'acme/a b' acme/.x; do
    echo "$pair" | HF_ENDPOINT="$url" rerank --model "$name" > /dev/null 2> "$tmp/id.err"
    [ $? = 4 ] && grep -q 'not a hub name' "$tmp/id.err" && ok || bad "repo id '$name': $(cat "$tmp/id.err")"
done

# --quiet: a download that is dropped and resumed prints nothing at all.
serve quiet testdata/tiny-bert --drop-once
got=$(echo "$pair" | HF_HUB_CACHE="$tmp/cache-quiet" HF_ENDPOINT="$url" \
      rerank --quiet --model acme/tiny-ce --no-text 2> "$tmp/quiet.err")
[ "$got" = "$want" ] && [ ! -s "$tmp/quiet.err" ] && grep -q 'range=bytes=' "$tmp/quiet.log" && ok \
    || bad "--quiet download: $got / $(cat "$tmp/quiet.err")"

# A PyLate ColBERT: modules.json names 1_Dense, whose config.json and
# model.safetensors come down into snapshots/COMMIT/1_Dense/ (linked three
# levels up to the blob, as huggingface_hub links them); the scores are the
# local directory's.  A snapshot whose module lost its config.json is
# completed on the next run.
cb=testdata/colbert/modernbert
cbpair='{"qid":"1","query":"what shape?","docid":"x","text":"delta wings, sharp edges."}'
cbwant=$(echo "$cbpair" | rerank --model "$cb" --no-text 2>&1)
serve colbert "$cb"
got=$(echo "$cbpair" | HF_HUB_CACHE="$tmp/cbcache" HF_ENDPOINT="$url" \
      rerank --model lightonai/tiny-colbert --no-text 2> "$tmp/cb.err")
[ "$got" = "$cbwant" ] && ok || bad "ColBERT download: $got / $cbwant / $(cat "$tmp/cb.err")"
snap="$tmp/cbcache/models--lightonai--tiny-colbert/snapshots/0123456789abcdef0123456789abcdef01234567"
for f in modules.json config_sentence_transformers.json 1_Dense/config.json 1_Dense/model.safetensors; do
    cmp -s "$snap/$f" "$cb/$f" && ok || bad "$f not downloaded as it is"
done
case "$(readlink "$snap/1_Dense/model.safetensors")" in ../../../blobs/*) ok ;;
    *) bad "1_Dense/model.safetensors links to $(readlink "$snap/1_Dense/model.safetensors")" ;; esac
grep -q 'resolve/main/1_Dense/model.safetensors' "$tmp/colbert.log" && ok || bad "no 1_Dense request"
rm "$snap/1_Dense/config.json"
got=$(echo "$cbpair" | HF_HUB_CACHE="$tmp/cbcache" HF_ENDPOINT="$url" \
      rerank --model lightonai/tiny-colbert --no-text 2> "$tmp/cb2.err")
[ "$got" = "$cbwant" ] && [ -f "$snap/1_Dense/config.json" ] && ok \
    || bad "incomplete ColBERT snapshot: $got / $(cat "$tmp/cb2.err")"

# Not a directory and not a hub name.
rerank --model ./no/such/dir < /dev/null 2> "$tmp/bad.err"
[ $? = 4 ] && grep -q 'no such directory' "$tmp/bad.err" && ok || bad "bad name: $(cat "$tmp/bad.err")"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
