# Sampling is reproducible for a seed: the same bytes across batch sizes
# and threads; a prompt's samples do not change when other prompts are
# added around it; another seed gives other samples.
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
gen -m ck -T 1 -G 4 -n 30 --seed 7 --batch 1 --threads 1 "$TESTDIR/prompts.jsonl" > ref
for b in 8 32; do
    for t in 1 2; do
        gen -m ck -T 1 -G 4 -n 30 --seed 7 --batch $b --threads $t "$TESTDIR/prompts.jsonl" > out
        cmp ref out
    done
done
gen -m ck -T 0.8 --top-p 0.9 --top-k 50 -G 4 -n 30 --seed 7 --batch 1 "$TESTDIR/prompts.jsonl" > a
gen -m ck -T 0.8 --top-p 0.9 --top-k 50 -G 4 -n 30 --seed 7 --batch 32 --threads 2 "$TESTDIR/prompts.jsonl" > b
cmp a b
# prompt p5 alone, then among others
grep '"p5"' "$TESTDIR/prompts.jsonl" > one.jsonl
gen -m ck -T 1 -G 4 -n 30 --seed 7 --batch 3 one.jsonl > alone
grep '"group":"p5"' ref > among
cmp alone among
# the 4 samples of a group differ, and another seed differs
test "$(jq -r 'select(.group == "p5") | .completion' ref | sort -u | wc -l)" -gt 1
gen -m ck -T 1 -G 4 -n 30 --seed 8 "$TESTDIR/prompts.jsonl" > other
if cmp -s ref other; then exit 1; fi
