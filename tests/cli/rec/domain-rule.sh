# The domain rule (posttrain-records(5)), the same in every scorer: a
# "domain" that is not a string is a bad record; a record without one is
# scored only where every record is scored (score-format without
# --domain, score-rm --all-domains) and by score-math at its default; a
# --domain selection never takes it.  Each line: the scorer, then each
# record's id with s (scored), p (passed through) or r (rejected).
cat > in.jsonl <<'X'
{"id":"m","domain":"math","prompt":"1+1","answer":"2","completion":"<think>x</think>\\boxed{2}"}
{"id":"c","domain":"code","prompt":"f","completion":"```python\nprint(1)\n```","tests":[{"input":"","output":"1\n"}]}
{"id":"w","domain":"writing","prompt":"p","completion":"<think>x</think>y"}
{"id":"u","prompt":"1+1","answer":"2","completion":"<think>x</think>\\boxed{2}"}
{"id":"n","domain":7,"prompt":"1+1","answer":"2","completion":"<think>x</think>2"}
{"id":"a","domain":["math"],"prompt":"1+1","answer":"2","completion":"<think>x</think>2"}
X
init -c "$TOP/tests/cli/score-rm/rm.json" --reward -s 4 -o rm > /dev/null
route() {
    name=$1; shift
    rm -f rej.jsonl && : > rej.jsonl
    "$@" --max-errors 10 --rejects rej.jsonl in.jsonl > out.jsonl 2> err || true
    printf '%s:' "$name"
    jq -r --slurpfile o out.jsonl --slurpfile j rej.jsonl '
        .id as $i
        | if ([$j[] | select(.record.id == $i)] | length) > 0 then "r"
          elif ([$o[] | select(.id == $i and (.rewards != null))] | length) > 0 then "s"
          else "p" end
        | " \($i)=\(.)"' in.jsonl | tr -d '\n'
    echo
}
route score-math score-math
route score-math--domain-math score-math --domain math
route score-format score-format
route score-format--domain-math score-format --domain math
route score-code score-code
route score-rm score-rm -m rm
route score-rm--domain-math score-rm -m rm --domain math
route score-rm--all-domains score-rm -m rm --all-domains
# Fail-fast: each scorer, and stats (which groups by domain), names the
# file, the line and the field.
grep '"id":"n"' in.jsonl > n.jsonl
for s in score-math score-format score-code "score-rm -m rm" stats; do
    if $s n.jsonl > /dev/null 2> err; then exit 1; fi
    cat err
done
