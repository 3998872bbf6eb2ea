# -m DIR: tokenizer.json and tokenizer_config.json from a checkpoint
# directory (a tiny byte-level BPE whose chat template is ChatML:
# <|im_start|> 300, <|im_end|> 301; "hello" is 258 111, " world" 262 108 100).
cp -r "$TESTDIR/tiny" ckpt &&
printf 'hello world<|im_end|>' >in.txt &&
tok -m ckpt in.txt &&
tok -m ckpt -i in.txt &&
echo '{"prompt": "hello", "response": "hello world"}' >in.jsonl &&
tok -m ckpt -r in.jsonl &&
{ tok -m ckpt -r -f builtin in.jsonl; echo "exit $?"; } &&
:
