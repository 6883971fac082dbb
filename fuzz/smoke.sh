#!/bin/sh
# fuzz/smoke.sh — runs each fuzz target briefly (what CI does): first every
# committed reproducer under fuzz/regressions/TARGET/, then SECONDS of
# fuzzing from build/fuzz/corpus/TARGET.  Any finding (crash, leak, UB,
# timeout, out-of-memory) fails the run; its input is saved as
# build/fuzz/findings/TARGET-crash-... for `build/fuzz/TARGET FILE`.
#
# Usage: sh fuzz/smoke.sh BUILD_DIR SECONDS TARGET...  (`make fuzz-smoke`)
dir=$1 secs=$2
shift 2
mkdir -p "$dir/findings" "$dir/logs"
failed=""
for t in "$@"; do
    bin="$dir/$t"
    case $t in
    fuzz_jsonl|fuzz_api|fuzz_llm|fuzz_config|fuzz_colbert|fuzz_tokenizer_json|fuzz_tokjson|fuzz_safetensors|fuzz_trec_docs)
        dict=-dict=fuzz/json.dict ;;
    fuzz_trec_queries) dict=-dict=fuzz/topics.dict ;;
    *) dict= ;;
    esac
    log="$dir/logs/$t.log"
    if [ -d "fuzz/regressions/$t" ] && ! "$bin" fuzz/regressions/$t/* > "$log" 2>&1; then
        echo "$t: a reproducer in fuzz/regressions/$t fails again"
        grep -E '^(Running:|==.*ERROR|SUMMARY|    #[0-4] )|runtime error' "$log" | head -n 12
        failed="$failed $t"; continue
    fi
    "$bin" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/findings/$t-" \
        "$dir/corpus/$t" > "$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    if [ $rc -ne 0 ]; then
        echo "$t: FINDING (exit $rc)"
        grep -E '^(==.*ERROR|SUMMARY|    #[0-4] |Test unit written)|runtime error' "$log" | head -n 12
        failed="$failed $t"
    else
        echo "$t: ${runs:-?} runs in ${secs} s, no finding"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz findings in:$failed (logs in $dir/logs)"
    exit 1
fi
