# A missing completion: fail fast naming FILE:LINE:field, or --rejects.
printf '%s\n' '{"id":1,"completion":"<think>w</think>4"}' '{"id":2}' '{"id":3,"completion":7}' \
              '{"id":4,"completion":"4"}' > in.jsonl
if score-format in.jsonl > out.jsonl 2> err; then exit 1; fi
cat err
score-format --max-errors 2 --rejects rej.jsonl in.jsonl > out.jsonl 2> err
cat err
jq -c '[.id, .rewards.format, .format.reason]' out.jsonl
jq -c '[.line, .field, .error]' rej.jsonl
