# --best K keeps the K best distinct samples of each group: higher reward
# first, then the shorter completion, then the earlier sample; exact
# duplicate completions count once.
#   p: k0 reward 2, 29 chars; k1 2, 19; k2 1; k3 = k1; k4 2, 19.
#      Rank: k1, k4 (tie on length: earlier), k0, k2; k3 repeats k1.
#   q: k0 reward 1; k1 reward 0.
rejsample "$TESTDIR/in.jsonl" > out 2> err
cat > want <<'X'
{"id":"p","prompt":"2+2?","system":"be brief","answer":"4","rewards":{"math":1,"format":1},"reward":2,"response":"<think>ok</think> 4","source":{"group":"p","k":1,"policy":"h1","finish":"stop"}}
{"id":"q","prompt":"3+4?","answer":"7","rewards":{"math":1,"format":0},"reward":1,"response":"7","source":{"group":"q","k":0,"policy":"h1","finish":"stop"}}
X
cmp want out
grep -qx 'rejsample: 2 groups, 7 samples; kept 2 (0 groups with none); passed over: 0 below --min-reward, 0 without the format reward, 0 without an answer, 0 duplicates' err
# Two per group: ids get the sample index so they stay unique.
rejsample -q --best 2 "$TESTDIR/in.jsonl" > out
jq -c '[.id, .source.k, .response]' out > got
cat > want <<'X'
["p/1",1,"<think>ok</think> 4"]
["p/4",4,"<think>xx</think> 4"]
["q/0",0,"7"]
["q/1",1,"<think>so 3+4"]
X
cmp want got
# All of them: k3 is passed over as a duplicate of k1.
rejsample --best 10 "$TESTDIR/in.jsonl" > out 2> err
test "$(jq -c -s 'map(.source.k)' out)" = '[1,4,0,2,0,1]'
grep -q 'kept 6 (0 groups with none).* 1 duplicates$' err
# --key ranks by another reward: on rewards.format, q's two tie at 0 and
# the shorter completion ("7") wins.
rejsample -q --best 1 --key rewards.format "$TESTDIR/in.jsonl" > out
test "$(jq -c -s 'map([.id, .source.k])' out)" = '[["p",1],["q",0]]'
