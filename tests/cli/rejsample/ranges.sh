# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
usage_errors rejsample "" "--best 1048577" "--min-reward inf" "--think hide" "--key="
