# --min-reward R keeps only rewards >= R; a group left empty is counted.
rejsample --best 10 --min-reward 2 "$TESTDIR/in.jsonl" > out 2> err
test "$(jq -c -s 'map([.id, .source.k])' out)" = '[["p/1",1],["p/4",4],["p/0",0]]'
grep -qx 'rejsample: 2 groups, 7 samples; kept 3 (1 groups with none); passed over: 3 below --min-reward, 0 without the format reward, 0 without an answer, 1 duplicates' err
rejsample -q --best 10 --min-reward 0.5 "$TESTDIR/in.jsonl" > out
test "$(jq -c -s 'map([.id, .reward])' out)" = '[["p/1",2],["p/4",2],["p/0",2],["p/2",1],["q/0",1]]'
# Negative thresholds and rewards.
printf '%s\n' '{"group":"g","k":0,"completion":"a","reward":-1.5}' \
    '{"group":"g","k":1,"completion":"b","reward":-0.5}' > neg.jsonl
rejsample -q --min-reward -1 neg.jsonl > out
test "$(jq -r .response out)" = b
rejsample -q --min-reward 0 neg.jsonl > out
test ! -s out
