# --think keep (the default) keeps the completion whole; --think strip
# writes what follows the think block, drops samples whose block is
# unclosed or has nothing after it, and finds duplicates among the
# stripped responses.
rejsample -q --best 10 --think strip "$TESTDIR/in.jsonl" > out 2> err
jq -c '[.id, .response]' out > got
# k4, k3 and k0 strip to "4" like k1 and are duplicates; k2 is "5";
# q's k1 is an unclosed block.
cat > want <<'X'
["p/1","4"]
["p/2","5"]
["q/0","7"]
X
cmp want got
rejsample --best 10 --think strip "$TESTDIR/in.jsonl" > /dev/null 2> err
grep -q 'passed over: 0 below --min-reward, 0 without the format reward, 1 without an answer, 3 duplicates$' err
rejsample -q --think keep "$TESTDIR/in.jsonl" > out
test "$(jq -r -s '.[0].response' out)" = '<think>ok</think> 4'
cat > t.jsonl <<'X'
{"group":"a","k":0,"completion":"opened by the template</think>\n\nAnswer: 9","reward":1}
{"group":"b","k":0,"completion":"<think>x</think>   \n","reward":1}
{"group":"b","k":1,"completion":"","reward":1}
{"group":"c","k":0,"completion":"no block at all","reward":1}
{"group":"d","k":0,"completion":"Before. <think>x</think>\nAfter.","reward":1}
X
rejsample --think strip t.jsonl > out 2> err
jq -c '[.source.group, .response]' out > got
cat > want <<'X'
["a","Answer: 9"]
["c","no block at all"]
["d","Before. After."]
X
cmp want got
grep -q 'kept 3 (1 groups with none); .* 2 without an answer, 0 duplicates$' err
# An empty completion is no answer when kept whole too.
rejsample --think keep t.jsonl > out 2> err
test "$(jq -c -s 'map(.source.group)' out)" = '["a","b","c","d"]'
grep -q ' 1 without an answer, 0 duplicates$' err
