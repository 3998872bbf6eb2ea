# Every MATH and GSM8K test reference, boxed in a completion, scores 1;
# another record's different reference scores 0.  Exceptions must be the
# known ones listed in real-data.known (id, side, reason), no more, no less.
M="$DATA/math/test.jsonl.zst"
G="$DATA/gsm8k/test.jsonl"
if [ ! -e "$M" ] || [ ! -e "$G" ]; then echo "no MATH/GSM8K data under $DATA"; exit 77; fi
# records: own reference boxed (side "self"), the next different one (side "other")
pairs='. as $a | range(0; $a | length) as $i
  | ($a[$i]) as $r
  | (first(range(1; $a | length) as $k | $a[($i + $k) % ($a | length)]
           | select(.ref != $r.ref)) // $r) as $o
  | ({id: ($r.id + "/self"), domain: "math", answer: $r.answer,
      completion: ("<think>\nWork.\n</think>\nSo the answer is $\\boxed{" + $r.ref + "}$.")},
     {id: ($r.id + "/other"), domain: "math", answer: $r.answer,
      completion: ("<think>\nWork.\n</think>\nSo the answer is $\\boxed{" + $o.ref + "}$.")})'
zstd -dc "$M" | jq -c '{id: .unique_id, answer: .answer, ref: .answer}' | jq -c -s "$pairs" > math.jsonl
jq -c '{id: ("gsm8k/" + (input_line_number | tostring)), answer: .answer,
        ref: (.answer | split("#### ") | last)}' "$G" | jq -c -s "$pairs" > gsm8k.jsonl
test "$(wc -l < math.jsonl)" = 10000
test "$(wc -l < gsm8k.jsonl)" = 2638
score-math math.jsonl gsm8k.jsonl > scored.jsonl
test "$(wc -l < scored.jsonl)" = 12638
# exceptions: self not 1, other not 0
jq -r 'select((.id | endswith("/self")) != (.rewards.math == 1))
       | "\(.id) \(.math.reason)"' scored.jsonl | sort > exceptions
echo "$(wc -l < exceptions) exceptions of 12638:" >&2
cat exceptions >&2
sed -e '/^#/d' -e 's/ *#.*//' "$TESTDIR/real-data.known" | sort > known
diff -u known exceptions
