# A client that goes away frees its sequences: a long streamed request (16
# samples of up to 900 tokens) whose client hangs up after its first bytes
# is cancelled at once, and the next request does not wait behind it.
. "$TESTDIR/start.inc"
sed 's/"max_position_embeddings": 96/"max_position_embeddings": 1024/' "$TESTDIR/small.json" > c.json
init -c c.json --std 0.5 -s 3 -o ck
serve_start -m ck --threads 1 --batch 16 -v
long='{"prompt":"tell me everything","max_tokens":900,"n":16,"seed":1,"stream":true}'
for endpoint in completions chat/completions; do
    b=$long
    [ $endpoint = completions ] || b='{"messages":[{"role":"user","content":"tell me"}],"max_tokens":900,"n":16,"stream":true}'
    { curl -sN --max-time 20 "$URL/v1/$endpoint" -d "$b" || true; } | head -c 1 > /dev/null
    start=$(date +%s)
    curl -sf --max-time 20 "$URL/v1/completions" -d '{"prompt":"a","max_tokens":4}' > short
    jq -e '(.choices | length) == 1' short > /dev/null
    test $(( $(date +%s) - start )) -lt 10
done
sleep 0.2
test "$(grep -c ', cancelled$' .serve.log)" = 2
