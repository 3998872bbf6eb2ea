# Sharded with GNU parallel (--pipe --keep-order, 2 shards at a time, of
# 5 prompts, which splits the 12 unevenly, and of 1), gen gives the bytes
# of the unsharded run: a sample's seed depends only on (seed, prompt id,
# k).  The same with a scorer chained in each shard.
command -v parallel >/dev/null || { echo "skipped: no GNU parallel (make deps)"; exit 77; }
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
gen -m ck -T 1 -G 4 -n 20 --seed 11 "$TESTDIR/prompts.jsonl" >ref
test "$(wc -l <ref)" = 48
parallel -j 2 --pipe --keep-order -N 5 gen -m ck -T 1 -G 4 -n 20 --seed 11 \
    <"$TESTDIR/prompts.jsonl" >out
cmp ref out
parallel -j 2 --pipe --keep-order -N 1 gen -m ck -T 1 -G 4 -n 20 --seed 11 --threads 1 \
    <"$TESTDIR/prompts.jsonl" >out1
cmp ref out1
score-format <ref >sref
parallel -j 2 --pipe --keep-order -N 5 'gen -m ck -T 1 -G 4 -n 20 --seed 11 | score-format' \
    <"$TESTDIR/prompts.jsonl" >sout
cmp sref sout
