# bench/math-styles.jq - model-style completions with a known truth, from
# GSM8K and MATH references: input {src, id, ans, other, k}; output a
# sample record with "truth" 1 (the reference's own answer, in one of
# several styles) or 0 (another problem's answer, or the number off by
# one).  Styles: boxed, "The answer is", Minerva's sentence, the last $...$,
# \[...\], "Answer:", units, thousands separators, GSM8K's "####".
def commas: tostring | if test("^[0-9]{4,}$")
    then (. as $s | ($s | length) as $n
          | [range(0; $n)] | map($s[.:.+1]) | to_entries
          | map(if .key > 0 and (($n - .key) % 3 == 0) then "," + .value else .value end)
          | join(""))
    else . end;
def think: "<think>\nLet me work through the problem step by step.\n</think>\n";
. as $r
| ($r.k % 2 == 0) as $right
| (if $right then $r.ans
   elif $r.src == "gsm8k" then (($r.ans | gsub(","; "") | tonumber) + 1 | tostring)
   else $r.other end) as $a
| (($r.k / 2 | floor) % 9) as $style
| {id: ($r.src + "/" + ($r.id | tostring) + "/" + ($r.k | tostring)),
   domain: "math", answer: $r.answer, truth: (if $right then 1 else 0 end),
   style: (["boxed", "answer-is", "minerva", "dollar", "display", "answer-colon",
            "units", "separators", "hash"][$style]),
   completion: (think + (
     if $style == 0 then "Putting it together, the result is $\\boxed{" + $a + "}$."
     elif $style == 1 then "After simplifying, the answer is $" + $a + "$."
     elif $style == 2 then "We compute it directly.\nFinal Answer: The final answer is $" + $a + "$. I hope it is correct."
     elif $style == 3 then "Working it out, we get $" + $a + "$"
     elif $style == 4 then "Collecting the terms:\n\\[\n" + $a + "\n\\]"
     elif $style == 5 then "Answer: $" + $a + "$"
     elif $style == 6 then
       (if $r.src == "gsm8k" then "So in total it comes to " + $a + " dollars."
        elif ($a | test("^-?[0-9]+(\\.[0-9]+)?$")) then
          "So the answer is $\\boxed{" + $a + " \\text{ units}}$."
        else "So the answer is $\\boxed{" + $a + "}$." end)
     elif $style == 7 then
       (if $r.src == "gsm8k" then "The total is " + ($a | commas) + "."
        else "The answer is $" + $a + "$." end)
     else "So we have " + $a + ".\n#### " + $a end))}
