# With tasks(1)'s HumanEval and MBPP importers: the reference response of
# the first 20 problems of each, as completion, scores 1.0; their records
# pass through otherwise unchanged.
. "$TESTDIR/sandbox-probe"
command -v tasks >/dev/null || { echo "bin/tasks is not built"; exit 77; }
head -n 20 "$DATA/humaneval/HumanEval.jsonl" > he.jsonl
head -n 20 "$DATA/mbpp/mbpp.jsonl" > mb.jsonl
tasks humaneval he.jsonl > p1.jsonl
tasks mbpp mb.jsonl > p2.jsonl
cat p1.jsonl p2.jsonl | jq -c '.completion = .response' > in.jsonl
test "$(wc -l < in.jsonl)" = 40
score-code -j 2 in.jsonl > out.jsonl
test "$(jq -s '[.[] | select(.reward == 1 and .rewards.code == 1
                and (.code_verdicts | all(. == "correct")))] | length' out.jsonl)" = 40
# Nothing else changed.
jq -c 'del(.reward, .rewards, .code_verdicts, .code_reason)' out.jsonl > back.jsonl
cmp in.jsonl back.jsonl
