# logp takes the temperature from the samples' sampling object, so the
# policy's old_logprobs equal the logprobs gen recorded (within float
# rounding of a batched forward pass); --temperature overrides it; samples
# of one run drawn with other settings are bad records, named by file,
# line and field.
init -c "$TESTDIR/../gen/small.json" --std 0.5 -s 3 -o m > /dev/null
head -n 1 "$TESTDIR/../gen/prompts.jsonl" > p.jsonl
gen -m m -T 0.7 -G 3 -n 6 --seed 2 p.jsonl > s.jsonl
logp -m m --old s.jsonl > o.jsonl
jq -e -s 'all(.[]; ([.logprobs, .old_logprobs] | transpose | all(.[]; (.[0] - .[1] | fabs) < 1e-4)))' o.jsonl
logp -m m --old --temperature 0.7 s.jsonl | cmp - o.jsonl
logp -m m --old --temperature 1 s.jsonl > one.jsonl
jq -e -s 'any(.[]; ([.logprobs, .old_logprobs] | transpose | any(.[]; (.[0] - .[1] | fabs) > 1e-3)))' one.jsonl
# another temperature for k=1 (line 2): fail fast, or reject it and go on
jq -c 'if .k == 1 then .sampling.temperature = 1 else . end' s.jsonl > mixed.jsonl
if logp -m m mixed.jsonl > /dev/null 2> err; then exit 1; fi
cat err
logp -m m --max-errors 1 --rejects rej.jsonl mixed.jsonl > out.jsonl 2> err
test "$(wc -l < out.jsonl)" = 2
jq -c '[.line, .field]' rej.jsonl
# the override takes every record as it comes
logp -m m --temperature 1 mixed.jsonl | test "$(wc -l)" = 3
# a malformed sampling object is a bad record
jq -c '.sampling.top_p = 0' s.jsonl | head -n 1 > bad.jsonl
if logp -m m bad.jsonl > /dev/null 2> err; then exit 1; fi
cat err
