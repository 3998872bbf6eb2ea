#!/bin/sh
# bench/serve.sh - serve's throughput (completion tokens per second) with
# 1, 8 and 32 concurrent clients (gen --server --concurrency C against
# serve), beside gen -m on the same work (same checkpoint, prompts,
# G, max tokens, seed) in the same run; the ratio serve / gen says what
# the HTTP layer and the per-request scheduling cost.  The tiny preset
# with random weights.  Best of $REPEAT runs.
#
#   sh bench/serve.sh             THREADS (default nproc), REPEAT (default 2), N (prompts, 64)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
THREADS=${THREADS:-$(nproc)}
REPEAT=${REPEAT:-2}
N=${N:-64}
make -s all
PATH="$TOP/bin:$PATH"
W=$(mktemp -d)
trap 'kill $SP 2>/dev/null; rm -rf "$W"' EXIT
SP=
init -p tiny -s 1 -o "$W/ck"
jq -nc --argjson n "$N" 'range($n) | {id: "q\(.)", prompt: "Question \(.): what is \(.) + \(.)?"}' \
    > "$W/in.jsonl"
GEN="-G 2 -n 64 -T 1 --seed 1"
best() { # best of REPEAT runs of "$@": seconds
    b=
    for _ in $(seq "$REPEAT"); do
        s=$(date +%s.%N); "$@" > "$W/out"; e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}
tokens() { jq -s '[.[].completion_ids | length] | add' "$W/out"; }
# shellcheck disable=SC2086
tg=$(best gen -m "$W/ck" $GEN --threads "$THREADS" --batch 32 "$W/in.jsonl")
ng=$(tokens)
rg=$(echo "$ng / $tg" | bc -l)
printf 'gen -m        %6d tokens %7.2f s %8.1f tokens/s\n' "$ng" "$tg" "$rg"
serve -m "$W/ck" --port 0 --threads "$THREADS" --batch 32 > "$W/url" &
SP=$!
while ! grep -q http "$W/url" 2>/dev/null; do sleep 0.1; done
URL=$(cat "$W/url")
for c in 1 8 32; do
    # shellcheck disable=SC2086
    ts=$(best gen --server "$URL/v1" -m ck $GEN --send-id --token-ids --concurrency "$c" "$W/in.jsonl")
    ns=$(tokens)
    rs=$(echo "$ns / $ts" | bc -l)
    printf 'serve, %2d clients %6d tokens %7.2f s %8.1f tokens/s  serve/gen %.2f\n' \
        "$c" "$ns" "$ts" "$rs" "$(echo "$rs / $rg" | bc -l)"
done
