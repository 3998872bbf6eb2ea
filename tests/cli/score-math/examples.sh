# The EXAMPLES of score-math(1) run as written.
printf '%s\n' \
 '{"id":"a","domain":"math","answer":"\\frac{1}{2}","completion":"<think>t</think>So $\\boxed{0.5}$."}' \
 '{"id":"b","domain":"math","answer":"#### 18","completion":"<think>t</think>She makes 19 dollars."}' \
 '{"id":"c","domain":"code","completion":"print(1)"}' > samples.jsonl
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /s/^\.Dl \$ //p' "$TOP/man/man1/score-math.1" \
    | sed 's/\\(dq/"/g; s/\\e/\\/g' > cmds
test "$(wc -l < cmds)" = 4
while IFS= read -r cmd; do
    sh -e -c "$cmd" > out || { echo "failed: $cmd"; exit 1; }
done < cmds
test "$(zstdcat scored.jsonl.zst | wc -l)" = 3
test "$(cat out)" = '{"extracted":"19","method":"number","reference":"18","reason":"wrong"}'
