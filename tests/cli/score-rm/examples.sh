# The EXAMPLES of score-rm(1) run as written, on a tiny reward model, a
# tiny (untrained) judge and a few records.
init -c "$TESTDIR/rm.json" --reward -s 4 -o rm
sed 's/"max_position_embeddings": 96/"max_position_embeddings": 2048/' "$TESTDIR/judge.json" > j.json
init -c j.json -s 1 -o judge
ln -s "$TOP/pipelines" pipelines
awk 'BEGIN { for (i = 0; i < 6; i++)
    printf "{\"id\":\"r%d\",\"domain\":\"writing\",\"prompt\":\"Say %d\",\"completion\":\"%d%d\"}\n", i, i, i, i * 7 }' > ref.jsonl
cat > samples.jsonl <<'EOR'
{"id":"w1","domain":"writing","prompt":"A haiku","completion":"Leaves fall","response":"Moon","baseline":"Snow"}
{"id":"m1","domain":"math","prompt":"2+2","completion":"4","answer":"4","response":"4","baseline":"5"}
{"id":"q1","domain":"qa","prompt":"Sky?","completion":"Blue","response":"Blue","baseline":"Red"}
EOR
printf '%s\n' '{"prompt":"2+2","chosen":"4","rejected":"5","rationale":"{chosen} is right."}' \
    '{"prompt":"3+3","chosen":"6","rejected":"7","rationale":"{chosen} is right."}' > pairs.jsonl
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /s/^\.Dl \$ //p' "$TOP/man/man1/score-rm.1" \
    | sed 's/\\(dq/"/g; s/\\e/\\/g' > cmds
test "$(wc -l < cmds)" = 8
n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    sh -e -c "$cmd" > out.$n 2> err || { echo "failed: $cmd"; cat err; exit 1; }
done < cmds
jq -c '[.id, (.rewards.rm | type)]' scored.jsonl
jq -c '[.id, (.rewards | map_values(type))]' mixed.jsonl
jq -c '[.id, .rm_judge.reason]' judged.jsonl
cat out.5
jq -c '[.id, (.rewards // {} | keys)]' both.jsonl
jq -c '[.id, (.response | test("\\[\\[[AB]\\]\\]$"))]' judge-sft.jsonl
