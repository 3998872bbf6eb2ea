# --system FILE replaces the records' system prompt (or adds one); the
# record's own system is used otherwise.
init -c "$TESTDIR/small.json" --std 0.5 -s 3 -o ck
printf 'Be brief.\n' > sys.txt
printf '%s\n' '{"id":"a","prompt":"hi"}' '{"id":"b","prompt":"hi","system":"Be kind."}' > in.jsonl
gen -m ck -T 0 -n 2 in.jsonl > plain
gen -m ck -T 0 -n 2 --system sys.txt in.jsonl > sys
# builtin format: [bos] [system] SYS [user] PROMPT [assistant]
jq -c .prompt_ids plain
jq -c .prompt_ids sys
jq -r .policy plain | uniq | wc -l
