# tasks jsonl: any data set through a field map.  The gsm8k preset gives
# what tasks gsm8k gives (ids aside); the math preset takes MATH-500's
# problem and solution and, without its answer field, the solution's last
# \boxed{} (which is MATH-500's answer, checked here against it); a
# conversational data set maps its turns into messages; a bad record names
# the data set's own field.
tasks jsonl --preset gsm8k --id-prefix gsm8k/test/ "$DATA/gsm8k/test.jsonl" > g.jsonl &&
tasks gsm8k "$DATA/gsm8k/test.jsonl" | jq -c '{id, domain, prompt, answer, response}' > want &&
jq -c '{id, domain, prompt, answer, response}' g.jsonl | cmp - want &&
echo "gsm8k preset: as tasks gsm8k ($(wc -l < g.jsonl) records)" &&
jq -c '{problem, solution}' "$DATA/math500/test.jsonl" > m500.jsonl &&
tasks jsonl --preset math --id-prefix m/ m500.jsonl > m.jsonl &&
jq -r .answer "$DATA/math500/test.jsonl" > want &&
jq -r .answer m.jsonl > got &&
paste want got | awk -F'\t' '$1 != $2' | wc -l | sed 's/^/math preset: answers not the last boxed: /' &&
head -n 1 m.jsonl | jq -c 'keys' &&
cat > raw.jsonl <<'X'
{"uid":"a1","conversations":[{"role":"system","content":"Be terse."},{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}],"src":"x"}
{"uid":"a2","conversations":[{"role":"user","content":"hi"}],"src":"y"}
{"question":"Q","gold":42}
X
head -n 2 raw.jsonl | tasks jsonl --map id=uid,messages=conversations --domain chat > c.jsonl &&
cat c.jsonl &&
sed -n 3p raw.jsonl | tasks jsonl --map prompt=question,answer=gold &&
{ tasks jsonl --map messages=conversations,prompt=uid raw.jsonl; echo "exit $?"; } 2>&1 &&
{ tasks jsonl --map answer=nosuch raw.jsonl; echo "exit $?"; } 2>&1 &&
{ tasks jsonl --map bogus=x raw.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ tasks jsonl --preset gsm8k raw.jsonl; echo "exit $?"; } 2>&1 &&
{ tasks gsm8k --map prompt=q raw.jsonl; echo "exit $?"; } 2>&1 | head -n 1
