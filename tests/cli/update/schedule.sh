# The SFT schedule: linear warmup to 5e-6, then cosine to 1e-6 at the last
# step: with 2 warmup steps over 6 steps, 2.5, 5, 5, 4, 2, 1 (x 1e-6) as
# computed by hand (1 + 4 * (1 + cos(pi * k / 3)) / 2 for k = 0..3).  A
# second run from the checkpoint after 3 steps carries the schedule on.
. "$TESTDIR/data.inc"
pack -q -m m0 -L 16 train.jsonl | head -n 6 >p.jsonl &&
update -q -m m0 -o a --sft --warmup 2 --batch 1 --epochs 1 --metrics m.jsonl p.jsonl &&
jq -c '[.step, (.lr * 1e8 | round / 100)]' m.jsonl &&
update -q -m m0 -o h --sft --warmup 2 --batch 1 --epochs 1 --steps 3 p.jsonl &&
update -q -m h -o h2 --sft --batch 1 --epochs 1 --no-shuffle --metrics m2.jsonl p.jsonl &&
jq -c '[.step, (.lr * 1e8 | round / 100)]' m2.jsonl | head -n 3 &&
jq -c '.schedule' a/trainer_state.json
