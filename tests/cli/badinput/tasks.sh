# tasks importers on bad input: stream errors, missing and mistyped
# fields, duplicate ids in the source; --max-errors keeps every record.
. "$TESTDIR/common.inc"
printf '%s\n' '{"question":"a","answer":"x\n#### 1"}' '{"question":"b","answer":"#### 2"}' >good.jsonl
stream_cases tasks gsm8k
field_case 'del(.question)' question tasks gsm8k
field_case '.question = 1' question tasks gsm8k
field_case '.answer = ["#### 1"]' answer tasks gsm8k
rejects_case tasks gsm8k
counts mixed.jsonl o.out rej.jsonl
printf '%s\n' '{"task_id":"HumanEval/0","prompt":"def f():\n","canonical_solution":"  return 1\n","test":"def check(c): pass\n","entry_point":"f"}' >he.jsonl
cp he.jsonl good.jsonl
field_case '.entry_point = 3' entry_point tasks humaneval
cat he.jsonl he.jsonl >dup.jsonl
# a duplicate task_id gives a duplicate id, which gen refuses (gen.sh)
tasks humaneval -o o.out dup.jsonl
test "$(jq -r .id o.out | uniq -d)" = HumanEval/0
