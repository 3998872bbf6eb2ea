#!/bin/sh
# bench/model.sh - training-step throughput of lib/model (forward, backward
# and AdamW, tokens/s) beside PyTorch CPU on the same model, shapes and
# step, and as a fraction of the machine's measured sgemm peak (MFU).
#
#   sh bench/model.sh                  tiny and smollm-135m, 4x256 and 8x512
#   STEPS_TINY=5 STEPS_SMOLLM=2 ROUNDS=2 sh bench/model.sh
#   SHAPES="tiny:4:256" sh bench/model.sh
#
# The peer is Debian's python3-torch run by /usr/bin/python3 with
# OMP_WAIT_POLICY=passive and as many threads as we use (installed with
# apt-get when missing).  Both sides use the system OpenBLAS; when
# OPENBLAS_CORETYPE is unset and OpenBLAS would fall back to a generic core
# (virtual machines that hide OSXSAVE), it is set from /proc/cpuinfo for
# both, and the choice is printed.  Results: bench/out/model.jsonl.
set -eu
cd "$(dirname "$0")/.."
: "${STEPS_TINY:=5}" "${STEPS_SMOLLM:=2}" "${ROUNDS:=2}"
: "${SHAPES:=tiny:4:256 tiny:8:512 smollm-135m:4:256 smollm-135m:8:512}"
threads=${POSTTRAIN_THREADS:-$(nproc)}
export POSTTRAIN_THREADS=$threads OMP_WAIT_POLICY=passive
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then OPENBLAS_CORETYPE=Haswell
    fi
    [ -n "${OPENBLAS_CORETYPE:-}" ] && export OPENBLAS_CORETYPE
fi
echo "model bench: $threads threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "(a shared machine: load average now $(cut -d' ' -f1-3 /proc/loadavg))"

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "installing python3-torch (the peer)"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends python3-torch
fi
make -s build/libposttrain.a
mkdir -p build/bench bench/out
cc -std=c17 -D_GNU_SOURCE -Ilib -O2 -g -o build/bench/model_bench bench/model_bench.c \
    build/libposttrain.a -lopenblas -ljansson -lzstd -lpcre2-8 -lpthread -lm

out=bench/out/model.jsonl
: >"$out"
build/bench/model_bench peak | tee -a "$out"
for s in $SHAPES; do
    preset=${s%%:*}; rest=${s#*:}; B=${rest%%:*}; T=${rest#*:}
    case $preset in tiny) n=$STEPS_TINY ;; *) n=$STEPS_SMOLLM ;; esac
    [ "$preset:$B" = smollm-135m:8 ] && n=$(( n > 1 ? n - 1 : 1 ))
    rounds=$ROUNDS; [ "$preset" = tiny ] || rounds=1
    i=0
    while [ $i -lt "$rounds" ]; do   # alternate, so both see the same load
        build/bench/model_bench step "$preset" "$B" "$T" "$n" | tee -a "$out"
        /usr/bin/python3 bench/model_torch.py "$preset" "$B" "$T" "$n" | tee -a "$out"
        i=$((i + 1))
    done
done
build/bench/model_bench peak | tee -a "$out"
/usr/bin/python3 bench/model_torch.py --summary "$out"
