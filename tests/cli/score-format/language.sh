# R1's language consistency reward: the share of the reasoning's words in
# the prompt's script, or in the one named; bad values name the option,
# a record without a prompt names the field.
printf '%s\n' \
    '{"id":"a","prompt":"Combien font 2 et 3 ?","completion":"<think>Deux plus trois font cinq.</think> 5","reward":1,"rewards":{"math":1}}' \
    '{"id":"b","prompt":"二加三等于多少？","completion":"<think>二加三 is five</think>5"}' \
    '{"id":"c","prompt":"2+3","completion":"no block, пять"}' \
    '{"id":"d","messages":[{"role":"user","content":"Сколько будет 2+3?"}],"completion":"<think>два плюс три</think>5"}' \
    > in.jsonl &&
score-format -q --language prompt in.jsonl | jq -c '[.id, .reward, .rewards, .language]' &&
score-format -q --language han --weight 2 in.jsonl | jq -c '[.id, .rewards.language]' &&
score-format --language english in.jsonl 2>&1 | head -n 1
echo '{"id":"e","completion":"x"}' | score-format --language prompt 2>&1 | head -n 1
exit 0
