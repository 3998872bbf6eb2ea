# Each bad request gets its own 400 (or 401, 404, 405, 413) with a
# message, and the server goes on answering.
. "$TESTDIR/start.inc"
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
KEY=sesame serve_start -m ck --threads 1 --max-body 4096 --max-tokens 50 --api-key-env KEY
ask() { # ask PATH BODY -> "status message"
    curl -s -o .r -w '%{http_code}' -H 'Authorization: Bearer sesame' "$URL$1" -d "$2" > .c
    echo "$(cat .c) $(jq -r '.error.message' .r)"
}
C=/v1/chat/completions P=/v1/completions
{
ask $P '{"prompt":'
ask $P '[1, 2]'
ask $P '{"prompt":"a","bogus":1}'
ask $P '{}'
ask $P '{"prompt":"a","max_tokens":51}'
ask $P '{"prompt":"a","max_tokens":0}'
ask $P '{"prompt":"a","temperature":-1}'
ask $P '{"prompt":"a","top_p":0}'
ask $P '{"prompt":"a","n":17}'
ask $P '{"prompt":"a","stop":["a","b","c","d","e"]}'
ask $P '{"prompt":"a","stop":[""]}'
ask $P '{"prompt":"a","seed":-3}'
ask $P '{"prompt":"a","logprobs":21}'
ask $P '{"prompt":"a","echo":true}'
ask $P '{"prompt":"a","presence_penalty":0.5}'
ask $P '{"prompt":[[1, 99999]]}'
ask $P '{"prompt":"a","model":"gpt-4"}'
ask $P "{\"prompt\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"}"
ask $C '{"messages":[]}'
ask $C '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}'
ask $C '{"messages":[{"role":"user","content":7}]}'
ask $C '{"messages":[{"role":"user","content":"a"}],"top_logprobs":2}'
ask $C '{"prompt":"a"}'
ask /v1/nothing '{}'
} > got
cat got
# no key, a wrong key; the health check needs none
test "$(curl -s -o /dev/null -w '%{http_code}' "$URL$P" -d '{"prompt":"a"}')" = 401
test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer x' "$URL$P" -d '{"prompt":"a"}')" = 401
test "$(curl -s -o /dev/null -w '%{http_code}' -X GET -H 'Authorization: Bearer sesame' "$URL$P")" = 405
curl -sf "$URL/health" > /dev/null
test "$(ask $P '{"prompt":"a","max_tokens":3}' | cut -c1-3)" = 200
