# Prompt records: counts only, one group per record without "group".
tasks arithmetic -n 7 > p.jsonl
tasks humaneval "$DATA/humaneval/HumanEval.jsonl" >> p.jsonl
stats p.jsonl
