# 300 groups of 1 to 16 random rewards (0/1, a few levels, or continuous;
# some all equal) in every variant, against reference.py, within 1e-9
# relative.
command -v python3 > /dev/null || { echo "skipped: python3 is missing"; exit 77; }
awk 'BEGIN { srand(42); for (g = 0; g < 300; g++) { n = 1 + int(rand() * 16); t = g % 4
    for (k = 0; k < n; k++) {
        if (t == 0) r = (rand() < 0.3); else if (t == 1) r = int(rand() * 3) / 2
        else if (t == 2) r = rand() * 10 - 5; else r = 0.25
        printf "{\"group\":\"g%d\",\"k\":%d,\"reward\":%.17g}\n", g, k, r } } }' > in.jsonl
cmp_ref() {  # BASELINE SCALE POPULATION EPS BATCH -- advantage options
    python3 "$TESTDIR/reference.py" in.jsonl "$1" "$2" "$3" "$4" "$5" > want
    shift 6
    advantage -q "$@" in.jsonl > out
    jq '.advantage' out > got
    test "$(wc -l < want)" = "$(wc -l < in.jsonl)"
    paste got want | awk '{ d = $1 - $2; if (d < 0) d = -d; m = ($2 < 0 ? -$2 : $2)
        if (d > 1e-9 * (m > 1 ? m : 1)) { print "line " NR ": " $1 " vs " $2; bad = 1 } }
        END { exit bad }' || { echo "advantage $*"; exit 1; }
}
cmp_ref mean group 0 1e-4 0 --
cmp_ref mean group 1 1e-4 0 -- --population
cmp_ref mean group 0 0.01 0 -- --eps 0.01
cmp_ref mean none 0 1e-4 0 -- --dr-grpo
cmp_ref loo none 0 1e-4 0 -- --rloo
cmp_ref loo group 1 0 0 -- --baseline loo --scale group --population --eps 0
cmp_ref mean batch 0 1e-4 0 -- --scale batch
cmp_ref mean batch 1 1e-4 7 -- --batch 7 --population
cmp_ref loo batch 0 1e-6 5 -- --baseline loo --batch 5 --eps 1e-6
