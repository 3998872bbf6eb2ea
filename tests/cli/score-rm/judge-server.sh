# score-rm --judge --server: the judge served by serve gives the verdicts
# of the same judge loaded by score-rm, greedy and sampled (the record's
# stream name goes as the request's user), records in input order and
# other domains passed through; a judge that cannot be reached leaves
# each judged record rejected with the reason, and the others written.
. "$TOP/tests/cli/serve/start.inc"
sed 's/"max_position_embeddings": 96/"max_position_embeddings": 1024/' "$TESTDIR/judge.json" > j.json
init -c j.json -s 1 -o judge
jq -c '.rewards = {math: 1} | .reward = 1' > in.jsonl <<'EOR'
{"id":"w1","domain":"writing","prompt":"Write a haiku.","completion":"Leaves fall, soft and slow","response":"Autumn moon"}
{"id":"m1","domain":"math","prompt":"2+2","completion":"4"}
{"id":"w2","domain":"writing","prompt":"A poem","completion":"Roses","k":0}
{"id":"w2","domain":"writing","prompt":"A poem","completion":"Violets","k":1}
{"id":"q1","domain":"qa","prompt":"Sky?","completion":"Blue","response":"Blue"}
EOR
T="--template $TOP/pipelines/prompts/judge-quality.txt -n 24"
serve_start -m judge --threads 1
score-rm --judge -m judge $T in.jsonl > local
score-rm --judge --server "$URL/v1" -m judge $T --concurrency 3 in.jsonl > remote
cmp local remote
score-rm --judge -m judge $T -T 1 --seed 7 in.jsonl > local
score-rm --judge --server "$URL/v1" -m judge $T -T 1 --seed 7 in.jsonl > remote
cmp local remote
jq -c '[.id, .rm_judge.reason, .rewards.rm]' remote
serve_stop
score-rm --judge --server "$URL/v1" -m judge $T --retries 1 --retry-wait 0.01 \
    --max-errors 10 --rejects rej in.jsonl > partial 2> err
jq -c '[.id, .k]' partial
jq -r --arg u "$URL" '"\(.line) \(.record.id) \(.error | ltrimstr($u))"' rej
