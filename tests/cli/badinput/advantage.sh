# advantage on bad input: stream errors, bad fields, a split group; under
# --max-errors a group with a bad record is rejected whole.
. "$TESTDIR/common.inc"
GT=advantage
. "$TESTDIR/groups.inc"
field_case '.k = 9 | del(.reward)' reward advantage
field_case '.k = 9 | .reward = "1"' reward advantage
rejects_case advantage
counts mixed.jsonl o.out rej.jsonl
big_line
fails "^advantage: big.jsonl:2: column 26: unterminated string" advantage -o o.out big.jsonl
