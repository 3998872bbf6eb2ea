# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
usage_errors pack "" "--length 16777217" "--window -1" "--open 0" \
    "--first-fit --open 1048577" "-m ck -f vicuna" "--format="
