#!/bin/sh
# bench/score-code.sh - score-code throughput and sandbox overhead.
#
# Trivial programs (echo stdin to stdout) in Python and C, scored with -j 1
# and -j 2: tests per second.  Overhead per test: score-code -j 1 against
# the same program run bare, once per test, by a shell loop (fork, exec,
# pipes: what the sandbox's runner does too), as (sandboxed - bare) / tests.
# Two shapes: 10 tests per sample (one sandbox for ten tests) and 1 test
# per sample (a sandbox per test: the worst case).
#
#   sh bench/score-code.sh [SAMPLES]     (default 40)
# Goals: overhead <= 5 ms per test, >= 100 Python tests/s with -j 2.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
SC="$TOP/bin/score-code"
N=${1:-40}
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-score-code.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
[ -x "$SC" ] || { echo "build bin/score-code first (make)"; exit 1; }

printf 'import sys\nsys.stdout.write(sys.stdin.read())\n' > prog.py
cat > prog.c <<'C'
#include <stdio.h>
int main(void) { int c; while ((c = getchar()) != EOF) putchar(c); return 0; }
C
gcc -std=c17 -O2 -o prog prog.c -lm

# records LANG SRC TESTS_PER_SAMPLE
records() {
    jq -nc --arg lang "$1" --rawfile src "$2" --argjson k "$3" --argjson n "$N" '
      range($n) as $i | {id: "b\($i)", domain: "code", lang: $lang,
        completion: ("```" + $lang + "\n" + $src + "```\n"),
        tests: [range($k) as $j | {input: "\($i) \($j)\n", output: "\($i) \($j)"}]}'
}

now() { date +%s.%N; }
# rate TESTS SECONDS
rate() { echo "$1 $2" | awk '{ printf "%.1f", $1 / $2 }'; }

# bare LANG TESTS: seconds to run the program TESTS times without a sandbox
bare() {
    t0=$(now); i=0
    while [ $i -lt "$2" ]; do
        if [ "$1" = python ]; then echo "$i" | /usr/bin/python3 prog.py > /dev/null
        else echo "$i" | ./prog > /dev/null; fi
        i=$((i + 1))
    done
    echo "$(now) $t0" | awk '{ print $1 - $2 }'
}

echo "score-code benchmark: $N samples, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-9s %4s %10s %10s %12s\n' lang tests/smp jobs tests/s bare/s overhead_ms
for lang in python c; do
    src=prog.py; [ $lang = c ] && src=prog.c
    for k in 10 1; do
        records $lang $src $k > in.jsonl
        tests=$((N * k))
        tb=$(bare $lang $tests)
        for j in 1 2; do
            t0=$(now)
            "$SC" -j $j in.jsonl > out.jsonl
            t1=$(now)
            ts=$(echo "$t1 $t0" | awk '{ print $1 - $2 }')
            ok=$(jq -s '[.[] | select(.reward == 1)] | length' out.jsonl)
            [ "$ok" = "$N" ] || { echo "only $ok of $N samples passed"; exit 1; }
            ov=-
            # Overhead is only meaningful against the serial bare loop.
            [ $j = 1 ] && ov=$(echo "$ts $tb $tests" | awk '{ printf "%.2f", ($1 - $2) * 1000 / $3 }')
            printf '%-8s %-9s %4s %10s %10s %12s\n' $lang $k $j "$(rate $tests "$ts")" \
                "$(rate $tests "$tb")" "$ov"
        done
    done
done
echo "(C rows include one compile per sample; the shared machine's load is above)"
