#!/bin/sh
# bench/score-code.sh - score-code throughput and sandbox overhead.
#
# Trivial programs (copy stdin to stdout) in Python and C, scored with
# -j 1 and -j 2: tests per second (wall clock).  The peer is the same
# program run bare, once per test, by a shell loop (fork, exec, a file on
# stdin: what the sandbox's runner does per test, minus the sandbox).
# Overhead per test = (score-code -j 1 - bare) / tests, in wall-clock and in
# CPU time (user + system of every process; steadier on a shared machine).
# cpu_cap/s is the rate the CPU time allows on all cores of an otherwise idle
# machine (cores * 1000 / cpu_ms per test): on a shared machine the
# wall-clock rates fall with the load, the CPU time much less.
# Two shapes: 10 tests per sample (one sandbox runs ten tests) and 1 test
# per sample (one sandbox per test: the worst case).  C rows include one
# compile per sample, so their overhead is mostly gcc's.
#
#   sh bench/score-code.sh [SAMPLES]     (default 40)
# Goals: overhead <= 5 ms per test; >= 100 Python tests/s with -j 2.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
SC="$TOP/bin/score-code"
N=${1:-40}
[ -x "$SC" ] || { echo "build bin/score-code first (make)"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-score-code.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

printf 'import sys\nsys.stdout.write(sys.stdin.read())\n' > prog.py
cat > prog.c <<'C'
#include <stdio.h>
int main(void) { int c; while ((c = getchar()) != EOF) putchar(c); return 0; }
C
gcc -std=c17 -O2 -o prog prog.c -lm
echo "1 2" > in.txt

# records LANG SRC TESTS_PER_SAMPLE
records() {
    jq -nc --arg lang "$1" --rawfile src "$2" --argjson k "$3" --argjson n "$N" '
      range($n) as $i | {id: "b\($i)", domain: "code", lang: $lang,
        completion: ("```" + $lang + "\n" + $src + "```\n"),
        tests: [range($k) as $j | {input: "\($i) \($j)\n", output: "\($i) \($j)"}]}'
}

# measure CMD: runs CMD in sh, prints "wall_s cpu_s" (cpu: user + sys of children)
measure() {
    sh -c 't0=$(date +%s.%N); '"$1"'; t1=$(date +%s.%N); echo "$t0 $t1"; times' \
        | awk 'NR == 1 { wall = $2 - $1 }
               NR == 3 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); cpu += a[1] * 60 + a[2] } }
               END { printf "%.4f %.4f\n", wall, cpu }'
}

echo "score-code benchmark: $N samples, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %5s %4s %8s %8s %9s %9s %9s %12s %11s\n' lang t/smp jobs tests/s bare/s \
    cpu_cap/s cpu_ms/t bare_ms/t over_wall_ms over_cpu_ms
for lang in python c; do
    src=prog.py; run="/usr/bin/python3 prog.py"
    [ $lang = c ] && { src=prog.c; run=./prog; }
    for k in 10 1; do
        records $lang $src $k > in.jsonl
        tests=$((N * k))
        set -- $(measure "i=0; while [ \$i -lt $tests ]; do $run < in.txt > /dev/null; i=\$((i + 1)); done")
        bw=$1 bc=$2
        for j in 1 2; do
            set -- $(measure "'$SC' -j $j in.jsonl > out.jsonl")
            sw=$1 scpu=$2
            ok=$(jq -s '[.[] | select(.reward == 1)] | length' out.jsonl)
            [ "$ok" = "$N" ] || { echo "only $ok of $N samples passed"; exit 1; }
            echo "$lang $k $j $tests $sw $scpu $bw $bc $(nproc)" | awk '{
                ow = "-"; oc = "-"
                if ($3 == 1) { ow = sprintf("%.2f", ($5 - $7) * 1000 / $4)
                               oc = sprintf("%.2f", ($6 - $8) * 1000 / $4) }
                printf "%-7s %5s %4s %8.1f %8.1f %9.1f %9.2f %9.2f %12s %11s\n", $1, $2, $3,
                    $4 / $5, $4 / $7, $9 * $4 / $6, $6 * 1000 / $4, $8 * 1000 / $4, ow, oc }'
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: other work runs too)"
