# One splitter: think, score-format and rejsample --think strip agree on
# the decided cases (think.h).  The final answer is what follows the last
# "</think>"; a repeated or nested block is malformed for the format
# reward; an unclosed block has no answer.
cat > in.jsonl <<'X'
{"group":"twice-closed","k":0,"completion":"<think>a</think>b</think>c","reward":1}
{"group":"nested","k":0,"completion":"<think>a<think>b</think>c","reward":1}
{"group":"unclosed","k":0,"completion":"<think>a","reward":1}
{"group":"template-opened","k":0,"completion":"a</think>b","reward":1}
{"group":"ok","k":0,"completion":"<think>a</think>b","reward":1}
X
think --extract in.jsonl | jq -c '[.group, .reasoning, .completion]'
score-format in.jsonl | jq -c '[.group, .format.reason]'
score-format --open-in-prompt in.jsonl | jq -c '[.group, .format.reason]'
rejsample -q --think strip in.jsonl | jq -c '[.source.group, .response]'
