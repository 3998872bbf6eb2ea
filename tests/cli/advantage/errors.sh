# A missing, non-number or non-finite reward stops the tool with the file,
# the line and the field; --max-errors sends the whole group to --rejects.
set +e
printf '%s\n' '{"group":"a","reward":1}' '{"group":"a","reward":0}' '{"group":"b","reward":1}' \
    '{"group":"b"}' > missing.jsonl
advantage missing.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: missing.jsonl:4: field 'reward': missing" err || exit 1
# The groups before the bad one are out already; nothing of group b is.
test "$(jq -r .group out | tr -d '\n')" = aa || exit 1
advantage < missing.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: <stdin>:4: field 'reward': missing" err || exit 1
printf '%s\n' '{"group":"a","reward":"1"}' > str.jsonl
advantage str.jsonl 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: str.jsonl:1: field 'reward': not a number" err || exit 1
printf '%s\n' '{"group":"a","reward":1}' '{"group":"a","reward":null}' > null.jsonl
advantage null.jsonl 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: null.jsonl:2: field 'reward': not a number" err || exit 1
printf '%s\n' '{"group":"a","reward":true}' > bool.jsonl
advantage bool.jsonl 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: bool.jsonl:1: field 'reward': not a number" err || exit 1
# JSON has no NaN or infinity: such a line is not JSON, and says where.
printf '%s\n' '{"group":"a","reward":1}' '{"group":"a","reward":NaN}' > nan.jsonl
advantage nan.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -q "^advantage: nan.jsonl:2: " err || exit 1
printf '%s\n' '{"group":"a","reward":1e999}' > inf.jsonl
advantage inf.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -q "^advantage: inf.jsonl:1: " err || exit 1
# --key names the field in the message.
printf '%s\n' '{"group":"a","rewards":{"math":1}}' '{"group":"a","rewards":{}}' > key.jsonl
advantage --key rewards.math key.jsonl 2> err; rc=$?
test $rc = 1 && grep -qx "advantage: key.jsonl:2: field 'rewards.math': missing" err || exit 1
# Under --max-errors the bad record's group goes whole to the rejects.
printf '%s\n' '{"group":"a","reward":1}' '{"group":"a","reward":0}' '{"group":"b","reward":1}' \
    '{"group":"b","reward":"x"}' '{"group":"b","reward":0}' '{"group":"c","reward":2}' \
    '{"group":"c","reward":0}' > mixed.jsonl
advantage --dr-grpo --max-errors 5 --rejects rej.jsonl mixed.jsonl > out 2> err; rc=$?
test $rc = 0 || exit 1
test "$(jq -c -s 'map([.group, .advantage])' out)" = '[["a",0.5],["a",-0.5],["c",1],["c",-1]]' || exit 1
test "$(jq -c -s 'map([.line, .field])' rej.jsonl)" = '[[4,"reward"],[3,null],[5,null]]' || exit 1
jq -r -s '.[1].error' rej.jsonl | grep -q "group 'b' has a bad record at mixed.jsonl:4$" || exit 1
grep -qx 'advantage: 2 groups, 4 records; 0 uniform groups (0 records) given advantage 0' err || exit 1
grep -qx "advantage: 3 of 7 records rejected (see 'rej.jsonl')" err || exit 1
# More bad records than allowed: exit 1.
advantage --max-errors 2 --rejects rej.jsonl mixed.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -q "more than 2 bad records" err || exit 1
exit 0
