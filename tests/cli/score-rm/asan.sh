# Routing, normalization and the error cases again under ASan + UBSan (any
# report or leak fails), with the same expected output, and a short judge
# run: verdict-less records, pass-through order, --render.
test -x "$ASAN_BIN/score-rm" || { echo "skipped: $ASAN_BIN/score-rm not built (make tests-build)"; exit 77; }
PATH="$ASAN_BIN:$PATH"
for t in routing norm errors; do
    mkdir "$t" && (cd "$t" && . "$TESTDIR/$t.sh") > "$t.out" 2> "$t.err" || { cat "$t.err"; exit 1; }
    diff -u "$TESTDIR/$t.stdout" "$t.out"
    ! grep -e 'runtime error' -e 'AddressSanitizer' -e 'LeakSanitizer' "$t.err" "$t"/err 2>/dev/null
done
init -c "$TESTDIR/judge.json" -s 1 -o judge
printf 'Q:{question}\nA:{response_a}\nB:{response_b}\n' > pair.txt
printf '%s\n' '{"id":"a","domain":"qa","prompt":"p","completion":"x","other":"y"}' \
    '{"id":"b","domain":"math","prompt":"q","completion":"z"}' \
    '{"id":"c","domain":"qa","prompt":"r","completion":"u","other":"v"}' > in.jsonl
score-rm --judge -m judge --template pair.txt --second other --swap -n 8 --batch 2 in.jsonl > out.jsonl
jq -c '[.id, .rm_judge.reason, .reward]' out.jsonl | tr '\n' ' '; echo
score-rm --render --template pair.txt --second other in.jsonl | jq -c .judge_prompt | tr '\n' ' '; echo
