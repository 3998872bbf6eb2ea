# The demo script end to end at toy sizes: it makes its data, trains,
# evaluates twice and prints the before/after table, with every file where
# it says; run again, it resumes and prints the same table.
DEMO_DIR=d SFT_N=300 EVAL_N=12 RL_STEPS=2 RL_BATCH=4 RL_G=4 sh "$TOP/pipelines/demo.sh" > out 2> err
grep -q '^held-out (12 prompts) *after SFT *after GRPO$' out
grep -q '^accuracy (boxed answer) ' out
test -s d/grpo/step-002/ckpt/model.safetensors
test -s d/plots/reward.png
test "$(wc -l < d/eval.jsonl)" = 12
# no held-out prompt is in the training data
jq -r .prompt d/eval.jsonl | sort -u > ev
jq -r .prompt d/sft.jsonl d/rl-prompts.jsonl | sort -u | comm -12 - ev | wc -l | grep -qx 0
DEMO_DIR=d SFT_N=300 EVAL_N=12 RL_STEPS=2 RL_BATCH=4 RL_G=4 sh "$TOP/pipelines/demo.sh" > out2 2> err2
grep -A4 '^held-out' out | cmp - "$(grep -A4 '^held-out' out2 > t2; echo t2)"
