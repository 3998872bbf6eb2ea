# A messages record: the conversation so far is the prompt (a final
# assistant turn is the reference answer, left out), the completion the
# next assistant turn; the sample keeps the conversation.  The same
# conversation as a prompt record samples the same prompt ids.
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
printf '%s\n' \
    '{"id":"m","messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"hi"}]}' \
    '{"id":"f","messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"hi"},{"role":"assistant","content":"ref"}]}' \
    '{"id":"t","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}' \
    > in.jsonl
printf '%s\n' '{"id":"p","prompt":"hi","system":"Be kind."}' > flat.jsonl
gen -m ck -T 0 -n 2 in.jsonl > out
gen -m ck -T 0 -n 2 flat.jsonl > flat
# builtin: [bos 256] [system 259] SYS [user 260] ... [assistant 261]
jq -c '[.id, .prompt_ids]' out
test "$(jq -c .prompt_ids flat)" = "$(jq -c 'select(.id == "m") | .prompt_ids' out)"
jq -c '[.id, (.messages | length), has("completion"), has("prompt")]' out
# --system replaces the conversation's system turn (or adds one)
printf 'Be brief.\n' > sys.txt
gen -m ck -T 0 -n 2 --system sys.txt in.jsonl > sys
jq -c '[.id, .messages[0]]' sys
# a record with both forms, or a bad turn, is a bad record
printf '%s\n' '{"id":"x","prompt":"hi","messages":[{"role":"user","content":"hi"}]}' \
    '{"id":"y","messages":[{"role":"robot","content":"hi"}]}' \
    '{"id":"z","messages":[{"role":"user"}]}' > bad.jsonl
set +e
gen -m ck -T 0 -n 2 --max-errors 5 --rejects rej.jsonl bad.jsonl > /dev/null 2>&1; echo "exit $?"
jq -r '.error' rej.jsonl
