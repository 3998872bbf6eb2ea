# --tokenizer copies tokenizer.json in; ids must fit the vocabulary.
cat >tok.json <<'E'
{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}},
 "added_tokens": [{"id": 263, "content": "</think>"}]}
E
init -t tok.json -o a && cmp tok.json a/tokenizer.json &&
sed 's/263/264/' tok.json >big.json &&
{ init -t big.json -o b; echo "exit $?"; } &&
init -t big.json --vocab-size 300 -o c && jq .vocab_size c/config.json
