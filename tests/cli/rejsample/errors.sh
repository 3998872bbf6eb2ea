# Bad records stop the tool with file, line and field; a split group is
# an error naming it; usage errors exit 2.
set +e
printf '%s\n' '{"group":"a","k":0,"completion":"x","reward":1}' '{"group":"a","k":1,"completion":"y"}' > r.jsonl
rejsample r.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "rejsample: r.jsonl:2: field 'reward': missing" err || exit 1
printf '%s\n' '{"group":"a","k":0,"completion":"x","reward":"1"}' > s.jsonl
rejsample s.jsonl 2> err; rc=$?
test $rc = 1 && grep -qx "rejsample: s.jsonl:1: field 'reward': not a number" err || exit 1
printf '%s\n' '{"group":"a","k":0,"completion":"x","reward":NaN}' > nan.jsonl
rejsample nan.jsonl 2> err; rc=$?
test $rc = 1 && grep -q "^rejsample: nan.jsonl:1: " err || exit 1
printf '%s\n' '{"group":"a","k":0,"completion":7,"reward":1}' > c.jsonl
rejsample c.jsonl 2> err; rc=$?
test $rc = 1 && grep -qx "rejsample: c.jsonl:1: field 'completion': not a string" err || exit 1
printf '%s\n' '{"group":"a","k":0,"reward":1}' > nc.jsonl
rejsample nc.jsonl 2> err; rc=$?
test $rc = 1 && grep -qx "rejsample: nc.jsonl:1: field 'completion': missing" err || exit 1
printf '%s\n' '{"group":"a","k":0,"completion":"x","reward":1}' '{"group":"b","k":0,"completion":"x","reward":1}' \
    '{"group":"a","k":1,"completion":"y","reward":1}' > split.jsonl
rejsample split.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "rejsample: split.jsonl:3: field 'group': group 'a' is split: it appeared earlier in the stream" err || exit 1
# --max-errors: line 3 repeats sample a/0 of line 1, the bad record's
# group goes whole to the rejects (lines 2, 1), then group a reappears,
# split (line 5).
cat r.jsonl split.jsonl > both.jsonl
rejsample -q --max-errors 9 --rejects rej.jsonl both.jsonl > out 2> err; rc=$?
test $rc = 0 || exit 1
test "$(jq -c -s 'map(.line)' rej.jsonl)" = '[3,2,1,5]' || exit 1
test "$(jq -c -s 'map(.source.group)' out)" = '["b"]' || exit 1
# Usage.
rejsample --help > out; rc=$?
test $rc = 0 && head -n 1 out | grep -q '^usage: rejsample \[--best K\]' || exit 1
rejsample --version | grep -q '^rejsample (posttrain) ' || exit 1
for a in "--best 0" "--best x" "--min-reward nan" "--min-reward 1x" "--think hide" "--bogus" "--key="; do
    rejsample $a < /dev/null > out 2> err; rc=$?
    test $rc = 2 && grep -q '^usage: rejsample' err || { echo "rejsample $a: exit $rc"; exit 1; }
done
exit 0
