# think on bad input; --strip of a record of 100 MB keeps only the answer.
. "$TESTDIR/common.inc"
printf '%s\n' '{"id":"a","completion":"<think>x</think> 2"}' '{"id":"b","completion":"2"}' >good.jsonl
stream_cases think --strip
field_case 'del(.completion)' completion think --strip
field_case '.completion = [1]' completion think --strip
rejects_case think --strip
counts mixed.jsonl o.out rej.jsonl
{ printf '{"id":"big","completion":"<think>'; head -c 100000000 /dev/zero | tr '\0' a
  echo '</think> 7"}'; } >big.jsonl
think --strip -o o.out big.jsonl
test "$(jq -c .completion o.out)" = '"7"'
