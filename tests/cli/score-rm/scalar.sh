# Through score-rm, the tiny reward model ranks held-out pairs (wrong
# answers it never saw) right at least 90% of the time: the pairs are
# compared by jq from the rewards score-rm wrote.  The scores do not depend
# on how the samples were batched, and records of other domains (math is
# not scored by default) pass through unchanged.
. "$TESTDIR/data.inc"
score-rm -m rm --domain math samples.jsonl > scored.jsonl
jq -s '[range(0; length; 2) as $i | select(.[$i].rewards.rm > .[$i + 1].rewards.rm)] | length
    | "pairs right: \(if . >= 27 then "at least 27" else . end) of \(30)"' -r scored.jsonl
jq -s 'map(select(.reward != .rewards.rm or .rewards.rm != .rm.score)) | length' scored.jsonl
score-rm -m rm --domain math --batch 1 samples.jsonl | cmp - scored.jsonl
score-rm -m rm --domain math --batch 7 --batch-tokens 100 --threads 1 samples.jsonl | cmp - scored.jsonl
score-rm -m rm samples.jsonl | cmp - samples.jsonl
# chained after another scorer: reward is the sum of rewards.*
jq -c '. + {rewards: {math: 1}, reward: 1}' samples.jsonl | score-rm -m rm --domain math --weight 2 > w.jsonl
jq -s --slurpfile s scored.jsonl '[range(length) as $i | .[$i] | select(.reward != 1 + 2 * $s[$i].rm.score)] | length' w.jsonl
