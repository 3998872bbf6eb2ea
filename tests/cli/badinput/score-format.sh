# score-format on bad input, and a record of 100 MB scored whole.
. "$TESTDIR/common.inc"
printf '%s\n' '{"id":"a","completion":"<think>x</think> 2"}' '{"id":"b","completion":"2"}' >good.jsonl
stream_cases score-format
field_case 'del(.completion)' completion score-format
field_case '.completion = null' completion score-format
field_case '.rewards = {"math": "1"}' rewards score-format
rejects_case score-format
counts mixed.jsonl o.out rej.jsonl
{ printf '{"id":"big","completion":"<think>'; head -c 100000000 /dev/zero | tr '\0' a
  echo '</think> 7"}'; } >big.jsonl
score-format -o o.out big.jsonl 2>err
clean_stderr err
test "$(jq -c "[.rewards.format, (.completion | length)]" o.out)" = "[1,100000017]"
