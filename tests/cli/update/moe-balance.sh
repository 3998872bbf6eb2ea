# Auxiliary-loss-free balancing on a tiny DeepSeek-style MoE (sigmoid
# router with e_score_correction_bias, 8 experts, top 2, layer 1 sparse):
# SFT lowers the held-out loss with and without it; without it the
# router collapses (over the last 10 steps the busiest expert's share x 8
# averages above 3.5, 4 being all tokens on 2 experts, and some expert
# gets no token), with --moe-bias-speed 0.01 the load stays within
# share x 8 below 2.5 for the busiest and above 0.1 for the least chosen.  The gradient never moves the bias; the balancing moves
# it the same with other micro-batches and under 2 MPI ranks (the loads
# summed over the ranks); --moe-seq-aux adds its loss to the metrics.
. "$TESTDIR/data.inc"
jq '.model_type = "qwen3_moe" | .architectures = ["Qwen3MoeForCausalLM"] |
    .num_experts = 8 | .num_experts_per_tok = 2 | .moe_intermediate_size = 16 |
    .norm_topk_prob = true | .mlp_only_layers = [0] |
    .scoring_func = "sigmoid" | .topk_method = "noaux_tc"' "$TESTDIR/tiny.json" >moe.json &&
init -c moe.json -s 1 -o d0 -f &&
pack -q -m d0 -L 24 train.jsonl >p.jsonl &&
pack -q -m d0 -L 128 held.jsonl >h.jsonl &&
update -m d0 --sft --eval h.jsonl >before.jsonl &&
set -- -m d0 --sft --lr 3e-3 --min-lr 3e-4 --warmup 5 --batch 2 --epochs 10 &&
update -q "$@" -o off --metrics off.jsonl p.jsonl &&
update -q "$@" -o on --moe-bias-speed 0.01 --metrics on.jsonl p.jsonl &&
update -q "$@" -o micro --moe-bias-speed 0.01 --micro-tokens 24 p.jsonl &&
update -m off --sft --eval h.jsonl >after-off.jsonl &&
update -m on --sft --eval h.jsonl >after-on.jsonl &&
jq -s -c '[.[].loss]' before.jsonl after-off.jsonl after-on.jsonl >&2 &&
jq -s -r 'if .[1].loss < 0.7 * .[0].loss and .[2].loss < 0.7 * .[0].loss
          then "both lower" else "not lower" end' before.jsonl after-off.jsonl after-on.jsonl &&
for f in off on; do
    jq -s -c '[(.[-10:] | map(.expert_load_max) | add / 10), (.[-10:] | map(.expert_load_min) | add / 10)]' $f.jsonl >&2
done &&
jq -s -r '.[-10:] | if (map(.expert_load_max) | add / 10) > 3.5 and (map(.expert_load_min) | min) == 0
          then "off: collapsed" else "off: not collapsed" end' off.jsonl &&
jq -s -r '.[-10:] | if (map(.expert_load_max) | add / 10) < 2.5 and (map(.expert_load_min) | add / 10) > 0.1
          then "on: balanced" else "on: not balanced" end' on.jsonl &&
python3 "$TESTDIR/stbias.py" off/model.safetensors | awk '{ for (i = 2; i <= NF; i++) if ($i != 0) { print "moved by the gradient"; exit } print "off: bias still 0" }' &&
python3 "$TESTDIR/stbias.py" on/model.safetensors >b-on &&
python3 "$TESTDIR/stbias.py" micro/model.safetensors >b-micro &&
cmp b-on b-micro &&
awk '{ n = 0; for (i = 2; i <= NF; i++) n += $i != 0; print "on: " n " of " NF - 1 " biases moved" }' b-on &&
update -q "$@" -o aux --moe-seq-aux 0.01 --metrics aux.jsonl p.jsonl &&
jq -s -r 'if all(.moe_aux_loss > 0) then "moe_aux_loss in every line" else "no moe_aux_loss" end' aux.jsonl &&
{ update -q -m d0 -o x --sft --moe-bias-speed 0.01 --lora 4 p.jsonl; echo "exit $?"; } 2>&1 &&
init -c "$TESTDIR/tiny.json" -o dense -f &&
{ update -q -m dense -o x --sft --moe-bias-speed 0.01 p.jsonl; echo "exit $?"; } 2>&1 &&
if command -v mpirun >/dev/null && nm "$BIN/update" | grep -q MPI_Init; then
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        mpirun --oversubscribe -np 2 update -q "$@" -o mpi --moe-bias-speed 0.01 p.jsonl &&
    python3 "$TESTDIR/stbias.py" mpi/model.safetensors >b-mpi && cmp b-on b-mpi
fi
