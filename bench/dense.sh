#!/bin/sh
# bench/dense.sh - posttrain beside PyTorch at one dense model's shape
# (random weights, the same architecture on both sides), in one run:
#
#   decode   tokens/s of lib/infer's KV-cache decode (bench/gen-decode.c)
#            and of a PyTorch decoder with a KV cache (bench/gen_torch.py),
#            one sequence and 8 prompts x G=8, after a 32-token prompt
#   train    tokens/s of update --sft steps of 4 x 512 tokens (forward,
#            backward, AdamW, fp32; the mean over the steps after the
#            first, from --metrics) and of bench/model_torch.py's steps
#            (the same decoder, loss, AdamW, clipping) on the same weights
#            (update's checkpoint, loaded by model_torch) and the same
#            rows; the first step's loss of each side, which must agree
#            within 1e-4 for the figures to be of the same work.  PyTorch
#            takes its best setting that fits the machine: the head's
#            cross-entropy fused over row chunks (never B x T x V logits)
#            and micro-batches of TORCH_MICRO rows (default 1) with the
#            gradient accumulated over the 4 rows (4 x 512 in one pass
#            needs more than the machine's 24 GB; see bench/dense.md)
#   memory   the peak RSS of one update --grpo step at 4 x 512 tokens
#            (/usr/bin/time -v), weights, gradients and AdamW moments in
#            fp32 included
#
# and the ratios posttrain / PyTorch.  PyTorch is Debian's python3-torch
# with OMP_WAIT_POLICY=passive and torch.set_num_threads(THREADS).
#
#   sh bench/dense.sh                   Qwen3-0.6B's shape (bench/qwen3-0.6b.json)
#   CONFIG=x.json sh bench/dense.sh     any config.json init accepts
#   THREADS (default 2), STEPS (training steps per side, default 3),
#   REPEAT (decode runs per figure, best kept; default 2), TORCH_MICRO
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
CONFIG=${CONFIG:-bench/qwen3-0.6b.json}
THREADS=${THREADS:-2}
STEPS=${STEPS:-3}
REPEAT=${REPEAT:-2}
TORCH_MICRO=${TORCH_MICRO:-1}
PY=${PYTHON:-/usr/bin/python3}
OUT="$TOP/bench/out/dense"
export OMP_WAIT_POLICY=passive POSTTRAIN_THREADS="$THREADS"

$PY -c 'import torch' || { echo "bench/dense.sh: $PY lacks torch (make deps)" >&2; exit 1; }
make -s build/libposttrain.a bin/init bin/update
mkdir -p build/bench "$OUT"
LDLIBS=$(sed -n 's/^LDLIBS = //p' Makefile)
# shellcheck disable=SC2086
cc -O3 -march=native -std=c17 -D_GNU_SOURCE -Ilib -o build/bench/gen-decode \
    bench/gen-decode.c build/libposttrain.a $LDLIBS

# ratio A B: A / B, or "-" when a side gave no figure (killed, say)
ratio() { echo "$1 $2" | awk '{ if (NF == 2 && $2 > 0) printf "%.2f", $1 / $2; else printf "-" }'; }
. "$TOP/bench/best.inc"

ck="$OUT/ckpt"
rm -rf "$ck"
bin/init -c "$CONFIG" --dtype f32 -o "$ck"
V=$(jq .vocab_size "$CONFIG")
echo "shape $CONFIG: $(jq -c '{model_type, hidden_size, intermediate_size,
    num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim, vocab_size,
    tie_word_embeddings}' "$CONFIG")"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "posttrain vs PyTorch $($PY -c 'import torch; print(torch.__version__)') (CPU fp32), $THREADS threads"

