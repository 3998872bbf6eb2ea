#!/bin/sh
# bench/moe-balance.sh - the router of a tiny DeepSeek-style MoE during
# SFT on the arithmetic tasks, with and without auxiliary-loss-free
# balancing (update --moe-bias-speed), beside the dense model of the same
# shape: held-out loss before and after, and each step's expert load.
#
#   sh bench/moe-balance.sh   (N=400 EPOCHS=4 GAMMA=0.01 LR=3e-3 THREADS=2)
#
# The MoE: tests/cli/update/tiny.json's shape with 3 layers, layers 1 and
# 2 sparse, 8 experts of 16, top 2, sigmoid scores with
# e_score_correction_bias (topk_method noaux_tc), init std 0.1.  The
# large learning rate (3e-3, warmup 5, cosine to 3e-4) and the short
# sequences (pack -L 160, 2 per step) are what make the unbalanced router
# collapse reliably at this size.  Writes bench/out/moe-balance/ (the
# runs) and bench/moe-balance.png, and prints the figures of
# bench/moe-balance.md.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT="$TOP/bench/out/moe-balance"
N=${N:-400}
EPOCHS=${EPOCHS:-4}
GAMMA=${GAMMA:-0.01}
LR=${LR:-3e-3}
THREADS=${THREADS:-2}
K=${K:-2}
L=${L:-160}
BATCH=${BATCH:-2}
STD=${STD:-0.1}
BIN="$TOP/bin"
make -s -C "$TOP" bin/init bin/update bin/pack bin/tasks
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
"$BIN/tasks" arithmetic -n "$N" --seed 1 --ops + --digits 1-2 -r -o train.jsonl
"$BIN/tasks" arithmetic -n 100 --seed 1001 --ops + --digits 1-2 -r -o held.jsonl
jq '.num_hidden_layers = 3' "$TOP/tests/cli/update/tiny.json" >dense.json
jq '.model_type = "qwen3_moe" | .architectures = ["Qwen3MoeForCausalLM"] |
    .num_experts = 8 | .num_experts_per_tok = '"$K"' | .moe_intermediate_size = 16 |
    .norm_topk_prob = true | .mlp_only_layers = [0] |
    .scoring_func = "sigmoid" | .topk_method = "noaux_tc"' dense.json >moe.json
"$BIN/init" -c dense.json -s 1 --std "$STD" -o dense0
"$BIN/init" -c moe.json -s 1 --std "$STD" -o moe0
"$BIN/pack" -q -m moe0 -L "$L" train.jsonl >p.jsonl
"$BIN/pack" -q -m moe0 -L 256 held.jsonl >h.jsonl
set -- --sft --lr "$LR" --min-lr 3e-4 --warmup 5 --batch "$BATCH" --epochs "$EPOCHS" --threads "$THREADS"
for run in dense off on; do
    case $run in
    dense) in=dense0; extra= ;;
    off) in=moe0; extra= ;;
    on) in=moe0; extra="--moe-bias-speed $GAMMA" ;;
    esac
    "$BIN/update" -m $in --sft --eval h.jsonl | jq -r .loss >$run.before
    t0=$(date +%s)
    # shellcheck disable=SC2086
    "$BIN/update" -q -m $in -o $run "$@" $extra --metrics $run.jsonl p.jsonl
    echo $(( $(date +%s) - t0 )) >$run.secs
    "$BIN/update" -m $run --sft --eval h.jsonl | jq -r .loss >$run.after
    jq -r '[.step, .loss, (.expert_load_max // 0), (.expert_load_min // 0)] | @tsv' \
        $run.jsonl >$run.tsv
done
gnuplot <<G
set terminal png size 900,500
set output "$TOP/bench/moe-balance.png"
set title "tiny DeepSeek-style MoE, SFT on arithmetic: expert load (worst sparse layer)"
set xlabel "step"
set ylabel "share x experts"
set yrange [0:4.2]
set key top left
plot "on.tsv" u 1:3 w l lw 2 t "max, --moe-bias-speed $GAMMA", \
     "on.tsv" u 1:4 w l lw 2 t "min, --moe-bias-speed $GAMMA", \
     "off.tsv" u 1:3 w l lw 2 t "max, no balancing", \
     "off.tsv" u 1:4 w l lw 2 t "min, no balancing", \
     1 w l dt 2 lc rgb "gray" t "even load"
G
echo "| run | held-out loss before | after | steps | secs | expert_load_max last 20 steps (mean) | expert_load_min last 20 (mean) | steps with an unused expert, last 20 |"
echo "|---|---|---|---|---|---|---|---|"
for run in dense off on; do
    tail -n 20 $run.tsv | awk -v r=$run -v b="$(cat $run.before)" -v a="$(cat $run.after)" \
        -v n="$(wc -l <$run.tsv)" -v s="$(cat $run.secs)" \
        '{ mx += $3; mn += $4; z += ($4 == 0) } END {
           if (r == "dense") printf "| %s | %.3f | %.3f | %d | %s | - | - | - |\n", r, b, a, n, s
           else printf "| %s | %.3f | %.3f | %d | %s | %.2f | %.2f | %d |\n", r, b, a, n, s, mx / NR, mn / NR, z }'
done
