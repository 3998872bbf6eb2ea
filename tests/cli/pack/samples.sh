# Best-fit-decreasing packs the 9, 7, 5, 4, 3 token samples into 10-token
# sequences as 9 | 3+7 | 5+5: segments in input order within a sequence,
# logprobs become old_logprobs (0 on prompt tokens), advantage and src per
# segment.  Output is the same bytes on a second run, and it passes --check.
. "$TESTDIR/samples.inc"
pack -L 10 samples.jsonl >out.jsonl 2>err &&
cat out.jsonl err &&
pack -L 10 <samples.jsonl 2>/dev/null | cmp - out.jsonl &&
pack --check -L 10 out.jsonl
