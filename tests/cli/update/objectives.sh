# The GRPO objectives, KL estimators, entropy bonus, importance weights and
# --distill on a tiny model: each runs, its metrics are there, and samples
# whose old log-probs are not the trainer's floats get weights != 1 by
# default and none with --is off or --old records.  Bad values name the
# option.
init -c "$TESTDIR/tiny.json" -s 2 -o m0 &&
printf '%s\n' \
    '{"id":"a","group":"g","k":0,"prompt_ids":[256,49,50],"completion_ids":[51,52,53,257],"advantage":1}' \
    '{"id":"b","group":"g","k":1,"prompt_ids":[256,49,50],"completion_ids":[54,55,257],"advantage":-1}' \
    >s.jsonl &&
logp -m m0 --old s.jsonl | logp -m m0 >s2.jsonl &&
pack -q -L 32 s2.jsonl >p.jsonl &&
for o in ppo gspo gspo-token cispo; do
    update -q -m m0 -o m-$o --grpo --lr 1e-3 --mu 2 --objective $o --metrics m-$o.jsonl p.jsonl &&
    jq -c --arg o $o '[$o, .iter, .ratio == 1, .ratio_max >= .ratio, .clip_low >= 0,
        .clip_high >= 0, .is_weight, .logp_mismatch]' m-$o.jsonl || exit 1
done &&
for k in k1 k2 k3; do
    update -q -m m0 -o m-$k --grpo --lr 1e-3 --mu 2 --beta 0.1 --kl $k --metrics m-$k.jsonl p.jsonl &&
    jq -c --arg k $k '[$k, .iter, .kl > 0]' m-$k.jsonl | sed 1d || exit 1
done &&
# the entropy bonus moves the entropy up, against the same step without it
update -q -m m0 -o e0 --grpo --lr 1e-2 --mu 3 --metrics e0.jsonl p.jsonl &&
update -q -m m0 -o e1 --grpo --lr 1e-2 --mu 3 --entropy-coef 1 --metrics e1.jsonl p.jsonl &&
jq -s -r 'if .[5].entropy > .[2].entropy then "entropy bonus: up" else "entropy bonus: not up" end' \
    e0.jsonl e1.jsonl &&
# sampler log-probs that are not the trainer's: weights != 1, capped
jq -c '.k as $k | .old_logprobs |= (to_entries
    | map(if .key == 0 and $k == 0 then .value - 1.5 else .value - 0.1 end))' s2.jsonl > off.jsonl &&
pack -q -L 32 off.jsonl >poff.jsonl &&
update -q -m m0 -o t1 --grpo --metrics t1.jsonl poff.jsonl &&
jq -c '[.ratio == 1, .is_weight > 1, .is_capped > 0, .logp_mismatch_frac]' t1.jsonl &&
update -q -m m0 -o t2 --grpo --is seq --is-mode mask --is-cap 1.5 --metrics t2.jsonl poff.jsonl &&
jq -c '[.is_weight, .is_capped]' t2.jsonl &&
update -q -m m0 -o t3 --grpo --is off --metrics t3.jsonl poff.jsonl &&
jq -c '[.ratio != 1, has("is_weight")]' t3.jsonl &&
update -q -m m0 -o t4 --grpo --old records --metrics t4.jsonl poff.jsonl &&
jq -c '[.ratio != 1, has("is_weight")]' t4.jsonl &&
# distillation: the teacher's log-probs as ref_logprobs, no advantage needed
init -c "$TESTDIR/tiny.json" -s 5 -o teacher &&
logp -m m0 --old s.jsonl | jq -c 'del(.advantage)' | logp -m teacher > d.jsonl &&
pack -q -L 32 s.jsonl > p0.jsonl &&
pack -q -L 32 d.jsonl > pd.jsonl &&
update -q -m m0 -o d1 --distill --lr 1e-3 --mu 2 --metrics d1.jsonl pd.jsonl &&
jq -s -r 'if .[1].kl < .[0].kl / 2 then "distill: closer to the teacher" else "distill: not closer" end' \
    d1.jsonl &&
# failure modes
for a in "--objective ppo2" "--kl k4" "--is tok" "--is-cap 0.5" "--is-mode clip" \
         "--entropy-coef x" "--distill-coef 0"; do
    update -q -m m0 -o x --grpo $a p.jsonl 2>&1 | head -n 1
done
update -q -m m0 -o x --sft --objective gspo p.jsonl 2>&1 | head -n 1
update -q -m m0 -o x --grpo --distill p.jsonl 2>&1 | head -n 1
update -q -m m0 -o x --distill --beta 0.1 pd.jsonl 2>&1 | head -n 1
update -q -m m0 -o x --grpo --old records --is token p.jsonl 2>&1 | head -n 1
update -q -m m0 -o x --distill p0.jsonl 2>&1 | head -n 1
exit 0
