# Plain and zstd inputs stream in constant memory; outputs are complete or absent.
R="$TOP/build/test/test_rec"
# ~100 MB of records
awk 'BEGIN { s = sprintf("%0900d", 0); for (i = 0; i < 110000; i++) printf "{\"id\":\"r%d\",\"pad\":\"%s\",\"x\":%d.5}\n", i, s, i }' > big.jsonl
test "$(wc -c < big.jsonl)" -gt 100000000
REC_RSS=1 "$R" cat -o copy.jsonl.zst big.jsonl 2> err
rss=$(awk '/maxrss_kib/ { print $2 }' err)
test "$rss" -lt 40000
zstd -q -d -c copy.jsonl.zst | cmp - big.jsonl
REC_RSS=1 "$R" cat copy.jsonl.zst > back.jsonl 2> err
rss=$(awk '/maxrss_kib/ { print $2 }' err)
test "$rss" -lt 40000
cmp back.jsonl big.jsonl
# several inputs, in order; "-" is stdin
printf '{"a":1}\n' > one.jsonl
printf '{"a":2}' > two.jsonl
"$R" cat one.jsonl - two.jsonl < one.jsonl > three.jsonl
printf '{"a":1}\n{"a":1}\n{"a":2}\n' | cmp - three.jsonl
# an output never overwrites an input
set +e; "$R" cat -o one.jsonl one.jsonl 2> err; rc=$?; set -e
test $rc = 2 && grep -q "both an input and an output" err
# a failing run leaves no output behind
printf '{"a":1}\nnot json\n' > bad.jsonl
if "$R" cat -o never.jsonl bad.jsonl 2> err; then exit 1; fi
test ! -e never.jsonl
test -z "$(ls -A | grep '^\.never')"
