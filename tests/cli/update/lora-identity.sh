# With a LoRA adapter, sampler and trainer still agree bit for bit: every
# completion token's log-prob is the same float in gen --adapter's
# logprobs, logp --adapter's and update --adapter's own forward, whatever
# the batch, the threads or the packing (the adapter runs inside the
# products block.h defines once).  Without --adapter, logp gives the base:
# the reference model of a LoRA policy.  The merged checkpoint (init
# --merge) gives the adapter's log-probs within 1e-5.
P="$TESTDIR/../gen/prompts.jsonl"
init -p qwen3-tiny -s 3 --std 0.1 -o m &&
gen -q -m m -T 1 -G 4 -n 40 --seed 1 --threads 1 "$P" >g0 &&
jq -c '. + {advantage: (if .k % 2 == 0 then 1 else -1 end)}' g0 >a0.jsonl &&
pack -q -L 128 a0.jsonl >p0.jsonl &&
update -q -m m -o ad --grpo --lora 4 --lora-targets q,v,up,down --lr 1e-2 --threads 2 \
    p0.jsonl &&
gen -q -m m --adapter ad -T 1 -G 4 -n 40 --seed 1 --batch 1 --threads 1 "$P" >g1 &&
gen -q -m m --adapter ad -T 1 -G 4 -n 40 --seed 1 --batch 32 --threads 2 "$P" >g32 &&
cmp g1 g32 &&
jq -r .policy g0 g1 | uniq | wc -l &&
jq -c '. + {advantage: (if .k % 2 == 0 then 1 else -1 end)}' g1 >a.jsonl &&
logp -q -m m --adapter ad --old --threads 1 --batch-tokens 1 a.jsonl >o1 &&
logp -q -m m --adapter ad --old --threads 2 a.jsonl >o2 &&
cmp o1 o2 &&
for src in a.jsonl o1; do
    for L in 128 1024; do
        pack -q -L $L $src >p.jsonl &&
        for t in 1 2; do
            update -q -m m --adapter ad --grpo --eval --threads $t p.jsonl |
                jq -c '[.logp_mismatch, .logp_mismatch_max, .logp_mismatch_frac]'
        done
    done
done | sort | uniq -c &&
pack -q -L 128 a.jsonl >p.jsonl &&
update -q -m m --grpo --eval p.jsonl | jq '.logp_mismatch_frac > 0.9' &&
update -q -m m --adapter ad -o ad2 --grpo --lr 1e-4 --threads 2 --metrics met.jsonl p.jsonl &&
jq -c '[.logp_mismatch, .logp_mismatch_max, .logp_mismatch_frac]' met.jsonl &&
init --merge m ad -o merged &&
logp -q -m merged a.jsonl >r_merged &&
logp -q -m m --adapter ad a.jsonl >r_adapter &&
logp -q -m m a.jsonl >r_base &&
jq -s -r '[.[0:48], .[48:96], .[96:144]] as [$m, $a, $b]
    | [range(48)] | map(. as $i | [$m[$i].ref_logprobs, $a[$i].ref_logprobs, $b[$i].ref_logprobs]
        | transpose[] | [(.[0] - .[1] | fabs), (.[2] - .[1] | fabs)])
    | "merged within 1e-5: \(map(.[0]) | max <= 1e-5)",
      "base differs: \(map(.[1]) | max > 1e-2)"' r_merged r_adapter r_base
