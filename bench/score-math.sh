#!/bin/sh
# bench/score-math.sh - score-math speed in records per second on one core,
# on GSM8K-style sample records: the question, the worked answer ending in
# "#### N", a completion with a <think> block and a boxed number (half of
# them right), about 1 KB a record.  Also score-format, and a passthrough
# (the record I/O alone) as the floor.
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
