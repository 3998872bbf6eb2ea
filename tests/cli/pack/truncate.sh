# A sample longer than L is an error by default; --truncate cuts it (and
# its loss mask and log-probs) to L tokens and counts it.
. "$TESTDIR/samples.inc"
{ pack -L 6 samples.jsonl >/dev/null; echo "exit $?"; } &&
pack -L 6 --truncate samples.jsonl >out.jsonl 2>err && cat err &&
jq -c 'select(.src[0].k == 1 and .src[0].group == "p1") | [.ids, .loss_mask, .old_logprobs]' out.jsonl &&
pack --check -L 6 out.jsonl
