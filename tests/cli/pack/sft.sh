# SFT records through the checkpoint's chat format (built-in tokenizer):
# loss only on the response, which ends in <|eos|> (257).
init -c "$TESTDIR/../update/tiny.json" -o ck &&
printf '%s\n' '{"id":"a","prompt":"2+2=","response":"4"}' \
    '{"id":"b","system":"be brief","prompt":"hi","response":"ok"}' >sft.jsonl &&
pack -m ck -L 64 sft.jsonl >out.jsonl &&
jq -c '.segments, .ids, .loss_mask, .src' out.jsonl &&
{ pack -L 64 sft.jsonl; echo "exit $?"; } 2>&1 &&
echo ok
