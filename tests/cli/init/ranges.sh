# Option values out of range are usage errors (exit 2) naming the option
# as typed, from its row of the option table, before anything is written.
for a in "--vocab-size 0" "--vocab-size 268435457" "--std 11" "--seed 18446744073709551616" \
         "-s x" "--max-shard-size 1XB"; do
    set +e
    init $a -o ck > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: init ' || { echo "$a: no usage line"; cat err; }
done
test ! -e ck
