#!/bin/sh
# bench/lora.sh - what LoRA saves in update(1) at Qwen3-0.6B's shape
# (bench/qwen3-0.6b.json, random weights): peak resident memory and
# training tokens/s of SFT steps with every weight trained, and with
# rank-R adapters on every linear product of the layers (update --lora,
# the base frozen: no weight gradients, AdamW moments for the adapters
# only).
#
#   sh bench/lora.sh          (R=16 B=2 T=256 STEPS=3 THREADS=2 RUNS="lora full")
#
# Per run: update --sft --batch B --micro-tokens B*T over B x STEPS random
# sequences of T tokens; tokens/s is the mean of --metrics' tokens_per_s
# over the steps after the first; peak RSS is /usr/bin/time's maximum
# resident set size of the whole invocation (load, steps, save).  The
# full run needs about 12 GiB: it waits (up to WAIT seconds, default 1800)
# until /proc/meminfo's MemAvailable has that much, so that on a shared
# machine it never pushes another job out of memory.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT="$TOP/bench/out/lora"
R=${R:-16}
B=${B:-2}
T=${T:-256}
STEPS=${STEPS:-3}
THREADS=${THREADS:-2}
V=151936
mkdir -p "$OUT"
make -s -C "$TOP" bin/init bin/update
BIN="$TOP/bin"
[ -e "$OUT/base/model.safetensors" ] || "$BIN/init" -c "$TOP/bench/qwen3-0.6b.json" \
    --dtype f32 -s 1 -o "$OUT/base"
awk -v n=$((B * STEPS)) -v T="$T" -v V=$V 'BEGIN { srand(1);
    for (i = 0; i < n; i++) {
        ids = ""; m = "";
        for (j = 0; j < T; j++) {
            ids = ids (j ? "," : "") int(rand() * V); m = m (j ? ",1" : "0")
        }
        printf "{\"ids\":[%s],\"segments\":[%d],\"loss_mask\":[%s]}\n", ids, T, m
    } }' >"$OUT/packed.jsonl"
run() { # name, extra options
    name=$1; shift
    rm -rf "$OUT/$name.out"
    /usr/bin/time -f %M -o "$OUT/$name.rss" "$BIN/update" -q -m "$OUT/base" -o "$OUT/$name.out" \
        --sft --lr 1e-4 --batch "$B" --micro-tokens $((B * T)) --epochs 1 --no-shuffle \
        --threads "$THREADS" --metrics "$OUT/$name.metrics" "$@" "$OUT/packed.jsonl"
    tps=$(jq -s 'if length > 1 then .[1:] else . end | map(.tokens_per_s) | add / length | round' \
        "$OUT/$name.metrics")
    rss=$(awk '{ printf "%.2f", $1 / 1048576 }' "$OUT/$name.rss")
    printf '%-10s peak RSS %6s GiB  %6s tokens/s  (B=%s T=%s, %s steps, %s threads)\n' \
        "$name" "$rss" "$tps" "$B" "$T" "$STEPS" "$THREADS"
    rm -rf "$OUT/$name.out"
}
avail_gib() { awk '/^MemAvailable:/ { printf "%d", $2 / 1048576 }' /proc/meminfo; }
for what in ${RUNS:-lora full}; do
    case $what in
    lora) run "lora-r$R" --lora "$R" ;;
    full)
        waited=0
        while [ "$(avail_gib)" -lt 13 ]; do
            [ "$waited" -lt "${WAIT:-1800}" ] || { echo "full: $(avail_gib) GiB free, not 13" >&2; exit 1; }
            sleep 10; waited=$((waited + 10))
        done
        run full ;;
    esac
done
