# Multi-turn SFT from messages records (built-in tokenizer: <|bos|> 256,
# <|eos|> 257, <|system|> 259, <|user|> 260, <|assistant|> 261, <think>
# 262, </think> 263, other ids are bytes).  The conversation
#   system S, user Q, assistant A, user R, assistant (reasoning "t") B
# renders as, with the loss mask written out by hand (1 on each assistant
# output through its <|eos|>; the earlier turn drops out with
# --last-turn-only):
#   id   256 259 S  260 Q  261 A  257 260 R  261 262 \n t  \n 263 \n \n B  257
#   all  0   0   0  0   0  0   1  1   0   0  0   1   1  1  1 1   1  1  1  1
#   last 0   0   0  0   0  0   0  0   0   0  0   1   1  1  1 1   1  1  1  1
init -c "$TESTDIR/../update/tiny.json" -o ck &&
printf '%s\n' '{"id":"c","messages":[{"role":"system","content":"S"},{"role":"user","content":"Q"},{"role":"assistant","content":"A"},{"role":"user","content":"R"},{"role":"assistant","reasoning_content":"t","content":"B"}]}' >conv.jsonl &&
pack -m ck -L 64 conv.jsonl >all.jsonl &&
pack -m ck -L 64 --last-turn-only conv.jsonl >last.jsonl &&
jq -c '.ids' all.jsonl &&
[ "$(jq -c .ids all.jsonl)" = '[256,259,83,260,81,261,65,257,260,82,261,262,10,116,10,263,10,10,66,257]' ] &&
[ "$(jq -c .loss_mask all.jsonl)" = '[0,0,0,0,0,0,1,1,0,0,0,1,1,1,1,1,1,1,1,1]' ] &&
[ "$(jq -c .loss_mask last.jsonl)" = '[0,0,0,0,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1]' ] &&
[ "$(jq -c .ids last.jsonl)" = "$(jq -c .ids all.jsonl)" ] &&
jq -c '.segments, .src' all.jsonl &&
echo "masks as written by hand"
