# --boxed, --answer-tag, --min-think, --open-in-prompt, --tag, --weight and --domain.
printf '%s\n' '{"domain":"math","completion":"<think>w</think>4"}' \
              '{"domain":"code","completion":"<think>w</think>4"}' > in.jsonl
score-format --boxed in.jsonl > a.jsonl
jq -e -s 'map(.format.reason) == ["not_boxed", "not_boxed"] and map(.reward) == [0, 0]' a.jsonl > /dev/null
score-format --domain math --weight 0.25 in.jsonl > b.jsonl
jq -e -s '.[0].rewards.format == 0.25 and .[0].reward == 0.25 and (.[1] | has("rewards") | not)' b.jsonl > /dev/null
printf '%s\n' '{"completion":"<think>w</think>\n<answer>4</answer>"}' > tag.jsonl
score-format --answer-tag answer tag.jsonl > c.jsonl
jq -e '.rewards.format == 1' c.jsonl > /dev/null
score-format --answer-tag answer in.jsonl > d.jsonl
jq -e -s 'map(.format.reason) == ["no_answer_tag", "no_answer_tag"]' d.jsonl > /dev/null
printf '%s\n' '{"completion":"thinking...</think>4"}' > open.jsonl
score-format --open-in-prompt open.jsonl > e.jsonl
jq -e '.rewards.format == 1' e.jsonl > /dev/null
score-format open.jsonl > f.jsonl
jq -e '.format.reason == "no_think"' f.jsonl > /dev/null
printf '%s\n' '{"completion":"<reasoning>w</reasoning>4"}' > r.jsonl
score-format --tag reasoning r.jsonl > g.jsonl
jq -e '.rewards.format == 1' g.jsonl > /dev/null
printf '%s\n' '{"completion":"<think>\nEasy.\n</think>\n\\boxed{4}"}' \
              '{"completion":"<think>\n1 + 3\n= 4\n</think>\n\\boxed{4}"}' > m.jsonl
score-format --boxed --min-think 3 m.jsonl > h.jsonl
jq -e -s 'map(.format.reason) == ["short_think", "correct"] and map(.reward) == [0, 1]' h.jsonl > /dev/null
score-format --boxed m.jsonl > i.jsonl
jq -e -s 'map(.reward) == [1, 1]' i.jsonl > /dev/null
set +e; score-format --min-think -1 m.jsonl > /dev/null 2> err; rc=$?; set -e
test $rc = 2
set +e; score-format --tag '<x>' in.jsonl > /dev/null 2> err; rc=$?; set -e
test $rc = 2
grep -q "not a tag name" err
score-format --help | head -n 1 | grep -q '^usage: score-format'
score-format --version | grep -q posttrain
