#!/bin/sh
# pipelines/r1zero-demo.sh - R1-Zero in miniature: reasoning that emerges
# from reinforcement learning alone, on a base model pretrained here.
#
#   1. init      a fresh 0.9M-parameter Llama-shaped model (demo-config.json)
#   2. tasks     a pretraining corpus (tasks corpus): chain sums ("What is
#                3 + 8 + 5 + 9?"), WORKED% of them worked step by step, the
#                rest with the result only, among sums, prose and markup;
#                no chat format, no <think>; RL prompts and held-out
#                prompts (tasks chain), none of them in the corpus
#   3. pretrain  pretrain.mk: the base model
#   4. eval      greedy answers to the held-out prompts under R1-Zero's
#                template (plain text, no chat markers: gen -f text; think
#                in <think> </think>, answer in \boxed{})
#   5. R1-Zero   RL_STEPS steps of r1zero.mk from the base: GRPO with the
#                accuracy and format rewards only (the format: <think>
#                holding MIN_THINK words or more, </think>, a boxed
#                answer), no SFT, no KL; the held-out evaluation every
#                EVAL_EVERY steps
#   6. report    a before/after table, DEMO_DIR/report.png (held-out
#                accuracy, completion length and format reward per step)
#                and DEMO_DIR/report.html (the plots and sampled
#                completions of an early, a middle and the last step)
#
# Everything it makes is under DEMO_DIR (default ./demo/r1zero); run it
# again and it resumes, skipping what is complete.  Sizes can be changed
# from the environment (CORPUS_N, RL_STEPS, ...).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PATH="$HERE/../bin:$PATH"
D=${DEMO_DIR:-demo/r1zero}
CONFIG=${CONFIG:-$HERE/demo-config.json}   # the model's shape
CORPUS_N=${CORPUS_N:-72000}  # pretraining documents
WORKED=${WORKED:-60}         # percent of the corpus's sums worked step by step
TERMS=${TERMS:-3-5}          # terms per sum
MAX_TERM=${MAX_TERM:-9}      # terms in 1..MAX_TERM
SUMS="--terms $TERMS --max-term $MAX_TERM" # the sums of corpus, RL and held-out prompts
DIALOGS=${DIALOGS:-60}       # percent of the corpus that are question-and-answer pages
TOLD=${TOLD:-33}             # percent of those under a line naming a tag to think in
DIALOG_WORKED=${DIALOG_WORKED:-20} # percent of their answers worked
TURNS=${TURNS:-1}            # most question-and-answer turns on one page
REDUCE=${REDUCE:-1}          # 1: problem pages work a sum by reducing it a term a line
PT_LR=${PT_LR:-3e-3}
PT_MIN_LR=${PT_MIN_LR:-1e-3}
PT_BATCH=${PT_BATCH:-4}      # pretraining sequences of 1024 tokens per step
EVAL_N=${EVAL_N:-200}        # held-out prompts
CHECK_N=${CHECK_N:-32}       # held-out prompts of the base model's sample check
EVAL_EVERY=${EVAL_EVERY:-10} # RL steps between held-out evaluations
RL_STEPS=${RL_STEPS:-60}
RL_BATCH=${RL_BATCH:-16}     # prompts per step
RL_G=${RL_G:-8}             # samples per prompt
RL_LR=${RL_LR:-1e-4}
RL_TEMP=${RL_TEMP:-1.0}
MAXTOK=${MAXTOK:-128}
MIN_THINK=${MIN_THINK:-5}    # words the think block must hold for the format reward
SYSTEM="$HERE/prompts/r1zero-system.txt"
# The rewards: the boxed answer, and the format with a thinking process in
# the block (MIN_THINK words: the shortest working of a sum, "3 + 8 / = 11",
# has five; an empty block or a remark such as "Adding up." has none)
FORMAT_SCORE="score-format --boxed --min-think $MIN_THINK"
MAKE="make --no-print-directory -s"
# OpenBLAS's kernel: the one set, else named from /proc/cpuinfo (lib.sh).
ct=$(sh "$HERE/lib.sh" coretype)
[ -z "$ct" ] || export OPENBLAS_CORETYPE="$ct"
mkdir -p "$D"
t0=$(date +%s)
say() { printf 'r1zero-demo: %s (%ds)\n' "$*" $(( $(date +%s) - t0 )); }
# cpu sets CPU to the CPU seconds of the finished children so far (user +
# system), to tell a stage's cost on a shared machine from its wall time;
# times runs in the shell itself, as in a command substitution it would
# count the subshell's children only.
cpu() {
    times > "$D/.times"
    CPU=$(awk 'NR == 2 { split($1, u, "m"); split($2, s, "m")
        printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$D/.times")
}

# 1. the model
[ -e "$D/init/model.safetensors" ] || init -c "$CONFIG" -s 1 -o "$D/init" > /dev/null

# 2. data: held-out prompts first; the corpus and the RL prompts leave out
# every document that holds a held-out sum ("3 + 8 + 5 + 9" as a
# substring: a few more are left out than need be, none too few)
if [ ! -e "$D/rl-prompts.jsonl" ]; then
    tasks chain -n "$EVAL_N" --seed 1001 $SUMS -o "$D/eval.jsonl"
    jq -r '.prompt | ltrimstr("What is ") | rtrimstr("?")' "$D/eval.jsonl" | sort -u > "$D/eval.sums"
    tasks corpus -n "$CORPUS_N" --seed 1 $SUMS --worked "$WORKED" \
        --dialogs "$DIALOGS" --told "$TOLD" --dialog-worked "$DIALOG_WORKED" --turns "$TURNS" \
        $([ "$REDUCE" = 0 ] || echo --reduce) \
        | { grep -v -F -f "$D/eval.sums" || true; } > "$D/corpus.jsonl.part"
    mv "$D/corpus.jsonl.part" "$D/corpus.jsonl"
    tasks chain -n 20000 --seed 2 $SUMS \
        | { grep -v -F -f "$D/eval.sums" || true; } > "$D/rl-prompts.jsonl.part"
    mv "$D/rl-prompts.jsonl.part" "$D/rl-prompts.jsonl"
    say "data: $(wc -l < "$D/corpus.jsonl") documents, $(wc -l < "$D/rl-prompts.jsonl") RL prompts, $EVAL_N held-out prompts"
fi

# 3. pretraining
w0=$(date +%s); cpu; c0=$CPU
$MAKE -f "$HERE/pretrain.mk" INIT="$D/init" DATA="$D/corpus.jsonl" RUN="$D/pretrain" LR="$PT_LR" \
    MIN_LR="$PT_MIN_LR" BATCH="$PT_BATCH" > /dev/null
BASE="$D/pretrain/final"
cpu
say "pretraining done: $(jq -s 'map(.tokens) | add' "$D"/pretrain/epoch-*.metrics.jsonl) tokens, $(( $(date +%s) - w0 )) s wall, $(( CPU - c0 )) s CPU this run"

# 4-5. held-out evaluation: greedy, R1-Zero's template, the boxed answer
evaluate() { # checkpoint, name
    if [ ! -e "$D/eval/$2.json" ]; then
        mkdir -p "$D/eval"
        gen -m "$1" -T 0 -n "$MAXTOK" --think -f text --system "$SYSTEM" -q "$D/eval.jsonl" \
            | score-math --extract boxed -q | $FORMAT_SCORE -q -o "$D/eval/$2.scored.jsonl"
        acc=$(stats -j -q --reward rewards.math "$D/eval/$2.scored.jsonl")
        fmt=$(stats -j -q --reward rewards.format "$D/eval/$2.scored.jsonl")
        jq -n -c --argjson a "$acc" --argjson f "$fmt" --argjson step "${3:-0}" \
            '{step: $step, accuracy: $a.accuracy, format: $f.accuracy,
              completion_tokens: $a.tokens.mean,
              stop: (($a.finish.stop // 0) / $a.records)}' > "$D/eval/$2.json.part"
        mv "$D/eval/$2.json.part" "$D/eval/$2.json"
    fi
}
evaluate "$BASE" base 0
say "held-out accuracy of the base model: $(jq .accuracy "$D/eval/base.json")"

# The base model's samples as GRPO will draw them (RL_G per prompt at
# RL_TEMP, CHECK_N held-out prompts): GRPO learns only from groups whose
# rewards differ, so some samples must already reason in the block, close
# </think> and box an answer, or be right, or there is nothing to learn
# from.
if [ ! -e "$D/eval/base-samples.json" ]; then
    head -n "$CHECK_N" "$D/eval.jsonl" \
        | gen -m "$BASE" -T "$RL_TEMP" -G "$RL_G" -n "$MAXTOK" --seed 1 --think -f text \
            --system "$SYSTEM" -q \
        | score-math --extract boxed -q | $FORMAT_SCORE -q -o "$D/eval/base-samples.scored.jsonl"
    jq -s -c '{samples: length,
        format: (map(select(.rewards.format > 0)) | length),
        correct: (map(select(.rewards.math > 0)) | length),
        groups: (group_by(.group) | length),
        learning: (group_by(.group) | map(select((map(.reward) | unique | length) > 1)) | length)}' \
        "$D/eval/base-samples.scored.jsonl" > "$D/eval/base-samples.json.part"
    mv "$D/eval/base-samples.json.part" "$D/eval/base-samples.json"
fi
say "$(jq -r '"base model samples (T '"$RL_TEMP"'): format reward on \(.format) of \(.samples), correct \(.correct), \(.learning) of \(.groups) groups with rewards that differ"' "$D/eval/base-samples.json")"
if [ "$(jq .learning "$D/eval/base-samples.json")" = 0 ]; then
    echo "r1zero-demo: the base model's samples earn no reward that differs within a group: GRPO learns nothing until a rarer sample does" >&2
fi

s=0 w0=$(date +%s); cpu; c0=$CPU
while [ "$s" -lt "$RL_STEPS" ]; do
    s=$((s + EVAL_EVERY))
    [ "$s" -gt "$RL_STEPS" ] && s=$RL_STEPS
    $MAKE -f "$HERE/r1zero.mk" BASE="$BASE" PROMPTS="$D/rl-prompts.jsonl" RUN="$D/rl" \
        STEPS="$s" BATCH="$RL_BATCH" G="$RL_G" TEMP="$RL_TEMP" MAXTOK="$MAXTOK" LR="$RL_LR" \
        L=2048 SCORE="score-math --extract boxed | $FORMAT_SCORE" > /dev/null 2>&1
    n=$(printf %03d "$s")
    evaluate "$D/rl/step-$n/ckpt" "step-$n" "$s"
    say "step $s: held-out accuracy $(jq .accuracy "$D/eval/step-$n.json")"
done
LAST=step-$(printf %03d "$RL_STEPS")
cpu
say "R1-Zero steps and evaluations: $(( $(date +%s) - w0 )) s wall, $(( CPU - c0 )) s CPU this run"

# 6. the report: per-step training figures (format reward from each step's
# scored samples), the held-out curve, one page of plots
for i in $(sh "$HERE/lib.sh" steps "$RL_STEPS"); do
    d=$D/rl/step-$i n=$(expr "$i" + 0)
    f=$(stats -j -q --reward rewards.format "$d/scored.jsonl.zst")
    a=$(stats -j -q --reward rewards.math "$d/scored.jsonl.zst")
    jq -n -c --argjson f "$f" --argjson a "$a" --argjson step "$n" \
        '{step: $step, accuracy: $a.accuracy, format: $f.accuracy, completion_tokens: $a.tokens.mean}'
done > "$D/train.jsonl"
cat "$D/eval/base.json" $(for i in $(sh "$HERE/lib.sh" steps "$RL_STEPS"); do
    [ -e "$D/eval/step-$i.json" ] && echo "$D/eval/step-$i.json"; done) > "$D/heldout.jsonl"
jq -r '[.step, .accuracy, .format, .completion_tokens] | @tsv' "$D/train.jsonl" > "$D/train.tsv"
jq -r '[.step, .accuracy, .format, .completion_tokens] | @tsv' "$D/heldout.jsonl" > "$D/heldout.tsv"
gnuplot <<EOF
set terminal pngcairo size 1500,450 font ",11"
set output "$D/report.png"
set multiplot layout 1,3 title "R1-Zero in miniature: GRPO from the base model, accuracy + format rewards only"
set grid
set key bottom right
set xlabel "RL step"
set yrange [0:1]
set title "accuracy (boxed answer)"
plot "$D/train.tsv" using 1:2 with lines lw 1 lc rgb "#9fb7d9" title "training samples", \
     "$D/heldout.tsv" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f4e9c" title "held-out, greedy"
set title "mean completion length (tokens)"
set yrange [0:*]
plot "$D/train.tsv" using 1:4 with lines lw 1 lc rgb "#e3b48a" title "training samples", \
     "$D/heldout.tsv" using 1:4 with linespoints lw 2 pt 7 lc rgb "#b35806" title "held-out, greedy"
set title "format reward (reasoning in <think>, a boxed answer)"
set yrange [0:1]
plot "$D/train.tsv" using 1:3 with lines lw 1 lc rgb "#a6d9a0" title "training samples", \
     "$D/heldout.tsv" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1b7837" title "held-out, greedy"
unset multiplot
EOF
# The page: the plots, then the first samples of the first prompt of an
# early, a middle and the last step, as the policy wrote them.
{
    echo '<!doctype html><meta charset="utf-8"><title>R1-Zero in miniature</title>'
    echo '<style>body{font-family:sans-serif;max-width:1500px;margin:auto}pre{background:#f4f4f4;padding:6px;white-space:pre-wrap}td{vertical-align:top;padding:4px}</style>'
    echo '<h1>R1-Zero in miniature</h1><img src="report.png" width="100%">'
    for i in 1 $(( (RL_STEPS + 1) / 2 )) "$RL_STEPS"; do
        n=$(printf %03d "$i")
        echo "<h2>step $i: samples of the policy before the step</h2><table>"
        zstd -dc "$D/rl/step-$n/scored.jsonl.zst" | head -n 4 | jq -r '"<tr><td>" + (.prompt | @html)
            + "<br>answer " + .answer + "<br>accuracy " + (.rewards.math | tostring) + ", format "
            + (.rewards.format | tostring) + "</td><td><pre>" + (.completion | @html) + "</pre></td></tr>"'
        echo "</table>"
    done
} > "$D/report.html"
say "R1-Zero done"

# The table
row() { # label, jq expression
    printf '%-28s %12s %12s\n' "$1" "$(jq -r "$2" "$D/eval/base.json")" "$(jq -r "$2" "$D/eval/$LAST.json")"
}
echo
printf '%-28s %12s %12s\n' "held-out ($EVAL_N prompts)" "base model" "after R1-Zero"
row "accuracy (boxed answer)" '.accuracy * 1000 | round / 10 | tostring + "%"'
row "format reward" '.format * 1000 | round / 10 | tostring + "%"'
row "completion tokens (mean)" '.completion_tokens * 10 | round / 10'
row "finished by EOS" '.stop * 1000 | round / 10 | tostring + "%"'
echo
echo "policy after R1-Zero: $D/rl/$LAST/ckpt"
echo "report:               $D/report.png, $D/report.html"
echo "held-out per step:    $D/heldout.jsonl (answers: $D/eval/*.scored.jsonl)"
echo "training per step:    $D/train.jsonl, $D/rl/metrics.jsonl"
echo "every step's files:   $D/rl/step-NNN/ (prompts, samples, scored, packed, ckpt)"
