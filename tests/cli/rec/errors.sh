# The error policy: fail fast naming FILE:LINE:field, or with --max-errors
# every bad record goes whole to the rejects file and nothing is lost.
R="$TOP/build/test/test_rec"
printf '%s\n' '{"id":"a"}' '{"x":1}' '{"id":' '' '{"id":"d"}' '[1]' '{"id":"f"}' > in.jsonl
# fail fast
if "$R" cat --require id in.jsonl > out 2> err; then exit 1; fi
grep -qx "test_rec: in.jsonl:2: field 'id': missing" err
# keep going: 3 good, 3 rejected, counts add up
"$R" cat --require id --max-errors 5 --rejects rej.jsonl in.jsonl > out 2> err
test "$(wc -l < out)" = 3
test "$(wc -l < rej.jsonl)" = 3
grep -qx "test_rec: 3 of 6 records rejected (see 'rej.jsonl')" err
jq -e -s '.[0].line == 2 and .[0].field == "id" and .[0].record == {"x":1}' rej.jsonl > /dev/null
jq -e -s '.[1].line == 3 and .[1].raw == "{\"id\":" and (.[1].error | startswith("column"))' rej.jsonl > /dev/null
jq -e -s '.[2].line == 6 and (.[2].error | contains("JSON object"))' rej.jsonl > /dev/null
# past the limit it stops
if "$R" cat --require id --max-errors 2 --rejects rej2.jsonl in.jsonl > out 2> err; then exit 1; fi
grep -q "in.jsonl:6: column 1: a record must be a JSON object (more than 2 bad records)" err
test ! -e rej2.jsonl
# --max-errors alone would lose records: a usage error
set +e; "$R" cat --max-errors 1 in.jsonl > out 2> err; rc=$?; set -e
test $rc = 2
grep -q "needs --rejects" err
