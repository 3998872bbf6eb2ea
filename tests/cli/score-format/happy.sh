# Each reason once, the reward added to an existing one, all domains scored.
printf '%s\n' \
 '{"id":"a","domain":"math","completion":"<think>\nwork\n</think>\nThe answer is \\boxed{4}."}' \
 '{"id":"b","domain":"code","completion":"The answer is 4."}' \
 '{"id":"c","completion":"Sure. <think>w</think>4"}' \
 '{"id":"d","completion":"<think>w</think>4<think>v</think>5"}' \
 '{"id":"e","completion":"<think>never closed"}' \
 '{"id":"f","completion":"<think>w</think>\n  "}' \
 '{"id":"g","completion":"<think>w</think>4","rewards":{"math":1},"reward":1}' \
 > in.jsonl
score-format in.jsonl > out.jsonl
cat out.jsonl
