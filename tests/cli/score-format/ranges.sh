# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
usage_errors score-format "" "--weight 2e9" "--tag=" "--answer-tag a.b" \
    "--language klingon"
