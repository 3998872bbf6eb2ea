# Sharded checkpoints (--max-shard-size) as transformers' save_pretrained
# writes them, and byte-for-byte round trips: init -> update (a step of
# learning rate 0 leaves every weight as it was) writes the same weight
# files, sharded and not, F32 and BF16; the plain-PyTorch reference
# (tests/ref/ref_model.py, its own safetensors writer after safetensors
# and huggingface_hub) writes the same bytes from the same tensors.
PYTHON=${PYTHON:-/usr/bin/python3}
REF="$TOP/tests/ref/ref_model.py"
"$PYTHON" -c 'import torch' || exit 1
cfg="$TESTDIR/../update/tiny.json"
init -c "$cfg" -s 2 --max-shard-size 20KB -o a &&
ls a &&
jq -c '.metadata, (.weight_map | [.[]] | unique | length)' a/model.safetensors.index.json &&
jq -r '.weight_map["model.embed_tokens.weight"], .weight_map["model.layers.1.mlp.up_proj.weight"]' \
    a/model.safetensors.index.json &&
printf '%s\n' '{"id":"x","prompt":"1+2=","response":"3"}' >d.jsonl &&
pack -q -m a -L 64 d.jsonl >p.jsonl &&
lr0="--sft --lr 0 --min-lr 0 --schedule constant --weight-decay 0 --no-shuffle"
# shellcheck disable=SC2086
update -q -m a -o b $lr0 --max-shard-size 20KB p.jsonl &&
for f in a/model*; do cmp "$f" "b/${f#a/}"; done &&
# shellcheck disable=SC2086
update -q -m a -o c $lr0 p.jsonl &&
ls c | grep model &&
# shellcheck disable=SC2086
update -q -m c -o d $lr0 --max-shard-size 20KB p.jsonl &&
for f in a/model*; do cmp "$f" "d/${f#a/}"; done &&
"$PYTHON" "$REF" resave a e --max-shard-size 20KB &&
for f in a/model*; do cmp "$f" "e/${f#a/}"; done &&
"$PYTHON" "$REF" resave c f &&
cmp c/model.safetensors f/model.safetensors &&
init -c "$cfg" -s 2 --dtype bf16 -o h &&
jq -r .torch_dtype h/config.json &&
# shellcheck disable=SC2086
update -q -m h -o i $lr0 --dtype auto p.jsonl &&
cmp h/model.safetensors i/model.safetensors &&
"$PYTHON" "$REF" resave h j --dtype bfloat16 &&
cmp h/model.safetensors j/model.safetensors &&
"$PYTHON" "$REF" resave a k --dtype bfloat16 --max-shard-size 10KB &&
init -c "$cfg" -s 2 --dtype bf16 --max-shard-size 10KB -o l &&
for f in k/model*; do cmp "$f" "l/${f#k/}"; done &&
ls l | grep -c model- &&
rm a/model-00003-of-00006.safetensors &&
{ logp -m a d.jsonl; echo "exit $?"; } 2>&1 &&
jq -c ".weight_map[\"extra.weight\"] = \"model-00001-of-00006.safetensors\"" l/model.safetensors.index.json >x && mv x l/model.safetensors.index.json &&
{ logp -m l d.jsonl; echo "exit $?"; } 2>&1 &&
echo end
