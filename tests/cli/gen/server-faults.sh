# gen --server against a server that rate-limits, fails, drops
# connections, stalls and answers nonsense: every record ends up written
# or rejected with its reason, never lost and never a made-up sample;
# --resume then asks for the rest only.  A partial last line and a short
# last group of an interrupted file are cut and asked for again.
python3 "$TESTDIR/fakeoai.py" url faulty 2> fake.log &
FAKE=$!
trap 'kill $FAKE 2>/dev/null' EXIT
i=0; while [ ! -e url ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
URL=$(cat url)
n=0
for p in "rate a" "flaky b" "down c" "stall d" "bad e" "drop f" "ok g" "ok h" "ok i" "ok j"; do
    jq -nc --arg id "p$n" --arg p "$p" '{id: $id, prompt: $p}'
    n=$((n + 1))
done > in.jsonl
G="gen --server $URL -m fake -G 2 --concurrency 4 --retries 2 --retry-wait 0.01 --timeout 1.5"
# fail fast: the first record that cannot be answered stops the run, named
if $G in.jsonl > /dev/null 2> err; then exit 1; fi
grep -q "^gen: in.jsonl:3: $URL: HTTP 503: overloaded (3 attempts)\$" err
$G --max-errors 10 --rejects rej -o out --resume in.jsonl 2> err
jq -r '"\(.group) \(.k) \(.completion) \(.policy) \(.usage.prompt_tokens)"' out
jq -r '"\(.line) \(.error)"' rej | sed "s|$URL|URL|"
# the server is mended: --resume asks for the three rejected prompts only
kill $FAKE; wait $FAKE 2>/dev/null || true; rm url
python3 "$TESTDIR/fakeoai.py" url good 2> fake.log &
FAKE=$!
i=0; while [ ! -e url ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
URL=$(cat url)
G="gen --server $URL -m fake -G 2 --concurrency 4 --retries 2 --retry-wait 0.01 --timeout 1.5"
$G --max-errors 10 --rejects rej -o out --resume in.jsonl 2> err
cat err
test ! -s rej
test "$(jq -r '"\(.group) \(.k)"' out | sort | uniq -d)" = ""
test "$(jq -r .group out | sort -u | wc -l)" = 10
# an interrupted file: two whole groups, the first line of a third and half of a line
$G in.jsonl > full
{ head -n 5 full; sed -n 6p full | head -c 40; } > cut
$G -o cut --resume in.jsonl 2> err
cat err
cmp full cut
