# DeepSeek-V3 configs: the deepseek-v3-tiny preset's fields and tensor
# names (transformers' DeepseekV3ForCausalLM), a config with q_lora_rank
# null (a plain q_proj) and the original config.json's extra fields, and
# the values that are not supported, refused with the field named.
. "$TESTDIR/st-header.inc"
init -p deepseek-v3-tiny -o d &&
jq -c '[.architectures[0], .q_lora_rank, .kv_lora_rank, .qk_nope_head_dim,
        .qk_rope_head_dim, .v_head_dim, .head_dim, .rope_interleave, .n_routed_experts,
        .n_shared_experts, .num_experts_per_tok, .moe_intermediate_size,
        .first_k_dense_replace, .n_group, .topk_group, .norm_topk_prob,
        .routed_scaling_factor, .topk_method, .scoring_func]' d/config.json &&
st_header d/model.safetensors | jq -r 'to_entries[] | select(.key != "__metadata__")
       | "\(.key) \(.value.shape)"' | grep -E 'layers\.[01]\.' | grep -v 'experts\.[1-7]\.' | sort &&
base='"model_type": "deepseek_v3", "hidden_size": 32, "intermediate_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 300,
      "max_position_embeddings": 256, "kv_lora_rank": 16, "qk_nope_head_dim": 8,
      "qk_rope_head_dim": 8, "v_head_dim": 8, "n_routed_experts": 8,
      "num_experts_per_tok": 2, "moe_intermediate_size": 8, "first_k_dense_replace": 1,
      "n_group": 2, "topk_group": 1'
echo "{$base, \"q_lora_rank\": null, \"topk_method\": \"noaux_tc\", \"scoring_func\": \"sigmoid\",
       \"ep_size\": 1, \"num_nextn_predict_layers\": 1, \"aux_loss_alpha\": 0.001}" >ok.json &&
init -c ok.json -o ok &&
st_header ok/model.safetensors | jq -r 'keys[]' | grep 'layers.0.self_attn' &&
jq -c '[.q_lora_rank, .ep_size, .num_nextn_predict_layers]' ok/config.json &&
i=0
for extra in '"topk_method": "greedy"' '"topk_method": "group_limited_greedy"' \
    '"scoring_func": "softmax"' '"n_group": 3' '"n_group": 2, "topk_group": 3' \
    '"num_experts_per_tok": 5' '"moe_layer_freq": 2' '"q_lora_rank": "none"' \
    '"qk_rope_head_dim": 7' '"attention_bias": true' '"n_shared_experts": 9' \
    '"kv_lora_rank": 0' '"rope_interleave": 1'; do
    i=$((i + 1))
    echo "{$base}" | jq ". + {$extra}" >c$i.json
    init -c c$i.json -o m$i 2>&1 || echo "exit $?"
done
