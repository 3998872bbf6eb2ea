# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
usage_errors "logp -m ck" "" "--batch-tokens 0" "--batch-tokens 1073741825" \
    "--threads 1025" "--temperature 1001" "--dtype half"
