# --merge writes BASE with an adapter merged in: BASE's config fields and
# tokenizer carried, the adapted matrices changed and no other tensor,
# the same bytes twice; an existing output needs --force.
cp "$TESTDIR/../tok/tiny/tokenizer.json" tok.json &&
init -t tok.json --vocab-size 313 -s 2 --std 0.1 -o base &&
echo '{"ids":[1,2,3,4,5,6],"segments":[6],"loss_mask":[0,0,1,1,1,1],"advantage":[1]}' >p.jsonl &&
update -q -m base -o ad --grpo --lora 2 --lora-targets v,down --lr 0.1 --threads 1 p.jsonl &&
init --merge base ad -o merged &&
cmp tok.json merged/tokenizer.json &&
jq -c '[.vocab_size, .hidden_size, .torch_dtype]' merged/config.json &&
st_names() { n=$(od -An -t u8 -N 8 "$1" | tr -d ' '); tail -c +9 "$1" | head -c "$n" |
    jq -r 'del(.__metadata__) | to_entries[] | "\(.key) \(.value.data_offsets[0])"'; } &&
st_names base/model.safetensors >a && st_names merged/model.safetensors >b && cmp a b &&
python3 - <<'E'
import json, struct
def tensors(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: d[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
a, b = tensors("base/model.safetensors"), tensors("merged/model.safetensors")
print("changed:", " ".join(sorted(k for k in a if a[k] != b[k])))
E
{ init --merge base ad -o merged; echo "exit $?"; } 2>&1 &&
init --merge base ad -f -o merged2 && cmp merged/model.safetensors merged2/model.safetensors
