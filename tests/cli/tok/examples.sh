# The EXAMPLES of tok(1), run as written there (ckpt/step-0 is a copy of
# the tiny tokenizer).
mkdir -p ckpt && cp -r "$TESTDIR/tiny" ckpt/step-0 &&
echo '{"prompt": "hello"}' >prompts.jsonl &&
printf 'hi<|eos|>' | tok &&
printf 'hi<|eos|>' | tok -i &&
echo 256 104 105 | tok -d && echo &&
echo '{"prompt": "2+2?", "response": "4"}' | tok -r --think &&
tok -m ckpt/step-0 -r -c prompts.jsonl | jq .n_tokens
