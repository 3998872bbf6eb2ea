#!/bin/sh
# bench/llama.sh - posttrain beside llama.cpp in one run, at the
# SmolLM-135M and Qwen3-0.6B shapes, fp32 and bf16 weights, THREADS
# threads on both sides:
#
#   prefill  prompt processing of 512 tokens, tokens/s: posttrain's
#            infer_prefill() (bench/gen-decode.c --prefill) against
#            llama-bench pp512
#   decode   batch 1, tokens/s: lib/infer's KV-cache decode of 128 steps
#            after a 32-token prompt (bench/gen-decode.c) against
#            llama-bench tg128
#   batched  8 prompts x G=8 = 64 sequences, 16 steps after 32-token
#            prompts, tokens/s of the decode steps: gen-decode 8 8 16
#            against llama-batched-bench -npp 32 -ntg 16 -npl 64 -pps
#            (one 32-token prompt shared by the 64 sequences; posttrain's
#            8 prompts are each shared by their 8 sequences, as gen runs
#            them: the same decode work but for 7 more 32-token prefixes
#            read by attention)
#
# llama.cpp reads GGUF files that bench/to_gguf.py writes from one
# bin/init checkpoint (-s 1) per shape, F32 and BF16, with flash attention
# on (-fa 1); posttrain runs at --dtype f32 and bf16 (w16.h).  Before the
# figures, a check that the F32 GGUF holds the checkpoint's weights:
# llama.cpp's per-token log-probs of a 14-token sequence
# (bench/llama_logp.c, through llama.h) against logp(1)'s on the same
# checkpoint, within 1e-4 (fp32 sums in other orders), or the run stops;
# with llama.cpp's flash attention off, since its CPU kernel rounds
# through fp16 (bench/llama_logp.c).  The same comparison with flash
# attention on, and at bf16, is printed, not enforced.
#
# llama.cpp is not part of posttrain: it is built from its own source
# tree, outside this repository (bench/llama.md says which commit and
# how), and this script takes it from the environment:
#
#   LLAMA_CPP=/path/to/llama.cpp/build/bin sh bench/llama.sh
#   LLAMA_SRC     its source tree (default $LLAMA_CPP/../..): gguf-py, llama.h
#   LLAMA_COMMIT  its commit, for the header (default: $LLAMA_SRC/COMMIT if any)
#   Without LLAMA_CPP the script says so and exits 0 (make bench runs it).
#   THREADS (2), REPEAT (runs per posttrain figure, best kept; llama-bench's
#   -r, its best sample kept; default 2), SHAPES (smollm-135m qwen3-0.6b)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
if [ -z "${LLAMA_CPP:-}" ]; then # make bench runs every script: skip, saying why
    echo "bench/llama.sh: LLAMA_CPP unset (a llama.cpp build/bin directory, bench/llama.md): skipped" >&2
    exit 0
fi
LLAMA_SRC=${LLAMA_SRC:-$LLAMA_CPP/../..}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-2}
SHAPES=${SHAPES:-smollm-135m qwen3-0.6b}
PY=${PYTHON:-/usr/bin/python3}
OUT="$TOP/bench/out/llama"
export OMP_WAIT_POLICY=passive POSTTRAIN_THREADS="$THREADS"
for t in llama-bench llama-batched-bench; do
    [ -x "$LLAMA_CPP/$t" ] || { echo "bench/llama.sh: no $LLAMA_CPP/$t" >&2; exit 1; }
done
if [ ! -f "$LLAMA_SRC/include/llama.h" ] || [ ! -d "$LLAMA_SRC/gguf-py/gguf" ]; then
    echo "bench/llama.sh: $LLAMA_SRC is not llama.cpp's source tree (set LLAMA_SRC)" >&2
    exit 1
fi
$PY -c 'import numpy' 2>/dev/null ||
    { echo "bench/llama.sh: $PY lacks numpy (Debian's python3-numpy)" >&2; exit 1; }
if [ -z "${LLAMA_COMMIT:-}" ] && [ -f "$LLAMA_SRC/COMMIT" ]; then
    LLAMA_COMMIT=$(cat "$LLAMA_SRC/COMMIT")
fi

make -s build/libposttrain.a bin/init bin/logp
mkdir -p build/bench "$OUT"
LDLIBS=$(sed -n 's/^LDLIBS = //p' Makefile)
# shellcheck disable=SC2086
cc -O3 -march=native -std=c17 -D_GNU_SOURCE -Ilib -o build/bench/gen-decode \
    bench/gen-decode.c build/libposttrain.a $LDLIBS
cc -O2 -std=c17 -I"$LLAMA_SRC/include" -I"$LLAMA_SRC/ggml/include" -o build/bench/llama_logp \
    bench/llama_logp.c -L"$LLAMA_CPP" -lllama -lggml -lggml-base -Wl,-rpath,"$LLAMA_CPP" -lm
