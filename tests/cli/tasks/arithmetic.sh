# Answers and every worked step recomputed by bc(1), exact at any size.
command -v bc > /dev/null || { echo "bc is not installed"; exit 77; }
tasks arithmetic -n 600 --seed 5 --digits 1-9 --with-response > a.jsonl
test "$(wc -l < a.jsonl)" = 600
jq -r '.prompt' a.jsonl | sed 's/^What is \(.*\)?$/\1/' > exprs
jq -r '.answer' a.jsonl > got
# every division is exact: the remainder is 0
grep '/' exprs | sed 's|/|%|' | bc | sort -u | grep -qx 0
bc < exprs > want
cmp want got
# each line "X op Y = Z" of every response
jq -r '.response' a.jsonl | grep ' = ' > steps
test "$(wc -l < steps)" -gt 600
sed 's/ = .*//' steps | bc > lhs
sed 's/.* = //' steps > rhs
cmp lhs rhs
jq -e -s 'all(.[]; .answer as $a | .response | startswith("<think>\n") and endswith("</think>\nThe answer is \\boxed{" + $a + "}."))' a.jsonl > /dev/null
# chosen digit counts and operations
tasks arithmetic -n 200 --digits 3 --ops '*' > b.jsonl
jq -r .prompt b.jsonl | grep -cE '^What is [1-9][0-9]{2} \* [1-9][0-9]{2}\?$' | grep -qx 200
tasks arithmetic -n 200 --ops - --digits 2 > c.jsonl
jq -e -s 'all(.[]; (.answer | tonumber) >= 0)' c.jsonl > /dev/null
tasks arithmetic -n 200 --ops - --digits 2 --negative > d.jsonl
jq -e -s 'any(.[]; (.answer | tonumber) < 0)' d.jsonl > /dev/null
