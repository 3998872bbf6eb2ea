# A sample of a conversation (messages) is scored as the conversation
# renders: the same samples as one-turn conversations get the same scores
# as prompt records; an earlier exchange changes the rendering, and so the
# score; a bad turn is a bad record naming it.
. "$TESTDIR/data.inc"
score-rm -m rm --domain math samples.jsonl | jq -c '.rm.score' > flat.txt
jq -c '{id, domain, k, completion, messages: [{role: "user", content: .prompt}]}' samples.jsonl > conv.jsonl
score-rm -m rm --domain math conv.jsonl > conv-scored.jsonl
jq -c '.rm.score' conv-scored.jsonl | cmp - flat.txt && echo "one-turn conversations: the same scores"
jq -c '.messages | length' conv-scored.jsonl | sort -u
jq -c '.messages = [{role: "user", content: "hi"}, {role: "assistant", content: "7"}] + .messages' \
    conv.jsonl > long.jsonl
score-rm -m rm --domain math long.jsonl | jq -c '.rm.score' > long.txt
cmp -s long.txt flat.txt || echo "an earlier exchange: other scores"
printf '%s\n' '{"id":"x","domain":"math","completion":"1","messages":[{"role":"user","content":5}]}' \
    '{"id":"y","domain":"math","completion":"1","prompt":"p","messages":[{"role":"user","content":"p"}]}' > bad.jsonl
{ score-rm -m rm --domain math --max-errors 5 --rejects rej.jsonl bad.jsonl; echo "exit $?"; } 2>/dev/null
jq -r .error rej.jsonl
