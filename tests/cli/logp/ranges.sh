# Option values out of range are usage errors (exit 2) naming the option
# as typed, from its row of the option table.
for a in "--batch-tokens 0" "--batch-tokens 1073741825" "--threads 1025" \
         "--temperature 1001" "--dtype half"; do
    set +e
    logp -m ck $a < /dev/null > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: logp ' || { echo "$a: no usage line"; cat err; }
done
