# Correct, wrong, no answer, unparsed answer, unparsed reference, GSM8K
# references, other domains and records without a domain, and reward sums.
printf '%s\n' \
 '{"id":"a","domain":"math","answer":"\\frac{1}{2}","completion":"<think>hm</think>So $\\boxed{0.5}$."}' \
 '{"id":"b","domain":"math","answer":"\\frac{1}{2}","completion":"<think>hm</think>So $\\boxed{0.6}$."}' \
 '{"id":"c","domain":"math","answer":"7","completion":"I do not know."}' \
 '{"id":"d","domain":"math","answer":"7","completion":"\\boxed{\\frac{7}"}' \
 '{"id":"e","domain":"math","answer":"\\frac{7","completion":"\\boxed{7}"}' \
 '{"id":"f","domain":"math","answer":"Half of 2,160 is 1,080.\n#### 1,080","completion":"So it is 1080 in all.","rewards":{"format":1},"reward":1}' \
 '{"id":"g","domain":"code","answer":"7","completion":"\\boxed{7}"}' \
 '{"id":"h","answer":"x = 3","completion":"\\boxed{3}"}' \
 > in.jsonl
score-math in.jsonl > out.jsonl
cat out.jsonl
