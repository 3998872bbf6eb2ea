# DeepSeek-V3 (MLA and DeepSeekMoE) against the plain-PyTorch reference,
# which expands each head's keys and values from the latent as
# transformers does: q_a/q_b with interleaved RoPE, 2 groups choosing 1,
# a shared expert, layer 0 dense; a plain q_proj, rotate_half RoPE, yarn
# with mscale_all_dim, 4 groups choosing 2, no shared expert; q_a/q_b,
# yarn, one group, 2 shared experts, every layer sparse, no
# renormalization.
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu",
 "max_position_embeddings": 64, "rope_theta": 10000.0,
 "attention_bias": false, "tie_word_embeddings": false, "rope_scaling": null,
 "q_lora_rank": 12, "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
 "v_head_dim": 6, "rope_interleave": true,
 "n_routed_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 12,
 "n_shared_experts": 1, "first_k_dense_replace": 1, "n_group": 2, "topk_group": 1,
 "norm_topk_prob": true, "routed_scaling_factor": 2.5, "topk_method": "noaux_tc",
 "scoring_func": "sigmoid", "num_nextn_predict_layers": 0}
E
jq -c '.q_lora_rank = null | .rope_interleave = false | .n_group = 4 | .topk_group = 2 |
       .n_shared_experts = 0 | .rope_scaling = {"rope_type": "yarn", "factor": 4.0,
       "original_max_position_embeddings": 16, "beta_fast": 32, "beta_slow": 1,
       "mscale": 1.0, "mscale_all_dim": 0.8}' c.json >c2.json &&
jq -c '.n_group = 1 | .topk_group = 1 | .n_shared_experts = 2 | .first_k_dense_replace = 0 |
       .norm_topk_prob = false | .routed_scaling_factor = 1.5 | .rope_scaling = {"type": "yarn",
       "factor": 4.0, "original_max_position_embeddings": 16, "mscale": 0.707,
       "mscale_all_dim": 0.707}' c.json >c3.json &&
ref_check deepseek-v3 c.json deepseek-v3-yarn c2.json deepseek-v3-shared2 c3.json
