# Every sample records the settings it was drawn with (posttrain-records(5)):
# sampling {temperature, top_p, top_k, min_p}, as given, the defaults
# otherwise; -T 0 (greedy) is recorded as 0.
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck > /dev/null
head -n 1 "$TESTDIR/prompts.jsonl" > p.jsonl
gen -m ck -T 0.7 --top-p 0.95 --top-k 40 --min-p 0.05 -G 2 -n 4 --seed 1 p.jsonl | jq -c .sampling
gen -m ck -n 4 p.jsonl | jq -c .sampling
gen -m ck -T 0 -n 4 p.jsonl | jq -c .sampling
