# Option values out of range are usage errors (exit 2) naming the option
# as typed, from its row of the option table.
for a in "--best 1048577" "--min-reward inf" "--think hide" "--key="; do
    set +e
    rejsample $a < /dev/null > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: rejsample ' || { echo "$a: no usage line"; cat err; }
done
