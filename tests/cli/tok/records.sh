# Record mode: prompt_ids / response_ids in the built-in chat format
# (<|bos|> 256, <|system|> 259, <|user|> 260, <|assistant|> 261,
# <think> 262, <|eos|> 257), --think, --field, -c, -d.
cat >in.jsonl <<'X'
{"id": "a", "prompt": "Hi", "system": "Be", "x": [1]}
{"id": "b", "prompt": "Q", "response": "A"}
X
tok -r in.jsonl &&
tok -r --think in.jsonl &&
tok -r -c in.jsonl &&
tok -r --field prompt in.jsonl >ids.jsonl &&
cat ids.jsonl &&
tok -r -d ids.jsonl
