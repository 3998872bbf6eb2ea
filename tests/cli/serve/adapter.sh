# serve --adapter samples what gen -m --adapter samples: the same
# completions, token ids and log-probs, which differ from the base's.
. "$TESTDIR/start.inc"
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
gen -m ck -G 2 -T 1 -n 16 --seed 1 --threads 1 "$TESTDIR/prompts.jsonl" |
    jq -c '. + {advantage: (if .k == 0 then 1 else -1 end)}' | pack -q -L 256 > p.jsonl
update -q -m ck -o ad --grpo --lora 4 --lr 3e-2 --threads 1 p.jsonl
serve_start -m ck --adapter ad --threads 1
gen -m ck --adapter ad -G 2 -T 0.8 -n 24 --seed 7 --threads 1 "$TESTDIR/prompts.jsonl" > local
gen -m ck -G 2 -T 0.8 -n 24 --seed 7 --threads 1 "$TESTDIR/prompts.jsonl" > base
gen --server "$URL/v1" -m ck -G 2 -T 0.8 -n 24 --seed 7 --send-id --logprobs --token-ids \
    --concurrency 4 "$TESTDIR/prompts.jsonl" > remote
f='[.group, .k, .completion, .finish, .prompt_ids, .completion_ids, .logprobs]'
jq -c "$f" local > a
jq -c "$f" remote > b
jq -c "$f" base > c
test "$(wc -l < a)" = 24
cmp a b
if cmp -s a c; then echo "the adapter changed nothing"; exit 1; fi
