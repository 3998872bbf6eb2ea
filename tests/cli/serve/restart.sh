# The server is killed in the middle of a gen --server run and started
# again on the same port: the client retries what failed, and the output
# is what gen -m writes, every record once.
. "$TESTDIR/start.inc"
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
jq -c '.id as $i | range(6) | {id: "\($i)-\(.)", prompt: "prompt \(.) of \($i)"}' \
    "$TESTDIR/prompts.jsonl" > in.jsonl
gen -m ck -G 2 -n 40 --seed 11 --threads 1 in.jsonl > local
serve_start -m ck --threads 1 --batch 4
port=${URL##*:}
gen --server "$URL/v1" -m ck -G 2 -n 40 --seed 11 --send-id --logprobs --token-ids \
    --concurrency 2 --retries 100 --retry-wait 0.05 -o remote --resume in.jsonl 2> gen.err &
GEN=$!
# kill the server once some records are written, start it again 0.3 s later
i=0; while [ "$(cat remote 2>/dev/null | wc -l)" -lt 10 ] && [ $i -lt 400 ]; do
    sleep 0.02; i=$((i + 1)); done
kill -9 $SERVE_PID; wait $SERVE_PID 2>/dev/null || true
test "$(wc -l < remote)" -lt 144
sleep 0.3
i=0; while ! serve_start -m ck --threads 1 --batch 4 --port "$port" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 50 ] || exit 1; sleep 0.1; done
wait $GEN
f='[.group, .k, .completion, .finish, .prompt_ids, .completion_ids, .logprobs]'
jq -c "$f" local > a
jq -c "$f" remote > b
test "$(wc -l < a)" = 144
cmp a b
