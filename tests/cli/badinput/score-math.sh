# score-math on bad input: stream errors, missing and mistyped fields, a
# line of 100 MB; with --max-errors every record is scored or rejected.
. "$TESTDIR/common.inc"
printf '%s\n' '{"id":"a","domain":"math","completion":"so \\boxed{2}","answer":"2"}' \
    '{"id":"b","domain":"math","completion":"\\boxed{3}","answer":"4"}' \
    '{"id":"c","domain":"code","completion":"x"}' >good.jsonl
stream_cases score-math
field_case 'del(.completion)' completion score-math
field_case '.completion = 5' completion score-math
field_case 'del(.answer)' answer score-math
field_case '.answer = [1]' answer score-math
field_case '.domain = 3' domain score-math
field_case '.rewards = 3' rewards score-math
rejects_case score-math
counts mixed.jsonl o.out rej.jsonl
big_line
fails "^score-math: big.jsonl:2: column 26: unterminated string" score-math -o o.out big.jsonl
