# The pretraining corpus: text records only (no prompt, no chat marker, no
# <think>), reproducible, --worked 0 gives no worked sum and --worked 100
# no bare result, question-and-answer pages in R1-Zero's plain form; pack
# takes it.
tasks corpus -n 500 --seed 2 > a.jsonl
jq -e -s 'length == 500 and all(.[]; (keys == ["id", "text"])
    and (.text | test("</?think>|<\\|") | not))' a.jsonl > /dev/null
tasks corpus -n 500 --seed 2 | cmp - a.jsonl
# worked sums are the documents with a running-sum line after a question
worked() { jq -r '.text' "$1" | grep -c -E '^[0-9]+ \+ [0-9]+ = [0-9]+$' || true; }
answers() { jq -r '.text' "$1" | grep -c -E '^Answer: [0-9]+$|\? The answer is|^Assistant: (The answer is )?\\boxed' || true; }
# worked answers of the question-and-answer pages reduce the sum a line at a time
reduced() { jq -r '.text' "$1" | grep -c -E '^= [0-9]+( \+ [0-9]+)*$' || true; }
dialog() { jq -c 'select(.text | test("^(User: |Think inside )"))' "$1"; }
tasks corpus -n 500 --seed 2 --worked 0 > w0.jsonl
tasks corpus -n 500 --seed 2 --worked 100 > w100.jsonl
test "$(jq -r .text w0.jsonl | grep -c -E '^(A|Answer):$' || true)" = 0
test "$(answers w100.jsonl)" = 0
test "$(answers w0.jsonl)" -gt 100
test "$(jq -r .text w100.jsonl | grep -c -E '^(A|Answer):$')" -gt 50
test "$(reduced w0.jsonl)" = 0
test "$(reduced w100.jsonl)" -gt 500
# pages in the template's plain form, some under an instruction naming a tag
test "$(jq -r .text a.jsonl | grep -c '^User: What is ')" -gt 200
test "$(jq -r .text a.jsonl | grep -c -E '^Think inside <[a-z]+> </[a-z]+>, then give the answer in ')" -gt 50
init -c "$TESTDIR/../update/tiny.json" -o ck > /dev/null
pack -m ck -L 512 -q a.jsonl -o p.jsonl
pack --check -L 512 -q p.jsonl
test "$(jq -s 'map(.segments | length) | add' p.jsonl)" = 500
! tasks corpus --worked 101 2> err
grep -q -- "--worked" err
! tasks chain --worked 5 2> err
grep -q "applies to 'corpus' only" err
# the mix: --dialogs 0 no question-and-answer page, --told 0 no
# instruction line, --dialog-worked sets their answers apart from the
# problem pages (--worked)
tasks corpus -n 500 --seed 2 --dialogs 0 > d0.jsonl
test "$(jq -r .text d0.jsonl | grep -c '^User: ' || true)" = 0
test "$(jq -r .text d0.jsonl | grep -c -E '^(Q|Question): What is ')" -gt 300
tasks corpus -n 500 --seed 2 --told 0 > t0.jsonl
test "$(jq -r .text t0.jsonl | grep -c '^Think inside ' || true)" = 0
test "$(jq -r .text t0.jsonl | grep -c '^User: What is ')" -gt 200
tasks corpus -n 500 --seed 2 --told 100 --dialogs 75 > t100.jsonl
test "$(jq -r .text t100.jsonl | grep -c '^Think inside ')" -gt 300
tasks corpus -n 500 --seed 2 --worked 100 --dialog-worked 0 > dw0.jsonl
test "$(reduced dw0.jsonl)" = 0
test "$(jq -r .text dw0.jsonl | grep -c -E '^(A|Answer):$')" -gt 50
tasks corpus -n 500 --seed 2 --worked 0 --dialog-worked 100 > dw100.jsonl
test "$(reduced dw100.jsonl)" -gt 500
test "$(jq -r .text dw100.jsonl | grep -c -E '^(A|Answer):$' || true)" = 0
# --reduce: the worked problem pages reduce the sum as the
# question-and-answer pages do, with no running-sum line; those pages are
# as without it
tasks corpus -n 500 --seed 2 --worked 100 --dialogs 0 > p100.jsonl
tasks corpus -n 500 --seed 2 --worked 100 --dialogs 0 --reduce > r100.jsonl
test "$(reduced p100.jsonl)" = 0
test "$(reduced r100.jsonl)" -gt 500
after() { jq -r .text "$1" | grep -A1 -E '^(A|Answer):$' | grep -c -E '^[0-9]+ \+ [0-9]+ = ' || true; }
test "$(after p100.jsonl)" -gt 100
test "$(after r100.jsonl)" = 0
tasks corpus -n 500 --seed 2 --reduce > ra.jsonl
dialog ra.jsonl | cmp - "$(dialog a.jsonl > a.dialog.jsonl; echo a.dialog.jsonl)"
! tasks chain --reduce 2> err
grep -q "applies to 'corpus' only" err
# --turns 1: every page asks one question; the default asks one or two
tasks corpus -n 500 --seed 2 --turns 1 > n1.jsonl
dialog n1.jsonl | jq -e -s 'length > 200 and all(.[]; [.text | match("(^|\n)User: "; "g")] | length == 1)' > /dev/null
dialog a.jsonl | jq -e -s 'map([.text | match("(^|\n)User: "; "g")] | length) | unique == [1, 2]' > /dev/null
tasks corpus -n 500 --seed 2 --turns 4 > n4.jsonl
dialog n4.jsonl | jq -e -s 'map([.text | match("(^|\n)User: "; "g")] | length) | unique == [1, 2, 3, 4]' > /dev/null
! tasks corpus --turns 5 2> err
grep -q -- "--turns" err
! tasks chain --turns 1 2> err
grep -q "applies to 'corpus' only" err
! tasks corpus --dialogs 76 2> err
grep -q -- "--dialogs" err
! tasks corpus --told 101 2> err
grep -q -- "--told" err
! tasks corpus --dialog-worked -1 2> err
grep -q -- "--dialog-worked" err
