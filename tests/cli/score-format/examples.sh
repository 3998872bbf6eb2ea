# The EXAMPLES of score-format(1) run as written.
printf '%s\n' \
 '{"id":"a","domain":"math","answer":"4","completion":"<think>t</think>So \\boxed{4}."}' \
 '{"id":"b","domain":"math","answer":"4","completion":"So \\boxed{4}."}' > samples.jsonl
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /s/^\.Dl \$ //p' "$TOP/man/man1/score-format.1" \
    | sed 's/\\(dq/"/g; s/\\e/\\/g' > cmds
test "$(wc -l < cmds)" = 3
while IFS= read -r cmd; do
    sh -e -c "$cmd" > out || { echo "failed: $cmd"; exit 1; }
done < cmds
test "$(jq -c '[.reward, .rewards.format]' scored.jsonl | tr '\n' ' ')" = '[1.5,0.5] [1,0] '
test "$(tr -s ' ' < out)" = ' 1 no_think
 1 ok'
test "$(jq -r .format.reason tagged.jsonl | tr '\n' ' ')" = 'no_answer_tag no_think '
