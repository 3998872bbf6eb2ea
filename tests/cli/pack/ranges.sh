# Option values out of range are usage errors (exit 2) naming the option
# as typed, from its row of the option table.
for a in "--length 16777217" "--window -1" "--open 0" "--first-fit --open 1048577" \
         "-m ck -f vicuna" "--format=" ; do
    set +e
    pack $a < /dev/null > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: pack ' || { echo "$a: no usage line"; cat err; }
done
