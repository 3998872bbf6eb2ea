# finish: "stop" at the end-of-sequence token (kept in completion_ids and
# logprobs, not in the text) or at a stop string (the text ends with it),
# "length" at --max-tokens or at the end of the context.
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
gen -m ck -T 1 -G 16 -n 48 --seed 1 "$TESTDIR/prompts.jsonl" > s
# every sample: one logprob per id; stop iff the last id is <|eos|> (257),
# which appears nowhere else; length iff 48 ids
jq -e -s 'all(.[]; (.logprobs | length) == (.completion_ids | length))' s > /dev/null
jq -e -s 'all(.[]; (.finish == "stop") == (.completion_ids[-1] == 257))' s > /dev/null
jq -e -s 'all(.[]; (.completion_ids[:-1] | index([257])) == null)' s > /dev/null
jq -e -s 'all(.[]; (.finish == "length") == ((.completion_ids | length) == 48))' s > /dev/null
jq -e -s 'all(.[]; (.completion | contains("<|eos|>")) | not)' s > /dev/null
test "$(jq -r .finish s | sort | uniq -c | wc -l)" = 2
# --max-tokens 5
gen -m ck -T 0 -n 5 "$TESTDIR/prompts.jsonl" > five
jq -e -s 'all(.[]; (.completion_ids | length) <= 5 and ((.finish == "length") == ((.completion_ids | length) == 5)))' five > /dev/null
# a stop string: two printable characters from a greedy completion; the
# run with --stop must end just after their first occurrence
gen -m ck -T 0 -n 60 "$TESTDIR/prompts.jsonl" > free
stop=$(jq -r 'select(.finish == "length") | .completion' free | head -n 1 \
       | grep -o '[a-z0-9]\{2\}' | head -n 1)
test -n "$stop"
gen -m ck -T 0 -n 60 --stop "$stop" --stop "@@@@" "$TESTDIR/prompts.jsonl" > cut
jq -s -r --arg s "$stop" '.[] | .completion as $c | ($c | index($s)) as $i
    | if $i == null then "\(.finish) \($c)" else "stop \($c[:$i + ($s | length)])" end' free > want
jq -r '"\(.finish) \(.completion)"' cut > got
diff want got
grep -q "^stop .*$stop\$" got
# the context (96 positions): a long prompt leaves 96 - |prompt ids| tokens
awk 'BEGIN { s = ""; for (i = 0; i < 80; i++) s = s "a"; printf "{\"id\":\"long\",\"prompt\":\"%s\"}\n", s }' > long.jsonl
gen -m ck -T 0 -n 200 --stop "@@@@" long.jsonl > l
jq -e '.finish == "length" or .completion_ids[-1] == 257' l > /dev/null
jq -e '.finish != "length" or ((.prompt_ids | length) + (.completion_ids | length) == 96)' l > /dev/null
