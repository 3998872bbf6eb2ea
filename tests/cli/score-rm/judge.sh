# Judge mode with an untrained judge: its output is noise, so every judged
# record gets reason no_answer and reward 0, never a guess, with the
# rationale kept whole; the records of other domains pass through in
# place; the output does not depend on --batch or --threads.  --render
# writes the prompt the judge reads: the template, without its trailing
# newline, filled (checked against jq's own filling).
sed 's/"max_position_embeddings": 96/"max_position_embeddings": 1024/' "$TESTDIR/judge.json" > j.json &&
init -c j.json -s 1 -o judge &&
jq -c '.rewards = {math: 1} | .reward = 1' > in.jsonl <<'EOR'
{"id":"w1","domain":"writing","prompt":"Write a haiku.","completion":"Leaves fall, soft and slow","response":"Autumn moon"}
{"id":"m1","domain":"math","prompt":"2+2","completion":"4"}
{"id":"w2","domain":"writing","prompt":"A poem","completion":"Roses","k":0}
{"id":"w2","domain":"writing","prompt":"A poem","completion":"Violets","k":1}
{"id":"m2","domain":"math","prompt":"3+3","completion":"6"}
{"id":"q1","domain":"qa","prompt":"Sky?","completion":"Blue","response":"Blue"}
EOR
score-rm --judge -m judge --template "$TOP/pipelines/prompts/judge-quality.txt" -n 24 in.jsonl > out.jsonl
jq -c '[.id, .rm_judge.verdict, .rm_judge.reason, .rm_judge.finish, .rewards.rm, .reward,
        (.rm_judge.rationale | type)]' out.jsonl
score-rm --judge -m judge --template "$TOP/pipelines/prompts/judge-quality.txt" -n 24 --batch 1 --threads 1 in.jsonl | cmp - out.jsonl
score-rm --judge -m judge --template "$TOP/pipelines/prompts/judge-quality.txt" -n 24 --batch 3 --threads 2 in.jsonl | cmp - out.jsonl
# sampled judging is reproducible from the seed, and the seed matters
score-rm --judge -m judge --template "$TOP/pipelines/prompts/judge-quality.txt" -n 24 -T 1 --seed 7 in.jsonl > t1.jsonl
score-rm --judge -m judge --template "$TOP/pipelines/prompts/judge-quality.txt" -n 24 -T 1 --seed 7 --batch 2 in.jsonl | cmp - t1.jsonl
score-rm --judge -m judge --template "$TOP/pipelines/prompts/judge-quality.txt" -n 24 -T 1 --seed 8 in.jsonl | cmp -s - t1.jsonl && echo "the seed changed nothing"
# the prompt
jq -c 'select(.response or .domain == "math")' in.jsonl > ref.jsonl
score-rm --render --template "$TOP/pipelines/prompts/judge-reference.txt" ref.jsonl \
    | jq -r 'select(.judge_prompt) | .judge_prompt' > rendered.txt
jq -r --rawfile t "$TOP/pipelines/prompts/judge-reference.txt" 'select(.domain != "math")
    | . as $r | $t | sub("\n+$"; "") | split("{question}") | join($r.prompt)
    | split("{reference}") | join($r.response) | split("{response}") | join($r.completion)' ref.jsonl \
    | cmp - rendered.txt
