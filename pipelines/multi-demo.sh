#!/bin/sh
# pipelines/multi-demo.sh - multi-domain RL in miniature: one GRPO run over
# math, code and free-form prompts at once, each domain with its own reward,
# as DeepSeek-R1's reinforcement learning for all scenarios.
#
#   1. data      per domain, held-out prompts first (EVAL_N distinct ones,
#                CHAT_EVAL_N for chat), then SFT, RL and reward-model data
#                that leave them out:
#                  math  tasks arithmetic: "What is 47 + 38?", worked digit
#                        by digit (8,100 sums)
#                  code  tasks code: "Write a Python function f(x) that
#                        returns x * 3.", three assert tests (2,997
#                        functions: + - *, a constant 1 to 999)
#                  chat  tasks chat / prefs: "Tell me about owls.", the
#                        preferred answer on the topic and polite
#   2. base      a fresh 0.9M-parameter model (demo-config.json) fine-tuned
#                briefly on the three mixed (tasks --with-response; for chat
#                the chosen answer or, every other record, the rejected one,
#                so the base's answers vary as a reward model can tell)
#   3. RM        update --rm from the base on RM_N preference pairs
#                (tasks prefs), checked on 500 held-out pairs
#   4. GRPO      multi.mk: RL_STEPS steps, each drawing RL_BATCH prompts of
#                the mixed set, scored by score-math | score-code | score-rm;
#                the held-out evaluation (greedy) every EVAL_EVERY steps
#   5. report    a before/after table per domain, DEMO_DIR/report.png (the
#                per-domain reward of the training samples per step, and
#                the held-out figures)
#
# Everything it makes is under DEMO_DIR (default ./demo/multi); run it again
# and it resumes, skipping what is complete.  Sizes come from the
# environment (SFT_N, RL_STEPS, ...).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PATH="$HERE/../bin:$PATH"
D=${DEMO_DIR:-demo/multi}
CONFIG=${CONFIG:-$HERE/demo-config.json}   # the model's shape
SFT_N=${SFT_N:-6000}         # SFT records per domain
SFT_EPOCHS=${SFT_EPOCHS:-3}
SFT_LR=${SFT_LR:-3e-3}
SFT_BATCH=${SFT_BATCH:-4}    # SFT sequences of 1024 tokens per step
RM_N=${RM_N:-6000}           # preference pairs
RM_EPOCHS=${RM_EPOCHS:-2}
RM_LR=${RM_LR:-1e-3}
RM_GARBLED=${RM_GARBLED:-50} # percent of pairs rejecting a misspelled answer
EVAL_N=${EVAL_N:-100}        # held-out prompts of math and of code
CHAT_EVAL_N=${CHAT_EVAL_N:-30} # held-out chat prompts (of its 80)
EVAL_EVERY=${EVAL_EVERY:-10} # RL steps between held-out evaluations
RL_STEPS=${RL_STEPS:-40}
RL_BATCH=${RL_BATCH:-24}     # prompts per step, of the three domains mixed
RL_G=${RL_G:-8}              # samples per prompt
RL_LR=${RL_LR:-3e-4}
RL_TEMP=${RL_TEMP:-1.0}
RL_BETA=${RL_BETA:-0.1}     # the KL penalty to the base
MAXTOK=${MAXTOK:-96}
MAKE="make --no-print-directory -s"
SCORE="score-math --extract boxed -q | score-code -q | score-rm -m $D/run/rm/ckpt -q"
ct=$(sh "$HERE/lib.sh" coretype)
[ -z "$ct" ] || export OPENBLAS_CORETYPE="$ct"
mkdir -p "$D"
t0=$(date +%s)
say() { printf 'multi-demo: %s (%ds)\n' "$*" $(( $(date +%s) - t0 )); }

[ -e "$D/init/model.safetensors" ] || init -c "$CONFIG" -s 1 -o "$D/init" > /dev/null

