# --help on stdout with exit 0; bad options are usage errors with exit 2.
R="$TOP/build/test/test_rec"
"$R" cat --help > out
grep -q '^usage: test_rec cat' out
grep -q -- '--max-errors N' out
"$R" cat --version | grep -q 'posttrain'
set +e
"$R" cat --level 0 < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q "level: '0' is not an integer in \[1, 19\]" err || exit 1
"$R" cat --bogus < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q "^usage: test_rec cat" err || exit 1
"$R" cat nonexistent.jsonl 2> err; rc=$?
test $rc = 1 && grep -qx "test_rec: nonexistent.jsonl: No such file or directory" err || exit 1
