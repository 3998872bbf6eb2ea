# --check names each sample whose block is unclosed, unopened or repeated,
# and exits 1 when there is one.
set +e
cp "$TESTDIR/input.jsonl" .
think --check input.jsonl > out 2> err
rc=$?
set -e
cat out err
test $rc = 1
head -n 1 "$TESTDIR/input.jsonl" > good.jsonl
think --check good.jsonl > out
test ! -s out