# 1. data.  The held-out prompts: the first N distinct ones of seed 1001
# per domain, in the order drawn (a random sample, not the first in
# sorted order); every other set leaves out the records that ask one of
# them.
heldout() { # N, tasks arguments
    n=$1; shift
    tasks "$@" -n 2000 --seed 1001 | jq -s -c --argjson n "$n" 'reduce .[] as $r ({seen: {}, out: []};
        if (.out | length) >= $n or .seen[$r.prompt] then . else .seen[$r.prompt] = true | .out += [$r] end)
        | .out[]'
}
unseen() { # the records of standard input whose prompt is not held out
    jq -c --slurpfile e "$D/eval.jsonl" '($e | map({(.prompt): true}) | add) as $s
        | select($s[.prompt] | not)'
}
interleave() { # files of one record per line: one line of each in turn
    paste -d '\n' "$@" | grep -v '^$' || true
}
MATH="arithmetic --ops + --digits 2 --column"
CODE="code --max-term 999"
if [ ! -e "$D/rl-prompts.jsonl" ]; then
    { heldout "$EVAL_N" $MATH; heldout "$EVAL_N" $CODE; heldout "$CHAT_EVAL_N" chat; } > "$D/eval.jsonl.part"
    mv "$D/eval.jsonl.part" "$D/eval.jsonl"
    tasks $MATH -n "$SFT_N" --seed 3 -r | unseen > "$D/sft-math.jsonl"
    tasks $CODE -n "$SFT_N" --seed 3 -r | unseen > "$D/sft-code.jsonl"
    tasks prefs -n "$SFT_N" --seed 3 | unseen | jq -c '(.id | split("/") | .[2] | tonumber) as $i
        | {id, domain, prompt, response: (if $i % 2 == 0 then .chosen else .rejected end)}' \
        > "$D/sft-chat.jsonl"
    interleave "$D"/sft-math.jsonl "$D"/sft-code.jsonl "$D"/sft-chat.jsonl > "$D/sft.jsonl"
    tasks prefs -n "$RM_N" --seed 4 --garbled "$RM_GARBLED" -o "$D/pairs.jsonl"
    tasks prefs -n 500 --seed 5 --garbled "$RM_GARBLED" -o "$D/pairs-held.jsonl"
    n=20000
    tasks $MATH -n $n --seed 2 | unseen > "$D/rl-math.jsonl"
    tasks $CODE -n $n --seed 2 | unseen > "$D/rl-code.jsonl"
    tasks chat -n $n --seed 2 | unseen > "$D/rl-chat.jsonl"
    interleave "$D"/rl-math.jsonl "$D"/rl-code.jsonl "$D"/rl-chat.jsonl > "$D/rl-prompts.jsonl.part"
    rm -f "$D"/sft-*.jsonl "$D"/rl-*.jsonl
    mv "$D/rl-prompts.jsonl.part" "$D/rl-prompts.jsonl"
    say "data: $(wc -l < "$D/sft.jsonl") SFT records, $RM_N pairs, $(wc -l < "$D/rl-prompts.jsonl") RL prompts, $(wc -l < "$D/eval.jsonl") held-out prompts"
fi

# 2-3. the base and the reward model
multi() { # multi.mk with the demo's files and settings, and more arguments
    $MAKE -f "$HERE/multi.mk" INIT="$D/init" SFT_DATA="$D/sft.jsonl" PREFS="$D/pairs.jsonl" \
        RM_HELD="$D/pairs-held.jsonl" PROMPTS="$D/rl-prompts.jsonl" RUN="$D/run" \
        SFT_EPOCHS="$SFT_EPOCHS" SFT_LR="$SFT_LR" SFT_BATCH="$SFT_BATCH" RM_EPOCHS="$RM_EPOCHS" \
        RM_LR="$RM_LR" "$@"
}
w0=$(date +%s)
multi STEPS=0 "$D/run/sft/final/model.safetensors" "$D/run/rm/ckpt/model.safetensors" \
    "$D/run/rm/eval.json" > /dev/null
BASE="$D/run/sft/final"
say "base and reward model: $(( $(date +%s) - w0 )) s; reward model on 500 held-out pairs: $(jq -r '"accuracy \(.accuracy), loss \(.loss)"' "$D/run/rm/eval.json")"

# 4. held-out evaluation: greedy, every domain scored by its reward; for
# chat also the two properties the pairs prefer, checked by rule, so a
# reward model that is gamed shows here
evaluate() { # checkpoint, name, step
    if [ ! -e "$D/eval/$2.json" ]; then
        mkdir -p "$D/eval"
        gen -m "$1" -T 0 -n "$MAXTOK" -q "$D/eval.jsonl" | sh -c "$SCORE" > "$D/eval/$2.scored.jsonl.part"
        mv "$D/eval/$2.scored.jsonl.part" "$D/eval/$2.scored.jsonl"
        jq -s -c --argjson step "$3" -f "$HERE/multi-eval.jq" "$D/eval/$2.scored.jsonl" > "$D/eval/$2.json.part"
        mv "$D/eval/$2.json.part" "$D/eval/$2.json"
    fi
}
evaluate "$BASE" base 0
say "held-out, base: $(jq -c . "$D/eval/base.json")"

