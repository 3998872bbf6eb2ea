#!/bin/sh
# pipelines/demo.sh - the main job: from nothing to a model trained with the
# R1 recipe, on this machine, in minutes.
#
#   1. init    a fresh 0.9M-parameter Llama-shaped model (demo-config.json)
#   2. tasks   synthetic arithmetic: SFT data with R1-style <think> worked
#              steps, RL prompts, and held-out evaluation prompts (no prompt
#              of the evaluation set is in the others)
#   3. SFT     a short run (sft.mk): the model learns the format and some
#              arithmetic
#   4. eval    greedy answers to the held-out prompts, scored by score-math
#   5. GRPO    STEPS steps (grpo.mk): gen -> score-math + score-format ->
#              advantage -> pack -> update (RL_REFILL=1: each step draws
#              prompts until it holds RL_BATCH groups whose rewards are not
#              all equal)
#   6. eval    again, then a before/after table and PNG plots
#
# Everything it makes is under DEMO_DIR (default ./demo); run it again and
# it resumes, skipping what is complete.  Sizes can be changed from the
# environment (SFT_N, RL_STEPS, ...), e.g. a quick look:
#   SFT_N=2000 RL_STEPS=2 sh pipelines/demo.sh
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PATH="$HERE/../bin:$PATH"
D=${DEMO_DIR:-demo}
SFT_N=${SFT_N:-22000}       # SFT records: about 400 steps of 8 packed rows
SFT_LR=${SFT_LR:-2e-3}
EVAL_N=${EVAL_N:-300}       # held-out prompts
RL_STEPS=${RL_STEPS:-80}
RL_BATCH=${RL_BATCH:-16}    # prompts per step
RL_G=${RL_G:-16}            # samples per prompt
RL_LR=${RL_LR:-3e-4}
RL_TEMP=${RL_TEMP:-1.0}     # sampling temperature of the GRPO samples
RL_REFILL=${RL_REFILL:-0}   # 1: dynamic sampling with refill (grpo.mk REFILL)
DTYPE=${DTYPE:-f32}         # bf16: bf16 products in SFT, GRPO and evaluation
RL_ASYNC=${RL_ASYNC:-0}     # 1: one-step off-policy GRPO (grpo.mk ASYNC): the
                            # sampling of a step beside the update of the one
                            # before (make -j2), each on the tools' default
                            # threads, or RL_THREADS threads a job when set
OPS=${OPS:-+-}
DIGITS=${DIGITS:-2}
MAKE="make --no-print-directory -s"
# OpenBLAS's kernel: the one set, else named from /proc/cpuinfo (lib.sh).
ct=$(sh "$HERE/lib.sh" coretype)
[ -z "$ct" ] || export OPENBLAS_CORETYPE="$ct"
mkdir -p "$D"
t0=$(date +%s)
say() { printf 'demo: %s (%ds)\n' "$*" $(( $(date +%s) - t0 )); }

# 1. the model
[ -e "$D/base/model.safetensors" ] || init -c "$HERE/demo-config.json" -s 1 -o "$D/base" -v

# 2. data: evaluation prompts first, then training data without them
if [ ! -e "$D/rl-prompts.jsonl" ]; then
    tasks arithmetic -n "$EVAL_N" --seed 1001 --ops "$OPS" --digits "$DIGITS" -o "$D/eval.jsonl"
    jq -r .prompt "$D/eval.jsonl" | sort -u > "$D/eval.prompts"
    tasks arithmetic -n "$SFT_N" --seed 1 --ops "$OPS" --digits "$DIGITS" --column -r \
        | jq -c --rawfile ex "$D/eval.prompts" '($ex | split("\n")) as $e | select(.prompt as $p | $e | index([$p]) | not)' \
        > "$D/sft.jsonl.part" && mv "$D/sft.jsonl.part" "$D/sft.jsonl"
    tasks arithmetic -n 20000 --seed 2 --ops "$OPS" --digits "$DIGITS" \
        | jq -c --rawfile ex "$D/eval.prompts" '($ex | split("\n")) as $e | select(.prompt as $p | $e | index([$p]) | not)' \
        > "$D/rl-prompts.jsonl.part" && mv "$D/rl-prompts.jsonl.part" "$D/rl-prompts.jsonl"
    say "data: $(wc -l < "$D/sft.jsonl") SFT records, $(wc -l < "$D/rl-prompts.jsonl") RL prompts, $EVAL_N held-out prompts"
