# Qwen3-MoE (8 experts, top 2 renormalized, layer 0 dense through
# mlp_only_layers, layer 2 dense through decoder_sparse_step 2 in the
# second config), against the plain-PyTorch reference.
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu",
 "head_dim": 16, "max_position_embeddings": 64, "rope_theta": 1000000.0,
 "attention_bias": false, "tie_word_embeddings": false, "rope_scaling": null,
 "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 24,
 "norm_topk_prob": true, "decoder_sparse_step": 1, "mlp_only_layers": [0]}
E
sed 's/"norm_topk_prob": true/"norm_topk_prob": false/; s/"decoder_sparse_step": 1/"decoder_sparse_step": 2/; s/"num_experts_per_tok": 2/"num_experts_per_tok": 3/' c.json >c2.json
ref_check qwen3-moe c.json qwen3-moe-step2 c2.json
