# The summary of samples.jsonl, worked out by hand (see the golden):
# group a (math, n=4, c=1, answers 4 5 5 5), group b (code, n=2, c=1).
stats "$TESTDIR/samples.jsonl"
