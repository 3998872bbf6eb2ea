# The default (--show) prints each sample's text under a header line.
think "$TESTDIR/input.jsonl"
