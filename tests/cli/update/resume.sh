# Stopping after 3 steps and resuming gives bit-identical weights and
# optimizer state to the uninterrupted run; so does resuming from a
# --save-every checkpoint.  Resuming on other data is refused.
. "$TESTDIR/data.inc"
pack -q -m m0 -L 64 train.jsonl >p.jsonl &&
update -q -m m0 -o full --sft --lr 1e-3 --batch 2 --epochs 2 p.jsonl &&
update -q -m m0 -o half --sft --lr 1e-3 --batch 2 --epochs 2 --steps 3 \
    --save-every 2 --save-dir saves p.jsonl &&
ls saves && jq -c '[.global_step, .run.epoch, .run.batch, .run.steps]' half/trainer_state.json &&
! cmp -s full/model.safetensors half/model.safetensors &&
update -q -m half -o rest --sft --resume --batch 2 --epochs 2 p.jsonl &&
cmp full/model.safetensors rest/model.safetensors &&
cmp full/optimizer.safetensors rest/optimizer.safetensors &&
update -q -m saves/checkpoint-2 -o rest2 --sft --resume --batch 2 --epochs 2 p.jsonl &&
cmp full/model.safetensors rest2/model.safetensors &&
jq -c '[.global_step, .run.epoch, .run.steps]' full/trainer_state.json rest/trainer_state.json &&
{ update -m half -o x --sft --resume --batch 3 --epochs 2 p.jsonl; echo "exit $?"; } 2>&1 &&
head -n 2 p.jsonl >q.jsonl &&
{ update -m half -o x --sft --resume --batch 2 --epochs 2 q.jsonl; echo "exit $?"; } 2>&1 | sed 's/data [0-9a-f]*, these are [0-9a-f]*/data .../' &&
{ update -m full -o x --sft --resume --batch 2 --epochs 2 p.jsonl; echo "exit $?"; } 2>&1 &&
echo ok
