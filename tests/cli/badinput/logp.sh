# logp on bad input: stream errors, token ids that are not ids, a
# checkpoint of the wrong shape.
. "$TESTDIR/common.inc"
ckpt ck
printf '%s\n' '{"id":"a","prompt_ids":[256,49],"completion_ids":[50,257]}' \
    '{"id":"b","prompt_ids":[256],"completion_ids":[51]}' >good.jsonl
stream_cases logp -m ck
field_case 'del(.completion_ids)' completion_ids logp -m ck
field_case '.completion_ids = "50"' completion_ids logp -m ck
field_case '.completion_ids = [264]' completion_ids logp -m ck
field_case '.prompt_ids = [-1]' prompt_ids logp -m ck
field_case '.prompt_ids = [1.5]' prompt_ids logp -m ck
rejects_case logp -m ck
counts mixed.jsonl o.out rej.jsonl
fails "^logp: wrong/model.safetensors: tensor '[^']*' has shape" logp -m wrong -o o.out good.jsonl
