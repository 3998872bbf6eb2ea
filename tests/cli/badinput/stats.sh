# stats on bad input: stream errors, a split group, a reward that is not
# a number.
. "$TESTDIR/common.inc"
GT=stats
. "$TESTDIR/groups.inc"
field_case '.k = 9 | .reward = "1"' reward stats
rejects_case stats
