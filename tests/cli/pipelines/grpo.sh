# A shortened grpo.mk end to end on a tiny model: every intermediate file
# is there and well formed (pack --check, the record fields of
# posttrain-records(5)), and a run killed in the middle resumes with
# "make" to the same policy, bit for bit.
init -c "$TESTDIR/tiny.json" -s 5 -o base
tasks arithmetic -n 40 --seed 9 --ops + -o prompts.jsonl
run() { # RUN dir
    make --no-print-directory -s -f "$TOP/pipelines/grpo.mk" INIT=base PROMPTS=prompts.jsonl \
        RUN="$1" STEPS=3 BATCH=4 G=4 MAXTOK=24 L=256 LR=1e-3 BETA=0.04 ACC_KEY=rewards.math \
        > "$1.log" 2>&1
}
run a
for s in 001 002 003; do
    d=a/step-$s
    test "$(wc -l < $d/prompts.jsonl)" = 4
    zstd -dc $d/samples.jsonl.zst | jq -e -s 'length == 16 and all(.[]; (.group | type) == "string"
        and (.k | type) == "number" and (.completion | type) == "string"
        and (.finish == "stop" or .finish == "length") and (.prompt_ids | length) > 0
        and (.completion_ids | length) == (.logprobs | length) and (.policy | type) == "string")' > /dev/null
    zstd -dc $d/scored.jsonl.zst | jq -e -s 'length == 16 and all(.[]; (.rewards.math | type) == "number"
        and (.rewards.format | type) == "number" and .reward == .rewards.math + .rewards.format)' > /dev/null
    zstd -dc $d/adv.jsonl.zst | jq -e -s 'length == 16 and all(.[]; (.advantage | type) == "number"
        and (.ref_logprobs | length) == (.completion_ids | length))' > /dev/null
    pack --check -L 256 -q $d/packed.jsonl.zst
    test -s $d/ckpt/model.safetensors && test -s $d/metrics.jsonl
done
jq -e -s 'length == 3 and all(.[]; has("reward") and has("accuracy") and has("kl"))' a/metrics.jsonl > /dev/null
test -s a/plots/reward.png
# the same run, killed at some point and started again
# (timeout leads its own process group: killing the group kills make and
# the tools it runs); the kill comes as soon as step 1 has its samples
timeout -s KILL 300 make --no-print-directory -s -f "$TOP/pipelines/grpo.mk" INIT=base \
    PROMPTS=prompts.jsonl RUN=b STEPS=3 BATCH=4 G=4 MAXTOK=24 L=256 LR=1e-3 BETA=0.04 \
    ACC_KEY=rewards.math > b.kill.log 2>&1 &
tpid=$!
n=0
while [ ! -e b/step-001/samples.jsonl.zst ] && [ $n -lt 3000 ]; do sleep 0.02; n=$((n + 1)); done
pkill -KILL -g "$tpid" || true
wait "$tpid" || true
# it was stopped before the end, and left no half-written file
test ! -e b/step-003/ckpt/model.safetensors
! find b -name '*.part*' -size +0 | grep -q .
run b
for s in 001 002 003; do
    cmp a/step-$s/samples.jsonl.zst b/step-$s/samples.jsonl.zst
    cmp a/step-$s/ckpt/model.safetensors b/step-$s/ckpt/model.safetensors
done
