# Sharded with GNU parallel (--pipe --keep-order, shards of 37 records, 4
# at a time), score-math gives the bytes of the unsharded run over the
# MATH-500 solutions, a third of them paired with another problem's
# answer.
P="$DATA/math500/test.jsonl"
[ -e "$P" ] || { echo "skipped: no $P"; exit 77; }
command -v parallel >/dev/null || { echo "skipped: no GNU parallel (make deps)"; exit 77; }
jq -s -c '. as $a | to_entries[] | {id: .value.unique_id, domain: "math",
    answer: .value.answer, completion: (if .key % 3 == 0
    then $a[(.key + 1) % length].solution else .value.solution end)}' "$P" >in.jsonl
score-math in.jsonl >ref
test "$(jq -r .reward ref | sort -u | tr '\n' ' ')" = "0 1 "
parallel -j 4 --pipe --keep-order -N 37 score-math <in.jsonl >out
cmp ref out
