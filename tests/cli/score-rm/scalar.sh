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
# score-rm reads the text update --rm trained on: its pairwise accuracy on
# the held-out pairs is the one update --eval reports from pack's rendering
pack -q -m m0 -L 64 held.jsonl > held.packed
update -m rm --rm --eval held.packed | jq .accuracy > eval.txt
jq -s '[range(0; length; 2) as $i | select(.[$i].rewards.rm > .[$i + 1].rewards.rm)] | length / 30' scored.jsonl \
    | cmp - eval.txt
# and, pair by pair, the same scores: update --eval's loss on one pair is
# log(1 + exp(-d)), d the chosen score minus the rejected one
for i in 1 2 3; do
    sed -n "${i}p" held.jsonl | pack -q -m m0 -L 64 > one.packed
    update -m rm --rm --eval one.packed | jq '-((.loss | exp) - 1 | log)' > d.txt
    jq -s --argjson i "$i" --slurpfile d d.txt '(.[2 * $i - 2].rm.score - .[2 * $i - 1].rm.score) as $s
        | if (($s - $d[0]) | fabs) < 1e-3 * ([1, ($s | fabs)] | max) then "pair \($i): same difference"
          else "pair \($i): \($s) vs \($d[0])" end' -r scored.jsonl
done
