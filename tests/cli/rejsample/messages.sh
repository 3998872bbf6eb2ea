# Samples of conversations keep their form: the selected completion
# becomes the conversation's last assistant turn (replacing the data
# set's reference turn), no "response" beside the messages, and pack
# takes the result as multi-turn SFT.
cat > in.jsonl <<'X'
{"id":"c","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}],"group":"c","k":0,"completion":"d","reward":1}
{"id":"c","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}],"group":"c","k":1,"completion":"e","reward":0}
{"id":"r","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"reference"}],"group":"r","k":0,"completion":"<think>x</think>y","reward":1}
X
rejsample -q --best 1 in.jsonl > out.jsonl
jq -c '[.id, .messages, has("response"), has("completion")]' out.jsonl
rejsample -q --best 1 --think strip in.jsonl | jq -c '.messages[-1]'
init -c "$TESTDIR/../update/tiny.json" -o ck
pack -q -m ck -L 64 out.jsonl | jq -c '.segments'
