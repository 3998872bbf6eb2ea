# rope_scaling yarn against the plain-PyTorch reference: on Llama with the
# defaults (attention factor 0.1 ln 4 + 1), and on Qwen3 with beta_fast,
# beta_slow, mscale and mscale_all_dim.  max_position_embeddings is
# factor x original_max_position_embeddings, where every transformers
# version agrees on the formulas.
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu", "initializer_range": 0.02,
 "head_dim": 8, "max_position_embeddings": 128, "rope_theta": 10000.0,
 "tie_word_embeddings": true,
 "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}}
E
cat >q.json <<'E'
{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu", "initializer_range": 0.02,
 "head_dim": 16, "max_position_embeddings": 64, "rope_theta": 1000000.0,
 "attention_bias": false, "tie_word_embeddings": true, "use_sliding_window": false,
 "rope_scaling": {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 32,
                  "beta_fast": 16, "beta_slow": 2, "mscale": 1.0, "mscale_all_dim": 0.5}}
E
ref_check yarn c.json yarn-qwen3 q.json
