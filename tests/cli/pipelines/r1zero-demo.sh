# The R1-Zero demo end to end at toy size: corpus, pretraining, held-out
# evaluations, the check of the base model's samples, R1-Zero steps, the
# table, the one-page report; no held-out sum is in the corpus or the RL
# prompts; run again, it resumes and prints the same table, and a second
# directory repeats it bit for bit.
run() { # DEMO_DIR
    DEMO_DIR=$1 CONFIG="$TESTDIR/tiny.json" CORPUS_N=200 EVAL_N=6 RL_STEPS=2 EVAL_EVERY=1 \
        RL_BATCH=2 RL_G=4 MAXTOK=24 CHECK_N=3 sh "$TOP/pipelines/r1zero-demo.sh"
}
run d > out 2> err
grep -q '^held-out (6 prompts) *base model *after R1-Zero$' out
grep -q '^accuracy (boxed answer) ' out
grep -q '^format reward ' out
# the base model's samples are checked before RL, and the check is printed
grep -q '^r1zero-demo: base model samples (T 1.0): format reward on [0-9]* of 12, correct [0-9]*, [0-9]* of 3 groups' out
jq -e '.samples == 12 and .groups == 3' d/eval/base-samples.json > /dev/null
grep -q '^r1zero-demo: pretraining done: [0-9]* tokens' out
test -s d/pretrain/final/model.safetensors
test -s d/rl/step-002/ckpt/model.safetensors
test -s d/report.png
grep -q '<img src="report.png"' d/report.html
grep -q '<h2>step 2:' d/report.html
test "$(wc -l < d/heldout.jsonl)" = 3
test "$(wc -l < d/train.jsonl)" = 2
jq -e -s 'all(.[]; has("accuracy") and has("format") and has("completion_tokens"))' d/heldout.jsonl > /dev/null
# the base model learned from text only: no chat format, no <think>
! grep -q -E '</?think>' d/corpus.jsonl
# no held-out sum is in the training data
jq -r '.prompt | ltrimstr("What is ") | rtrimstr("?")' d/eval.jsonl > sums
! grep -F -f sums d/corpus.jsonl d/rl-prompts.jsonl
run d > out2 2> err2
grep -A4 '^held-out' out | cmp - "$(grep -A4 '^held-out' out2 > t2; echo t2)"
run e > out3 2> err3
cmp d/rl/step-002/ckpt/model.safetensors e/rl/step-002/ckpt/model.safetensors
cmp d/report.html e/report.html
