# The variants, uniform-group and error cases again under ASan + UBSan
# (any report or leak fails).
test -x "$ASAN_BIN/advantage" || { echo "skipped: $ASAN_BIN/advantage not built (make tests-build)"; exit 77; }
PATH="$ASAN_BIN:$PATH"
for t in variants uniform errors groups; do
    mkdir "$t" && (cd "$t" && . "$TESTDIR/$t.sh")
done
