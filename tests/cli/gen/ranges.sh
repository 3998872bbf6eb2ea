# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
usage_errors "gen -m ck" p.jsonl "--top-p 1.5" "--top-k -1" "--min-p 2" "-G 0" \
    "--max-tokens 0" "--stop=" "--seed 9223372036854775808" "-f vicuna" "--format vicuna" \
    "--threads 0" "--batch 65537" "--endpoint rest" "--concurrency 0" "--timeout 0" "--dtype f16"
