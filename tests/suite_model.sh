#!/bin/sh
# tests/suite_model.sh — the cross-encoder end to end: scores of the real
# binary against PyTorch's logits for the shared tiny models (BERT in f32,
# f16 and bf16; XLM-RoBERTa) with --activation none and by default, in
# fp32 and --quantize int8,
# --tokenize, the default activation of a model downloaded from a fake hub,
# and the model card
# example of cross-encoder/ms-marco-MiniLM-L-6-v2 when it is in the Hugging
# Face cache.  Parts needing ../shared or the cached model are skipped
# without them.
cd "$(dirname "$0")/.." || exit 2
case "$(command -v rerank)" in "$(pwd)"/*) ;; *) PATH="$(pwd):$PATH" ;; esac
SHARED=${RERANK_SHARED:-../shared}
passed=0 failed=0 skipped=0
tmp=tests/out/model; rm -rf "$tmp"; mkdir -p "$tmp"
add() { # the closing line of a checker's output
    line=$(tail -n 1 "$1")
    grep '^FAIL' "$1"
    p=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
    f=$(echo "$line" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')
    if [ -z "$p" ]; then failed=$((failed + 1)); cat "$1"; return; fi
    passed=$((passed + p)); failed=$((failed + f))
}
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

if [ -d "$SHARED/golden" ] && command -v python3 > /dev/null; then
    for dt in f32 f16 bf16; do
        python3 tests/golden_scores.py "$SHARED/golden/tiny-bert-ce-logits.jsonl" "logits_$dt" \
            "$SHARED/golden/tiny-bert-ce-$dt" "$tmp/$dt" > "$tmp/$dt.log" 2>&1
        add "$tmp/$dt.log"
    done
    python3 tests/golden_scores.py "$SHARED/golden/tiny-xlmr-ce-logits.jsonl" logits \
        "$SHARED/golden/tiny-xlmr-ce" "$tmp/xlmr" > "$tmp/xlmr.log" 2>&1
    add "$tmp/xlmr.log"
    # --quantize int8 against the same PyTorch logits, with int8's
    # tolerance (test_qgemm bounds the kernels exactly).
    python3 tests/golden_scores.py "$SHARED/golden/tiny-bert-ce-logits.jsonl" logits_f32 \
        "$SHARED/golden/tiny-bert-ce-f32" "$tmp/int8" 0.05 --quantize int8 > "$tmp/int8.log" 2>&1
    add "$tmp/int8.log"
    python3 tests/golden_scores.py "$SHARED/golden/tiny-xlmr-ce-logits.jsonl" logits \
        "$SHARED/golden/tiny-xlmr-ce" "$tmp/xlmr-int8" 0.05 --quantize int8 > "$tmp/xlmr-int8.log" 2>&1
    add "$tmp/xlmr-int8.log"
else
    skipped=$((skipped + 1)); echo "SKIP golden logits: no $SHARED/golden or python3"
fi

# The repository's own model (scripts/gen-tiny-model.py) through the CLI:
# --tokenize shows the pair template, and --long max scores windows.
m=testdata/tiny-bert
if [ -d "$m" ]; then
    printf '{"qid":"1","query":"a b","docid":"x","text":"c d e"}\n' |
        rerank --model "$m" --tokenize > "$tmp/tok.out" 2> "$tmp/tok.err"
    grep -q '"input_ids":\[' "$tmp/tok.out" && grep -q '"token_type_ids":\[0,' "$tmp/tok.out" && ok \
        || bad "--tokenize: $(cat "$tmp/tok.out" "$tmp/tok.err")"
fi

# The default activation of a downloaded model follows its
# config_sentence_transformers.json (sentence-transformers 5's modular
# layout), so the hub must fetch it: tiny-bert (two labels: identity by
# default) naming Sigmoid scores the sigmoid of --activation none's logit.
if command -v python3 > /dev/null; then
    st="$tmp/st-model"; mkdir -p "$st"; cp "$m"/config.json "$m"/vocab.txt "$m"/model.safetensors "$st/"
    printf '{"activation_fn": "torch.nn.modules.activation.Sigmoid"}\n' > "$st/config_sentence_transformers.json"
    python3 scripts/fake-hub-server.py --dir "$st" --port-file "$tmp/hub.port" --log "$tmp/hub.log" \
        --idle 10 2> "$tmp/hub.err" &
    hub_pid=$!
    for i in $(seq 50); do [ -s "$tmp/hub.port" ] && break; sleep 0.1; done
    pair='{"qid":"1","query":"a b","docid":"x","text":"c d e"}'
    logit=$(echo "$pair" | rerank --model "$m" --activation none --format tsv | cut -f4)
    got=$(echo "$pair" | HF_HUB_CACHE="$tmp/hub-cache" HF_ENDPOINT="http://127.0.0.1:$(cat "$tmp/hub.port")" \
        HF_HUB_OFFLINE= rerank --model acme/st-ce --format tsv 2> "$tmp/hub-run.err" | cut -f4)
    kill "$hub_pid" 2> /dev/null
    awk -v l="$logit" -v g="$got" 'BEGIN { d = g - 1 / (1 + exp(-l)); if (d < 0) d = -d; exit !(g != "" && d <= 1e-6) }' \
        && ok || bad "downloaded sentence-transformers activation: logit $logit, got '$got' $(cat "$tmp/hub-run.err")"
fi

# The model card of cross-encoder/ms-marco-MiniLM-L-6-v2, when cached.
printf '%s\n' '{"qid":"1","query":"How many people live in Berlin?","docid":"berlin","text":"Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers."}' \
    '{"qid":"1","query":"How many people live in Berlin?","docid":"ny","text":"New York City is famous for the Metropolitan Museum of Art."}' > "$tmp/card.jsonl"
if HF_HUB_OFFLINE=1 rerank --model cross-encoder/ms-marco-MiniLM-L-6-v2 --format tsv --no-text \
        "$tmp/card.jsonl" > "$tmp/card.tsv" 2> "$tmp/card.err"; then
    awk -F'\t' '$2 == "berlin" { b = $4 } $2 == "ny" { n = $4 }
        END { d1 = b - 8.607138; d2 = n + 4.3200774; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2;
              exit !(d1 <= 1e-3 && d2 <= 1e-3) }' "$tmp/card.tsv" && ok \
        || bad "ms-marco-MiniLM-L-6-v2 model card: $(cat "$tmp/card.tsv")"
else
    skipped=$((skipped + 1)); echo "SKIP ms-marco-MiniLM-L-6-v2 model card: not in the Hugging Face cache"
fi

# The FlagEmbedding README example of BAAI/bge-reranker-v2-m3, when cached
# (fp16 reference values, hence the 0.1 tolerance).  FlagEmbedding prints
# raw logits; CrossEncoder.predict, our default, would print their sigmoids.
printf '%s\n' '{"qid":"1","query":"what is panda?","docid":"hi","text":"hi"}' \
    '{"qid":"1","query":"what is panda?","docid":"panda","text":"The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply panda, is a bear species endemic to China."}' > "$tmp/panda.jsonl"
if HF_HUB_OFFLINE=1 rerank --model BAAI/bge-reranker-v2-m3 --activation none --format tsv --no-text \
        "$tmp/panda.jsonl" > "$tmp/panda.tsv" 2> "$tmp/panda.err"; then
    awk -F'\t' '$2 == "hi" { h = $4 } $2 == "panda" { p = $4 }
        END { d1 = h + 8.1875; d2 = p - 5.26171875; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2;
              exit !(d1 <= 0.1 && d2 <= 0.1) }' "$tmp/panda.tsv" && ok \
        || bad "bge-reranker-v2-m3 example: $(cat "$tmp/panda.tsv")"
else
    skipped=$((skipped + 1)); echo "SKIP bge-reranker-v2-m3 example: not in the Hugging Face cache"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
