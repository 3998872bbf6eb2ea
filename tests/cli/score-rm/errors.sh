# Bad input: a record without completion or prompt, a domain that is not a
# string, a sample longer than the model's context are data errors naming
# file, line and field (exit 1), or with --max-errors go whole to the
# rejects file while the rest is scored; the wrong kind of checkpoint, a
# template with a misspelt placeholder, a pairwise template without
# --second and options of the other mode are refused before any record.
init -c "$TESTDIR/rm.json" --reward -s 4 -o rm
init -c "$TESTDIR/judge.json" -s 1 -o lm
printf '%s\n' '{"id":"a","domain":"qa","prompt":"p"}' > nocomp.jsonl
printf '%s\n' '{"id":"b","domain":"qa","completion":"c"}' > noprompt.jsonl
printf '%s\n' '{"id":"c","domain":3,"prompt":"p","completion":"c"}' > baddomain.jsonl
awk 'BEGIN { s = ""; for (i = 0; i < 200; i++) s = s "a"; printf "{\"id\":\"d\",\"domain\":\"qa\",\"prompt\":\"%s\",\"completion\":\"c\"}\n", s }' > long.jsonl
printf '%s\n' '{"id":"e","domain":"qa","prompt":"p","completion":"c"}' > good.jsonl
printf '%s\n' 'not json' > bad.jsonl
printf 'Q: {question}\nA: {respons}\n' > misspelt.txt
printf 'A: {response_a}\nB: {response_b}\n' > pair.txt
printf 'Q: {question}\nA: {response}\n' > q.txt
set +e
score-rm -m rm nocomp.jsonl > out 2> err; echo "exit $?"; cat err
score-rm -m rm noprompt.jsonl > out 2> err; echo "exit $?"; cat err
score-rm -m rm baddomain.jsonl > out 2> err; echo "exit $?"; cat err
score-rm -m rm long.jsonl > out 2> err; echo "exit $?"; cat err
score-rm -m rm bad.jsonl > out 2> err; echo "exit $?"; cat err
score-rm -m rm --with-reference good.jsonl > out 2> err; echo "exit $?"; cat err
score-rm --judge -m lm --template q.txt nocomp.jsonl > out 2> err; echo "exit $?"; cat err
score-rm --judge -m lm --template q.txt -n 4 long.jsonl > out 2> err; echo "exit $?"; cat err
score-rm -m lm good.jsonl > out 2> err; echo "exit $?"; cat err
score-rm --judge -m rm --template q.txt good.jsonl > out 2> err; echo "exit $?"; cat err
score-rm -m nowhere good.jsonl > out 2> err; echo "exit $?"; cat err
score-rm --judge -m lm --template misspelt.txt good.jsonl > out 2> err; echo "exit $?"; cat err
score-rm --judge -m lm --template missing.txt good.jsonl > out 2> err; echo "exit $?"; cat err
score-rm --judge -m lm --template pair.txt good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm --judge -m lm --template q.txt --second x good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm --judge -m lm good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm -m rm --template q.txt good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm --judge -m lm --template q.txt --fit-norm good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm -m rm --norm 0,1 --fit-norm good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm -m rm --batch 0 good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm -m rm --domain qa --all-domains good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
score-rm --render -m lm --template q.txt good.jsonl > out 2> err; echo "exit $?"; head -n 1 err
set -e
# under --max-errors the bad records go to the rejects and the rest is scored
cat nocomp.jsonl good.jsonl baddomain.jsonl long.jsonl good.jsonl > mixed.jsonl
score-rm -m rm --max-errors 3 --rejects rej.jsonl mixed.jsonl > out 2> err
jq -c '[.id, .rewards.rm != null]' out
cat err
jq -r '"\(.line) \(.field) \(.record.id)"' rej.jsonl
score-rm --judge -m lm --template q.txt -n 4 --max-errors 3 --rejects rej2.jsonl mixed.jsonl > out 2> err
jq -c '[.id, .rm_judge.reason]' out
jq -r '"\(.line) \(.field) \(.record.id)"' rej2.jsonl
