# Conversations: samples of messages records are summarized like any
# samples (rewards, accuracy, pass@k, completion lengths), and messages
# SFT records are counted.
cat > s.jsonl <<'X'
{"id":"c","domain":"qa","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}],"group":"c","k":0,"completion":"dd","reward":1}
{"id":"c","domain":"qa","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}],"group":"c","k":1,"completion":"e","reward":0}
{"id":"r","domain":"qa","messages":[{"role":"user","content":"q"}],"group":"r","k":0,"completion":"fff","reward":0}
{"id":"r","domain":"qa","messages":[{"role":"user","content":"q"}],"group":"r","k":1,"completion":"g","reward":0}
X
stats s.jsonl
printf '%s\n' '{"id":"t","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}' > sft.jsonl
stats sft.jsonl
