# Loss normalization does not depend on how the batch is cut: the same
# GRPO batch (two optimizer steps, --mu 2, so the second one sees ratios
# away from 1 and clipping) with --micro-tokens 512 and 4096 (3 micro-
# batches or 1), and on 1 and 2 MPI ranks, gives the same step: loss and
# gradient norm within 1e-5 relative at each step, the same counts, and
# weights within 5e-5 of each tensor's largest magnitude (stdiff.py, an
# independent reader), for every objective, every aggregation, with and
# without a KL term and an entropy bonus, and for --distill with masked
# sequence-level weights, with sampler log-probs that are not the
# trainer's (importance weights != 1).  Float summation order is
# the only difference; AdamW's first steps move every weight whose
# gradient is not 0 by about the learning rate whatever its size, so a
# gradient that is rounding noise moves by up to 2 lr: hence the weights'
# tolerance, 200 times below what a change of aggregation does (checked).
command -v mpirun >/dev/null || { echo "skipped: no mpirun (make deps installs openmpi-bin)"; exit 77; }
nm "$BIN/update" | grep -q MPI_Init || { echo "skipped: bin/update built without MPI (make MPI=1)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
init -c "$TESTDIR/tiny.json" -s 3 -o m0 &&
init -c "$TESTDIR/tiny.json" -s 4 -o ref &&
# 8 groups of 4 samples, 2 to 60 completion tokens: about 1000 tokens
awk 'BEGIN { for (g = 0; g < 8; g++) for (k = 0; k < 4; k++) {
    n = 2 + (g * 17 + k * 29) % 59; c = ""
    for (i = 0; i < n; i++) c = c (i ? "," : "") (40 + (g * 13 + k * 5 + i * 11) % 50)
    printf "{\"id\":\"%d-%d\",\"group\":\"g%d\",\"k\":%d,\"prompt_ids\":[256,%d,%d],\"completion_ids\":[%s,257],\"advantage\":%s}\n",
        g, k, g, k, 49 + g, 50 + k, c, (k + g) % 3 - 1 + k / 8 } }' >s.jsonl &&
# the sampler's log-probs a little off the trainer's, so the weights act
logp -m m0 --old s.jsonl | jq -c '.old_logprobs |= (to_entries
    | map(.value + 0.05 * ((.key * 7 + (.value * 1000 | floor)) % 5 - 2)))' | logp -m ref >s2.jsonl &&
pack -q -L 128 s2.jsonl >p.jsonl || exit 1
echo "$(wc -l < p.jsonl) rows, $(jq '.ids | length' p.jsonl | awk '{ n += $1 } END { print n }') tokens"
close() {  # A B label
    python3 "$TESTDIR/stdiff.py" "$1" "$2" | awk -v l="$3" '$2 >= 5e-5 { print l ": " $0; bad = 1 }
        END { exit bad }'
}
same() {  # metrics A B label: counts equal, loss and grad_norm within 1e-5 relative
    jq -c '[.iter, .rows, .tokens, .targets, .clip_low, .clip_high]' "$1" > ca
    jq -c '[.iter, .rows, .tokens, .targets, .clip_low, .clip_high]' "$2" > cb
    cmp -s ca cb || { echo "$3: counts differ"; paste ca cb; return 1; }
    jq -r '"\(.loss) \(.grad_norm)"' "$1" > ca
    jq -r '"\(.loss) \(.grad_norm)"' "$2" > cb
    paste ca cb | awk -v l="$3" '{ for (i = 1; i <= 2; i++) { d = $i - $(i + 2); if (d < 0) d = -d
        m = $i < 0 ? -$i : $i; if (d > 1e-5 * m + 1e-12) { print l ": " $0; bad = 1 } } }
        END { exit bad }'
}
# One configuration (update's arguments after the label) cut three ways.
check() {
    l=$1; shift
    update "$@" -o a --micro-tokens 4096 --metrics a.jsonl &&
    update "$@" -o b --micro-tokens 512 --metrics b.jsonl &&
    mpirun --oversubscribe -np 2 update "$@" -o c --micro-tokens 4096 --metrics c.jsonl &&
    close a/model.safetensors b/model.safetensors "$l, 512 vs 4096" &&
    close a/model.safetensors c/model.safetensors "$l, 2 ranks vs 1" &&
    same a.jsonl b.jsonl "$l, 512 vs 4096" &&
    same a.jsonl c.jsonl "$l, 2 ranks vs 1" || exit 1
    # the second pass saw the ratio move
    jq -s -e '.[1].ratio != 1' a.jsonl > /dev/null || { echo "$l: ratio 1 at iter 2"; exit 1; }
    n=$((n + 1))
}
n=0
for o in ppo gspo gspo-token cispo; do
    for a in token-mean seq-mean-token-mean seq-mean-token-sum-norm; do
        for extra in "" "--beta 0.1 --kl k2 --entropy-coef 0.01"; do
            check "$o $a $extra" -q -m m0 --grpo --lr 1e-3 --mu 2 --objective $o --agg $a $extra p.jsonl
            [ -n "$extra" ] || { rm -rf "w-$a" && cp -r a "w-$a"; } || exit 1
        done
    done
    # what the tolerance is for: another aggregation moves the weights by far more
    python3 "$TESTDIR/stdiff.py" w-token-mean/model.safetensors \
        w-seq-mean-token-mean/model.safetensors |
        awk -v o=$o '$2 < 1e-2 { print o ": aggregations within " $2; exit 1 }' || exit 1
done
# on-policy distillation (ref_logprobs as the teacher's), with sequence-level
# importance weights that mask some segments
for a in token-mean seq-mean-token-mean seq-mean-token-sum-norm; do
    check "distill $a" -q -m m0 --distill --lr 1e-3 --mu 2 --agg $a --is seq --is-mode mask \
        --is-cap 1e3 p.jsonl
    jq -s -e '.[0].is_capped > 0 and .[0].is_capped < 1' a.jsonl > /dev/null ||
        { echo "distill $a: no segment masked, or all"; exit 1; }
done
echo "$n configurations: the same weights with micro-tokens 512 and 4096, on 1 and 2 ranks"
