# Missing or mistyped fields stop the tool naming FILE:LINE:field, or go
# to --rejects under --max-errors; --reject-unparsed makes an unparseable
# reference a bad record.  An answer given as a JSON number (id 4) is
# scored.
printf '%s\n' \
 '{"id":1,"domain":"math","answer":"7","completion":"\\boxed{7}"}' \
 '{"id":2,"domain":"math","completion":"\\boxed{7}"}' \
 '{"id":3,"domain":"math","answer":"7"}' \
 '{"id":4,"domain":"math","answer":7,"completion":"\\boxed{7}"}' \
 '{"id":5,"domain":5,"answer":"7","completion":"\\boxed{7}"}' \
 '{"id":6,"domain":"math","answer":"\\frac{7","completion":"\\boxed{7}"}' \
 'not json' \
 '{"id":8,"domain":"code","completion":"x"}' \
 '{"id":9,"domain":"math","answer":["7"],"completion":"\\boxed{7}"}' > in.jsonl
if score-math in.jsonl > out.jsonl 2> err; then exit 1; fi
cat err
score-math --max-errors 10 --rejects rej.jsonl in.jsonl > out.jsonl 2> err
cat err
jq -c '[.id, .rewards.math, .math.reason]' out.jsonl
jq -c '[.line, .field, .error]' rej.jsonl
if score-math --reject-unparsed --max-errors 3 --rejects rej2.jsonl in.jsonl > out2.jsonl 2> err; then exit 1; fi
cat err
