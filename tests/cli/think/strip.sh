# --strip keeps the answer alone, in completion (samples) or response (SFT).
think --strip "$TESTDIR/input.jsonl"
