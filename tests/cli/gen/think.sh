# --think opens the assistant turn with <think>\n: the prompt ids end with
# it and the completion text starts with it, so think(1) sees a whole block.
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
gen -m ck -T 0 -n 10 --think "$TESTDIR/prompts.jsonl" > t
jq -e -s 'all(.[]; .prompt_ids[-3:] == [261, 262, 10])' t > /dev/null
jq -e -s 'all(.[]; .completion | startswith("<think>\n"))' t > /dev/null
gen -m ck -T 0 -n 10 "$TESTDIR/prompts.jsonl" > n
jq -e -s 'all(.[]; .prompt_ids[-1] == 261)' n > /dev/null
think --check t > report || test $? = 1
test "$(wc -l < report)" -ge 1
