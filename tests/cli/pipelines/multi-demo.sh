# The multi-domain demo end to end at toy size: data of three domains, a
# base fine-tuned on their mix, a reward model trained and checked on
# held-out pairs, GRPO steps scored per domain (score-math, score-code in
# its sandbox, score-rm), the held-out evaluations, the table and the
# plot; no held-out prompt is in the SFT or RL data; run again, it resumes
# and prints the same table, and a second directory repeats it bit for bit.
run() { # DEMO_DIR
    DEMO_DIR=$1 CONFIG="$TESTDIR/tiny.json" SFT_N=60 SFT_EPOCHS=1 RM_N=60 RM_EPOCHS=1 EVAL_N=4 CHAT_EVAL_N=3 \
        RL_STEPS=3 EVAL_EVERY=3 RL_BATCH=6 RL_G=4 MAXTOK=40 sh "$TOP/pipelines/multi-demo.sh"
}
run d > out 2> err
grep -q '^held-out (4, 4, 3 prompts) *base model *after GRPO$' out
grep -q '^math: accuracy (boxed answer) *[0-9.]*% *[0-9.]*%$' out
grep -q '^code: tests passed *[0-9.]*% *[0-9.]*%$' out
grep -q '^code: programs passing all tests ' out
grep -q '^chat: reward model score (mean) *-*[0-9.]* *-*[0-9.]*$' out
grep -q '^chat: on topic and polite (rule) ' out
grep -q '^multi-demo: base and reward model: .*reward model on 500 held-out pairs: accuracy [0-9.]*' out
test -s d/run/sft/final/model.safetensors
test -s d/run/rm/ckpt/model.safetensors
jq -e '.architectures[0] | endswith("ForSequenceClassification")' d/run/rm/ckpt/config.json > /dev/null
jq -e '.pairs == 500 and .accuracy >= 0 and .accuracy <= 1' d/run/rm/eval.json > /dev/null
test -s d/run/rl/step-003/ckpt/model.safetensors
test -s d/report.png
# every domain is in the data and scored by its own reward
jq -s -e 'map(.domain) | unique == ["chat", "code", "math"]' d/eval.jsonl > /dev/null
jq -s -e 'map(.domain) | unique == ["chat", "code", "math"]' d/sft.jsonl > /dev/null
zstd -dc d/run/rl/step-00[123]/scored.jsonl.zst | jq -s -e '
    (map(select(.domain == "math")) | length > 0 and all(.[]; .rewards | keys == ["math"]))
    and (map(select(.domain == "code")) | length > 0 and all(.[]; (.rewards | keys == ["code"]) and has("code_reason")))
    and (map(select(.domain == "chat")) | length > 0 and all(.[]; (.rewards | keys == ["rm"]) and has("rm")))' > /dev/null
# per-domain reward means per step: those of the step's scored samples
test "$(wc -l < d/run/rl/metrics.jsonl)" = 3
for s in 1 2 3; do
    zstd -dc d/run/rl/step-00$s/scored.jsonl.zst | jq -s -c 'group_by(.domain)
        | map({(.[0].domain): (map(.reward) | add / length)}) | add' > want
    jq -c --argjson s $s 'select(.step == $s) | .reward_by_domain' d/run/rl/metrics.jsonl > got
    jq -e -n --slurpfile w want --slurpfile g got '$w[0] | to_entries
        | all(.[]; (.value - $g[0][.key]) | fabs < 1e-9) and length == ($g[0] | length)' > /dev/null
done
test "$(wc -l < d/heldout.jsonl)" = 2
jq -e -s 'all(.[]; .math.n == 4 and .code.n == 4 and .chat.n == 3 and (.chat.good | type) == "number")' d/heldout.jsonl > /dev/null
# the held-out prompts are distinct, and no SFT or RL record asks one
test -z "$(jq -r .prompt d/eval.jsonl | sort | uniq -d)"
jq -r .prompt d/eval.jsonl | sort -u > held
jq -r .prompt d/sft.jsonl d/rl-prompts.jsonl | sort -u | comm -12 held - > both
test ! -s both
run d > out2 2> err2
grep -A6 '^held-out' out | cmp - "$(grep -A6 '^held-out' out2 > t2; echo t2)"
run e > out3 2> err3
cmp d/run/rl/step-003/ckpt/model.safetensors e/run/rl/step-003/ckpt/model.safetensors
cmp d/run/rm/ckpt/model.safetensors e/run/rm/ckpt/model.safetensors
cmp d/heldout.jsonl e/heldout.jsonl
cmp d/run/rl/metrics.jsonl e/run/rl/metrics.jsonl
