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
score-code --lang cobol < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q "lang: 'cobol' is not python, c, cpp, java, go, rust or javascript" err || exit 1
score-code --float-tolerance 0 < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q "float-tolerance: '0' is not a number in (0, 1\]" err || exit 1
score-code --bogus < /dev/null 2> err; rc=$?
test $rc = 2 && grep -q '^usage: score-code' err || exit 1

printf '%s\n' '{"id":"x","domain":"code","completion":"```python\n```"}' > in.jsonl
score-code in.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "score-code: in.jsonl:1: field 'tests': missing" err || exit 1
printf '%s\n' '{"domain":"math"}' '{"domain":"code","tests":[],"completion":""}' > in.jsonl
score-code in.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "score-code: in.jsonl:2: field 'tests': empty" err || exit 1
printf '%s\n' '{"domain":"code","tests":[{"input":"1"}],"completion":""}' > in.jsonl
score-code < in.jsonl > out 2> err; rc=$?
test $rc = 1 || exit 1
grep -qx "score-code: <stdin>:1: field 'tests': element 0: no string 'assert' nor strings 'input' and 'output'" err || exit 1
printf '%s\n' '{"domain":"code","lang":"cobol","tests":[{"assert":"1"}],"completion":""}' > in.jsonl
score-code in.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -qx "score-code: in.jsonl:1: field 'lang': 'cobol' is not python, c, cpp, java, go, rust or javascript" err || exit 1
# Per-record limits, the checker and subtasks: checked types, the field
# named.  bad RECORD MESSAGE [OPTION]: exit 1 with exactly MESSAGE.
bad() {
    printf '%s\n' "$1" > in.jsonl
    score-code $3 in.jsonl > out 2> err; rc=$?
    test $rc = 1 && grep -qxF "score-code: in.jsonl:1: $2" err || { echo "$1: $(cat err)"; exit 1; }
}
bad '{"domain":"code","tests":[{"assert":"1"}],"time_limit":"2s","completion":""}' \
    "field 'time_limit': not a number of seconds in (0, 3600]"
bad '{"domain":"code","tests":[{"assert":"1"}],"memory_limit":0.5,"completion":""}' \
    "field 'memory_limit': not a number of megabytes in [16, 1048576]"
bad '{"domain":"code","tests":[{"input":""}],"checker":{"code":1},"completion":""}' \
    "field 'checker': not a string nor an object with string 'code' (and 'lang')"
bad '{"domain":"code","tests":[{"input":"","subtask":3}],"checker":"","subtasks":[{"id":1,"points":5}],"completion":""}' \
    "field 'tests': element 0: 'subtask' names no subtask of 'subtasks'" --subtasks
bad '{"domain":"code","tests":[{"input":"","subtask":1}],"checker":"","subtasks":[{"id":1,"points":"5"}],"completion":""}' \
    "field 'subtasks': element 0: 'points' is not a number >= 0" --subtasks
printf '%s\n' '{"domain":"code","tests":[{"assert":"1"}],"completion":7}' > in.jsonl
score-code in.jsonl > out 2> err; rc=$?
test $rc = 1 && grep -q "score-code: in.jsonl:1: field 'completion': " err || exit 1
set -e

. "$TESTDIR/sandbox-probe"
# The man page's first example.
jq -nc '{domain: "code", lang: "python",
  tests: [{input: "2 3\n", output: "5"}],
  completion: "```python\nprint(sum(map(int, input().split())))\n```"}' \
  | score-code | jq -c '[.rewards.code, .code_verdicts]' > out
test "$(cat out)" = '[1,["correct"]]'
