# Sharded with GNU parallel (--pipe --keep-order, uneven shards, 2 at a
# time), logp gives the bytes of the unsharded run.
command -v parallel >/dev/null || { echo "skipped: no GNU parallel (make deps)"; exit 77; }
init -c "$TESTDIR/../update/tiny.json" -s 4 -o m
awk 'BEGIN { for (i = 0; i < 23; i++) {
    n = 1 + (i * 7) % 11; c = ""
    for (j = 0; j < n; j++) c = c (j ? "," : "") (3 + (i * 31 + j * 17) % 250)
    printf "{\"id\":\"s%d\",\"prompt_ids\":[256,%d],\"completion_ids\":[%s]}\n", i, 1 + i, c } }' >s.jsonl
logp -m m s.jsonl >ref
test "$(wc -l <ref)" = 23
parallel -j 2 --pipe --keep-order -N 4 logp -m m <s.jsonl >out
cmp ref out
parallel -j 2 --pipe --keep-order -N 4 'logp -m m --old | logp -m m' <s.jsonl >out2
logp -m m --old s.jsonl | logp -m m >ref2
cmp ref2 out2