fi

# 3. SFT
$MAKE -f "$HERE/sft.mk" INIT="$D/base" DATA="$D/sft.jsonl" RUN="$D/sft" EPOCHS=1 L=512 \
    BATCH=8 LR="$SFT_LR" MIN_LR="$SFT_LR" WARMUP=20 DTYPE="$DTYPE"
say "SFT done"

# 4-6. evaluation: greedy, one sample per prompt, the boxed answer only
evaluate() { # checkpoint, name
    if [ ! -e "$D/$2.stats.json" ]; then
        gen -m "$1" --dtype "$DTYPE" -T 0 -n 64 --think -q "$D/eval.jsonl" \
            | score-math --extract boxed -q | score-format -q -o "$D/$2.scored.jsonl"
        stats -j -q --reward rewards.math "$D/$2.scored.jsonl" > "$D/$2.stats.json"
        stats -j -q --reward rewards.format "$D/$2.scored.jsonl" > "$D/$2.format.json"
    fi
}
evaluate "$D/sft/final" before
say "held-out accuracy after SFT: $(jq .accuracy "$D/before.stats.json")"

if [ "$RL_ASYNC" = 1 ]; then
    RL_MAKE="env ${RL_THREADS:+POSTTRAIN_THREADS=$RL_THREADS} $MAKE -j2"
else
    RL_MAKE=$MAKE
fi
$RL_MAKE -f "$HERE/grpo.mk" INIT="$D/sft/final" PROMPTS="$D/rl-prompts.jsonl" RUN="$D/grpo" \
    STEPS="$RL_STEPS" BATCH="$RL_BATCH" G="$RL_G" TEMP="$RL_TEMP" MAXTOK=64 LR="$RL_LR" L=1024 \
    REFILL="$RL_REFILL" ASYNC="$RL_ASYNC" DTYPE="$DTYPE" ACC_KEY=rewards.math 2>/dev/null
FINAL="$D/grpo/step-$(printf %03d "$RL_STEPS")/ckpt"
AFTER=after.step-$(printf %03d "$RL_STEPS")
evaluate "$FINAL" "$AFTER"
stats --plot "$D/plots" "$D/grpo/metrics.jsonl" 2>/dev/null
jq -c '{step, loss, lr}' "$D"/sft/epoch-1.metrics.jsonl > "$D/sft-metrics.jsonl"
stats --plot "$D/plots/sft" "$D/sft-metrics.jsonl" 2>/dev/null
say "GRPO done"

# The table
row() { # label, jq path
    printf '%-28s %10s %10s\n' "$1" "$(jq -r "$2" "$D/before.$3.json")" "$(jq -r "$2" "$D/$AFTER.$3.json")"
}
echo
printf '%-28s %10s %10s\n' "held-out ($EVAL_N prompts)" "after SFT" "after GRPO"
row "accuracy (boxed answer)" '.accuracy * 1000 | round / 10 | tostring + "%"' stats
row "format reward" '.accuracy * 1000 | round / 10 | tostring + "%"' format
row "completion tokens (mean)" '.tokens.mean * 10 | round / 10' stats
row "finished by EOS" '(.finish.stop // 0) / .records * 1000 | round / 10 | tostring + "%"' stats
echo
echo "policy after GRPO:   $FINAL"
echo "per-step metrics:    $D/grpo/metrics.jsonl"
echo "plots (PNG):         $D/plots/ (reward, accuracy, kl, completion_tokens, ...)"
echo "every step's files:  $D/grpo/step-NNN/ (prompts, samples, scored, packed, ckpt)"
echo "held-out answers:    $D/before.scored.jsonl, $D/$AFTER.scored.jsonl"
