# --tokenizer copies tokenizer.json in once it loads; ids must fit the
# vocabulary.
cp "$TESTDIR/../tok/tiny/tokenizer.json" tok.json &&
init -t tok.json --vocab-size 313 -o a && cmp tok.json a/tokenizer.json &&
{ init -t tok.json -o b; echo "exit $?"; } &&
echo '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}' >bytes.json &&
{ init -t bytes.json --vocab-size 313 -o d; echo "exit $?"; } &&
test ! -e b && test ! -e d &&
init -t tok.json --vocab-size 400 -o c && jq .vocab_size c/config.json
