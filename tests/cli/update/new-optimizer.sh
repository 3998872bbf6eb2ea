# --new-optimizer starts GRPO (or anything) from fresh AdamW state: the
# schedule of IN (here SFT's cosine with its floor) no longer applies.
init -c "$TESTDIR/tiny.json" -s 3 -o m0 &&
printf '%s\n' '{"id":"a","prompt":"1+1?","response":"2"}' '{"id":"b","prompt":"2+2?","response":"4"}' > sft.jsonl &&
pack -m m0 -L 64 -q sft.jsonl -o sft.packed &&
update -m m0 -o m1 --sft --epochs 1 --batch 1 --lr 1e-3 --min-lr 5e-4 -q sft.packed &&
jq -e '.global_step == 1 and .run.mode == "sft"' m1/trainer_state.json > /dev/null &&
printf '%s\n' '{"id":"s","group":"s","k":0,"prompt_ids":[256,1],"completion_ids":[5,257],"logprobs":[-1,-2],"advantage":1.0}' > g.jsonl &&
pack -L 64 -q g.jsonl -o g.packed &&
if update -m m1 -o m2 --grpo --lr 1e-4 -q g.packed 2> err; then exit 1; fi &&
grep -q -- "--min-lr 0.0005 is above --lr 0.0001" err &&
update -m m1 -o m2 --grpo --lr 1e-4 --new-optimizer --metrics met.jsonl -q g.packed &&
jq -e '.step == 1 and (.lr - 1e-4 | fabs) < 1e-9' met.jsonl > /dev/null &&
if update -m m1 -o m3 --grpo --resume --new-optimizer -q g.packed 2> err; then exit 1; fi &&
grep -q "no --new-optimizer" err
