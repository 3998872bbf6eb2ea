# Code tasks as score-code runs them: the reference responses pass every
# test in the sandbox, a response with the wrong operation fails; each
# assert's value is recomputed by awk from the prompt; --ops picks the
# operations; the same seed gives the same records, -n 5 is a prefix.
tasks code -n 20 --seed 3 -r > c.jsonl
jq -c '.completion = .response' c.jsonl > right.jsonl
score-code -q -o right.scored.jsonl right.jsonl
jq -e -s 'length == 20 and all(.[]; .rewards.code == 1 and .code_reason == "correct")' right.scored.jsonl > /dev/null
jq -c '.completion = (.response | sub("return x [-+*]"; "return x //"))' c.jsonl > wrong.jsonl
score-code -q -o wrong.scored.jsonl wrong.jsonl
jq -e -s 'all(.[]; .rewards.code < 1)' wrong.scored.jsonl > /dev/null
jq -r '.prompt as $p | .tests[] | [$p, .assert] | @tsv' c.jsonl | awk -F '\t' '
{
    split($1, w, " "); op = w[9]; k = w[10]; sub(/\.$/, "", k)
    if (split($2, a, /[() =]+/) != 4) { print "bad assert: " $2; exit 1 }
    x = a[3]; y = a[4]
    want = op == "+" ? x + k : op == "-" ? x - k : x * k
    if (y != want) { print "wrong value: " $0; exit 1 }
    n++
}
END { if (n != 60) exit 1 }'
jq -e -s 'all(.[]; .domain == "code" and .lang == "python")' c.jsonl > /dev/null
tasks code -n 30 --ops '*' > m.jsonl
jq -e -s 'all(.[]; .prompt | test("returns x \\* [1-9]\\.$"))' m.jsonl > /dev/null
tasks code -n 30 --max-term 2 > t.jsonl
jq -e -s 'all(.[]; .prompt | test(" [12]\\.$"))' t.jsonl > /dev/null
tasks code -n 5 --seed 3 -r | cmp - "$(head -n 5 c.jsonl > h; echo h)"
! tasks code --ops '+/' 2> err
grep -q -- "--ops" err
