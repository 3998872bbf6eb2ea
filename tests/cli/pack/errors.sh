# Bad input records: file, line, field and what is wrong; exit 1.  With
# --max-errors they go to --rejects and the rest is packed.
printf '%s\n' '{"prompt_ids":[1],"completion_ids":[2]}' \
    '{"prompt_ids":[1],"completion_ids":[]}' \
    '{"prompt_ids":[1,-2],"completion_ids":[3]}' \
    '{"prompt_ids":[1],"completion_ids":[2,3],"logprobs":[-1]}' \
    '{"prompt_ids":[1],"completion_ids":[2],"logprobs":[0.5]}' \
    '{"prompt_ids":[1],"completion_ids":[2],"advantage":"high"}' \
    '{"prompt":"x"}' \
    '{"prompt":"x","response":"y"}' \
    '[1,2]' \
    '{"prompt_ids":[1],"completion_ids":[2],"ref_logprobs":[-1]}' >bad.jsonl &&
for i in 2 3 4 5 6 7 8 9 10; do
    { sed -n "1p;${i}p" bad.jsonl | pack >/dev/null; echo "exit $?"; }
done 2>&1 &&
pack --max-errors 20 --rejects rej.jsonl bad.jsonl 2>&1 | sed 1d &&
jq -c '[.line, .field, .error]' rej.jsonl
