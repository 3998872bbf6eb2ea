# tok -r on bad input: missing or mistyped text fields, a 100 MB line.
. "$TESTDIR/common.inc"
printf '%s\n' '{"id":"a","prompt":"hi","completion":"there"}' '{"id":"b","prompt":"x"}' >good.jsonl
stream_cases tok -r
field_case 'del(.prompt)' prompt tok -r
field_case '.prompt = 3' prompt tok -r
rejects_case tok -r
counts mixed.jsonl o.out rej.jsonl
big_line
fails "^tok: big.jsonl:2: column 26: unterminated string" tok -r -o o.out big.jsonl
# ids to decode that are not ids
printf '1 2 x\n' >ids.txt
set +e; tok -d ids.txt >out 2>err; rc=$?; set -e
clean_stderr err
test $rc -ne 0 && grep -q "^tok: ids.txt:1: " err
