# A reader that goes away ends the tool quietly, as with head(1).
R="$TOP/build/test/test_rec"
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "{\"i\":%d}\n", i }' > in.jsonl
( rc=0; "$R" cat in.jsonl 2> err || rc=$?; echo $rc > status ) | head -n 2 > first
test "$(cat status)" = 141
test ! -s err
test "$(wc -l < first)" = 2
