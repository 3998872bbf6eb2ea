# pack on bad input: stream errors, bad ids and per-token arrays, a line
# of 100 MB.
. "$TESTDIR/common.inc"
printf '%s\n' '{"id":"a","prompt_ids":[256,49],"completion_ids":[50,257],"logprobs":[-1,-2],"advantage":0.5}' \
    '{"id":"b","prompt_ids":[256],"completion_ids":[51],"logprobs":[-1],"advantage":-0.5}' >good.jsonl
stream_cases pack -L 16
field_case 'del(.completion_ids)' completion_ids pack -L 16
field_case '.completion_ids = [1.5]' completion_ids pack -L 16
field_case '.prompt_ids = {}' prompt_ids pack -L 16
field_case '.logprobs = [-1]' logprobs pack -L 16
field_case '.advantage = "x"' advantage pack -L 16
rejects_case pack -L 16
big_line
fails "^pack: big.jsonl:2: column 26: unterminated string" pack -L 16 -o o.out big.jsonl
