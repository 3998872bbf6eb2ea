# Option values out of range are usage errors (exit 2) naming the option
# as typed, from its row of the option table.
for a in "--weight 2e9" "--tag=" "--answer-tag a.b" "--language klingon"; do
    set +e
    score-format $a < /dev/null > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: score-format ' || { echo "$a: no usage line"; cat err; }
done
