# --json, --threshold, --reward, -k and --answer-key on samples.jsonl
# (values by hand; see table.sh).
S="$TESTDIR/samples.jsonl"
stats --json "$S" > j.json
jq -e '.records == 6 and .groups == 2 and .accuracy == (2/6) and .reward_mean == (2.5/6)
    and .["pass@k"] == {"1": 0.375, "2": 0.75, "4": 1}
    and .["maj@k"] == {"1": 1, "2": 1, "4": 0}
    and .finish == {"length": 1, "stop": 5}
    and .chars.max == 14 and .tokens.n == 6
    and .domains.code["maj@k"]["1"] == null and .domains.math.chars.p50 == 7' j.json > /dev/null
# reward 0.5 counts as correct at -t 0.5: a 1 of 4, b 2 of 2
stats -j -t 0.5 "$S" | jq -e '.accuracy == 0.5 and .domains.code["pass@k"]["2"] == 1
    and .domains.code["pass@k"]["1"] == 1' > /dev/null
# rewards.math only exists on the math records
stats -j --reward rewards.math "$S" | jq -e '.rewarded == 4 and .accuracy == 0.25
    and .domains.code.rewarded == null' > /dev/null
# chosen k: pass@3 of a = 1 - C(3,3)/C(4,3) = 3/4; b is too small
stats -j -k 1,3 "$S" | jq -e '.["pass@k"] == {"1": 0.375, "3": 0.75}
    and .domains.code["pass@k"]["3"] == null' > /dev/null
# with the completions' \boxed{} only (no such key): a0 4, a1 5, a2 a3 no
# answer, so maj@4 is 4 against 5, a tie that goes to 4 (seen first)
stats -j --answer-key none "$S" | jq -e '.["maj@k"]["4"] == 1' > /dev/null
# -o writes the table to a file
stats -o t.txt "$S"
cmp t.txt "$TESTDIR/table.stdout"
