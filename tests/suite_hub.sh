#!/bin/sh
# tests/suite_hub.sh — `--model ORG/NAME` against a fake hub on 127.0.0.1
# (scripts/fake-hub-server.py serving testdata/tiny-bert): download into the
# Hugging Face cache layout, resume after a dropped connection, gated models
# and HF_TOKEN, HF_HUB_OFFLINE, a missing model.safetensors, and reuse of the
# cache with no server at all.
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
got=$(echo "$pair" | HF_ENDPOINT="$url" HF_TOKEN=hf_secret_token rerank --model acme/gated --no-text 2>&1)
[ "$got" = "$want" ] && ok || bad "gated with token: $got"
grep -q hf_secret_token "$tmp"/*.err && bad "the token was printed" || ok

# A repository without model.safetensors (pytorch_model.bin only).
mkdir -p "$tmp/binonly" && cp testdata/tiny-bert/config.json testdata/tiny-bert/vocab.txt "$tmp/binonly/"
serve binonly "$tmp/binonly"
echo "$pair" | HF_ENDPOINT="$url" rerank --model acme/binonly > /dev/null 2> "$tmp/bin.err"
[ $? = 4 ] && grep -q 'only safetensors' "$tmp/bin.err" && ok || bad "no safetensors: $(cat "$tmp/bin.err")"

# --quiet: a download that is dropped and resumed prints nothing at all.
serve quiet testdata/tiny-bert --drop-once
got=$(echo "$pair" | HF_HUB_CACHE="$tmp/cache-quiet" HF_ENDPOINT="$url" \
      rerank --quiet --model acme/tiny-ce --no-text 2> "$tmp/quiet.err")
[ "$got" = "$want" ] && [ ! -s "$tmp/quiet.err" ] && grep -q 'range=bytes=' "$tmp/quiet.log" && ok \
    || bad "--quiet download: $got / $(cat "$tmp/quiet.err")"

# Not a directory and not a hub name.
rerank --model ./no/such/dir < /dev/null 2> "$tmp/bad.err"
[ $? = 4 ] && grep -q 'no such directory' "$tmp/bad.err" && ok || bad "bad name: $(cat "$tmp/bad.err")"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
