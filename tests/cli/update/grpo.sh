# GRPO with the sampler's log-probs equal to the trainer's and the policy
# equal to the reference: ratio 1, KL 0 and no mismatch at the first pass;
# the second pass (--mu 2) moved away.  After the steps the sample with a
# positive advantage is more likely and the negative one less.
init -c "$TESTDIR/tiny.json" -s 2 -o m0 &&
printf '%s\n' \
    '{"id":"a","group":"g","k":0,"prompt_ids":[256,49,50],"completion_ids":[51,52,53,257],"advantage":1}' \
    '{"id":"b","group":"g","k":1,"prompt_ids":[256,49,50],"completion_ids":[54,55,257],"advantage":-1}' \
    >s.jsonl &&
logp -m m0 --old s.jsonl | logp -m m0 >s2.jsonl &&
pack -q -L 32 s2.jsonl >p.jsonl &&
update -q -m m0 -o m1 --grpo --lr 1e-3 --beta 0.04 --mu 3 --metrics m.jsonl p.jsonl &&
jq -c '[.iter, .ratio == 1, .kl == 0, .logp_mismatch, .clip_frac, .entropy > 0]' m.jsonl | head -n 1 &&
jq -c '[.iter, .ratio != 1, .kl > 0, has("logp_mismatch")]' m.jsonl | sed 1d &&
logp -m m1 s.jsonl >after.jsonl &&
jq -s -r '[.[0:2][] | .ref_logprobs | add] as $b | [.[2:4][] | .ref_logprobs | add] as $a
    | if $a[0] > $b[0] then "A>0: up" else "A>0: not up" end,
      if $a[1] < $b[1] then "A<0: down" else "A<0: not down" end' s2.jsonl after.jsonl &&
update -q -m m0 -o m2 --grpo --agg token-mean --old recompute --metrics m2.jsonl p.jsonl &&
jq -c '[.ratio, .kl]' m2.jsonl
