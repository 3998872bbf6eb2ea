# A reward model trained with --rm --lora (the body frozen, adapters and
# the score head trained, as PEFT's modules_to_save does for
# classification heads) ranks held-out pairs right at least 80% of the
# time; score-rm --adapter scores with it, and the merged checkpoint
# (init --merge) gives the same scores within 1e-5.
init -c "$TESTDIR/tiny.json" -s 3 -o m0 &&
awk 'BEGIN { for (a = 0; a < 5; a++) for (b = 0; b < 5; b++) for (k = 0; k < 3; k++) {
    d = 1 + (a * 3 + b * 5 + k * 3) % 8
    printf "{\"id\":\"%d+%d/%d\",\"prompt\":\"%d+%d=\",\"chosen\":\"%d\",\"rejected\":\"%d\"}\n",
        a, b, k, a, b, a + b, (a + b + d) % 10 } }' >pref.jsonl &&
grep -v '/2"' pref.jsonl >train.jsonl && grep '/2"' pref.jsonl >held.jsonl &&
pack -q -m m0 -L 24 train.jsonl >p.jsonl &&
pack -q -m m0 -L 24 held.jsonl >h.jsonl &&
update -q -m m0 -o r1 --rm --lora 8 --lr 1e-2 --schedule constant --batch 50 --epochs 100 \
    --threads 1 p.jsonl &&
jq -c '[.task_type, .modules_to_save]' r1/adapter_config.json &&
update -m m0 --adapter r1 --rm --eval h.jsonl >m.jsonl && cat m.jsonl >&2 &&
jq -r '"pairs \(.pairs)", if .accuracy >= 0.8 then "accuracy >= 0.8" else "accuracy \(.accuracy)" end' m.jsonl &&
jq -c '{id, prompt, completion: .chosen}' held.jsonl >s.jsonl &&
score-rm -q -m m0 --adapter r1 --all-domains s.jsonl >s1.jsonl &&
init --merge m0 r1 -o merged &&
jq -c '[.architectures, .num_labels]' merged/config.json &&
score-rm -q -m merged --all-domains s.jsonl >s2.jsonl &&
jq -s -r '(.[0:25] | map(.rewards.rm)) as $a | (.[25:50] | map(.rewards.rm)) as $b
    | [range(25) | ($a[.] - $b[.]) | fabs] | "merged within 1e-5: \(max <= 1e-5)",
      "scores differ: \($a | unique | length > 1)"' s1.jsonl s2.jsonl
