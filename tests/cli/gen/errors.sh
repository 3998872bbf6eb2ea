# Clear errors: an empty prompt, a prompt longer than the context and a
# record without id are data errors naming the field; a missing checkpoint
# stops before reading; a bad option is a usage error.
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
printf '%s\n' '{"id":"a","prompt":""}' > empty.jsonl
awk 'BEGIN { s = ""; for (i = 0; i < 200; i++) s = s "a"; printf "{\"id\":\"long\",\"prompt\":\"%s\"}\n", s }' > long.jsonl
printf '%s\n' '{"prompt":"hi"}' > noid.jsonl
set +e
gen -m ck empty.jsonl > out 2> err; echo "exit $?"; cat err
gen -m ck long.jsonl > out 2> err; echo "exit $?"; cat err
gen -m ck noid.jsonl > out 2> err; echo "exit $?"; cat err
gen -m nowhere empty.jsonl > out 2> err; echo "exit $?"; cat err
gen -m ck -T -1 empty.jsonl > out 2> err; echo "exit $?"; cat err
gen -m ck --top-p 0 empty.jsonl > out 2> err; echo "exit $?"; head -n 1 err
gen empty.jsonl > out 2> err; echo "exit $?"; head -n 1 err
set -e
# under --max-errors the bad records go to the rejects and the rest is sampled
cat empty.jsonl long.jsonl noid.jsonl "$TESTDIR/prompts.jsonl" > mixed.jsonl
gen -m ck -T 0 -n 4 --max-errors 3 --rejects rej.jsonl mixed.jsonl > out 2> err
test "$(wc -l < out)" = 12
jq -r '"\(.line) \(.field)"' rej.jsonl
