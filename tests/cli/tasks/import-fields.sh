# Field checks with jq against the raw files: answers, ids, tests.
# GSM8K: the answer is the text after "#### " without commas (sed here).
tasks gsm8k "$DATA/gsm8k/test.jsonl" > g.jsonl
jq -r '.answer' "$DATA/gsm8k/test.jsonl" | sed -n 's/.*#### //p' | tr -d , > want
jq -r '.answer' g.jsonl > got
cmp want got
jq -e -s 'all(.[]; .answer as $a | .domain == "math" and (.response | endswith("The answer is \\boxed{" + $a + "}.")))' g.jsonl > /dev/null
test "$(jq -r .id g.jsonl | sort -u | wc -l)" = 1319
test "$(head -n 1 g.jsonl | jq -r .id)" = gsm8k/test/0
test "$(tasks gsm8k --id-prefix x/ "$DATA/gsm8k/test.jsonl" | tail -n 1 | jq -r .id)" = x/1318
! grep -q '<<' g.jsonl
tasks gsm8k --raw "$DATA/gsm8k/test.jsonl" | jq -r .response | grep -q '<<16-3-4=9>>'
# MATH: answer, subject kept, level an integer 1-5, ids distinct.
tasks math "$DATA/math/test.jsonl.zst" > m.jsonl
zstd -dc "$DATA/math/test.jsonl.zst" | jq -r .answer > want
jq -r .answer m.jsonl > got
cmp want got
jq -e -s 'all(.[]; (.level | type) == "number" and .level >= 1 and .level <= 5 and (.subject | length) > 0)' m.jsonl > /dev/null
test "$(jq -r .id m.jsonl | sort -u | wc -l)" = 5000
tasks math "$DATA/math500/test.jsonl" > m5.jsonl
jq -s -c 'map(.level) | group_by(.) | map(length)' m5.jsonl | grep -qx '\[43,90,105,128,134\]'
# HumanEval: one test, the upstream test plus check(entry_point).
tasks humaneval "$DATA/humaneval/HumanEval.jsonl" > h.jsonl
jq -e -s 'all(.[]; . as $r | .domain == "code" and .lang == "python" and (.tests | length) == 1
    and (.tests[0].assert | endswith("\ncheck(" + $r.entry_point + ")\n"))
    and (.response | startswith("```python\n" + $r.code_prompt)))' h.jsonl > /dev/null
jq -r '.test' "$DATA/humaneval/HumanEval.jsonl" | md5sum > want
jq -r '.tests[0].assert | sub("\ncheck\\([A-Za-z_0-9]+\\)\n$"; "")' h.jsonl | md5sum > got
cmp want got
# MBPP: a test per test_list entry; the setup code in front of each.
tasks mbpp "$DATA/mbpp/mbpp.jsonl" > b.jsonl
jq -s -c 'map(.test_list | length)' "$DATA/mbpp/mbpp.jsonl" > want
jq -s -c 'map(.tests | length)' b.jsonl > got
cmp want got
jq -e -s 'map(select(.id == "mbpp/367"))[0].tests | all(.[]; .assert | startswith("root = Node(1) \nroot.left"))' b.jsonl > /dev/null
jq -e -s 'all(.[]; (.prompt | contains("Your code should pass this test:\n\nassert")) and (.response | contains("\r") | not))' b.jsonl > /dev/null
