# Normalization: --fit-norm writes the mean and sample standard deviation
# of the scores of a reference set (checked against jq's own), and
# --norm-stats / --norm give (score - mean) / std.  Statistics from
# another model, or fitted with another rendering, are refused.
init -c "$TESTDIR/rm.json" --reward -s 4 -o rm &&
init -c "$TESTDIR/rm.json" --reward -s 5 -o other &&
awk 'BEGIN { for (i = 0; i < 12; i++)
    printf "{\"id\":\"w%d\",\"domain\":\"writing\",\"prompt\":\"Say %d\",\"completion\":\"%d%d\",\"response\":\"%d\"}\n", i, i, i, i * 7, i }' > ref.jsonl &&
score-rm -m rm --fit-norm -o stats.json ref.jsonl
score-rm -m rm ref.jsonl > raw.jsonl
jq -s 'map(.rm.score) | (add / length) as $m
    | {mean: $m, std: ((map((. - $m) * (. - $m)) | add) / (length - 1) | sqrt), count: length}' raw.jsonl > want.json
jq -n --slurpfile w want.json --slurpfile s stats.json '$w[0] as $w | $s[0] as $s
    | [(($s.mean - $w.mean) | fabs < 1e-12), (($s.std / $w.std - 1) | fabs < 1e-12),
       $s.count == $w.count, ($s.model | test("^[0-9a-f]{16}$")), $s.with_reference == false]' -c
score-rm -m rm --norm-stats stats.json ref.jsonl > n.jsonl
jq -s --slurpfile s stats.json '[.[] | select(((.rewards.rm - (.rm.score - $s[0].mean) / $s[0].std) | fabs) > 1e-12)] | length' n.jsonl
jq -s 'map(.reward) | [(add / length | fabs < 1e-9), ((map(. * .) | add) / (length - 1) - 1 | fabs < 1e-9)]' -c n.jsonl
score-rm -m rm --norm 0.5,2 --weight 3 ref.jsonl > n2.jsonl
jq -s '[.[] | select(((.reward - 3 * (.rm.score - 0.5) / 2) | fabs) > 1e-12)] | length' n2.jsonl
set +e
score-rm -m other --norm-stats stats.json ref.jsonl > /dev/null 2> err; echo "exit $?"; sed 's/[0-9a-f]\{16\}/HASH/g' err
score-rm -m rm --with-reference --norm-stats stats.json ref.jsonl > /dev/null 2> err; echo "exit $?"; cat err
head -n 1 ref.jsonl | score-rm -m rm --fit-norm > /dev/null 2> err; echo "exit $?"; cat err
score-rm -m rm --norm 1,0 ref.jsonl > /dev/null 2> err; echo "exit $?"; head -n 1 err
