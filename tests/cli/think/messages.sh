# A conversation record without a completion: the text is its last
# assistant turn; --extract moves the reasoning into that turn's
# reasoning_content (the field DeepSeek's and vLLM's APIs use), which
# the chat formats render as the turn's think block.  A conversation
# without a final assistant turn is a bad record.
cat > in.jsonl <<'X'
{"id":"a","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"<think>\nr\n</think>\n\nA"}]}
{"id":"b","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"<think>r"}]}
{"id":"s","messages":[{"role":"user","content":"q"}],"completion":"<think>x</think>y"}
X
think --extract in.jsonl | jq -c '[.id, .messages[-1], .completion, .reasoning]'
think --strip in.jsonl | jq -c '.messages[-1].content'
set +e
{ think --check in.jsonl; echo "exit $?"; } 2>&1
printf '%s\n' '{"id":"u","messages":[{"role":"user","content":"q"}]}' > bad.jsonl
{ think --strip bad.jsonl; echo "exit $?"; } 2>&1