s=0 w0=$(date +%s)
while [ "$s" -lt "$RL_STEPS" ]; do
    s=$((s + EVAL_EVERY))
    [ "$s" -gt "$RL_STEPS" ] && s=$RL_STEPS
    multi STEPS="$s" BATCH="$RL_BATCH" G="$RL_G" TEMP="$RL_TEMP" MAXTOK="$MAXTOK" LR="$RL_LR" \
        BETA="$RL_BETA" L=2048 > /dev/null 2>&1
    n=$(printf %03d "$s")
    evaluate "$D/run/rl/step-$n/ckpt" "step-$n" "$s"
    say "step $s: held-out $(jq -c 'del(.step)' "$D/eval/step-$n.json")"
done
LAST=step-$(printf %03d "$RL_STEPS")
say "GRPO steps and evaluations: $(( $(date +%s) - w0 )) s"

# 5. the report: the training samples' reward per domain and step (from
# the run's metrics), the held-out figures at each evaluation
jq -r '[.step, .reward_by_domain.math // "NaN", .reward_by_domain.code // "NaN",
        .reward_by_domain.chat // "NaN"] | @tsv' "$D/run/rl/metrics.jsonl" > "$D/train.tsv"
cat "$D/eval/base.json" $(for i in $(sh "$HERE/lib.sh" steps "$RL_STEPS"); do
    [ -e "$D/eval/step-$i.json" ] && echo "$D/eval/step-$i.json"; done) > "$D/heldout.jsonl"
jq -r '[.step, .math.reward, .code.reward, .chat.reward, .chat.good] | @tsv' "$D/heldout.jsonl" > "$D/heldout.tsv"
gnuplot <<EOF
set terminal pngcairo size 1500,450 font ",11"
set output "$D/report.png"
set multiplot layout 1,3 title "One GRPO run over three domains: reward per domain and step"
set grid
set key bottom right
set xlabel "RL step"
set datafile missing "NaN"
set yrange [0:1]
set title "math: score-math (boxed answer right)"
plot "$D/train.tsv" using 1:2 with lines lw 1 lc rgb "#9fb7d9" title "training samples", \
     "$D/heldout.tsv" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f4e9c" title "held-out, greedy"
set title "code: score-code (fraction of tests passed)"
plot "$D/train.tsv" using 1:3 with lines lw 1 lc rgb "#e3b48a" title "training samples", \
     "$D/heldout.tsv" using 1:3 with linespoints lw 2 pt 7 lc rgb "#b35806" title "held-out, greedy"
set title "chat: score-rm (reward model score)"
set yrange [*:*]
set y2range [0:1]
set y2tics
plot "$D/train.tsv" using 1:4 with lines lw 1 lc rgb "#a6d9a0" title "training samples", \
     "$D/heldout.tsv" using 1:4 with linespoints lw 2 pt 7 lc rgb "#1b7837" title "held-out, greedy", \
     "$D/heldout.tsv" using 1:5 axes x1y2 with linespoints lw 2 pt 5 dt 2 lc rgb "#555555" title "held-out: on topic and polite (rule, right axis)"
unset multiplot
EOF
say "multi-domain RL done"

# The table
row() { # label, jq expression
    printf '%-40s %12s %12s\n' "$1" "$(jq -r "$2" "$D/eval/base.json")" "$(jq -r "$2" "$D/eval/$LAST.json")"
}
pct='* 1000 | round / 10 | tostring + "%"'
echo
printf '%-40s %12s %12s\n' "held-out ($(jq -r '"\(.math.n), \(.code.n), \(.chat.n)"' "$D/eval/base.json") prompts)" \
    "base model" "after GRPO"
row "math: accuracy (boxed answer)" ".math.reward $pct"
row "code: tests passed" ".code.reward $pct"
row "code: programs passing all tests" ".code.all $pct"
row "chat: reward model score (mean)" '.chat.reward * 1000 | round / 1000'
row "chat: on topic and polite (rule)" ".chat.good $pct"
row "completion tokens (mean)" '.tokens * 10 | round / 10'
echo
echo "policy after GRPO:    $D/run/rl/$LAST/ckpt"
echo "reward model:         $D/run/rm/ckpt ($D/run/rm/eval.json)"
echo "report:               $D/report.png"
echo "held-out per step:    $D/heldout.jsonl (answers: $D/eval/*.scored.jsonl)"
echo "training per step:    $D/run/rl/metrics.jsonl (reward_by_domain)"
