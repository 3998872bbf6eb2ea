# The EXAMPLES of stats(1), on the hand-checked samples of table.sh.
cp "$TESTDIR/samples.jsonl" scored.jsonl
zstd -q scored.jsonl -o scored.jsonl.zst
stats --reward rewards.math scored.jsonl.zst > t
grep -q '^accuracy  *0.2500  *-  *0.2500$' t
stats -j -k 1,8 scored.jsonl | jq -c '{p1: ."pass@k"."1", m8: ."maj@k"."8"}' > j
test "$(cat j)" = '{"p1":0.375,"m8":null}'
tasks arithmetic -n 100 | stats > t
grep -q '^records  *100  *100$' t
mkdir run
printf '{"step":1,"loss":2.5}\n{"step":2,"loss":2.1}\n' > run/metrics.jsonl
if command -v gnuplot > /dev/null; then
    stats --plot plots run/metrics.jsonl 2> /dev/null
    test -s plots/loss.png
fi
