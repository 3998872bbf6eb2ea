# A shortened distill.mk end to end on a tiny model: the expert's SFT and
# RL runs, type A and type B SFT records (B under the reflection system
# prompt, which the records keep), the hot RL run and the final
# rejection-sampled SFT data, every packed file passing pack --check.
init -c "$TESTDIR/tiny.json" -s 6 -o base
tasks arithmetic -n 24 --seed 4 --ops + --column -r -o data.jsonl
tasks arithmetic -n 8 --seed 5 --ops + -o prompts.jsonl
make --no-print-directory -s -f "$TOP/pipelines/distill.mk" BASE=base DATA=data.jsonl \
    PROMPTS=prompts.jsonl RUN=d SFT_VARS="L=512 BATCH=4 LR=3e-3 MIN_LR=3e-4" \
    RL_STEPS=1 HOT_STEPS=1 G=4 MAXTOK=24 RL_VARS="BATCH=4 LR=1e-3 L=256" MIN_REWARD=0 \
    > log 2>&1
for f in d/expert-sft/packed.jsonl.zst d/hot-sft/packed.jsonl.zst; do
    pack --check -L 512 -q "$f"
done
for f in \
         d/expert-rl/step-001/packed.jsonl.zst d/hot-rl/step-001/packed.jsonl.zst; do
    pack --check -L 256 -q "$f"
done
zstd -dc d/type-a.jsonl.zst | jq -e -s 'length == 24 and all(.[]; .sample_type == "A" and (.response | length) > 0)' > /dev/null
sys=$(cat "$TOP/pipelines/prompts/r1-system.txt")
zstd -dc d/type-b.jsonl.zst | jq -e -s --arg sys "$sys" 'length == 8 and all(.[]; .sample_type == "B"
    and .system == $sys and (.response | type) == "string" and (.source.group | type) == "string")' > /dev/null
zstd -dc d/hot-rl/step-001/samples.jsonl.zst | jq -e -s 'all(.[]; has("system") | not)' > /dev/null
zstd -dc d/final.jsonl.zst | jq -e -s 'all(.[]; (.response | type) == "string" and .rewards.format == 1)' > /dev/null
test -L d/expert-sft/final && test -s d/hot-rl/step-001/ckpt/model.safetensors
