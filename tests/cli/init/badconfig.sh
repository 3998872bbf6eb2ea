# A config that is not a Llama-family model, or not valid, is exit 1.
echo '{"model_type": "gpt2", "n_embd": 768}' >gpt2.json &&
echo '{"hidden_size": 30, "intermediate_size": 64, "num_hidden_layers": 1,
       "num_attention_heads": 4, "vocab_size": 10}' >odd.json &&
echo '{"hidden_size": 32,' >broken.json &&
{ init -c gpt2.json -o a; echo "exit $?"; } &&
{ init -c odd.json -o a; echo "exit $?"; } &&
{ init -c broken.json -o a; echo "exit $?"; } &&
{ init -c missing.json -o a; echo "exit $?"; } &&
test ! -e a
