#!/bin/sh
# pipelines/lib.sh - small helpers the pipeline Makefiles call.
#
#   sh lib.sh pick SEED STEP N FILE   N prompt records of FILE (plain or zstd),
#                                     chosen reproducibly from SEED and STEP
#   sh lib.sh steps N                 "001 002 ... N", zero-padded
#   sh lib.sh pairs N                 "001:000:000 002:001:000 003:002:001 ...": each
#                                     step, the one before and the one before that
#                                     (000 at most)
#   sh lib.sh coretype                the OPENBLAS_CORETYPE to run with: the one
#                                     set, else named from /proc/cpuinfo (empty:
#                                     let OpenBLAS detect)
#   sh lib.sh refill N PROMPTS SAMPLES SCORED
#                                     dynamic sampling with refill: draws the
#                                     prompts of PROMPTS in their order, in
#                                     rounds of as many as are missing, until
#                                     N groups are not uniform (rewards not
#                                     all equal) or PROMPTS is used up; each
#                                     round runs $GEN then $SCORE (bash
#                                     commands, stdin to stdout); writes all
#                                     the drawn samples to SAMPLES and their
#                                     scores to SCORED (zstd, each whole)
#
# pick keys every line by an integer hash of (seed, step, line number),
# computed with exact integer arithmetic in awk (no rand(), whose sequence
# differs between awk implementations), sorts by the key and keeps the
# first N: the same selection on any machine.
set -eu
cmd=$1; shift
case $cmd in
pick)
    seed=$1 step=$2 n=$3 file=$4
    { if [ "$(head -c 4 "$file" | od -An -tx1 | tr -d ' ')" = 28b52ffd ]; then
          zstd -dc "$file"; else cat "$file"; fi; } |
    awk -v seed="$seed" -v step="$step" '
        function mix(x) {   # a 31-bit multiplicative hash step, exact in doubles
            x = (x * 48271) % 2147483647
            return x
        }
        {
            h = (seed * 7919 + step * 104729 + NR * 15485863) % 2147483647
            if (h == 0) h = 1
            h = mix(mix(mix(h)))
            printf "%010d\t%s\n", h, $0
        }' |
    sort -t "$(printf '\t')" -k1,1 -s | head -n "$n" | cut -f 2-
    ;;
steps)
    n=$1; i=1
    while [ "$i" -le "$n" ]; do printf '%03d ' "$i"; i=$((i + 1)); done
    echo
    ;;
pairs)
    n=$1; i=1
    while [ "$i" -le "$n" ]; do
        printf '%03d:%03d:%03d ' "$i" $((i - 1)) $((i > 1 ? i - 2 : 0)); i=$((i + 1))
    done
    echo
    ;;
coretype)
    # OpenBLAS chooses its kernels from the CPU it detects; some virtual
    # machines hide the flags it looks for and it falls back to generic
    # kernels several times slower.  A value already set is kept as it is.
    if [ -n "${OPENBLAS_CORETYPE:-}" ]; then echo "$OPENBLAS_CORETYPE"
    elif [ -r /proc/cpuinfo ] && grep -qw avx512f /proc/cpuinfo; then echo SkylakeX
    elif [ -r /proc/cpuinfo ] && grep -qw avx2 /proc/cpuinfo; then echo Haswell
    fi
    ;;
refill)
    n=$1 prompts=$2 samples=$3 scored=$4
    t=$samples.rounds
    rm -rf "$t"; mkdir -p "$t"
    total=$(wc -l < "$prompts") drawn=0 mixed=0 r=0
    while [ "$mixed" -lt "$n" ] && [ "$drawn" -lt "$total" ]; do
        tail -n +$((drawn + 1)) "$prompts" | head -n $((n - mixed)) > "$t/prompts.$r"
        bash -o pipefail -c "$GEN" < "$t/prompts.$r" > "$t/samples.$r"
        bash -o pipefail -c "$SCORE" < "$t/samples.$r" > "$t/scored.$r"
        m=$(jq -s '[group_by(.group)[] | select(map(.reward) | unique | length > 1)] | length' \
            "$t/scored.$r")
        drawn=$((drawn + $(wc -l < "$t/prompts.$r"))) mixed=$((mixed + m)) r=$((r + 1))
    done
    [ "$mixed" -ge "$n" ] ||
        echo "lib.sh refill: $prompts: $mixed groups not uniform after all $drawn prompts, fewer than $n" >&2
    i=0
    while [ "$i" -lt "$r" ]; do cat "$t/samples.$i"; i=$((i + 1)); done |
        zstd -q -c > "$samples.part"
    i=0
    while [ "$i" -lt "$r" ]; do cat "$t/scored.$i"; i=$((i + 1)); done |
        zstd -q -c > "$scored.part"
    mv "$samples.part" "$samples" && mv "$scored.part" "$scored"
    rm -rf "$t"
    ;;
*)
    echo "lib.sh: unknown command '$cmd'" >&2
    exit 2
    ;;
esac
