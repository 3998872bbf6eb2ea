# pipelines/opd.mk on tiny models: a wider teacher, a smaller student,
# 3 steps of each arm.  Every step's files are there and well formed (the
# teacher's log-probs beside every student token, pack --check), the
# on-policy student's reverse KL to the teacher falls, the report has a
# row per evaluation, a finished run has nothing left to do, and a second
# directory repeats the students and the report bit for bit.
init -c "$TESTDIR/tiny.json" -s 5 -o student
jq -c '.hidden_size = 64 | .intermediate_size = 128' "$TESTDIR/tiny.json" > wide.json
init -c wide.json -s 7 -o teacher
tasks arithmetic -n 40 --seed 9 --ops + -o prompts.jsonl
tasks arithmetic -n 8 --seed 10 --ops + -o eval.jsonl
run() { # RUN dir, then make's arguments
    d=$1; shift
    make --no-print-directory -s -f "$TOP/pipelines/opd.mk" TEACHER=teacher STUDENT=student \
        PROMPTS=prompts.jsonl EVAL=eval.jsonl RUN="$d" STEPS=3 BATCH=4 G=2 MAXTOK=24 L=256 \
        LR=1e-2 EVAL_EVERY=2 "$@"
}
run a > a.log 2>&1 || { cat a.log; exit 1; }
for s in 001 002 003; do
    zstd -dc a/opd/step-$s/teacher.jsonl.zst | jq -e -s 'length == 8 and all(.[];
        (.ref_logprobs | length) == (.completion_ids | length)
        and (.logprobs | length) == (.completion_ids | length))' > /dev/null
    zstd -dc a/sft/step-$s/samples.jsonl.zst | jq -e -s 'length == 8' > /dev/null
    pack --check -L 256 -q a/opd/step-$s/packed.jsonl.zst
    pack --check -L 256 -q a/sft/step-$s/packed.jsonl.zst
    test -s a/opd/step-$s/ckpt/model.safetensors && test -s a/sft/step-$s/ckpt/model.safetensors
done
jq -s -r 'if .[2].kl < .[0].kl then "reverse KL to the teacher: down" else "reverse KL: not down" end' \
    a/opd/step-00[123]/metrics.jsonl
awk '{ print $1 }' a/report.txt | tr '\n' ' '; echo
test "$(run a -n)" = "cat a/report.txt"
run b > b.log 2>&1 || { cat b.log; exit 1; }
cmp a/opd/step-003/ckpt/model.safetensors b/opd/step-003/ckpt/model.safetensors
cmp a/sft/step-003/ckpt/model.safetensors b/sft/step-003/ckpt/model.safetensors
cmp a/report.txt b/report.txt
# the settings it needs
make --no-print-directory -s -f "$TOP/pipelines/opd.mk" STUDENT=student PROMPTS=p 2>&1 | sed "s/.*\*\*\* //" | head -n 1
