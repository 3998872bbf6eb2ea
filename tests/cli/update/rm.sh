# A reward model trained with --rm on synthetic preferences (the right sum
# chosen over a wrong one, a, b in 0..4) ranks held-out pairs (the same
# problems, wrong answers it never saw) right at least 90% of the time.
init -c "$TESTDIR/tiny.json" -s 3 -o m0 &&
awk 'BEGIN { for (a = 0; a < 5; a++) for (b = 0; b < 5; b++) for (k = 0; k < 3; k++) {
    d = 1 + (a * 3 + b * 5 + k * 3) % 8
    printf "{\"id\":\"%d+%d/%d\",\"prompt\":\"%d+%d=\",\"chosen\":\"%d\",\"rejected\":\"%d\"}\n",
        a, b, k, a, b, a + b, (a + b + d) % 10 } }' >pref.jsonl &&
grep -v '/2"' pref.jsonl >train.jsonl && grep '/2"' pref.jsonl >held.jsonl &&
pack -q -m m0 -L 24 train.jsonl >p.jsonl &&
pack -q -m m0 -L 24 held.jsonl >h.jsonl &&
update -q -m m0 -o r1 --rm --lr 3e-3 --schedule constant --batch 50 --epochs 100 p.jsonl &&
jq -c '[.architectures, .num_labels]' r1/config.json &&
update -m r1 --rm --eval h.jsonl >m.jsonl && cat m.jsonl >&2 &&
jq -r '"pairs \(.pairs)", if .accuracy >= 0.9 then "accuracy >= 0.9" else "accuracy \(.accuracy)" end' m.jsonl
