# --require-format keeps only samples with rewards.format = 1 (R1's format
# reward); a sample lacking it is an error, not a silent drop.
rejsample --require-format --best 10 "$TESTDIR/in.jsonl" > out 2> err
test "$(jq -c -s 'map(.id)' out)" = '["p/1","p/4","p/0","p/2"]'
grep -q 'kept 4 (1 groups with none); passed over: 0 below --min-reward, 2 without the format reward, 0 without an answer, 1 duplicates$' err
printf '%s\n' '{"group":"g","k":0,"completion":"a","reward":1,"rewards":{"format":1}}' \
    '{"group":"g","k":1,"completion":"b","reward":1,"rewards":{"math":1}}' > nofmt.jsonl
set +e
rejsample --require-format nofmt.jsonl > out 2> err; rc=$?
set -e
test $rc = 1
grep -qx "rejsample: nofmt.jsonl:2: field 'rewards.format': missing" err
# Without the option the field is not needed.
rejsample -q nofmt.jsonl > out
test "$(jq -r .response out)" = a
