# SFT lowers the loss on held-out sums (a in 6..7, never trained on), as
# measured by --eval (no step).
. "$TESTDIR/data.inc"
pack -q -m m0 -L 128 train.jsonl >p.jsonl &&
pack -q -m m0 -L 128 held.jsonl >h.jsonl &&
update -m m0 --sft --eval h.jsonl >before.jsonl &&
jq -c '[.rows, .tokens, .targets]' before.jsonl &&
update -q -m m0 -o m1 --sft --lr 3e-3 --min-lr 3e-4 --warmup 5 --batch 4 --epochs 20 p.jsonl &&
update -m m1 --sft --eval h.jsonl >after.jsonl &&
jq -s -c '[.[].loss]' before.jsonl after.jsonl >&2 &&
jq -s -r 'if .[1].loss < 0.7 * .[0].loss then "lower" else "not lower" end' before.jsonl after.jsonl
