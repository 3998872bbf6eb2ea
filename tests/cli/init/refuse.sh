# Configs of what is not supported are refused with one line naming the
# field and its value, by init and by every tool that loads a checkpoint.
base='"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
      "num_attention_heads": 4, "vocab_size": 300, "max_position_embeddings": 256'
i=0
for extra in \
    '"model_type": "llama", "rope_scaling": {"rope_type": "longrope", "factor": 2.0}' \
    '"model_type": "qwen3_moe", "num_experts": 4, "num_experts_per_tok": 5, "moe_intermediate_size": 8' \
    '"model_type": "qwen3_moe", "num_experts": 4, "moe_intermediate_size": 8, "num_experts_per_tok": 2, "mlp_only_layers": [3]' \
    '"model_type": "qwen3_moe", "num_experts": 4, "moe_intermediate_size": 8, "num_experts_per_tok": 2, "shared_expert_intermediate_size": 16' \
    '"model_type": "llama", "rope_scaling": {"type": "su", "factor": 2.0}' \
    '"model_type": "llama", "rope_scaling": {"factor": 2.0}' \
    '"model_type": "llama", "rope_scaling": {"rope_type": "linear"}' \
    '"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 64}' \
    '"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}' \
    '"model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "beta_fast": -1}' \
    '"model_type": "llama", "rope_scaling": "yarn"' \
    '"model_type": "qwen2", "use_sliding_window": true, "sliding_window": 128' \
    '"model_type": "qwen3", "use_sliding_window": true, "sliding_window": 128' \
    '"model_type": "mistral", "sliding_window": 128' \
    '"model_type": "qwen3", "attention_bias": true' \
    '"model_type": "gemma"'; do
    i=$((i + 1))
    echo "{$base, $extra}" >c$i.json
    init -c c$i.json -o m$i 2>&1 || echo "exit $?"
done
# accepted: a window as long as the context, a disabled one, rope_type default
for extra in '"model_type": "mistral", "sliding_window": 256' \
    '"model_type": "qwen3", "use_sliding_window": false, "sliding_window": 128' \
    '"model_type": "llama", "rope_scaling": {"rope_type": "default"}'; do
    echo "{$base, $extra}" >ok.json
    init -c ok.json -f -o ok && echo accepted
done
# a checkpoint whose config.json is edited afterwards: logp refuses it too
init -p qwen3-tiny -o q &&
jq '.rope_scaling = {"rope_type": "longrope", "factor": 2.0}' q/config.json >x &&
mv x q/config.json &&
echo '{"prompt_ids":[1],"completion_ids":[2]}' | logp -m q 2>&1 || echo "exit $?"
