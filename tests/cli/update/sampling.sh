# pack carries the samples' sampling object into each packed record and
# update takes the temperature of its GRPO ratio from there: samples drawn
# at -T 0.7 give ratio 1 at the first pass with no --temperature, and not
# with --temperature 1 (with --is off; by default the ratio's old
# log-probs are the trainer's and the difference goes to the importance
# weights).  Samples or packed records of one run with other
# settings are bad input, named by file, line and field.
init -c "$TESTDIR/../gen/small.json" --std 0.5 -s 3 -o m0 > /dev/null
head -n 2 "$TESTDIR/../gen/prompts.jsonl" > p.jsonl
gen -m m0 -T 0.7 -G 2 -n 6 --seed 3 p.jsonl | jq -c '. + {advantage: (if .k == 0 then 1 else -1 end)}' > s.jsonl
pack -q -L 64 s.jsonl > packed.jsonl
jq -c .sampling packed.jsonl | sort -u
update -q -m m0 -o m1 --grpo --lr 1e-3 --metrics m.jsonl packed.jsonl
jq -e '.iter == 0 and (.ratio - 1 | fabs) < 1e-5 and .is_weight == 1' m.jsonl > /dev/null
update -q -m m0 -o m2 --grpo --lr 1e-3 --temperature 1 --is off --metrics m2.jsonl packed.jsonl
jq -e '.iter == 0 and (.ratio - 1 | fabs) > 1e-3' m2.jsonl > /dev/null
update -q -m m0 -o m2b --grpo --lr 1e-3 --temperature 1 --metrics m2b.jsonl packed.jsonl
jq -e '.iter == 0 and .ratio == 1 and (.is_weight - 1 | fabs) > 1e-3 and .logp_mismatch_kl > 0' \
    m2b.jsonl > /dev/null
# a sample drawn at another temperature: pack rejects it
jq -c 'if .id == "p1" and .k == 1 then .sampling.temperature = 1 else . end' s.jsonl > mixed.jsonl
if pack -q -L 64 mixed.jsonl > /dev/null 2> err; then exit 1; fi
cat err
# packed records of two runs with other settings: update rejects the second
jq -c '.sampling.temperature = 1' packed.jsonl > other.jsonl
cat packed.jsonl other.jsonl > both.jsonl
if update -q -m m0 -o m3 --grpo both.jsonl 2> err; then exit 1; fi
cat err
update -q -m m0 -o m4 --grpo --temperature 0.7 both.jsonl
