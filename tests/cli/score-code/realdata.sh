# Real data: every HumanEval canonical solution and every MBPP reference
# solution scores 1.0; the same problems with a wrong solution score < 1.
#
# Records are built as the HumanEval/MBPP importers make them: HumanEval's
# test plus check(entry_point) as one assert test, the completion being
# prompt + canonical solution in a ```python fence; MBPP's setup code plus
# each assert as one test.  To fit the time budget, all 974 MBPP problems
# run with their asserts joined into one test (a pass means every assert
# held), and every 16th problem also in the importer's one-test-per-assert
# form, right and wrong.  Wrong solutions: HumanEval's body replaced by
# `return None`; MBPP's functions redefined to return None.
. "$TESTDIR/sandbox-probe"
HE=$DATA/humaneval/HumanEval.jsonl
MB=$DATA/mbpp/mbpp.jsonl
[ -r "$HE" ] && [ -r "$MB" ] || { echo "HumanEval or MBPP missing under $DATA"; exit 77; }

jq -c '{id: .task_id, domain: "code", lang: "python", prompt: .prompt,
        entry_point: .entry_point,
        tests: [{assert: (.test + "\ncheck(" + .entry_point + ")\n")}],
        completion: ("Here is the function:\n```python\n" + .prompt
                     + .canonical_solution + "```\n")}' "$HE" > he.jsonl
jq -c 'select((.task_id | ltrimstr("HumanEval/") | tonumber) % 4 == 0)
       | {id: (.task_id + "/wrong"), domain: "code", lang: "python",
          tests: [{assert: (.test + "\ncheck(" + .entry_point + ")\n")}],
          completion: ("```python\n" + .prompt + "    return None\n```\n")}' "$HE" > he-wrong.jsonl
jq -c '{id: "mbpp/\(.task_id)/joined", domain: "code", lang: "python",
        tests: [{assert: ([.test_setup_code] + .test_list | join("\n"))}],
        completion: ("```python\n" + .code + "\n```")}' "$MB" > mb-joined.jsonl
jq -c 'select(.task_id % 16 == 0)
       | {id: "mbpp/\(.task_id)", domain: "code", lang: "python",
          tests: [.test_setup_code as $s | .test_list[] | {assert: ($s + "\n" + .)}],
          completion: ("```python\n" + .code + "\n```")}' "$MB" > mb.jsonl
jq -c 'select(.task_id % 16 == 0)
       | {id: "mbpp/\(.task_id)/wrong", domain: "code", lang: "python",
          tests: [.test_setup_code as $s | .test_list[] | {assert: ($s + "\n" + .)}],
          completion: ("```python\n" + .code + "\n"
            + ([.code | scan("def\\s+([A-Za-z_][A-Za-z_0-9]*)") | .[0]
                | "def \(.)(*a, **k):\n    return None\n"] | join("")) + "```")}' "$MB" \
    > mb-wrong.jsonl
test "$(wc -l < he.jsonl)" = 164
test "$(wc -l < mb-joined.jsonl)" = 974

cat he.jsonl he-wrong.jsonl mb-joined.jsonl mb.jsonl mb-wrong.jsonl > in.jsonl
# The CPU limit is what a solution must meet; the wall-clock limit is
# generous because the tests share the machine with other work.
score-code -j 2 -t 10 --wall 120 in.jsonl > out.jsonl
test "$(wc -l < out.jsonl)" = "$(wc -l < in.jsonl)"
# Output order is input order.
jq -r .id in.jsonl > ids-in && jq -r .id out.jsonl > ids-out && cmp ids-in ids-out
# Right solutions: 1.0 each (listed when not).
jq -r 'select((.id | endswith("/wrong") | not) and .reward != 1)
       | "\(.id) \(.reward) \(.code_verdicts)"' out.jsonl > bad-right
cat bad-right
test ! -s bad-right
test "$(jq -s '[.[] | select(.id | endswith("/wrong") | not)] | length' out.jsonl)" \
    = $((164 + 974 + $(wc -l < mb.jsonl)))
# Wrong solutions: below 1 each.
jq -r 'select((.id | endswith("/wrong")) and .reward >= 1) | .id' out.jsonl > bad-wrong
cat bad-wrong
test ! -s bad-wrong
test "$(jq -s '[.[] | select(.id | endswith("/wrong"))] | length' out.jsonl)" \
    = $(($(wc -l < he-wrong.jsonl) + $(wc -l < mb-wrong.jsonl)))
