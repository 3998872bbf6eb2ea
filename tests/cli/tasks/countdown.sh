# The reference expression uses each number once and evaluates (exactly,
# with Python's fractions) to the target; the prompt lists the numbers.
command -v python3 > /dev/null || { echo "python3 is not installed"; exit 77; }
tasks countdown -n 300 --seed 2 --numbers 3 --with-response > c3.jsonl
tasks countdown -n 300 --seed 2 --numbers 6 --max-number 20 --max-target 500 -r > c6.jsonl
cat > check.py <<'PY'
import json, re, sys
from fractions import Fraction
n = 0
for line in sys.stdin:
    r = json.loads(line)
    expr = re.search(r"\\boxed\{(.*)\}\.$", r["response"]).group(1)
    assert re.fullmatch(r"[0-9+\-*/() ]+", expr), expr
    used = sorted(int(x) for x in re.findall(r"[0-9]+", expr))
    assert used == sorted(r["numbers"]), (used, r["numbers"])
    val = eval(re.sub(r"([0-9]+)", r"Fraction(\1)", expr))
    assert val == r["target"] == int(r["answer"]), (expr, val, r["target"])
    assert 1 <= r["target"] <= int(sys.argv[1])
    assert ", ".join(map(str, r["numbers"])) in r["prompt"]
    assert len(r["numbers"]) == int(sys.argv[2])
    n += 1
print(n)
PY
test "$(python3 check.py 100 3 < c3.jsonl)" = 300
test "$(python3 check.py 500 6 < c6.jsonl)" = 300
jq -e -s 'all(.[]; .numbers | all(. >= 1 and . <= 20))' c6.jsonl > /dev/null
