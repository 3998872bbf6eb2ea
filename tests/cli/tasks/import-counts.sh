# Every record of every data set imports; the counts are those of SOURCE.md.
test "$(tasks gsm8k "$DATA/gsm8k/train.jsonl.zst" | wc -l)" = 7473
test "$(tasks gsm8k "$DATA/gsm8k/test.jsonl" | wc -l)" = 1319
test "$(tasks math "$DATA/math/test.jsonl.zst" | wc -l)" = 5000
test "$(tasks math "$DATA/math500/test.jsonl" | wc -l)" = 500
test "$(tasks humaneval "$DATA/humaneval/HumanEval.jsonl" | wc -l)" = 164
zcat "$DATA/humaneval/HumanEval.jsonl.gz" > he.jsonl
test "$(tasks humaneval < he.jsonl | wc -l)" = 164
test "$(tasks mbpp "$DATA/mbpp/mbpp.jsonl" | wc -l)" = 974
test "$(tasks mbpp --split prompt "$DATA/mbpp/mbpp.jsonl" | wc -l)" = 10
test "$(tasks mbpp --split test "$DATA/mbpp/mbpp.jsonl" | wc -l)" = 500
test "$(tasks mbpp --split validation "$DATA/mbpp/mbpp.jsonl" | wc -l)" = 90
test "$(tasks mbpp --split train "$DATA/mbpp/mbpp.jsonl" | wc -l)" = 374
