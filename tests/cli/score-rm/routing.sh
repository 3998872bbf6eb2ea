# Which records are scored: by default every domain but math and code
# (and not records without a domain, which score-math takes); --domain
# picks domains, --all-domains takes everything.  Records passed through
# come out byte for byte as they came in, in input order.  With
# --with-reference the reward model reads the prompt, a blank line,
# "Reference answer:" and the reference, as score-rm(1) documents.
init -c "$TESTDIR/rm.json" --reward -s 4 -o rm
cat > in.jsonl <<'EOR'
{"id":"1","domain":"math","prompt":"1+1","completion":"2","answer":"2"}
{"id":"2","domain":"writing","prompt":"A poem","completion":"Roses","response":"Violets"}
{"id":"3","domain":"code","prompt":"f","completion":"x"}
{"id":"4","prompt":"no domain","completion":"y"}
{"id":"5","domain":"roleplay","prompt":"Be a cat","completion":"Meow","response":"Purr"}
{"id":"6","domain":"qa","prompt":"Sky?","completion":"Blue","response":"Blue"}
EOR
score-rm -m rm in.jsonl | jq -r '"\(.id) \(.rewards.rm != null)"' | tr '\n' ' '; echo
score-rm -m rm --domain math --domain qa in.jsonl | jq -r '"\(.id) \(.rewards.rm != null)"' | tr '\n' ' '; echo
score-rm -m rm --all-domains in.jsonl | jq -r '"\(.id) \(.rewards.rm != null)"' | tr '\n' ' '; echo
score-rm -m rm in.jsonl > out.jsonl
grep -v rewards out.jsonl > passed.jsonl
grep -e '"1"' -e '"3"' -e '"4"' in.jsonl | cmp - passed.jsonl
# the reference in the text, built independently with jq
score-rm -m rm --with-reference in.jsonl | jq -c 'select(.rm) | [.id, .rm.score]' > with.txt
jq -c 'select(.domain == "writing" or .domain == "roleplay" or .domain == "qa")
    | .prompt += "\n\nReference answer:\n" + .response' in.jsonl \
    | score-rm -m rm | jq -c '[.id, .rm.score]' | cmp - with.txt
score-rm -m rm in.jsonl | jq -c 'select(.rm) | [.id, .rm.score]' | cmp -s - with.txt && echo "the reference changed nothing"
# the reference's field can be named
score-rm -m rm --with-reference --reference-field answer --domain math in.jsonl | jq -c "select(.rm) | .rm.score" > a.txt
jq -c 'select(.domain == "math") | .prompt += "\n\nReference answer:\n" + .answer' in.jsonl \
    | score-rm -m rm --domain math | jq -c .rm.score | cmp - a.txt
