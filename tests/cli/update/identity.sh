# Sampler and trainer agree bit for bit: for the same checkpoint every
# completion token's log-prob is the same float in gen's logprobs, logp's
# and update's own forward (training and --eval), whatever the batch, the
# threads or the packing.  update compares the records' old log-probs
# (gen's logprobs, or logp --old's) with its recompute: zero mismatch.
# A record from elsewhere (one log-prob moved by 0.5) shows in the metrics:
# largest and summed |difference| 0.5 on one token, the k3 estimate of
# KL(sampler || trainer) e^-0.5 + 0.5 - 1 = 0.10653.
P="$TESTDIR/../gen/prompts.jsonl"
for preset in qwen3-tiny llama3-tiny qwen3-moe-tiny deepseek-v3-tiny; do
    echo "$preset"
    rm -rf m m1 && init -p $preset -s 3 --std 0.1 -o m &&
    gen -q -m m -T 1 -G 4 -n 40 --seed 1 --batch 1 --threads 1 "$P" >g1 &&
    gen -q -m m -T 1 -G 4 -n 40 --seed 1 --batch 32 --threads 2 "$P" >g32 &&
    cmp g1 g32 &&
    jq -c '. + {advantage: (if .k % 2 == 0 then 1 else -1 end)}' g1 >a.jsonl &&
    logp -q -m m --old --threads 1 --batch-tokens 1 a.jsonl >o1 &&
    logp -q -m m --old --threads 2 a.jsonl >o2 &&
    cmp o1 o2 &&
    for src in a.jsonl o1; do
        for L in 128 1024; do
            pack -q -L $L $src >p.jsonl &&
            for t in 1 2; do
                update -q -m m --grpo --eval --threads $t p.jsonl |
                    jq -c '[.logp_mismatch, .logp_mismatch_max, .logp_mismatch_frac]'
            done
        done
    done | sort | uniq -c &&
    pack -q -L 128 a.jsonl >p.jsonl &&
    update -q -m m -o m1 --grpo --lr 1e-4 --threads 2 --metrics met.jsonl p.jsonl &&
    jq -c '[.logp_mismatch, .logp_mismatch_max, .logp_mismatch_frac]' met.jsonl &&
    jq -c 'if .id == "p0" and .k == 0 then .logprobs[0] += 0.5 else . end' a.jsonl |
        pack -q -L 128 >q.jsonl &&
    update -q -m m --grpo --eval q.jsonl |
        jq -c '[(.logp_mismatch_max * 1e4 | round), (.logp_mismatch_frac * .targets | round),
            (.logp_mismatch * .targets * 1e4 | round), (.logp_mismatch_kl * .targets * 1e4 | round)]'
done