. "$TOP/bench/best.inc"
ratio() { echo "$1 $2" | awk '{ if (NF == 2 && $2 > 0) printf "%.2f", $1 / $2; else printf "-" }'; }

# llama-bench's best sample of test N_PROMPT N_GEN: llb JSON NP NG
llb() { jq --argjson p "$2" --argjson g "$3" \
    '[.[] | select(.n_prompt == $p and .n_gen == $g) | .samples_ts | max] | first' "$1"; }

# convert SHAPE: $OUT/SHAPE (bin/init -s 1) and its .f32.gguf, .bf16.gguf
convert() {
    ck="$OUT/$1"
    [ -e "$ck/config.json" ] || bin/init -p "$1" -s 1 -o "$ck"
    for d in f32 bf16; do
        [ -e "$ck.$d.gguf" ] ||
            PYTHONPATH="$LLAMA_SRC/gguf-py" $PY bench/to_gguf.py "$ck" "$ck.$d.gguf.tmp" $d
        [ -e "$ck.$d.gguf" ] || mv "$ck.$d.gguf.tmp" "$ck.$d.gguf"
    done
}

# check SHAPE DTYPE FA ENFORCE: max |logp - llama.cpp| over a 14-token sequence
check() {
    ck="$OUT/$1"
    ids="1 500 2000 7 42 9000 31337 123 4567 48000 5 777 12000 3"
    printf '{"prompt_ids":[1,500,2000,7],"completion_ids":[%s]}\n' \
        "$(echo "$ids" | cut -d' ' -f5- | tr ' ' ',')" >"$OUT/check.jsonl"
    bin/logp -q -m "$ck" --dtype "$2" --threads "$THREADS" "$OUT/check.jsonl" |
        jq -r '.ref_logprobs[]' >"$OUT/check.ours"
    # shellcheck disable=SC2086
    build/bench/llama_logp "$ck.$2.gguf" "$THREADS" "$3" $ids | tail -n 10 >"$OUT/check.theirs"
    paste "$OUT/check.ours" "$OUT/check.theirs" | awk -v s="$1" -v d="$2" -v fa="$3" -v enforce="$4" '
        { e = $1 - $2; e = e < 0 ? -e : e; if (e > m) m = e; if (NR == 1 || $1 < lo) lo = $1
          if (NR == 1 || $1 > hi) hi = $1; n++ }
        END { printf "check %s %s -fa %d: %d log-probs in [%.3f, %.3f], max |posttrain - llama.cpp| %.2e%s\n",
                  s, d, fa, n, lo, hi, m, enforce ? " (limit 1e-4)" : " (not enforced)"
              exit (n != 10 || (enforce && m > 1e-4)) }'
}

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "posttrain $(git rev-parse --short HEAD) vs llama.cpp ${LLAMA_COMMIT:-unknown}, $THREADS threads;" \
    "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for shape in $SHAPES; do
    convert "$shape"
    check "$shape" f32 0 1
    check "$shape" f32 1 0
    check "$shape" bf16 0 0
done

printf '%-12s %-5s %-8s %10s %10s %7s\n' shape dtype test posttrain llama.cpp ratio
for shape in $SHAPES; do
    for d in f32 bf16; do
        g="$OUT/$shape.$d.gguf"
        "$LLAMA_CPP/llama-bench" -m "$g" -p 512 -n 128 -fa 1 -t "$THREADS" -r "$REPEAT" -o json \
            >"$OUT/bench.json" 2>"$OUT/bench.err"
        lp=$(llb "$OUT/bench.json" 512 0)
        lt=$(llb "$OUT/bench.json" 0 128)
        "$LLAMA_CPP/llama-batched-bench" -m "$g" -c 4096 -b 2048 -ub 512 -npp 32 -ntg 16 -npl 64 -pps \
            -fa on -t "$THREADS" -tb "$THREADS" --output-format jsonl \
            >"$OUT/batched.jsonl" 2>"$OUT/batched.err"
        lb=$(jq -s 'map(.speed_tg) | max' "$OUT/batched.jsonl")
        pp=$(best build/bench/gen-decode --prefill "$shape" 512 "$THREADS" "$d")
        pt=$(best build/bench/gen-decode "$shape" 1 1 128 "$THREADS" "$d")
        pb=$(best build/bench/gen-decode "$shape" 8 8 16 "$THREADS" "$d")
        printf '%-12s %-5s %-8s %10.2f %10.2f %7s\n' "$shape" "$d" pp512 "$pp" "$lp" "$(ratio "$pp" "$lp")" \
            "$shape" "$d" tg128 "$pt" "$lt" "$(ratio "$pt" "$lt")" \
            "$shape" "$d" 8x8 "$pb" "$lb" "$(ratio "$pb" "$lb")"
    done
done
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
