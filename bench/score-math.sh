#!/bin/sh
# bench/score-math.sh - score-math speed in records per second on one core,
# on GSM8K-style sample records: the question, the worked answer ending in
# "#### N", a completion with a <think> block and a boxed number (half of
# them right), about 1 KB a record.  Also score-format, and a passthrough
# (the record I/O alone) as the floor.  Then real references: the GSM8K
# and MATH test sets, each answer written by bench/math-styles.jq into
# model-style completions (boxed, "The answer is", Minerva's sentence,
# $...$, \[...\], "Answer:", units, thousands separators, "####"), half
# right and half wrong, scored against their known truth: the accuracy of
# the reward, its false "correct" and false "wrong" counts per style, and
# the throughput on them.
#
# Peer: Math-Verify (huggingface/Math-Verify) is a Python package that is
# not installable here (no PyPI access), so no side-by-side ratio is taken.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT="$TOP/bench/out"
N=${N:-200000}
mkdir -p "$OUT"
make -s -C "$TOP" bin/score-math bin/score-format
F="$OUT/gsm8k-samples-$N.jsonl"
if [ ! -e "$F" ]; then
    awk -v n="$N" 'BEGIN {
        srand(1);
        for (i = 0; i < n; i++) {
            a = int(rand() * 100000); b = int(rand() * 1000); ans = a + b;
            got = (i % 2) ? ans : ans + 1;
            printf "{\"id\":\"gsm8k-%d\",\"domain\":\"math\",\"prompt\":\"Natalia sold clips to %d of her friends in April, and then she sold %d more clips in May. How many clips did Natalia sell altogether in April and May?\",", i, a, b;
            printf "\"answer\":\"Natalia sold %d clips in April.\\nShe sold %d + %d = <<%d+%d=%d>>%d clips altogether in April and May.\\n#### %d\",", a, a, b, a, b, ans, ans, ans;
            printf "\"group\":\"gsm8k-%d\",\"k\":%d,", int(i / 8), i % 8;
            printf "\"completion\":\"<think>\\nIn April she sold %d clips. In May she sold %d more, so the total is %d + %d. Let me add: %d.\\n</think>\\nNatalia sold %d clips in April and %d in May, so altogether she sold $%d + %d = \\\\boxed{%d}$ clips.\",\"finish\":\"stop\"}\n", a, b, a, b, got, a, b, a, b, got;
        }
    }' > "$F"
fi
MB=$(wc -c < "$F" | awk '{ printf "%.1f", $1 / 1e6 }')
command -v taskset > /dev/null || { echo "taskset (util-linux) is needed"; exit 1; }
# Best of 3 runs pinned to one core: wall-clock seconds and CPU seconds
# (user + sys).  On a shared machine the CPU time is the fairer figure.
best() {
    bw= bc=
    for k in 1 2 3; do
        /usr/bin/time -f "%e %U %S" -o "$OUT/time" taskset -c 0 sh -c "$1" > /dev/null
        read -r w u s < "$OUT/time"
        c=$(echo "$u $s" | awk '{ print $1 + $2 }')
        bw=$(echo "$w ${bw:-1e9}" | awk '{ print ($1 < $2 ? $1 : $2) }')
        bc=$(echo "$c ${bc:-1e9}" | awk '{ print ($1 < $2 ? $1 : $2) }')
    done
    echo "$bw $bc"
}
rate() {
    echo "$1" | awk -v n="$N" -v mb="$MB" '{
        printf "wall %7.3f s %9.0f rec/s   cpu %7.3f s %9.0f rec/s %6.1f MB/s", $1, n / $1, $2, n / $2, mb / $2 }'
}
sm=$(best "'$TOP/bin/score-math' '$F'")
sf=$(best "'$TOP/bin/score-format' '$F'")
pt=$(best "'$TOP/bin/score-math' --domain none '$F'")
echo "input: $N records, $MB MB ($F); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "score-math                  $(rate "$sm")"
echo "score-format                $(rate "$sf")"
echo "passthrough (other domain)  $(rate "$pt")"
echo "$sm" | awk -v n="$N" '{ r = n / $2; printf "goal 100000 records/s on one core (cpu time): %s (%.2fx)\n", (r >= 100000 ? "met" : "NOT met"), r / 100000 }'
"$TOP/bin/score-math" "$F" | awk -F'"reason":"' '{ split($2, a, "\""); c[a[1]]++ } END { for (k in c) printf "check: %s %d\n", k, c[k] }' | sort
# Real references in model styles, with the known truth.
DATA=${DATA:-$TOP/../shared/data}
S="$OUT/styles.jsonl"
if [ -e "$DATA/gsm8k/test.jsonl" ] && [ -e "$DATA/math/test.jsonl.zst" ]; then
    {
        jq -c '{src: "gsm8k", answer: .answer, ans: (.answer | split("#### ") | last)}' \
            "$DATA/gsm8k/test.jsonl"
        zstd -dc "$DATA/math/test.jsonl.zst" | jq -c '{src: "math", answer: .answer, ans: .answer}'
    } | jq -c -s '. as $a | range(0; length) as $i | $a[$i]
        | . + {id: $i, other: (first(range(1; 50) as $d | $a[($i + $d) % ($a | length)]
                                | select(.src == $a[$i].src and .ans != $a[$i].ans) | .ans)
                                // "none")}
        | range(0; 4) as $k | . + {k: (($i * 4 + $k) % 18)}' \
      | jq -c -f "$TOP/bench/math-styles.jq" > "$S"
    NS=$(wc -l < "$S")
    st=$(N=$NS best "'$TOP/bin/score-math' '$S'")
    echo "model-style completions: $NS records from GSM8K and MATH test references"
    echo "$st" | awk -v n="$NS" '{ printf "score-math on them         wall %7.3f s %9.0f rec/s   cpu %7.3f s %9.0f rec/s\n", $1, n / $1, $2, n / $2 }'
    "$TOP/bin/score-math" -q "$S" | jq -r '[.style, .truth, .rewards.math] | @tsv' | awk -F'\t' '
        { n++; s[$1]++; if ($2 == $3) ok++; else if ($3 == 1) { fc++; fcs[$1]++ } else { fw++; fws[$1]++ } }
        END {
            printf "reward accuracy against the truth: %d of %d (%.2f%%); false correct %d, false wrong %d\n", ok, n, 100 * ok / n, fc, fw
            for (k in s) printf "  %-12s %5d records: false correct %d, false wrong %d\n", k, s[k], fcs[k], fws[k] | "sort"
        }'
    echo "(a false correct in MATH can be a true one: another problem's answer"
    echo " of the same value, such as 144 m^3 against 144 degrees, both 144)"
fi
