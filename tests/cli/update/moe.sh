# A tiny Qwen3-MoE learns like the dense tiny model: SFT lowers the loss on
# held-out sums.  Every step's metrics carry each sparse layer's expert
# load (shares of the choices, summing to 1) and the busiest expert's
# share times the expert count.
. "$TESTDIR/data.inc"
jq '.model_type = "qwen3_moe" | .architectures = ["Qwen3MoeForCausalLM"] |
    .num_hidden_layers = 2 | .num_experts = 4 | .num_experts_per_tok = 2 |
    .moe_intermediate_size = 32 | .norm_topk_prob = true | .mlp_only_layers = [0]' \
    "$TESTDIR/tiny.json" >moe.json &&
init -c moe.json -s 1 -o m0 -f &&
pack -q -m m0 -L 128 train.jsonl >p.jsonl &&
pack -q -m m0 -L 128 held.jsonl >h.jsonl &&
update -m m0 --sft --eval h.jsonl >before.jsonl &&
update -q -m m0 -o m1 --sft --lr 3e-3 --min-lr 3e-4 --warmup 5 --batch 4 --epochs 20 \
    --metrics met.jsonl p.jsonl &&
update -m m1 --sft --eval h.jsonl >after.jsonl &&
jq -s -c '[.[].loss]' before.jsonl after.jsonl >&2 &&
jq -s -r 'if .[1].loss < 0.7 * .[0].loss then "lower" else "not lower" end' before.jsonl after.jsonl &&
jq -s -c '[length > 0, (map(.expert_load | length) | unique),
           (map(.expert_load[0] | add) | all(. > 0.999 and . < 1.001)),
           (map(.expert_load_max) | all(. >= 1 and . <= 2))]' met.jsonl
