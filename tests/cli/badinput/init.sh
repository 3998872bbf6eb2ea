# init on a bad config.json or tokenizer.json: a message naming the file
# (and line where the JSON itself is broken), exit 1, no checkpoint left.
. "$TESTDIR/common.inc"
good='{"model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 264, "max_position_embeddings": 64}'
echo "$good" >good.json
init -c good.json -o ok 2>/dev/null
test -e ok/model.safetensors
: >empty.json
fails "^init: empty.json(:1)?: " init -c empty.json -o o.out
printf '{"model_type": "ll\377ma"}\n' >utf.json
fails "^init: utf.json:1: unable to decode byte 0xff" init -c utf.json -o o.out
echo "$good" | zstd -q -c | head -c 20 >trunc.json
fails "^init: trunc.json" init -c trunc.json -o o.out
for f in hidden_size num_attention_heads vocab_size; do
    echo "$good" | jq "del(.$f)" >c.json
    fails "^init: c.json: field '$f': " init -c c.json -o o.out
    echo "$good" | jq ".$f = \"16\"" >c.json
    fails "^init: c.json: field '$f': " init -c c.json -o o.out
done
echo "$good" | jq '.rms_norm_eps = "x"' >c.json
fails "^init: c.json: field 'rms_norm_eps': " init -c c.json -o o.out
echo "$good" | jq '.num_key_value_heads = 3' >c.json
fails "^init: c.json: " init -c c.json -o o.out
printf '{"hidden_size": 16, "hidden_size": 32}\n' >c.json
fails "^init: c.json:1: duplicate" init -c c.json -o o.out
printf '{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}\n' >tok.json
fails "^init: tok.json: " init -c good.json -t tok.json -o o.out
printf '{"model": {"type": "BPE", "vocab": 5}}\n' >tok.json
fails "^init: tok.json: " init -c good.json -t tok.json -o o.out
