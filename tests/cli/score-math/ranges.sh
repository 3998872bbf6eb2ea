# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
# --places and --rtol exclude each other.
usage_errors score-math "" "--points 65" "--seed -1" "--places 3 --rtol 0.1" "--rtol -0.5" \
    "--percent half"
