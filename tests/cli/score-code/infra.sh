# A sandbox that cannot start is an infrastructure error: retried, then
# the record is rejected under the error policy, never scored 0.
. "$TESTDIR/sandbox-probe"
REAL=$(command -v bwrap)
jq -nc '{id: "a", domain: "code", lang: "python",
         completion: "```python\nprint(input())\n```", tests: [{input: "hi\n", output: "hi"}]}' \
    > in.jsonl

# bwrap missing: fail fast with the file, line and reason.
set +e
score-code --bwrap /nonexistent/bwrap in.jsonl > out.jsonl 2> err.txt; rc=$?
set -e
cat err.txt
test $rc = 1
grep -qx "score-code: in.jsonl:1: infra_error: sandbox: cannot execute '/nonexistent/bwrap': No such file or directory" err.txt
test ! -s out.jsonl

# bwrap failing during setup, every time: three attempts, then the record
# goes whole to the rejects file, and nothing is scored.
chmod 755 .
mkdir -m 777 state
cat > fail-bwrap <<F
#!/bin/sh
echo x >> $PWD/state/calls
echo "bwrap: setting up uid map: Permission denied" >&2
exit 1
F
chmod 755 fail-bwrap
score-code --bwrap ./fail-bwrap --max-errors 5 --rejects rej.jsonl in.jsonl > out.jsonl 2> err.txt
cat err.txt
test ! -s out.jsonl
test "$(wc -l < state/calls)" = 3
jq -e '(.error | endswith("infra_error: sandbox: bwrap: setting up uid map: Permission denied")) and .record.id == "a"' rej.jsonl
grep -q "score-code: 1 of 1 records rejected" err.txt

# Failing once, then working: the retry scores the record.
rm -f state/calls
cat > flaky-bwrap <<F
#!/bin/sh
if [ ! -e $PWD/state/calls ]; then
    echo x > $PWD/state/calls
    echo "bwrap: Creating new namespace failed: Resource temporarily unavailable" >&2
    exit 1
fi
exec $REAL "\$@"
F
chmod 755 flaky-bwrap
score-code --bwrap ./flaky-bwrap in.jsonl > out.jsonl
jq -e '.reward == 1 and .code_verdicts == ["correct"]' out.jsonl
