#!/bin/sh
# bench/update.sh - training throughput of update(1) through the whole tool
# (read a packed file, load the checkpoint, SFT steps, save the next one)
# beside PyTorch on CPU at the same shapes, and pack(1) throughput.
#
#   sh bench/update.sh              tiny and smollm-135m
#   PRESETS=tiny sh bench/update.sh
#
# Per preset: a fresh checkpoint (init -p), a packed file of B x STEPS
# sequences of T random tokens, and
#   update --sft --batch B --micro-tokens B*T --no-shuffle over it:
#     step   tokens/s of the optimizer steps (mean over the steps after the
#            first, from --metrics)
#     tool   B*T*STEPS / wall-clock seconds of the whole invocation
#   PyTorch: bench/model_torch.py PRESET B T STEPS (the model bench's
#            script: the same decoder, loss, AdamW and clipping), run with
#            Debian's python3-torch and OMP_WAIT_POLICY=passive.
# Then pack over 20000 sample records (50..1000 tokens, with log-probs)
# into 2048-token sequences: records/s, best of 3.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT="$TOP/bench/out/update"
PY=${PYTHON:-/usr/bin/python3}
PEER=${PEER_PY:-$TOP/bench/model_torch.py}
mkdir -p "$OUT"
make -s -C "$TOP" bin/init bin/pack bin/update
BIN="$TOP/bin"
THREADS=${POSTTRAIN_THREADS:-$(nproc)}

sec() { date +%s.%N; }

for preset in ${PRESETS:-tiny smollm-135m}; do
    case $preset in
    tiny) B=8; T=256; STEPS=6; V=264 ;;
    smollm-135m) B=2; T=256; STEPS=3; V=49152 ;;
    esac
    ck="$OUT/$preset"
    [ -e "$ck/model.safetensors" ] || "$BIN/init" -p "$preset" -o "$ck"
    awk -v n=$((B * STEPS)) -v T=$T -v V=$V 'BEGIN { srand(1);
        for (i = 0; i < n; i++) {
            ids = ""; m = "";
            for (j = 0; j < T; j++) {
                ids = ids (j ? "," : "") int(rand() * V); m = m (j ? ",1" : "0")
            }
            printf "{\"ids\":[%s],\"segments\":[%d],\"loss_mask\":[%s]}\n", ids, T, m
        } }' >"$OUT/$preset.packed"
    rm -rf "$OUT/$preset.next"
    s=$(sec)
    "$BIN/update" -q -m "$ck" -o "$OUT/$preset.next" --sft --lr 1e-4 --batch $B \
        --micro-tokens $((B * T)) --epochs 1 --no-shuffle --threads "$THREADS" \
        --metrics "$OUT/$preset.metrics" "$OUT/$preset.packed"
    e=$(sec)
    step=$(awk -F'"tokens_per_s":' 'NR > 1 { split($2, a, /[,}]/); s += a[1]; n++ }
        END { printf "%.0f", n ? s / n : 0 }' "$OUT/$preset.metrics")
    tool=$(echo "$s $e" | awk -v t=$((B * T * STEPS)) '{ printf "%.0f", t / ($2 - $1) }')
    peer=
    if [ -e "$PEER" ] && "$PY" -c 'import torch' 2>/dev/null; then
        peer=$(POSTTRAIN_THREADS=$THREADS OMP_WAIT_POLICY=passive \
            "$PY" "$PEER" "$preset" $B $T $STEPS |
            sed -n 's/.*"tokens_per_sec": \([0-9.]*\).*/\1/p')
    fi
    if [ -n "$peer" ]; then
        echo "$preset B=$B T=$T: update $step tokens/s per step, $tool through the tool;" \
            "pytorch $peer tokens/s; ratio $(echo "$step $peer" | awk '{ printf "%.2f", $1 / $2 }')"
    else
        echo "$preset B=$B T=$T: update $step tokens/s per step, $tool through the tool;" \
            "pytorch peer skipped (needs $PEER and python3-torch)"
    fi
done

F="$OUT/samples.jsonl"
[ -e "$F" ] || awk 'BEGIN { srand(2);
    for (i = 0; i < 20000; i++) {
        np = 20 + int(rand() * 100); nc = 30 + int(rand() * 900); p = ""; c = ""; l = "";
        for (j = 0; j < np; j++) p = p (j ? "," : "") int(rand() * 50000);
        for (j = 0; j < nc; j++) {
            c = c (j ? "," : "") int(rand() * 50000); l = l (j ? "," : "") sprintf("%.7g", -rand() * 5)
        }
        printf "{\"id\":\"s%d\",\"group\":\"g%d\",\"k\":%d,\"prompt_ids\":[%s],\"completion_ids\":[%s],\"logprobs\":[%s],\"advantage\":%.4f}\n",
            i, int(i / 8), i % 8, p, c, l, rand() * 2 - 1
    } }' >"$F"
MB=$(wc -c <"$F" | awk '{ printf "%.0f", $1 / 1e6 }')
best=1e9
for k in 1 2 3; do
    s=$(sec); "$BIN/pack" -q -L 2048 "$F" >/dev/null; e=$(sec)
    best=$(echo "$s $e $best" | awk '{ t = $2 - $1; print (t < $3 ? t : $3) }')
done
echo "pack: 20000 records ($MB MB) in $best s: $(echo "$best" | awk '{ printf "%.0f", 20000 / $1 }') records/s"
"$BIN/pack" -L 2048 "$F" 2>&1 >/dev/null | sed 's/^/  /'
