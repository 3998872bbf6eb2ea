#!/bin/sh
# bench/kern16.sh - the bf16 matrix kernels (lib/kern_bf16.c) against the
# fp32 kernel (lib/kern.c) at qwen3-0.6b's product shapes (C = 1024,
# H = 3072, V = 151936): the MLP's up (1024 -> 3072) and down (3072 ->
# 1024) products and the LM head (1024 -> 151936), at decoding row counts
# (R = 1, 8, 64) and a prefill / training block (R = 512).  Every bf16
# kernel set this CPU runs, each with its GFLOP/s, weight GB/s and speed
# as a ratio to fp32; sets the CPU lacks are listed as skipped.  Lines go
# to bench/out/kern16.jsonl and a table to stdout.
#
#   sh bench/kern16.sh        THREADS (default 1), SETS (default all),
#                             ROWS (default "1 8 64 512")
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
THREADS=${THREADS:-1}
SETS=${SETS:-f32,c,avx2,avx512,avx512bf16,amx}
ROWS=${ROWS:-1 8 64 512}
make -s build/libposttrain.a
mkdir -p build/bench bench/out
LDLIBS=$(sed -n 's/^LDLIBS = //p' Makefile)
# shellcheck disable=SC2086
cc -std=c17 -D_GNU_SOURCE -Ilib -O2 -g -o build/bench/kern16_bench bench/kern16_bench.c \
    build/libposttrain.a $LDLIBS

out=bench/out/kern16.jsonl
: >"$out"
for shape in 1024:3072 3072:1024 1024:151936; do
    K=${shape%:*}
    O=${shape#*:}
    for R in $ROWS; do
        sets=$SETS
        # the portable C loop only where it finishes in seconds
        if [ $((R * O)) -gt 65536 ]; then sets=$(echo "$sets" | sed 's/,c,/,/; s/^c,//; s/,c$//'); fi
        build/bench/kern16_bench "$R" "$K" "$O" "$THREADS" "$sets" >>"$out"
    done
done
skipped=$(jq -r 'select(.skipped) | .kernel' "$out" | sort -u | tr '\n' ' ')
[ -z "$skipped" ] || echo "bf16 kernel sets not on this CPU: $skipped"
printf '%-14s %-5s %-12s %9s %11s %7s\n' "K->O" R kernel GFLOP/s weight-GB/s vs-f32
jq -r 'select(.skipped | not) |
       "\(.K)->\(.O)\t\(.R)\t\(.dtype) \(.kernel)\t\(.gflops)\t\(.weight_gbs)\t\(.speed_vs_f32)"' "$out" |
    awk -F'\t' '{ printf "%-14s %-5s %-12s %9s %11s %7s\n", $1, $2, $3, $4, $5, $6 }'
