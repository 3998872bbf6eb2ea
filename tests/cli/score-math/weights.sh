# --weight scales the reward; a second scorer adds to reward; options
# change the rules (percent reading, extraction order).
printf '%s\n' '{"domain":"math","answer":"10\\%","completion":"\\boxed{0.1}"}' > pct.jsonl
score-math --weight 0.5 --percent number pct.jsonl > a.jsonl
jq -e '.rewards.math == 0 and .reward == 0 and .math.reason == "wrong"' a.jsonl > /dev/null
score-math --weight 0.5 pct.jsonl > b.jsonl
jq -e '.rewards.math == 0.5 and .reward == 0.5' b.jsonl > /dev/null
score-math --percent either pct.jsonl | score-format --weight 2 > c.jsonl
jq -e '.rewards == {"math": 1, "format": 0} and .reward == 1 and .format.reason == "no_think"' c.jsonl > /dev/null
printf '%s\n' '{"domain":"math","answer":"4","completion":"\\boxed{3}, or is it 4"}' > ord.jsonl
score-math --extract number,boxed ord.jsonl > d.jsonl
jq -e '.rewards.math == 1 and .math.method == "number"' d.jsonl > /dev/null
score-math ord.jsonl > e.jsonl
jq -e '.rewards.math == 0 and .math.method == "boxed" and .math.extracted == "3"' e.jsonl > /dev/null
printf '%s\n' '{"domain":"algebra","answer":"4","completion":"\\boxed{4}"}' > dom.jsonl
score-math --domain algebra dom.jsonl > f.jsonl
jq -e '.rewards.math == 1' f.jsonl > /dev/null
score-math dom.jsonl | cmp - dom.jsonl
