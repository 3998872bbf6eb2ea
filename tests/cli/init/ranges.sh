# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
# Nothing is written.
usage_errors init "-o ck" "--vocab-size 0" "--vocab-size 268435457" "--std 11" \
    "--seed 18446744073709551616" "-s x" "--max-shard-size 1XB"
test ! -e ck
