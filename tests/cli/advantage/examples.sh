# The EXAMPLES of advantage(1) run as written, on two groups of 8.
awk 'BEGIN { for (g = 1; g <= 2; g++) for (k = 0; k < 8; k++)
    printf "{\"id\":\"p%d\",\"prompt\":\"q\",\"group\":\"p%d\",\"k\":%d,\"completion\":\"<think>t%d</think> %d\",\"rewards\":{\"math\":%d,\"format\":1},\"reward\":%d}\n",
        g, g, k, k, k, (g == 1 && k % 3 == 0), (g == 1 && k % 3 == 0) }' > scored.jsonl
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /s/^\.Dl \$ //p' "$TOP/man/man1/advantage.1" \
    | sed 's/\\(dq/"/g; s/\\e/\\/g' > cmds
test "$(wc -l < cmds)" = 4
while IFS= read -r cmd; do
    sh -e -c "$cmd" || { echo "failed: $cmd"; exit 1; }
done < cmds
test "$(zstdcat adv.jsonl.zst | wc -l)" = 8
test "$(wc -l < adv.jsonl)" = 16
