# Routes that do not fit the model are bad input naming the field: the
# token count, a token's sparse layers, a layer's experts, an expert out
# of range or twice, a missing field (logp and update --replay-routes).
# --routes and --replay-routes need a mixture of experts; gen --routes
# needs a local checkpoint.  (deepseek-v3-tiny: 3 layers, the first
# dense, 8 experts, top 2.)
init -p deepseek-v3-tiny -s 1 -o m >/dev/null &&
init -c "$TESTDIR/../update/tiny.json" -o d >/dev/null &&
r='[[[0,1],[2,3]],[[4,5],[6,7]]]' &&
for routes in "$r" '[[[0,1],[2,3]]]' '[[[0,1]],[[4,5]]]' '[[[0,1],[2]],[[4,5],[6,7]]]' \
    '[[[0,1],[2,8]],[[4,5],[6,7]]]' '[[[0,1],[2,2]],[[4,5],[6,7]]]' '"x"' null; do
    echo "{\"prompt_ids\":[1],\"completion_ids\":[2,3],\"routes\":$routes}" |
        jq -c 'if .routes == null then del(.routes) else . end' >s.jsonl &&
    { logp -m m --replay-routes s.jsonl >/dev/null; echo "exit $?"; }
done 2>&1 &&
echo "{\"prompt_ids\":[1],\"completion_ids\":[2,3],\"routes\":$r,\"advantage\":1}" >ok.jsonl &&
pack -q -L 64 ok.jsonl >p.jsonl &&
update -q -m m --grpo --eval --replay-routes p.jsonl >/dev/null &&
jq -c '.routes[0][0][0][1] = 9' p.jsonl >bad.jsonl &&
{ update -m m --grpo --eval --replay-routes bad.jsonl; echo "exit $?"; } 2>&1 &&
jq -c 'del(.routes)' p.jsonl >none.jsonl &&
{ update -m m --grpo --eval --replay-routes none.jsonl; echo "exit $?"; } 2>&1 &&
{ update -m d --grpo --eval --replay-routes p.jsonl; echo "exit $?"; } 2>&1 &&
{ logp -m d --replay-routes ok.jsonl; echo "exit $?"; } 2>&1 &&
{ echo '{"prompt":"x"}' | gen -m d --routes; echo "exit $?"; } 2>&1 &&
{ gen --server http://127.0.0.1:9/v1 -m x --routes </dev/null; echo "exit $?"; } 2>&1 &&
{ gen --version >/dev/null; } && echo ok
