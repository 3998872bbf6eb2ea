#!/bin/sh
# bench/gen.sh - decode throughput of gen's inference (lib/infer: KV cache,
# batched decode) beside PyTorch CPU (bench/gen_torch.py: a Llama decode
# loop with a KV cache, fp32, same shapes) in the same run, at the tiny and
# SmolLM-135M shapes with random weights, for one sequence and for 8
# prompts x G=8 samples; then the memory-bandwidth limit of batch-1
# decoding (weight bytes per token / measured read bandwidth) and the
# batched / batch-1 throughput.  Figures are best of $REPEAT runs.
#
#   sh bench/gen.sh               THREADS (default nproc), REPEAT (default 2)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
THREADS=${THREADS:-$(nproc)}
REPEAT=${REPEAT:-2}
export OMP_WAIT_POLICY=passive
PY=/usr/bin/python3

if ! $PY -c 'import torch' 2>/dev/null; then
    echo "bench/gen.sh: installing python3-torch"
    apt-get install -y -q --no-install-recommends python3-torch > /dev/null
fi
make -s build/libposttrain.a
mkdir -p build/bench
LDLIBS=$(sed -n 's/^LDLIBS = //p' Makefile)
# -march=native for the driver's own bandwidth loop; the library's
# kernels are the ones make built (they pick theirs at run time)
# shellcheck disable=SC2086
cc -O3 -march=native -std=c17 -D_GNU_SOURCE -Ilib -o build/bench/gen-decode \
    bench/gen-decode.c build/libposttrain.a $LDLIBS
make -s bin/gen bin/init

. "$TOP/bench/best.inc"

echo "gen decode vs PyTorch $($PY -c 'import torch; print(torch.__version__)') (CPU fp32), $THREADS threads, prompt 32 tokens"
printf '%-12s %-6s %12s %12s %9s\n' shape rows gen-tok/s torch-tok/s gen/torch
out=$(mktemp)
for shape in tiny smollm-135m; do
    for rows in 1x1 8x8; do
        np=${rows%x*}
        G=${rows#*x}
        case $shape.$rows in
        tiny.1x1) steps=256 ;;
        tiny.8x8) steps=64 ;;
        smollm-135m.1x1) steps=32 ;;
        *) steps=8 ;;
        esac
        ours=$(best build/bench/gen-decode "$shape" "$np" "$G" $steps "$THREADS")
        theirs=$(best $PY bench/gen_torch.py "$shape" "$np" "$G" $steps "$THREADS")
        printf '%-12s %-6s %12.1f %12.1f %8.2fx\n' "$shape" "$rows" "$ours" "$theirs" \
            "$(echo "$ours $theirs" | awk '{ print $1 / $2 }')"
        echo "$shape $rows $ours" >> "$out"
    done
done
bw=$(build/bench/gen-decode --bandwidth "$THREADS")
echo
echo "memory: $bw (1 GiB, $THREADS threads)"
rd=$(echo "$bw" | awk '{ print $2 }')
for shape in tiny smollm-135m; do
    params=$(build/bench/gen-decode "$shape" 1 1 1 1 | awk '{ print $4 }')
    b1=$(awk -v s="$shape" '$1 == s && $2 == "1x1" { print $3 }' "$out")
    b64=$(awk -v s="$shape" '$1 == s && $2 == "8x8" { print $3 }' "$out")
    echo "$shape $params $rd $b1 $b64" | awk '{
        mb = $2 * 4 / 1e6; lim = $3 * 1e9 / ($2 * 4)
        printf "%-12s %.1f MB of weights per token: limit %.1f tok/s at %.2f GB/s; batch 1 at %.0f%% of it; 8x8 / batch 1 = %.1fx\n",
            $1, mb, lim, $3, 100 * $4 / lim, $5 / $4 }'
done
echo "(tiny's weights fit in cache, so its limit is not memory's)"
rm -f "$out"

# The whole tool: checkpoints written by init, 8 prompts x G=8, 64 new
# tokens each, from reading records to writing samples (load, prefill,
# sampling and JSON included).
echo
tmp=$(mktemp -d)
for i in 0 1 2 3 4 5 6 7; do
    printf '{"id":"b%d","prompt":"Question %d: what is %d times %d?"}\n' $i $i $i $((i + 3))
done > "$tmp/p.jsonl"
for shape in tiny smollm-135m; do
    bin/init -p "$shape" -o "$tmp/$shape" > /dev/null
    t0=$(date +%s.%N)
    bin/gen -m "$tmp/$shape" -G 8 -n 64 --batch 64 --threads "$THREADS" --seed 1 \
        "$tmp/p.jsonl" > "$tmp/out.jsonl"
    t1=$(date +%s.%N)
    n=$(jq '.completion_ids | length' "$tmp/out.jsonl" | awk '{ s += $1 } END { print s }')
    echo "$shape $n $t0 $t1" | awk '{ printf "gen %-12s 8 prompts x G=8: %d tokens in %.2f s, %.1f tokens/s end to end\n", $1, $2, $4 - $3, $2 / ($4 - $3) }'
done
rm -rf "$tmp"
echo "(figures from a shared machine: other jobs ran at the same time)"