for rows in 1x1 8x8; do
    np=${rows%x*} G=${rows#*x}
    steps=16
    [ "$rows" = 8x8 ] && steps=4
    ours=$(best build/bench/gen-decode "$CONFIG" "$np" "$G" $steps "$THREADS")
    theirs=$(best $PY bench/gen_torch.py "$CONFIG" "$np" "$G" $steps "$THREADS")
    echo "decode $rows: posttrain $ours tok/s, pytorch $theirs tok/s, ratio $(ratio "$ours" "$theirs")"
done

# 4 x STEPS rows of 512 random tokens, every token but the first a target;
# for GRPO an advantage per row and old log-probs
awk -v n=$((4 * STEPS)) -v V="$V" 'BEGIN { srand(1);
    for (i = 0; i < n; i++) {
        ids = ""; m = ""; lp = "";
        for (j = 0; j < 512; j++) {
            ids = ids (j ? "," : "") int(rand() * V); m = m (j ? ",1" : "0")
            lp = lp (j ? "," : "") (j ? -12 : 0)
        }
        printf "{\"ids\":[%s],\"segments\":[512],\"loss_mask\":[%s],\"advantage\":[%.3f],\"old_logprobs\":[%s]}\n",
            ids, m, (i % 2 ? 1 : -1) * 0.5, lp
    } }' >"$OUT/packed.jsonl"
rm -rf "$OUT/next" "$OUT/metrics.jsonl"
bin/update -q -m "$ck" -o "$OUT/next" --sft --lr 1e-5 --schedule constant --batch 4 \
    --micro-tokens 2048 --epochs 1 --no-shuffle --threads "$THREADS" \
    --metrics "$OUT/metrics.jsonl" "$OUT/packed.jsonl"
ours=$(awk -F'"tokens_per_s":' 'NR > 1 { split($2, a, /[,}]/); s += a[1]; n++ }
    END { printf "%.1f", n ? s / n : 0 }' "$OUT/metrics.jsonl")
/usr/bin/time -v $PY bench/model_torch.py "$ck" 4 512 $((STEPS - 1)) \
    --data "$OUT/packed.jsonl" --micro "$TORCH_MICRO" --lr 1e-5 \
    >"$OUT/torch.json" 2>"$OUT/torch-time.txt" || true
theirs=$(jq -r '.tokens_per_sec // empty' "$OUT/torch.json" 2>/dev/null || true)
[ -n "$theirs" ] || theirs="(failed)"
echo "train 4x512: posttrain $ours tok/s, pytorch $theirs tok/s" \
    "(micro-batches of $TORCH_MICRO, peak RSS $(sed -n 's/.*Maximum resident set size (kbytes): //p' \
    "$OUT/torch-time.txt" | awk '{ printf "%.2f GB", $1 * 1024 / 1e9 }')), ratio $(ratio "$ours" "$theirs")"
lo=$(jq -s -r 'map(.loss) | join(" ")' "$OUT/metrics.jsonl")
lt=$(jq -r '.losses // [] | join(" ")' "$OUT/torch.json" 2>/dev/null || true)
echo "$lo|$lt" | awk -F'|' '{ n = split($1, a, " "); m = split($2, b, " ");
    if (!m) { print "loss check: no PyTorch loss"; exit }
    d = a[1] - b[1]; if (d < 0) d = -d
    printf "loss check, first step: posttrain %.7f pytorch %.7f |diff| %.2g (%s 1e-4)\n",
        a[1], b[1], d, d <= 1e-4 ? "within" : "NOT within"
    printf "losses of every step: posttrain"; for (i = 1; i <= n; i++) printf " %.7f", a[i]
    printf ", pytorch"; for (i = 1; i <= m; i++) printf " %.7f", b[i]; printf "\n" }'

head -n 4 "$OUT/packed.jsonl" >"$OUT/grpo.jsonl"
rm -rf "$OUT/next"
/usr/bin/time -v bin/update -q -m "$ck" -o "$OUT/next" --grpo --lr 1e-6 --batch 4 \
    --micro-tokens 2048 --threads "$THREADS" "$OUT/grpo.jsonl" 2>"$OUT/time.txt" ||
    echo "update --grpo failed: $(grep -m1 -i 'signal\|error' "$OUT/time.txt")"
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/time.txt")
echo "update --grpo one step 4x512: peak RSS $(echo "$rss" | awk '{ printf "%.2f GB", $1 * 1024 / 1e9 }')" \
    "($(awk '/Elapsed/ { print $NF }' "$OUT/time.txt") wall)"
rm -rf "$OUT/next" "$ck"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(figures from a shared machine: other jobs may have run at the same time)"
