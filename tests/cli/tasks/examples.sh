# The EXAMPLES of tasks(1).
tasks arithmetic -n 12 --ops '+*' --digits 2 --with-response > a
test "$(wc -l < a)" = 12
tasks countdown -n 1000 --numbers 3 --seed 1 -o countdown.jsonl.zst
test "$(zstd -dc countdown.jsonl.zst | wc -l)" = 1000
test "$(tasks gsm8k "$DATA/gsm8k/test.jsonl" | jq -r .answer | head -n 3 | tr '\n' ' ')" = "18 3 70000 "
test "$(tasks mbpp --split test "$DATA/mbpp/mbpp.jsonl" | wc -l)" = 500
test "$(zcat "$DATA/humaneval/HumanEval.jsonl.gz" | tasks humaneval | wc -l)" = 164
