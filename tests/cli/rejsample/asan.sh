# The option and error cases again under ASan + UBSan (any report or leak
# fails).
test -x "$ASAN_BIN/rejsample" || { echo "skipped: $ASAN_BIN/rejsample not built (make tests-build)"; exit 77; }
PATH="$ASAN_BIN:$PATH"
for t in best min_reward format think errors; do
    mkdir "$t" && (cd "$t" && . "$TESTDIR/$t.sh")
done
