# bf16 products (gen/logp --dtype bf16, update --compute-dtype bf16): the
# sampler and the trainer still agree bit for bit within the dtype,
# whatever the batch, threads or packing, and after a bf16 training step
# (its copies of the stepped weights); the policy id says bf16; and
# samples drawn in bf16 are not fp32's: update in f32 sees the mismatch.
P="$TESTDIR/../gen/prompts.jsonl"
for preset in qwen3-tiny qwen3-moe-tiny deepseek-v3-tiny; do
    echo "$preset"
    rm -rf m m1 && init -p $preset -s 3 --std 0.1 -o m &&
    gen -q -m m --dtype bf16 -T 1 -G 4 -n 40 --seed 1 --batch 1 --threads 1 "$P" >g1 &&
    gen -q -m m --dtype bf16 -T 1 -G 4 -n 40 --seed 1 --batch 32 --threads 2 "$P" >g32 &&
    cmp g1 g32 &&
    gen -q -m m -T 1 -G 4 -n 40 --seed 1 "$P" >f32 &&
    test "$(head -n 1 g1 | jq -r .policy)" != "$(head -n 1 f32 | jq -r .policy)" &&
    echo "bf16 policy id differs" &&
    jq -c '. + {advantage: (if .k % 2 == 0 then 1 else -1 end)}' g1 >a.jsonl &&
    logp -q -m m --dtype bf16 --old --threads 1 --batch-tokens 1 a.jsonl >o1 &&
    logp -q -m m --dtype bf16 --old --threads 2 a.jsonl >o2 &&
    cmp o1 o2 &&
    for L in 128 1024; do
        pack -q -L $L o1 >p.jsonl &&
        for t in 1 2; do
            update -q -m m --grpo --eval --compute-dtype bf16 --threads $t p.jsonl |
                jq -c '[.logp_mismatch, .logp_mismatch_max, .logp_mismatch_frac]'
        done
    done | sort | uniq -c &&
    pack -q -L 128 a.jsonl >p.jsonl &&
    update -q -m m --grpo --eval p.jsonl | jq -c '[.logp_mismatch_frac > 0.5]' &&
    update -q -m m -o m1 --grpo --lr 1e-3 --compute-dtype bf16 --threads 2 p.jsonl &&
    gen -q -m m1 --dtype bf16 -T 1 -G 4 -n 40 --seed 2 "$P" |
        jq -c '. + {advantage: 1}' | pack -q -L 128 >p1.jsonl &&
    update -q -m m1 --grpo --eval --compute-dtype bf16 p1.jsonl |
        jq -c '[.logp_mismatch, .logp_mismatch_max, .logp_mismatch_frac]'
done
