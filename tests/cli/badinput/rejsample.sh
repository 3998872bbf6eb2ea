# rejsample on bad input: stream errors, bad fields, a split group.
. "$TESTDIR/common.inc"
GT=rejsample
. "$TESTDIR/groups.inc"
field_case '.reward = "1"' reward rejsample
field_case 'del(.completion)' completion rejsample
rejects_case rejsample
