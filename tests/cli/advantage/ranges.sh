# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
usage_errors advantage "" "-G 1048577" "--group-size 0" "--eps 2" "--batch 0" \
    "--baseline median" "--scale row" "--overlong-penalty -1" "--max-tokens 0" \
    "--min-policy-step x"
