# The EXAMPLES of rejsample(1) run as written, on two groups of 8.
awk 'BEGIN { for (g = 1; g <= 2; g++) for (k = 0; k < 8; k++)
    printf "{\"id\":\"p%d\",\"prompt\":\"q\",\"group\":\"p%d\",\"k\":%d,\"completion\":\"<think>t%d</think> %d\",\"rewards\":{\"math\":%d,\"format\":1},\"reward\":%d}\n",
        g, g, k, k, k, (g == 1 && k % 3 == 0), (g == 1 && k % 3 == 0) }' > scored.jsonl
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /s/^\.Dl \$ //p' "$TOP/man/man1/rejsample.1" \
    | sed 's/\\(dq/"/g; s/\\e/\\/g' > cmds
test "$(wc -l < cmds)" = 3
while IFS= read -r cmd; do
    sh -e -c "$cmd" > out || { echo "failed: $cmd"; exit 1; }
done < cmds
# p1's correct samples are k = 0, 3, 6: the first wins the tie on length.
test "$(jq -c '[.id, .response]' sft.jsonl)" = '["p1","<think>t0</think> 0"]'
test "$(zstdcat sft.jsonl.zst | jq -c -s 'map(.response)')" = '["0","3","6"]'
test "$(cat out)" = 1
