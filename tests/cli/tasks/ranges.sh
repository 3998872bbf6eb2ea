# Option values out of range are usage errors (exit 2) naming the option
# as typed, with the usage line: each from its row of the option table.
. "$TESTDIR/../usage-errors.inc"
# An option of another source is one too.
usage_errors tasks "" "arithmetic --digits 0-3" "word --steps 5-2" "corpus --worked 101" \
    "countdown --max-target 0" "arithmetic -n 1000000000001" "jsonl --preset alpaca" \
    "mbpp --split dev" "chain --terms 13" "word --max-term 5" "gsm8k --seed 1" \
    "corpus --terms 3-4 --max-term 0"
