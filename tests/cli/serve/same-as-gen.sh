# gen --server against serve samples what gen -m samples from the same
# checkpoint and seed: the same completions, token ids and log-probs, on
# both endpoints; a stream carries the same text as the plain answer.
. "$TESTDIR/start.inc"
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
serve_start -m ck --threads 1
gen -m ck -G 2 -T 0.8 --top-p 0.9 --top-k 40 -n 24 --seed 7 --threads 1 "$TESTDIR/prompts.jsonl" > local
gen --server "$URL/v1" -m ck -G 2 -T 0.8 --top-p 0.9 --top-k 40 -n 24 --seed 7 --send-id \
    --logprobs --token-ids --concurrency 4 "$TESTDIR/prompts.jsonl" > remote
f='[.group, .k, .completion, .finish, .prompt_ids, .completion_ids, .logprobs]'
jq -c "$f" local > a
jq -c "$f" remote > b
test "$(wc -l < a)" = 24
cmp a b
# the server names the policy and counts the tokens of each sample
jq -e -s 'all(.policy == "ck" and .usage.completion_tokens == (.completion_ids | length)
              and .usage.prompt_tokens == (.prompt_ids | length))' remote > /dev/null
# greedy on the completions endpoint: the prompt text alone, no chat turn
gen --server "$URL/v1" --endpoint completions -m ck -T 0 -n 16 --logprobs --token-ids \
    "$TESTDIR/prompts.jsonl" > comp
test "$(wc -l < comp)" = 12
jq -e -s 'all(.prompt_ids[0] == 256 and (.prompt_ids | index(260)) == null)' comp > /dev/null
# streaming: the events put together are the plain answer
body='{"model":"ck","messages":[{"role":"user","content":"What is 2+2?"}],"max_tokens":30,"seed":3,"user":"x"}'
curl -sf "$URL/v1/chat/completions" -d "$body" | jq -r '.choices[0].message.content' > plain
curl -sfN "$URL/v1/chat/completions" -d "$(echo "$body" | jq -c '.stream = true')" > events
tail -n 2 events | head -n 1 | grep -qx 'data: \[DONE\]'
sed -n 's/^data: {/{/p' events | jq -j '.choices[0].delta.content // ""' > streamed
printf '\n' >> streamed
cmp plain streamed
# a stop string ends the text before it (OpenAI's rule), in a stream too
jq -Rs '.[6:8]' plain > stop
python3 -c 'import json, sys
t = open("plain", encoding="utf-8").read(); s = json.load(open("stop"))
print(json.dumps(t[:t.index(s)], ensure_ascii=False))' | jq . > want
b2=$(echo "$body" | jq -c --slurpfile s stop '.stop = $s')
curl -sf "$URL/v1/chat/completions" -d "$b2" | jq '.choices[0].message.content' > got
jq -e 'length > 0' want > /dev/null
cmp want got
curl -sfN "$URL/v1/chat/completions" -d "$(echo "$b2" | jq -c '.stream = true')" \
    | sed -n 's/^data: {/{/p' | jq -j '.choices[0].delta.content // ""' | jq -Rs . > got
cmp want got
# the models list and the health check
curl -sf "$URL/v1/models" | jq -e '.data[0].id == "ck"' > /dev/null
curl -sf "$URL/health" | jq -e '.status == "ok"' > /dev/null
# a conversation of several turns: the prompt gen renders for a messages
# record, answered greedily the same way
conv='[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"},{"role":"user","content":"And 3+3?"}]'
echo "{\"id\":\"c1\",\"messages\":$conv}" > conv.jsonl
gen -m ck -T 0 -n 20 --threads 1 conv.jsonl | jq '.completion' > want
curl -sf "$URL/v1/chat/completions" -d "{\"messages\":$conv,\"temperature\":0,\"max_tokens\":20}" \
    | jq '.choices[0].message.content' > got
jq -e 'length > 0' want > /dev/null
cmp want got
# gen --server sends a messages record's turns: the same completions again
gen -m ck -G 2 -T 0.8 -n 16 --seed 7 --threads 1 conv.jsonl > local
gen --server "$URL/v1" -m ck -G 2 -T 0.8 -n 16 --seed 7 --send-id --logprobs conv.jsonl > remote
jq -c '[.k, .completion, .logprobs]' local > a
jq -c '[.k, .completion, .logprobs]' remote > b
test "$(wc -l < a)" = 2
cmp a b
jq -e -s 'all(.messages | length == 4)' remote > /dev/null
