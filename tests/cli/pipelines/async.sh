# grpo.mk with ASYNC=1: step n samples with the policy of step n-2 (its
# samples' policy_step says so), update's PPO ratio is taken against
# their own log-probs (--is off: the ratio is not 1 at the first pass
# once the sampler is older than the policy; ASYNC_OPTS="--is token"
# weighs them against its recompute instead, is_weight in its metrics)
# and the staleness bound passes; samples older than that are refused.
# Under ASYNC=1 gen decodes on ASYNC_GEN_THREADS threads beside update
# when it is set, on its own default otherwise.
init -c "$TESTDIR/tiny.json" -s 5 -o base
tasks arithmetic -n 40 --seed 9 --ops + -o prompts.jsonl
make --no-print-directory -s -j2 -f "$TOP/pipelines/grpo.mk" INIT=base PROMPTS=prompts.jsonl \
    RUN=a STEPS=4 BATCH=4 G=4 MAXTOK=24 L=256 LR=1e-3 ACC_KEY=rewards.math ASYNC=1 \
    > a.log 2>&1 || { cat a.log; exit 1; }
for s in 001 002 003 004; do
    echo "$s: sampled by step $(zstd -dc a/step-$s/samples.jsonl.zst | jq -s 'map(.policy_step) | unique | .[0]')" \
        "$(jq -s 'if .[0].ratio == 1 then "ratio 1" else "ratio to the sampler" end' a/step-$s/metrics.jsonl)"
done
make --no-print-directory -s -j2 -f "$TOP/pipelines/grpo.mk" INIT=base PROMPTS=prompts.jsonl \
    RUN=t STEPS=3 BATCH=4 G=4 MAXTOK=24 L=256 LR=1e-3 ACC_KEY=rewards.math ASYNC=1 \
    ASYNC_OPTS="--is token" > t.log 2>&1 || { cat t.log; exit 1; }
jq -s -r 'if .[0].is_weight != 1 and .[0].ratio == 1 then "--is token: weighed" else "--is token: not weighed" end' \
    t/step-003/metrics.jsonl
# step 4's samples against a bound of step 3's policy: refused, the field named
zstd -dc a/step-004/scored.jsonl.zst > s4.jsonl
advantage -G 4 --min-policy-step "$(jq .global_step a/step-003/ckpt/trainer_state.json)" s4.jsonl 2>&1 | head -n 1
# gen's threads: ASYNC_GEN_THREADS under ASYNC=1 only
for a in "ASYNC=1" "ASYNC=1 ASYNC_GEN_THREADS=1" "ASYNC=0 ASYNC_GEN_THREADS=1" "ASYNC=1 ASYNC_GEN_THREADS=2"; do
    echo "$a: $(make --no-print-directory -n -f "$TOP/pipelines/grpo.mk" INIT=base PROMPTS=prompts.jsonl \
        RUN=n STEPS=1 BATCH=4 G=4 $a | grep -o -m 1 '^[A-Z_]*=*[0-9]* *gen -m')"
done
