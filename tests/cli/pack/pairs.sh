# Preference records become chosen/rejected segment pairs kept together in
# one sequence: pair 1 then 0, margin on both; text pairs need -m.
init -c "$TESTDIR/../update/tiny.json" -o ck &&
printf '%s\n' '{"id":"x","prompt":"1+1=","chosen":"2","rejected":"3","margin":0.5}' \
    '{"id":"y","prompt":"2+2=","chosen":"4","rejected":"5","margin":1}' >pref.jsonl &&
pack -m ck -L 24 pref.jsonl >out.jsonl &&
jq -c '[.segments, .pair, .margin, .src]' out.jsonl &&
printf '%s\n' '{"id":"z","prompt_ids":[1,2],"chosen_ids":[3],"rejected_ids":[4,5]}' |
    pack -L 8 | jq -c '[.ids, .segments, .loss_mask, .pair]' &&
pack --check out.jsonl
