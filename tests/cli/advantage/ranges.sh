# Option values out of range are usage errors (exit 2) naming the option
# as typed, from its row of the option table.
for a in "-G 1048577" "--group-size 0" "--eps 2" "--batch 0" "--baseline median" \
         "--scale row" "--overlong-penalty -1" "--max-tokens 0" "--min-policy-step x"; do
    set +e
    advantage $a < /dev/null > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: advantage ' || { echo "$a: no usage line"; cat err; }
done
