# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
# They come before the checkpoint is read; an operand is one too.
usage_errors "serve -m ck" "" "--port 65536" "--max-n 0" "--max-body 63" "--max-conns 65537" \
    "--batch 0" "--threads 0" "--name=" "-f vicuna" "--dtype f64" extra
serve --version
