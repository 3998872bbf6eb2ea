# logp adds one log-probability per completion token, in input order,
# the same however many samples share a forward pass; --old names the
# field old_logprobs.  Under an all-zero model every token has
# probability 1/264: log-probability -ln 264 = -5.57594...
init -c "$TESTDIR/../update/tiny.json" -s 4 -o m &&
printf '%s\n' '{"id":"a","prompt_ids":[256,1,2],"completion_ids":[3,4,257]}' \
    '{"id":"b","prompt_ids":[256],"completion_ids":[9]}' \
    '{"id":"c","prompt_ids":[256,5,5,5,5],"completion_ids":[6,7,8,9,10,11,12]}' >s.jsonl &&
logp -m m s.jsonl >out.jsonl &&
jq -c '[.id, (.ref_logprobs | length), all(.ref_logprobs[]; . < 0)]' out.jsonl &&
logp -m m --batch-tokens 1 s.jsonl | cmp - out.jsonl &&
logp -m m --batch-tokens 9 s.jsonl | cmp - out.jsonl &&
logp -m m --old s.jsonl | jq -c 'keys_unsorted' | head -n 1 &&
logp -m m --temperature 2 s.jsonl | cmp -s - out.jsonl || echo "temperature 2 differs" &&
init -c "$TESTDIR/../update/tiny.json" --std 0 -o z &&
logp -m z s.jsonl | jq -r '.ref_logprobs[] | . * 1e5 | round' | sort -u
