# grpo.mk with REFILL=1: a step draws prompts in the order of its
# prompts.jsonl until BATCH groups are not uniform, and trains on those
# alone; draws and groups are in its metrics line.  The scorer here makes
# a group mixed exactly when its prompt's id ends in an even digit (the
# reward is 1 for k = 0 of those, else 0), so the expected draws are
# counted from prompts.jsonl alone: the shortest prefix holding BATCH such
# ids (zstd -dcf reads the samples compressed or not; score-math passes
# the "toy" domain through and takes grpo.mk's -o).
# The samples of the prompts also drawn without REFILL are the same
# bytes, and with too small a MAX_DRAWS the step trains on fewer groups
# and says so.
init -c "$TESTDIR/tiny.json" -s 5 -o base
tasks arithmetic -n 60 --seed 9 --ops + -o prompts.jsonl
score='zstd -dcf | jq -c ".domain = \"toy\" | .rewards = {x: (if .k == 0 and (.id[-1:] | tonumber) % 2 == 0 then 1 else 0 end)} | .reward = .rewards.x" | score-math'
run() { # RUN dir, more settings
    r=$1; shift
    make --no-print-directory -s -f "$TOP/pipelines/grpo.mk" INIT=base PROMPTS=prompts.jsonl \
        RUN="$r" STEPS=2 BATCH=4 G=2 MAXTOK=16 L=256 LR=1e-3 ACC_KEY=rewards.x SCORE="$score" \
        "$@" > "$r.log" 2>&1 || { cat "$r.log"; exit 1; }
}
mixed='select((.id[-1:] | tonumber) % 2 == 0)'
run a REFILL=1
run b
for n in 1 2; do
    s=00$n d=a/step-$s
    # MAX_DRAWS is 4 x BATCH by default; the first BATCH are the prompts without REFILL
    test "$(wc -l < $d/prompts.jsonl)" = 16
    head -n 4 $d/prompts.jsonl | cmp - b/step-$s/prompts.jsonl
    want=$(jq -s --argjson n 4 "[.[] | [$mixed] | length] | . as \$m
        | first(range(length) | select(\$m[:. + 1] | add == \$n)) + 1" $d/prompts.jsonl)
    # the drawn prompts: that prefix, G samples each, in order
    zstd -dc $d/samples.jsonl.zst | jq -r 'select(.k == 0) | .id' > drawn
    jq -r .id $d/prompts.jsonl | head -n "$want" | cmp - drawn
    test "$(zstd -dc $d/samples.jsonl.zst | wc -l)" = $((2 * want))
    # trained on BATCH groups, the mixed ones
    zstd -dc $d/adv.jsonl.zst | jq -s -e "length == 8 and all(.[]; $mixed)" > /dev/null
    jq -s -e --argjson s $n --argjson w "$want" \
        '.[$s - 1] | .step == $s and .draws == $w and .groups == 4' a/metrics.jsonl > /dev/null
    jq -s -e --argjson s $n '.[$s - 1] | .step == $s and .draws == 4' b/metrics.jsonl > /dev/null
    # the samples of the prompts both runs drew are the same bytes (policy 1 samples step 1)
    if [ $n = 1 ]; then
        zstd -dc $d/samples.jsonl.zst | head -n 8 > first
        zstd -dc b/step-$s/samples.jsonl.zst | cmp - first
    fi
done
test "$(jq -s length a/metrics.jsonl)" = 2
# too few prompts to draw from: fewer groups, and a message naming the file
run c REFILL=1 MAX_DRAWS=3
m=$(jq -s "[.[] | $mixed] | length" c/step-001/prompts.jsonl)
test "$m" -lt 4
zstd -dc c/step-001/adv.jsonl.zst | jq -s -e --argjson m "$m" 'length == 2 * $m' > /dev/null
grep -q 'c/step-001/prompts.jsonl: .* groups not uniform after all 3 prompts, fewer than 4' c.log
