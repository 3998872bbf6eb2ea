# LoRA options that do not fit exit 2; a bad adapter directory exits 1
# naming the file and the field (or tensor), in every tool that reads one.
init -c "$TESTDIR/tiny.json" -o m0 &&
echo '{"ids":[1,2,3],"segments":[3],"loss_mask":[0,1,1]}' >sft.jsonl &&
update -q -m m0 -o a0 --sft --lora 2 --lora-targets q,o sft.jsonl &&
for args in "--lora 0" "--lora 2 --lora-targets q,x" "--lora 2 --lora-targets q,,v" \
    "--lora-alpha 8" "--lora 2 --lora-dropout 1" "--lora 2 --adapter a0" \
    "--lora 2 --dtype bf16" "--lora 2 --resume" "--adapter a0 -o a0"; do
    { update -m m0 -o x --sft $args sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1
done &&
mkdir -p bad && cp a0/adapter_model.safetensors bad/ &&
for cfg in '{"peft_type":"PREFIX_TUNING","r":2,"target_modules":["q_proj"]}' \
    '{"peft_type":"LORA","r":"2","target_modules":["q_proj"]}' \
    '{"peft_type":"LORA","r":2,"target_modules":["q_proj","mlp"]}' \
    '{"peft_type":"LORA","r":2,"target_modules":["q_proj","o_proj"],"use_dora":true}' \
    '{"peft_type":"LORA","r":2,"target_modules":["q_proj","o_proj"],"bias":"lora_only"}' \
    '{"peft_type":"LORA","r":2,"target_modules":["q_proj","o_proj"],"layers_to_transform":[0]}' \
    '{"peft_type":"LORA","r":3,"target_modules":["q_proj","o_proj"]}' \
    '{"peft_type":"LORA","r":2,"target_modules":["q_proj"]}' \
    '{"peft_type":"LORA","r":2,"target_modules":["q_proj","o_proj","v_proj"]}' \
    '{"peft_type":"LORA","r":2,' ; do
    rm -f bad/adapter_config.json && printf '%s' "$cfg" >bad/adapter_config.json &&
    { update -m m0 --adapter bad -o x --sft sft.jsonl; echo "exit $?"; } 2>&1
done &&
{ logp -m m0 --adapter nowhere sft.jsonl; echo "exit $?"; } 2>&1 &&
{ gen -m m0 --adapter bad sft.jsonl; echo "exit $?"; } 2>&1 &&
{ gen -m m0 --server http://127.0.0.1:1/v1 --adapter a0 sft.jsonl; echo "exit $?"; } 2>&1 |
    head -n 1 &&
{ score-rm -m m0 --adapter bad sft.jsonl; echo "exit $?"; } 2>&1 &&
{ serve -m m0 --adapter bad; echo "exit $?"; } 2>&1 &&
{ init --merge m0 bad -o merged; echo "exit $?"; } 2>&1 &&
{ init --merge m0 -o merged; echo "exit $?"; } 2>&1 | head -n 1 &&
{ init --merge m0 a0 -p tiny -o merged; echo "exit $?"; } 2>&1 | head -n 1 &&
test ! -e x && test ! -e merged
