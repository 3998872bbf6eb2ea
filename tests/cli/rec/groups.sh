# Consecutive records sharing "group" form a group; a group seen again is split.
R="$TOP/build/test/test_rec"
printf '%s\n' '{"group":"a","k":0}' '{"group":"a","k":1}' '{"group":"b","k":0}' > ok.jsonl
"$R" cat --groups ok.jsonl > out
printf '%s\n' '{"group":"a","n":2}' '{"group":"b","n":1}' | cmp - out
printf '%s\n' '{"group":"a","k":0}' '{"group":"b","k":0}' '{"group":"a","k":1}' '{"group":"a","k":2}' '{"group":"c","k":0}' '{"k":9}' > split.jsonl
if "$R" cat --groups split.jsonl > out 2> err; then exit 1; fi
grep -qx "test_rec: split.jsonl:3: field 'group': group 'a' is split: it appeared earlier in the stream" err
"$R" cat --groups --max-errors 10 --rejects rej.jsonl split.jsonl > out 2> err
printf '%s\n' '{"group":"a","n":1}' '{"group":"b","n":1}' '{"group":"c","n":1}' | cmp - out
test "$(jq -s 'map(.line) | join(",")' rej.jsonl)" = '"3,4,6"'
