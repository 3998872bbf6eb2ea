# --extract: the answer stays, the reasoning goes to its own field.
think --extract "$TESTDIR/input.jsonl"
think --extract --to thoughts --field completion "$TESTDIR/input.jsonl" | head -n 1
