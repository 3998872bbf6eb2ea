# rope_scaling llama3 (Llama 3.1/3.2) against the plain-PyTorch reference:
# with head_dim 8 and rope_theta 500000 the four frequencies fall in the
# kept (wavelength 6), smoothed (167) and divided (4450, 118000) bands.
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu", "initializer_range": 0.02,
 "head_dim": 8, "max_position_embeddings": 64, "rope_theta": 500000.0,
 "tie_word_embeddings": true,
 "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 256}}
E
ref_check llama3 c.json
