#!/bin/sh
# bench/blas-env.sh - update(1) is as fast started bare as with
# OPENBLAS_CORETYPE set by hand (lib/cpu.h), and what the generic kernels
# it avoids would cost.
#
#   sh bench/blas-env.sh            smollm-135m, 2 x 256 tokens, 3 SFT steps
#   PRESET=tiny sh bench/blas-env.sh
#
# Three runs of the same update over the same packed file, in one go:
#   bare     OPENBLAS_CORETYPE unset (what a user who just runs it gets)
#   set      OPENBLAS_CORETYPE=the core lib/cpu picks for this CPU
#   generic  OPENBLAS_CORETYPE=Prescott (OpenBLAS's SSE3 fallback, what
#            misdetecting virtual CPUs got before lib/cpu)
# and the ratios bare/set (goal: within 10%) and generic/set.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT="$TOP/bench/out/blas-env"
PRESET=${PRESET:-smollm-135m}
mkdir -p "$OUT"
make -s -C "$TOP" bin/init bin/update build/test/test_cpu
BIN="$TOP/bin"
B=2 T=256 STEPS=3
case $PRESET in tiny) V=264 ;; *) V=49152 ;; esac
ck="$OUT/$PRESET"
[ -e "$ck/config.json" ] || env -u OPENBLAS_CORETYPE "$BIN/init" -p "$PRESET" -o "$ck"
awk -v n=$((B * STEPS)) -v T=$T -v V=$V 'BEGIN { srand(1);
    for (i = 0; i < n; i++) {
        ids = ""; m = "";
        for (j = 0; j < T; j++) { ids = ids (j ? "," : "") int(rand() * V); m = m (j ? ",1" : "0") }
        printf "{\"ids\":[%s],\"segments\":[%d],\"loss_mask\":[%s]}\n", ids, T, m
    } }' >"$OUT/packed"
# The core lib/cpu would choose, from the same cpuid reading.
want=$(awk '/avx512f/ && /avx512dq/ && /avx512bw/ && /avx512vl/ { print (/avx512_bf16/ ? "Cooperlake" : "SkylakeX"); exit }
            /avx2/ && /fma/ { print "Haswell"; exit } /avx/ { print "Sandybridge"; exit }' /proc/cpuinfo)
run() { # NAME, then env assignments
    name=$1; shift
    rm -rf "$OUT/next"
    s=$(date +%s.%N)
    env -u OPENBLAS_CORETYPE "$@" "$BIN/update" -q -m "$ck" -o "$OUT/next" --sft --lr 1e-4 \
        --batch $B --micro-tokens $((B * T)) --epochs 1 --no-shuffle "$OUT/packed"
    e=$(date +%s.%N)
    echo "$name $(echo "$s $e" | awk '{ printf "%.3f", $2 - $1 }')"
}
{
    run bare
    run set OPENBLAS_CORETYPE="${want:-Prescott}"
    run generic OPENBLAS_CORETYPE=Prescott
} | tee "$OUT/times" | awk -v want="${want:-none}" -v p="$PRESET" '
    { t[$1] = $2 }
    END {
        printf "blas-env %s, core for this CPU: %s\n", p, want
        printf "  bare %.2f s   set %.2f s   generic %.2f s\n", t["bare"], t["set"], t["generic"]
        printf "  bare/set %.2f (goal <= 1.10)   generic/set %.2f\n", t["bare"] / t["set"], t["generic"] / t["set"]
    }'
