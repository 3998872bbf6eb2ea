# A group that comes back later in the stream was split: an error naming
# the line, or a reject under --max-errors.
printf '%s\n' '{"group":"a","reward":1}' '{"group":"b","reward":0}' '{"group":"a","reward":0}' > in.jsonl
if stats in.jsonl > out 2> err; then exit 1; fi
grep -qx "stats: in.jsonl:3: field 'group': group 'a' is split: its records are not consecutive" err
stats -j --max-errors 1 --rejects rej.jsonl in.jsonl > out 2> err
jq -e '.records == 2 and .groups == 2' out > /dev/null
jq -e '.line == 3 and .record == {"group":"a","reward":0}' rej.jsonl > /dev/null
