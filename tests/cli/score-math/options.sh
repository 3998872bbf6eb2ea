# The policy options, each against its default, on one record apiece:
# --places/--rtol, --percent number, --multiset, --tuple-brackets,
# --set-relation, --no-decimal-comma, --extract letter (and letters
# found without it when the reference is one); answers given as JSON
# numbers; NUL bytes inside strings are never cut.
rec() { printf '{"id":"%s","answer":%s,"completion":%s}\n' "$1" "$2" "$3"; }
{
rec places '"3.14"' '"so \\boxed{3.14159}"'
rec pct '"10\\%"' '"\\boxed{10}"'
rec multiset '"1, 1, 2"' '"\\boxed{2, 1}"'
rec brackets '"(3, 2)"' '"\\boxed{3, 2}"'
rec setrel '"(1, 2)"' '"\\boxed{1 < x < 2}"'
rec comma '"2.74"' '"It costs 2,74 euros."'
rec letter '"(C)"' '"Among the options, (C) Cecile is right."'
rec letter2 '"\\text{(B)}"' '"B. because the others fail"'
rec letter3 '"D"' '"La réponse est : D"'
rec letter4 '"C"' '"The answer is D. C is a trap."'
rec letter5 '"A"' '"答案：A"'
rec int 42 '"\\boxed{42}"'
rec real 0.25 '"\\boxed{\\frac{1}{4}}"'
rec neg -7 '"The answer is $-7$."'
rec nulcomp '"7"' '"\\boxed{7}\u0000 no, \\boxed{8}"'
rec nulans '"\\text{even}"' '"\\boxed{even\u0000odd}"'
rec nulref '"7\u00008"' '"\\boxed{7}"'
} > in.jsonl
show() { jq -c '[.id, .rewards.math, .math.reason, .math.method, .math.extracted]'; }
echo "# defaults"
score-math -q in.jsonl | show
echo "# options"
score-math -q --places 2 in.jsonl | jq -c 'select(.id == "places") | [.id, .rewards.math]'
score-math -q --rtol 1e-3 in.jsonl | jq -c 'select(.id == "places") | [.id, .rewards.math]'
score-math -q --percent number in.jsonl | jq -c 'select(.id == "pct") | [.id, .rewards.math]'
score-math -q --multiset in.jsonl | jq -c 'select(.id == "multiset") | [.id, .rewards.math]'
score-math -q --tuple-brackets in.jsonl | jq -c 'select(.id == "brackets") | [.id, .rewards.math]'
score-math -q --set-relation in.jsonl | jq -c 'select(.id == "setrel") | [.id, .rewards.math]'
score-math -q --no-decimal-comma in.jsonl | jq -c 'select(.id == "comma") | [.id, .rewards.math]'
score-math -q --extract letter in.jsonl | jq -c 'select(.id == "letter") | [.id, .rewards.math, .math.method]'
