# score-code on bad input: the record is refused before any sandbox runs.
. "$TESTDIR/common.inc"
printf '%s\n' '{"id":"a","domain":"math","completion":"x"}' \
    '{"id":"b","domain":"code","completion":"no code here","tests":[{"input":"1","output":"1"}]}' >good.jsonl
stream_cases score-code
field_case '.domain = "code" | .tests = [{"input":"1","output":"1"}] | del(.completion)' completion score-code
field_case '.domain = "code" | .completion = "x"' tests score-code
field_case '.domain = "code" | .completion = "x" | .tests = []' tests score-code
field_case '.domain = "code" | .completion = "x" | .tests = [{"input": 1, "output": "1"}]' tests score-code
field_case '.domain = "code" | .completion = "x" | .tests = [{"assert": "1"}] | .lang = "cobol"' lang score-code
field_case '.domain = "code" | .completion = "x" | .tests = [{"assert": "1"}] | .rewards = 1' rewards score-code
rejects_case score-code
counts mixed.jsonl o.out rej.jsonl
