# SFT with LoRA (base frozen) lowers the held-out loss; OUT is a PEFT
# adapter directory; --adapter continues it and --resume picks a run up
# where --steps left it, bit for bit.
. "$TESTDIR/data.inc"
pack -q -m m0 -L 128 train.jsonl >p.jsonl &&
pack -q -m m0 -L 128 held.jsonl >h.jsonl &&
update -m m0 --sft --eval h.jsonl >before.jsonl &&
update -q -m m0 -o a1 --sft --lora 8 --lr 1e-2 --min-lr 3e-4 --warmup 5 --batch 4 \
    --epochs 20 --threads 1 p.jsonl &&
ls a1 &&
jq -c '[.peft_type, .r, .lora_alpha, .lora_dropout, .use_rslora, .bias, .task_type,
        .base_model_name_or_path, .target_modules]' a1/adapter_config.json &&
update -m m0 --adapter a1 --sft --eval h.jsonl >after.jsonl &&
jq -s -c '[.[].loss]' before.jsonl after.jsonl >&2 &&
jq -s -r 'if .[1].loss < 0.85 * .[0].loss then "lower" else "not lower" end' before.jsonl \
    after.jsonl &&
cmp m0/model.safetensors "$(pwd)/m0/model.safetensors" &&
update -q -m m0 --adapter a1 -o a2 --sft --epochs 1 --threads 1 p.jsonl &&
jq -c .global_step a1/trainer_state.json a2/trainer_state.json &&
update -q -m m0 -o full --sft --lora 4 --lora-targets q,v --lora-dropout 0.1 --seed 3 \
    --lr 1e-2 --batch 1 --epochs 2 --threads 1 p.jsonl &&
update -q -m m0 -o half --sft --lora 4 --lora-targets q,v --lora-dropout 0.1 --seed 3 \
    --lr 1e-2 --batch 1 --epochs 2 --threads 1 --steps 3 p.jsonl &&
update -q -m m0 --adapter half -o rest --resume --sft --lora-targets q,v 2>&1 | head -n 1 &&
update -q -m m0 --adapter half -o rest --resume --sft --seed 3 --batch 1 --epochs 2 \
    --threads 1 p.jsonl &&
cmp full/adapter_model.safetensors rest/adapter_model.safetensors &&
cmp full/optimizer.safetensors rest/optimizer.safetensors &&
jq -c '[.r, .lora_dropout, .target_modules]' rest/adapter_config.json
