# DeepSeek-V3's multi-token prediction layers (model.layers.N for N from
# num_hidden_layers on, num_nextn_predict_layers of them) are skipped on
# load with a note; past num_nextn_predict_layers such a tensor is an
# error.  The log-probs are those of the first num_hidden_layers.
jq -n '{architectures: ["DeepseekV3ForCausalLM"], model_type: "deepseek_v3",
        hidden_size: 32, intermediate_size: 64, num_hidden_layers: 3,
        num_attention_heads: 4, vocab_size: 300, max_position_embeddings: 64,
        q_lora_rank: null, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8,
        v_head_dim: 8, n_routed_experts: 4, num_experts_per_tok: 2,
        moe_intermediate_size: 8, first_k_dense_replace: 1, n_group: 1, topk_group: 1}' >c3.json &&
jq '.num_hidden_layers = 4' c3.json >c4.json &&
init -c c4.json -s 1 -o m &&
jq '.num_hidden_layers = 3 | .num_nextn_predict_layers = 1' c4.json >m/config.json &&
echo '{"prompt_ids":[1,2,3],"completion_ids":[4,5]}' >s.jsonl &&
logp -m m s.jsonl 2>err >out &&
sed 's/[0-9]* tensors/N tensors/' err &&
jq -c '.ref_logprobs | length' out &&
jq '.num_nextn_predict_layers = 0' m/config.json >x && mv x m/config.json || exit 1
logp -m m s.jsonl 2>&1 >/dev/null || echo "exit $?"
