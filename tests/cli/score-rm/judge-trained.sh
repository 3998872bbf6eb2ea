# A tiny judge taught by SFT to answer two short templates: pairwise
# ("[[A]]"/"[[B]]", its SFT records made by pipelines/judge-sft.sh from
# preference pairs with rationales) and against a reference ("Score: 1/1"
# or "Score: 0/1").  Through score-rm --judge its verdicts parse (at least
# 90% of them), and each reward is what its verdict says, worked out here
# by jq from the verdict text: [[A]] 1 and [[B]] 0 (the reverse with
# --swap), Score: N/1 is N.  The rationale is the text before the verdict.
init -c "$TESTDIR/judge.json" -s 2 -o j0 &&
printf 'Q:{question}\nA:{response_a}\nB:{response_b}\n' > pair.txt &&
printf 'Q:{question}\nR:{reference}\nS:{response}\n' > ref.txt &&
tasks arithmetic -n 30 -d 1 --ops + -s 5 > prompts.jsonl &&
jq -c '. as $r | ($r.answer | tonumber) as $a | range(3) as $k
    | {id: "\($r.id)/\($k)", domain, prompt, chosen: $r.answer,
       rejected: "\(($a + 1 + (($a * 3 + $k * 5) % 7)) % 19)",
       rationale: "{chosen} is right."}' prompts.jsonl > pref.jsonl &&
sh "$TOP/pipelines/judge-sft.sh" -t pair.txt pref.jsonl > sft-pair.jsonl 2> log &&
cat log &&
jq -c '{id, domain, prompt, reference: .chosen} as $b
    | ($b + {completion: .chosen, response: "Same.\n\nScore: 1/1"}),
      ($b + {completion: .rejected, response: "Differs.\n\nScore: 0/1"})' pref.jsonl \
    | score-rm --render --all-domains --template ref.txt --reference-field reference \
    | jq -c '{id, domain: "judge", prompt: .judge_prompt, response}' > sft-ref.jsonl &&
cat sft-pair.jsonl sft-ref.jsonl | pack -q -m j0 -L 96 > sft.packed &&
update -q -m j0 -o judge --sft --lr 3e-3 --schedule constant --batch 16 --epochs 8 sft.packed &&
jq -c 'select(.id | endswith("/2")) | {id, domain, prompt, reference: .chosen, completion: .chosen, other: .rejected},
    {id, domain, prompt, reference: .chosen, completion: .rejected, other: .chosen}' pref.jsonl > held.jsonl &&
score-rm --judge -m judge --template pair.txt --second other --domain math -n 32 held.jsonl > pair.jsonl &&
score-rm --judge -m judge --template pair.txt --second other --swap --domain math -n 32 held.jsonl > swap.jsonl &&
score-rm --judge -m judge --template ref.txt --reference-field reference --domain math -n 32 held.jsonl > ref.jsonl
for f in pair swap ref; do
    jq -s --arg f "$f" '(map(select(.rm_judge.reason == "scored")) | length) as $ok
        | (map(select(.rm_judge.reason == "scored") | .rm_judge.verdict
               | if $f == "ref" then (capture("^Score: (?<n>[01])/1$").n | tonumber)
                 elif . == "[[A]]" then (if $f == "pair" then 1 else 0 end)
                 elif . == "[[B]]" then (if $f == "pair" then 0 else 1 end) else "bad" end)) as $want
        | (map(select(.rm_judge.reason == "scored") | .rewards.rm)) as $got
        | "\($f): verdicts \(if $ok >= 0.9 * length then "at least 90%" else $ok end),"
          + " rewards as the verdicts say: \($want == $got),"
          + " no verdict gives 0: \(map(select(.rm_judge.reason != "scored") | .rewards.rm) | all(. == 0))"' -r "$f.jsonl"
done
# the rationale and the verdict are the judge's text
jq -r 'select(.rm_judge.reason == "scored") | .rm_judge | (.rationale | test("^(Response [AB] is right|Same|Differs)\\.$")) and (.verdict | length > 0)' \
    pair.jsonl ref.jsonl | sort | uniq -c | awk '{ print $2 }'
