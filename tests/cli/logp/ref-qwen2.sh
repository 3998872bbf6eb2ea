# Qwen2 (q/k/v biases), untied and tied, against the plain-PyTorch reference.
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu", "initializer_range": 0.02,
 "max_position_embeddings": 64, "rope_theta": 1000000.0, "tie_word_embeddings": false,
 "use_sliding_window": false, "sliding_window": 64, "max_window_layers": 2}
E
sed 's/"tie_word_embeddings": false/"tie_word_embeddings": true/' c.json >tied.json
ref_check qwen2 c.json qwen2-tied tied.json
