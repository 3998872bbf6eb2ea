#!/bin/sh
# bench/lora-grpo.sh - GRPO with LoRA on the demo task: the demo's model
# after its SFT (pipelines/demo.sh, which this runs with RL_STEPS=1 for its
# data, SFT and the held-out evaluation), then STEPS GRPO steps that train
# rank-R adapters only (update --lora, the SFT model frozen), each step
# sampling from the SFT model with the previous step's adapter (gen
# --adapter), and the held-out greedy evaluation again with the last one.
#
#   sh bench/lora-grpo.sh             (DIR=lora-demo STEPS=80 R=16 LR=2e-3)
#
# The steps are grpo.mk's: BATCH prompts x G samples at temperature 1
# (lib.sh pick with seed 1), score-math --extract boxed and score-format,
# advantage, pack -L 1024 --truncate.  Everything runs on --threads 1
# (POSTTRAIN_THREADS=1).  Prints held-out accuracy before and after, and
# the per-step mean reward into DIR/lora/metrics.jsonl.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
PATH="$TOP/bin:$PATH"
D=${DIR:-lora-demo}
STEPS=${STEPS:-80}
R=${R:-16}
ALPHA=${ALPHA:-$((2 * R))}
LR=${LR:-2e-3}
BATCH=${BATCH:-16}
G=${G:-16}
export POSTTRAIN_THREADS=1
make -s -C "$TOP" all
DEMO_DIR="$D" RL_STEPS=1 sh "$TOP/pipelines/demo.sh" >/dev/null
SFT="$D/sft/final"
RUN="$D/lora"
mkdir -p "$RUN"
prev=
t0=$(date +%s)
for s in $(sh "$TOP/pipelines/lib.sh" steps "$STEPS"); do
    S="$RUN/step-$s"
    mkdir -p "$S"
    if [ ! -e "$S/adapter/adapter_model.safetensors" ]; then
        sh "$TOP/pipelines/lib.sh" pick 1 "$s" "$BATCH" "$D/rl-prompts.jsonl" >"$S/prompts.jsonl"
        n=${s#0}; n=${n#0}
        seed=$(( 100003 + n ))
        gen -m "$SFT" ${prev:+--adapter "$prev"} -G "$G" -T 1.0 -n 64 --seed "$seed" --think \
            -q "$S/prompts.jsonl" | score-math --extract boxed -q | score-format -q \
            >"$S/scored.jsonl"
        advantage -G "$G" -q "$S/scored.jsonl" | pack -L 1024 --truncate -q >"$S/packed.jsonl"
        if [ -z "$prev" ]; then
            set -- --lora "$R" --lora-alpha "$ALPHA"
        else
            set -- --adapter "$prev"
        fi
        update -q -m "$SFT" "$@" -o "$S/adapter" --grpo --lr "$LR" --metrics "$S/metrics.jsonl" \
            "$S/packed.jsonl"
        stats -j -q --reward rewards.math "$S/scored.jsonl" | jq -c --arg s "$s" \
            '{step: ($s | tonumber), accuracy}' >"$S/accuracy.json"
    fi
    prev="$S/adapter"
done
cat "$RUN"/step-*/accuracy.json >"$RUN/metrics.jsonl"
if [ ! -e "$RUN/after.stats.json" ]; then
    gen -m "$SFT" --adapter "$prev" -T 0 -n 64 --think -q "$D/eval.jsonl" |
        score-math --extract boxed -q | score-format -q -o "$RUN/after.scored.jsonl"
    stats -j -q --reward rewards.math "$RUN/after.scored.jsonl" >"$RUN/after.stats.json"
fi
printf 'held-out accuracy after SFT %s, after %s LoRA GRPO steps (r %s, lr %s) %s (%ss)\n' \
    "$(jq .accuracy "$D/before.stats.json")" "$STEPS" "$R" "$LR" \
    "$(jq .accuracy "$RUN/after.stats.json")" $(( $(date +%s) - t0 ))
jq -s -r '"train-sample accuracy, first 10 steps \(.[0:10] | map(.accuracy) | add / length),
last 10 \(.[-10:] | map(.accuracy) | add / length)"' "$RUN/metrics.jsonl"
