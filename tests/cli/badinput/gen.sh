# gen on bad input: stream errors, bad prompt fields, a checkpoint whose
# config.json does not match its tensors.
. "$TESTDIR/common.inc"
ckpt ck
printf '%s\n' '{"id":"a","prompt":"1+1="}' '{"id":"b","prompt":"2+2=","system":"s"}' >good.jsonl
stream_cases gen -m ck -n 2
field_case 'del(.prompt)' prompt gen -m ck -n 2
field_case '.prompt = {}' prompt gen -m ck -n 2
field_case '.system = 1' system gen -m ck -n 2
rejects_case gen -m ck -n 2
counts mixed.jsonl o.out rej.jsonl
fails "^gen: wrong/model.safetensors: tensor '[^']*' has shape" gen -m wrong -o o.out good.jsonl
# ids name groups: a repeated id is refused, whether or not it follows
{ cat good.jsonl; head -n 1 good.jsonl; } >dup.jsonl
fails "^gen: dup.jsonl:3: field 'id': 'a' is also the id of line 1" gen -m ck -n 2 -o o.out dup.jsonl
gen -m ck -n 2 --max-errors 1 --rejects rej.jsonl -o o.out dup.jsonl 2>err
test "$(nlines o.out)" = 2 && test "$(nlines rej.jsonl)" = 1
