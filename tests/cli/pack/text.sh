# Text records (pretraining documents) with the built-in tokenizer: BOS
# (256), the bytes, EOS (257), the loss on every token but the first; a
# special-token string in the text stays text.  Without -m, and beside a
# prompt, they are bad records.
init -c "$TESTDIR/../update/tiny.json" -o ck &&
printf '%s\n' '{"id":"d1","text":"2+2=4"}' '{"text":"<|user|>"}' >text.jsonl &&
pack -m ck -L 64 text.jsonl >out.jsonl &&
jq -c '.segments, .ids, .loss_mask, .src' out.jsonl &&
pack --check -L 64 -q out.jsonl &&
{ pack -L 64 text.jsonl; echo "exit $?"; } 2>&1 &&
echo '{"text":"x","prompt":"y"}' >both.jsonl &&
{ pack -m ck both.jsonl; echo "exit $?"; } 2>&1 &&
echo '{"text":7}' >num.jsonl &&
{ pack -m ck num.jsonl; echo "exit $?"; } 2>&1 &&
echo ok
