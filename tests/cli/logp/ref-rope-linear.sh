# rope_scaling linear (factor 2) against the plain-PyTorch reference.
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu", "initializer_range": 0.02,
 "max_position_embeddings": 64, "rope_theta": 10000.0, "tie_word_embeddings": true,
 "rope_scaling": {"rope_type": "linear", "factor": 2.0}}
E
ref_check linear c.json
