# Greedy decoding is deterministic: the same bytes whatever the batch size
# (1, 8, 32) and the thread count (1, 2).
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
gen -m ck -T 0 -G 2 -n 40 --batch 1 --threads 1 "$TESTDIR/prompts.jsonl" > b1t1
for b in 1 8 32; do
    for t in 1 2; do
        gen -m ck -T 0 -G 2 -n 40 --batch $b --threads $t "$TESTDIR/prompts.jsonl" > out
        cmp b1t1 out
    done
done
# 24 records, in input order, k 0 and 1 per group, the two greedy samples equal
test "$(wc -l < b1t1)" = 24
jq -r '"\(.group) \(.k)"' b1t1 | awk '{ print $1 }' | uniq -c | awk '$1 != 2 { exit 1 }'
test "$(jq -r .group b1t1 | uniq | tr '\n' ' ')" = "p0 p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11 "
jq -s -e '[range(0; length; 2) as $i | .[$i].completion == .[$i + 1].completion] | all' b1t1 > /dev/null
# and not all the same completion: the model is not degenerate
test "$(jq -r .completion b1t1 | sort -u | wc -l)" -gt 5
