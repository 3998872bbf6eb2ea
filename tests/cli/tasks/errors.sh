# Bad records name FILE:LINE and the field; usage errors exit 2.
printf '%s\n' '{"question":"a","answer":"#### 1"}' '{"question":"b"}' \
    '{"question":"c","answer":"no final line"}' '{"question":"d","answer":"#### 4"}' > in.jsonl
if tasks gsm8k in.jsonl > out 2> err; then exit 1; fi
grep -qx "tasks: in.jsonl:2: field 'answer': missing" err
tasks gsm8k --max-errors 5 --rejects rej.jsonl in.jsonl > out 2> err
test "$(wc -l < out)" = 2
jq -e -s 'map(.line) == [2, 3] and .[1].field == "answer"
    and (.[1].error | contains("no final"))' rej.jsonl > /dev/null
test "$(jq -r .id out | tr '\n' ' ')" = "gsm8k/in/0 gsm8k/in/3 "
printf '{"problem":"p","solution":"s","answer":"1","subject":"x","level":"Level 9","unique_id":"u"}\n' > m.jsonl
if tasks math m.jsonl 2> err; then exit 1; fi
grep -q "^tasks: m.jsonl:1: field 'level': " err
printf '{"task_id":1,"text":"t","code":"c","test_list":"assert 1"}\n' > b.jsonl
if tasks mbpp b.jsonl 2> err; then exit 1; fi
grep -q "^tasks: b.jsonl:1: field 'test_list': " err
usage() {
    set +e; "$@" > out 2> err; rc=$?; set -e
    test $rc = 2 && grep -q '^usage: tasks' err
}
usage tasks
usage tasks nosuch
usage tasks arithmetic --digits 0
usage tasks arithmetic --digits 3-2
usage tasks arithmetic --ops '+%'
usage tasks arithmetic -n -1
usage tasks arithmetic in.jsonl
usage tasks countdown --digits 2
usage tasks gsm8k -n 5 in.jsonl
usage tasks mbpp --split dev in.jsonl
usage tasks countdown --numbers 7
grep -q "numbers: '7' is not an integer in \[2, 6\]" err
tasks --help | grep -q '^usage: tasks SOURCE'
tasks arithmetic --help | grep -q -- '--with-response'
tasks --version | grep -q posttrain
