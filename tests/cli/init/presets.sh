# The tiny preset: HF config fields, every tensor by its HF name and F32
# shape, the file size the shapes imply; the parameter count on stderr.
. "$TESTDIR/st-header.inc"
init -v -o ck 2>err && cat err &&
jq -c '[.architectures, .model_type, .hidden_size, .intermediate_size,
        .num_hidden_layers, .num_attention_heads, .num_key_value_heads, .vocab_size,
        .max_position_embeddings, .rms_norm_eps, .rope_theta, .tie_word_embeddings,
        .bos_token_id, .eos_token_id]' ck/config.json &&
st_header ck/model.safetensors >h.json &&
jq -r 'to_entries[] | select(.key != "__metadata__")
       | "\(.key) \(.value.dtype) \(.value.shape)"' h.json | sort | head -14 &&
jq -r '[to_entries[] | select(.key != "__metadata__") | .value.shape
        | reduce .[] as $d (1; . * $d)] | add' h.json &&
test "$(wc -c <ck/model.safetensors)" -eq $((8 + $(od -An -t u8 -N 8 ck/model.safetensors) + 4 * 3215616)) &&
test ! -e ck/tokenizer.json && test ! -e ck/optimizer.safetensors
