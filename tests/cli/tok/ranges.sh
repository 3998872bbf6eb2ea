# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
# Clashing options are usage errors too.
usage_errors tok "" "--format vicuna" "-f ''" "-c -i" "--think --no-think" "-m ck -t t.json" \
    "-r -i"
