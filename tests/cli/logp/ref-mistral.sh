# Mistral (no sliding window) against the plain-PyTorch reference.
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu", "initializer_range": 0.02,
 "head_dim": 8, "max_position_embeddings": 64, "rope_theta": 1000000.0,
 "sliding_window": null, "tie_word_embeddings": false}
E
ref_check mistral c.json
