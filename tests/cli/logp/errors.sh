# Records logp cannot score exit 1 with file, line and field; usage errors 2.
init -c "$TESTDIR/../update/tiny.json" -o m &&
init -c "$TESTDIR/../update/tiny.json" --reward -o r &&
printf '%s\n' '{"prompt_ids":[1],"completion_ids":[2]}' \
    '{"prompt_ids":[1]}' \
    '{"prompt_ids":[],"completion_ids":[2]}' \
    '{"prompt_ids":[1],"completion_ids":[264]}' \
    '{"prompt_ids":[1],"completion_ids":"x"}' >bad.jsonl &&
awk 'BEGIN { printf "{\"prompt_ids\":[1],\"completion_ids\":["; for (i = 0; i < 130; i++) printf "%s2", i ? "," : ""; print "]}" }' >>bad.jsonl &&
for i in 2 3 4 5 6; do
    { sed -n "1p;${i}p" bad.jsonl | logp -m m >/dev/null; echo "exit $?"; }
done 2>&1 &&
logp -m m --max-errors 9 --rejects rej.jsonl bad.jsonl 2>&1 >/dev/null &&
{ logp -m r bad.jsonl; echo "exit $?"; } 2>&1 &&
{ logp bad.jsonl; echo "exit $?"; } 2>&1 &&
{ logp -m m --temperature 0 bad.jsonl; echo "exit $?"; } 2>&1 &&
logp --version && echo ok
