# DeepSeek-V3's router fields in a qwen3_moe config: sigmoid scores, the
# selection bias mlp.gate.e_score_correction_bias (noaux_tc), groups and a
# scale, written back as read; a value outside their set is refused.
. "$TESTDIR/st-header.inc"
cat >moe.json <<'E'
{"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 32,
 "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "vocab_size": 264, "num_experts": 8, "num_experts_per_tok": 2,
 "moe_intermediate_size": 16, "norm_topk_prob": true, "mlp_only_layers": [0],
 "scoring_func": "sigmoid", "topk_method": "noaux_tc", "n_group": 2, "topk_group": 1,
 "routed_scaling_factor": 2.5}
E
init -c moe.json -o d &&
jq -c '[.scoring_func, .topk_method, .n_group, .topk_group, .routed_scaling_factor]' d/config.json &&
st_header d/model.safetensors | jq -c '[.["model.layers.1.mlp.gate.e_score_correction_bias"].shape, has("model.layers.0.mlp.gate.e_score_correction_bias")]' &&
jq '.scoring_func = "relu"' moe.json >bad.json &&
{ init -c bad.json -o b; echo "exit $?"; } &&
jq '.topk_method = "group_limited_greedy"' moe.json >bad2.json &&
{ init -c bad2.json -o b; echo "exit $?"; } &&
test ! -e b
