# Bad option values and clashing options are usage errors (exit 2) with
# the usage line.
for a in "--format vicuna" "-f ''" "-c -i" "--think --no-think" "-m ck -t t.json" "-r -i"; do
    set +e
    eval tok $a < /dev/null > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: tok ' || { echo "$a: no usage line"; cat err; }
done
