#!/bin/sh
# tests/run.sh - runs every test and ends with "N passed, N failed".
#
#   sh tests/run.sh                 all tests, $JOBS at a time (default: nproc)
#   sh tests/run.sh PATTERN...      only tests whose label contains a PATTERN
#   UPDATE=1 sh tests/run.sh cli/x  rewrite the goldens of the tool tests run
#   ASAN=1 sh tests/run.sh cli/     the tool tests on the ASan + UBSan tools
#                                   (build/asan/bin first in PATH; ASAN=1
#                                   is in the tests' environment, so a
#                                   test of memory use can skip itself)
#
# Tests:
#   unit/test_M    build/test/test_M         lib/ unit test, plain build
#   asan/test_M    build/asan/test/test_M    the same under ASan + UBSan
#   fuzz/F         build/asan/fuzz/fuzz_F    replays tests/fuzz/corpus/F (ASan)
#   cli/T/C        tests/cli/T/C.sh          tool test, in a fresh directory,
#                  with bin/ first in PATH; compared with C.stdout, C.stderr
#                  and C.exit where they exist (else the exit must be 0)
#   asan-cli/badinput/C   the bad-input matrix again, with build/asan/bin
#                  first in PATH (ASan + UBSan tools)
# Exit status 77 means skipped (counted and reported, never as passed).
# Each test runs with TOP (the checkout), DATA (shared data sets), BIN and
# ASAN_BIN set, under a time limit of $TEST_TIMEOUT seconds (default 600).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
: "${DATA:=$TOP/../shared/data}"
DATA=$(cd "$DATA" 2>/dev/null && pwd || echo "$DATA")
export DATA BIN="$TOP/bin" ASAN_BIN="$TOP/build/asan/bin"
if [ "${ASAN:-}" = 1 ]; then
    export PATH="$TOP/build/asan/bin:$PATH" BIN="$TOP/build/asan/bin"
else
    export PATH="$TOP/bin:$PATH"
fi
: "${TEST_TIMEOUT:=600}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
RES="$TOP/build/test-results"

run_one() {
    label=$1
    log="$RES/$(echo "$label" | tr / _).log"
    dir=$(mktemp -d "${TMPDIR:-/tmp}/pt-test.XXXXXX")
    start=$(date +%s)
    case $label in
    unit/*) (cd "$dir" && timeout "$TEST_TIMEOUT" "$TOP/build/test/${label#unit/}") >"$log" 2>&1
            rc=$?; ok=$rc ;;
    asan/*) (cd "$dir" && timeout "$TEST_TIMEOUT" "$TOP/build/asan/test/${label#asan/}") >"$log" 2>&1
            rc=$?; ok=$rc ;;
    fuzz/*) (cd "$dir" && timeout "$TEST_TIMEOUT" "$TOP/build/asan/fuzz/fuzz_${label#fuzz/}" \
                "$TOP/tests/fuzz/corpus/${label#fuzz/}") >"$log" 2>&1
            rc=$?; ok=$rc ;;
    cli/*|asan-cli/*)
        case $label in asan-cli/*)
            PATH="$ASAN_BIN:$PATH" BIN=$ASAN_BIN ;;
        esac
        base="$TOP/tests/${label#asan-}"
        (cd "$dir" && TESTDIR=$(dirname "$base") timeout "$TEST_TIMEOUT" sh -e "$base.sh" \
            </dev/null >"$dir/.stdout" 2>"$dir/.stderr")
        rc=$?; ok=0
        if [ "${UPDATE:-}" = 1 ] && [ $rc -ne 77 ]; then
            [ -e "$base.stdout" ] && cp "$dir/.stdout" "$base.stdout"
            [ -e "$base.stderr" ] && cp "$dir/.stderr" "$base.stderr"
            if [ $rc -ne 0 ] || [ -e "$base.exit" ]; then echo $rc >"$base.exit"; fi
        fi
        want=0; [ -e "$base.exit" ] && want=$(cat "$base.exit")
        {
            echo "== stderr"; cat "$dir/.stderr"; echo "== stdout (head)"; head -c 4000 "$dir/.stdout"
            if [ $rc -eq 77 ]; then :;
            elif [ "$rc" != "$want" ]; then echo "== exit $rc, expected $want"; ok=1; fi
            if [ -e "$base.stdout" ] && ! diff -u "$base.stdout" "$dir/.stdout"; then ok=1; fi
            if [ -e "$base.stderr" ] && ! diff -u "$base.stderr" "$dir/.stderr"; then ok=1; fi
        } >"$log" 2>&1
        [ $rc -eq 77 ] && ok=77 ;;
    esac
    secs=$(( $(date +%s) - start ))
    rm -rf "$dir"
    case $ok in
    0) echo "PASS $label (${secs}s)" ;;
    77) echo "SKIP $label: $(tail -n 1 "$log")" ;;
    *) echo "FAIL $label (exit $rc, ${secs}s)"; sed 's/^/    /' "$log" | tail -n 40 ;;
    esac
}

if [ "${1:-}" = --one ]; then
    run_one "$2"
    exit 0
fi

mkdir -p "$RES"
list="$RES/list"
: >"$list"
for t in "$TOP"/build/test/test_*; do [ -x "$t" ] && echo "unit/$(basename "$t")"; done >>"$list"
for t in "$TOP"/build/asan/test/test_*; do [ -x "$t" ] && echo "asan/$(basename "$t")"; done >>"$list"
for t in "$TOP"/build/asan/fuzz/fuzz_*; do [ -x "$t" ] && echo "fuzz/${t##*/fuzz_}"; done >>"$list"
for t in "$TOP"/tests/cli/*/*.sh; do
    [ -e "$t" ] || continue
    c=${t#"$TOP"/tests/}; echo "${c%.sh}"
done >>"$list"
for t in "$TOP"/tests/cli/badinput/*.sh; do
    [ -e "$t" ] || continue
    c=${t#"$TOP"/tests/}; echo "asan-${c%.sh}"
done >>"$list"
if [ $# -gt 0 ]; then
    for p in "$@"; do grep -F -- "$p" "$list"; done | sort -u >"$list.sel"
    mv "$list.sel" "$list"
fi
out="$RES/summary"
xargs -P "${JOBS:-$(nproc)}" -I{} sh "$0" --one {} <"$list" | tee "$out"
pass=$(grep -c '^PASS' "$out")
fail=$(grep -c '^FAIL' "$out")
skip=$(grep -c '^SKIP' "$out")
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
