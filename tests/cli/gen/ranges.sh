# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
for a in "--top-p 1.5" "--top-k -1" "--min-p 2" "-G 0" "--max-tokens 0" "--stop=" \
         "--seed 9223372036854775808" "-f vicuna" "--format vicuna" "--threads 0" \
         "--batch 65537" "--endpoint rest" "--concurrency 0" "--timeout 0" "--dtype f16"; do
    set +e
    gen -m ck $a p.jsonl > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2,3p err | cmp -s - "$TESTDIR/ranges.usage" || { echo "$a: no usage line"; cat err; }
done
