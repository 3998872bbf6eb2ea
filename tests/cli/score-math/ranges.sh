# Option values out of range are usage errors (exit 2) naming the option
# as typed, from its row of the option table.
for a in "--points 65" "--seed -1" "--places 3 --rtol 0.1" "--rtol -0.5"; do
    set +e
    score-math $a < /dev/null > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: score-math ' || { echo "$a: no usage line"; cat err; }
done
