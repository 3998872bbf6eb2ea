# update killed (SIGKILL) at random moments, most of them while it writes
# the checkpoint over an older one: OUT is always the old checkpoint or
# the new one, byte for byte, and loads.
printf '%s\n' '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,' \
    '"num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,' \
    '"vocab_size": 264, "max_position_embeddings": 64, "tie_word_embeddings": true}' >c.json
init -c c.json -s 1 -o m0 2>/dev/null
printf '%s\n' '{"ids":[256,49,50,257],"segments":[4],"loss_mask":[0,0,1,1]}' >p.jsonl
update -q -m m0 -o old --sft --lr 1e-3 --epochs 1 p.jsonl
update -q -m m0 -o new --sft --lr 1e-3 --epochs 2 p.jsonl
! cmp -s old/model.safetensors new/model.safetensors
cp -r old out
# the delay: up to the time a whole run takes (measured), in 20 steps
t0=$(date +%s%N); update -q -m m0 -o t --sft --lr 1e-3 --epochs 2 p.jsonl; t1=$(date +%s%N)
span=$(( (t1 - t0) / 1000 + 1000 ))   # microseconds
n=0 nold=0 nnew=0
while [ $n -lt 60 ]; do
    d=$(( span * (n % 20) / 20 ))
    timeout -s KILL "$(printf '0.%06d' "$d")" update -q -m m0 -o out --sft --lr 1e-3 --epochs 2 p.jsonl 2>/dev/null || true
    if cmp -s out/model.safetensors old/model.safetensors; then
        nold=$((nold + 1))
        cmp -s out/optimizer.safetensors old/optimizer.safetensors
        cmp -s out/trainer_state.json old/trainer_state.json
    else
        cmp out/model.safetensors new/model.safetensors
        cmp -s out/optimizer.safetensors new/optimizer.safetensors
        cmp -s out/trainer_state.json new/trainer_state.json
        nnew=$((nnew + 1))
        rm -rf out && cp -r old out
    fi
    update -m out --sft --eval p.jsonl >/dev/null 2>&1
    n=$((n + 1))
done
# the leftovers of killed runs are hidden temporaries beside it, never OUT
echo "60 kills: old $nold, new $nnew, $(ls -A | grep -c '^\.out\.tmp-') within the write" >&2
test "$(ls | tr '\n' ' ')" = "c.json m0 new old out p.jsonl t "
