# rejsample's SFT records pack with a checkpoint's chat format and train:
# update --sft takes steps on them and the loss on them falls.
init -c "$TESTDIR/../update/tiny.json" -s 2 -o m0
tasks arithmetic -n 24 --seed 3 --ops + -o p.jsonl
gen -m m0 -G 4 -T 1 -n 24 --think --seed 1 -q p.jsonl -o s.jsonl
# every sample scores its format; keep the best of each group
score-format -q s.jsonl | rejsample --best 1 -q -o sft.jsonl
test "$(wc -l < sft.jsonl)" = 24
jq -e -s 'all(.[]; (.response | type) == "string" and .source.group == .id)' sft.jsonl > /dev/null
pack -m m0 -L 256 -q sft.jsonl -o sft.packed
pack --check -L 256 -q sft.packed
update -m m0 --sft --eval sft.packed > before.json
update -m m0 -o m1 --sft --epochs 4 --batch 2 --lr 3e-3 --schedule constant -q sft.packed
update -m m1 --sft --eval sft.packed > after.json
jq -e -s '.[1].loss < .[0].loss * 0.9' before.json after.json > /dev/null
