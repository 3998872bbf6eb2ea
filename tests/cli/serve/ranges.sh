# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line, before any checkpoint is read.
for a in "--port 65536" "--max-n 0" "--max-body 63" "--max-conns 65537" "--batch 0" \
         "--threads 0" "--name=" "-f vicuna" "--dtype f64"; do
    set +e
    serve -m ck $a > out 2> err
    echo "exit $?: $(head -n 1 err)"
    set -e
    sed -n 2p err | grep -q '^usage: serve -m DIR ' || { echo "$a: no usage line"; cat err; }
done
set +e
serve -m ck extra 2>err; echo "exit $?: $(head -n 1 err)"
set -e
serve --version
