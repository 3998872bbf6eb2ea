# A split group is an error naming it; -G N makes a short or long group one.
set +e
printf '%s\n' '{"group":"a","reward":1}' '{"group":"a","reward":0}' '{"group":"b","reward":1}' \
    '{"group":"a","reward":0}' > split.jsonl
advantage split.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: split.jsonl:4: field 'group': group 'a' is split: it appeared earlier in the stream" err || exit 1
advantage --scale batch split.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -q "group 'a' is split" err || exit 1
printf '%s\n' '{"group":"a","reward":1}' '{"group":"a","reward":0}' '{"group":"a","reward":0}' \
    '{"group":"b","reward":1}' '{"group":"b","reward":0}' '{"group":"c","reward":1}' \
    '{"group":"c","reward":0}' '{"group":"c","reward":1}' > short.jsonl
advantage -G 3 short.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: short.jsonl:4: field 'group': group 'b' has 2 samples, expected 3" err || exit 1
advantage -G 2 short.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: short.jsonl:1: field 'group': group 'a' has 3 samples, expected 2" err || exit 1
advantage --group-size 3 --scale batch --batch 1 short.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -q "group 'b' has 2 samples, expected 3" err || exit 1
# Under --max-errors the short group goes to the rejects, the rest on.
advantage -q -G 3 --max-errors 9 --rejects rej.jsonl short.jsonl > out 2> err; rc=$?
test $rc = 0 || exit 1
test "$(jq -r .group out | tr -d '\n')" = aaaccc || exit 1
test "$(jq -c -s 'map(.line)' rej.jsonl)" = '[4,5]' || exit 1
printf '%s\n' '{"group":"a","reward":1}' '{"group":"a","reward":0}' | advantage -G 2 -q > out; rc=$?
test $rc = 0 && test "$(wc -l < out)" = 2 || exit 1
# A record without a group.
printf '%s\n' '{"reward":1}' | advantage 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: <stdin>:1: field 'group': missing" err || exit 1
exit 0
