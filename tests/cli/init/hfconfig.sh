# An HF config.json (Qwen2-shaped, small): q/k/v biases, untied lm_head,
# fields it does not know carried through, reward variant with score.weight.
. "$TESTDIR/st-header.inc"
cat >config.json <<'E'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 32,
 "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 128,
 "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "tie_word_embeddings": false,
 "use_sliding_window": false, "initializer_range": 0.02, "transformers_version": "4.45.0"}
E
init -c config.json -o q &&
jq -c '[.architectures[0], .rope_theta, .use_sliding_window, .transformers_version, .head_dim]' q/config.json &&
st_header q/model.safetensors | jq -r 'keys[]' | grep -E 'layers.0.self_attn|lm_head|embed' &&
init -c config.json --reward -o r &&
jq -c '[.architectures[0], .num_labels, .id2label]' r/config.json &&
st_header r/model.safetensors | jq -c '.["score.weight"].shape, has("lm_head.weight")'
