# rejsample on bad input: stream errors, bad fields, a split group.
. "$TESTDIR/common.inc"
GT=rejsample
. "$TESTDIR/groups.inc"
field_case '.k = 9 | .reward = "1"' reward rejsample
field_case '.k = 9 | del(.completion)' completion rejsample
rejects_case rejsample
