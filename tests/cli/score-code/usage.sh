# --help, --version, usage errors (exit 2) and bad records (exit 1, with
# file, line and field), and the man page's first example.
score-code --help > out
grep -q '^usage: score-code \[-j N\]' out
grep -q -- '--output-limit BYTES' out
grep -q -- '--max-errors N' out
score-code --version | grep -q posttrain
set +e
score-code -j 0 < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q "jobs: '0' is not an integer in \[1, 1024\]" err || exit 1
score-code --timeout 1x < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q "timeout: '1x' is not a number" err || exit 1
score-code --lang rust < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q "lang: 'rust' is not python, c or cpp" err || exit 1
score-code --bogus < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q '^usage: score-code' err || exit 1

echo '{"id":"x","domain":"code","completion":"```python\n```"}' > in.jsonl
score-code in.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "score-code: in.jsonl:1: field 'tests': missing" err || exit 1
printf '%s\n' '{"domain":"math"}' '{"domain":"code","tests":[],"completion":""}' > in.jsonl
score-code in.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "score-code: in.jsonl:2: field 'tests': empty" err || exit 1
echo '{"domain":"code","tests":[{"input":"1"}],"completion":""}' > in.jsonl
score-code < in.jsonl > out 2> err; rc=$?
test $rc = 1 || exit 1
grep -qx "score-code: <stdin>:1: field 'tests': element 0: no string 'assert' nor strings 'input' and 'output'" err || exit 1
echo '{"domain":"code","lang":"go","tests":[{"assert":"1"}],"completion":""}' > in.jsonl
score-code in.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "score-code: in.jsonl:1: field 'lang': 'go' is not python, c or cpp" err || exit 1
echo '{"domain":"code","tests":[{"assert":"1"}],"completion":7}' > in.jsonl
score-code in.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -q "score-code: in.jsonl:1: field 'completion': " err || exit 1
set -e

. "$TESTDIR/sandbox-probe"
# The man page's first example.
jq -nc '{domain: "code", lang: "python",
  tests: [{input: "2 3\n", output: "5"}],
  completion: "```python\nprint(sum(map(int, input().split())))\n```"}' \
  | score-code | jq -c '[.rewards.code, .code_verdicts]' > out
test "$(cat out)" = '[1,["pass"]]'
