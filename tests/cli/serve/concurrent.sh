# 64 clients at once, for a bounded time: every one gets its answer
# (n samples, in one batch with the others), none an error.
. "$TESTDIR/start.inc"
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
serve_start -m ck --threads 1 --batch 16
i=0 pids=
while [ $i -lt 64 ]; do
    curl -s --max-time 25 -o out.$i -w '%{http_code}\n' "$URL/v1/chat/completions" \
        -d "{\"messages\":[{\"role\":\"user\",\"content\":\"question $i\"}],\"max_tokens\":8,\"n\":2}" \
        > code.$i &
    pids="$pids $!"
    i=$((i + 1))
done
wait $pids
i=0
while [ $i -lt 64 ]; do
    test "$(cat code.$i)" = 200
    jq -e '(.choices | length) == 2 and .usage.prompt_tokens > 0' out.$i > /dev/null
    i=$((i + 1))
done
