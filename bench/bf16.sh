#!/bin/sh
# bench/bf16.sh - bf16 products (w16.h) against fp32 in the same run:
# gen's decode (lib/infer) at batch 1 and 8 prompts x G=8 at the
# SmolLM-135M and Qwen3-0.6B shapes, and a training step (forward,
# backward, AdamW) of update's model code at both shapes, 4 x 256, beside
# PyTorch CPU fp32 and PyTorch bf16 autocast (bench/model_torch.py, the
# same architecture, OMP_WAIT_POLICY=passive).  Random weights; decode
# figures best of $REPEAT, training the best step of ROUNDS rounds.
#
#   sh bench/bf16.sh        THREADS (default nproc), REPEAT (2), STEPS (3),
#                           ROUNDS (3; training, each implementation in turn),
#                           PARTS ("decode train": either or both),
#                           TRAIN_SHAPES ("smollm-135m qwen3-0.6b")
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
THREADS=${THREADS:-$(nproc)}
REPEAT=${REPEAT:-2}
STEPS=${STEPS:-3}
ROUNDS=${ROUNDS:-3}
PARTS=${PARTS:-decode train}
TRAIN_SHAPES=${TRAIN_SHAPES:-smollm-135m qwen3-0.6b}
export OMP_WAIT_POLICY=passive POSTTRAIN_THREADS=$THREADS
PY=/usr/bin/python3
$PY -c 'import torch' 2>/dev/null || apt-get install -y -q --no-install-recommends python3-torch >/dev/null
make -s build/libposttrain.a
mkdir -p build/bench
LDLIBS=$(sed -n 's/^LDLIBS = //p' Makefile)
# shellcheck disable=SC2086
cc -O3 -march=native -std=c17 -D_GNU_SOURCE -Ilib -o build/bench/gen-decode \
    bench/gen-decode.c build/libposttrain.a $LDLIBS
# shellcheck disable=SC2086
cc -std=c17 -D_GNU_SOURCE -Ilib -O2 -g -o build/bench/model_bench bench/model_bench.c \
    build/libposttrain.a $LDLIBS
. "$TOP/bench/best.inc"

echo "bf16 vs f32, $THREADS threads; CPU: $(grep -o -m1 -w 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
case " $PARTS " in *" decode "*)
echo "decode (tokens/s; prompt 32 tokens)"
printf '%-12s %-5s %10s %10s %9s\n' shape rows f32 bf16 bf16/f32
for shape in smollm-135m qwen3-0.6b; do
    for rows in 1x1 8x8; do
        np=${rows%x*} g=${rows#*x} steps=32
        [ "$rows" = 8x8 ] && steps=8
        f=$(best build/bench/gen-decode $shape $np $g $steps "$THREADS" f32)
        b=$(best build/bench/gen-decode $shape $np $g $steps "$THREADS" bf16)
        printf '%-12s %-5s %10s %10s %9s\n' $shape $rows "$f" "$b" "$(echo "$b $f" | awk '{ printf "%.2f", $1 / $2 }')"
    done
done
;; esac
case " $PARTS " in *" train "*)
# The four in turn, ROUNDS times, so a slow moment of the machine falls on
# each alike; each figure the best step of all its rounds.
max() { awk -v a="${1:-0}" -v b="$2" 'BEGIN { print (b + 0 > a + 0) ? b : a }'; }
for shape in $TRAIN_SHAPES; do
    peer=$shape
    [ -e "bench/$shape.json" ] && peer=bench/$shape.json
    echo "training step, $shape 4 x 256 (tokens/s, best of $ROUNDS rounds x $STEPS steps)"
    pf= pb= tf= tb=
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        a=$(build/bench/model_bench step "$shape" 4 256 "$STEPS" f32 | jq .best_tokens_per_sec)
        b=$(build/bench/model_bench step "$shape" 4 256 "$STEPS" bf16 | jq .best_tokens_per_sec)
        c=$($PY bench/model_torch.py "$peer" 4 256 "$STEPS" | jq .best_tokens_per_sec)
        d=$($PY bench/model_torch.py "$peer" 4 256 "$STEPS" --autocast bf16 | jq .best_tokens_per_sec)
        r=$((r + 1))
        echo "round $r: posttrain f32 $a, bf16 $b; pytorch f32 $c, bf16 autocast $d"
        pf=$(max "$pf" "$a") pb=$(max "$pb" "$b") tf=$(max "$tf" "$c") tb=$(max "$tb" "$d")
    done
    printf '%-26s %10s\n' "posttrain f32" "$pf" "posttrain bf16" "$pb" "pytorch f32" "$tf" \
        "pytorch bf16 autocast" "$tb"
    echo "$pf $pb $tf $tb" | awk '{ printf "posttrain bf16 / f32 %.2f; / pytorch f32 %.2f; / pytorch bf16 %.2f\n", $2 / $1, $2 / $3, $2 / $4 }'
done
;; esac
