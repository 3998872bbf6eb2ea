# --help on stdout with exit 0, --version, and usage errors with exit 2.
set +e
advantage --help > out; rc=$?
test $rc = 0 && head -n 1 out | grep -q '^usage: advantage \[-G N\]' || exit 1
grep -q -- '--drop-uniform' out && grep -q -- '--max-errors N' out || exit 1
advantage --version | grep -q '^advantage (posttrain) ' || exit 1
bad() {
    advantage "$@" < /dev/null > out 2> err; rc=$?
    test $rc = 2 && grep -q '^usage: advantage' err && test ! -s out \
        || { echo "advantage $*: exit $rc"; cat err; exit 1; }
}
bad --bogus
bad -G 0
bad -G x
bad --eps -1
bad --eps 1e-4x
bad --baseline median
bad --scale row
bad --dr-grpo --rloo
bad --rloo --scale group
bad --dr-grpo --baseline loo
bad --batch 0
bad --batch 4 --scale group
bad --key ''
grep -q "advantage: --key: empty field name" err || exit 1
advantage -G 0 < /dev/null 2> err
grep -q "advantage: -G: '0' is not an integer in \[1, 1048576\]" err || exit 1
exit 0
