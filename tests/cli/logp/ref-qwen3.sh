# Qwen3 (q_norm/k_norm over head_dim, head_dim 16 != hidden/heads), tied
# and untied, against the plain-PyTorch reference.
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu", "initializer_range": 0.02,
 "head_dim": 16, "max_position_embeddings": 64, "rope_theta": 1000000.0,
 "attention_bias": false, "tie_word_embeddings": true, "rope_scaling": null,
 "use_sliding_window": false, "sliding_window": null, "max_window_layers": 2}
E
sed 's/"tie_word_embeddings": true/"tie_word_embeddings": false/' c.json >untied.json
ref_check qwen3 c.json qwen3-untied untied.json
