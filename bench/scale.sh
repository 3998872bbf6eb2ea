#!/bin/sh
# bench/scale.sh - update(1) from one to two ranks on this machine, and the
# communication cost of data-parallel SFT at SmolLM-135M's shape on a
# cluster, against the compute time of a step measured here.
#
#   sh bench/scale.sh                 tiny and mid, then the estimate
#   SHAPES=tiny sh bench/scale.sh
#
# Per shape: a fresh checkpoint, a packed file of B x STEPS sequences of T
# random tokens, and update --sft --batch B --no-shuffle over it as
#   1x1   one rank, one thread
#   1x2   one rank, two threads (the thread pool)
#   2x1   mpirun -np 2 --bind-to none, one thread per rank
# each reporting tokens/s of the global batch per optimizer step (mean of
# the steps after the first, from rank 0's --metrics), and the ratios
# 1x2 / 1x1 and 2x1 / 1x1 (2x1 / 1x2: the ranks against the threads).
# Shapes: tiny (init -p tiny, 3.2M parameters), mid (hidden 512, 8 layers,
# vocabulary 8192: 29M).
#
# Then the estimate for SmolLM-135M (init -p smollm-135m): 134.5M float32
# gradients, 538 MB per all-reduce.  A ring all-reduce (or update's
# rank-ordered reduce-scatter + all-gather) moves 2 (N-1)/N of it through
# each node's link; at 25 Gbit/s (3.125 GB/s) that is the time below, per
# optimizer step, with no overlap of computation and communication (update
# sums after the backward).  The compute time of a step is measured here
# (1 rank, all threads) at B sequences of T tokens per node.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT="$TOP/bench/out/scale"
mkdir -p "$OUT"
make -s -C "$TOP" bin/init bin/update
BIN="$TOP/bin"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
command -v mpirun >/dev/null || { echo "scale.sh: skipped: no mpirun (make deps)"; exit 0; }
nm "$BIN/update" | grep -q MPI_Init ||
    { echo "scale.sh: skipped: bin/update has no MPI (make MPI=1)"; exit 0; }

packed() { # N T V FILE
    awk -v n="$1" -v T="$2" -v V="$3" 'BEGIN { srand(1);
        for (i = 0; i < n; i++) {
            ids = ""; m = "";
            for (j = 0; j < T; j++) {
                ids = ids (j ? "," : "") int(rand() * V); m = m (j ? ",1" : "0")
            }
            printf "{\"ids\":[%s],\"segments\":[%d],\"loss_mask\":[%s]}\n", ids, T, m
        } }' >"$4"
}

# mean tokens/s of the steps after the first, and mean seconds per step
rate() {
    awk -F'"tokens_per_s":' 'NR > 1 { split($2, a, /[,}]/); s += a[1]; n++ }
        END { printf "%.0f", n ? s / n : 0 }' "$1"
}

ckpt() { # SHAPE DIR
    [ -e "$2/model.safetensors" ] && return
    case $1 in
    tiny) "$BIN/init" -p tiny -o "$2" ;;
    smollm-135m) "$BIN/init" -p smollm-135m -o "$2" ;;
    mid)
        cat >"$OUT/mid.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 512,
 "intermediate_size": 1536, "num_hidden_layers": 8, "num_attention_heads": 8,
 "num_key_value_heads": 4, "vocab_size": 8192, "max_position_embeddings": 1024,
 "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": true}
EOF
        "$BIN/init" -c "$OUT/mid.json" -o "$2" ;;
    esac
}

run() { # LABEL SHAPE B T STEPS -- command prefix
    label=$1 shape=$2 B=$3 T=$4 steps=$5
    shift 5
    rm -rf "$OUT/$shape.next"
    "$@" "$BIN/update" -q -m "$OUT/$shape" -o "$OUT/$shape.next" --sft --lr 1e-4 \
        --batch "$B" --epochs 1 --no-shuffle --metrics "$OUT/$shape.$label.metrics" \
        "$OUT/$shape.packed"
    rate "$OUT/$shape.$label.metrics"
}

echo "update from 1 to 2 ranks, global tokens/s per step (shared 2-core machine)"
for shape in ${SHAPES:-tiny mid}; do
    case $shape in
    tiny) B=8; T=256; STEPS=6; V=264 ;;
    mid) B=4; T=256; STEPS=4; V=8192 ;;
    esac
    ckpt $shape "$OUT/$shape"
    packed $((B * STEPS)) $T $V "$OUT/$shape.packed"
    a=$(run 1x1 $shape $B $T $STEPS env POSTTRAIN_THREADS=1)
    b=$(run 1x2 $shape $B $T $STEPS env POSTTRAIN_THREADS=2)
    c=$(run 2x1 $shape $B $T $STEPS mpirun -np 2 --oversubscribe --bind-to none \
        -x POSTTRAIN_THREADS=1)
    echo "$shape B=$B T=$T: 1x1 $a, 1x2 $b, 2x1 $c tokens/s;" \
        "1x2/1x1 $(echo "$b $a" | awk '{ printf "%.2f", $1 / $2 }')," \
        "2x1/1x1 $(echo "$c $a" | awk '{ printf "%.2f", $1 / $2 }')," \
        "2x1/1x2 $(echo "$c $b" | awk '{ printf "%.2f", $1 / $2 }')"
done

# SmolLM-135M: the compute time of a step here, B sequences of T tokens
B=2 T=256 STEPS=3
ckpt smollm-135m "$OUT/smollm-135m"
packed $((B * STEPS)) $T 49152 "$OUT/smollm-135m.packed"
r=$(run 1x2 smollm-135m $B $T $STEPS env POSTTRAIN_THREADS=$(nproc))
echo
echo "SmolLM-135M, B=$B T=$T per node: compute $(echo "$r" | awk -v t=$((B * T)) \
    '{ printf "%.2f s per step (%s tokens/s, %d threads)", t / $1, $1, '"$(nproc)"' }')"
echo "all-reduce of 134.5M float32 gradients (538 MB), ring, 25 Gbit/s per node:"
for N in 1 8 64; do
    echo "$N $r" | awk -v t=$((B * T)) '{
        N = $1; comp = t / $2; bytes = 134.5e6 * 4;
        moved = N > 1 ? 2 * (N - 1) / N * bytes : 0; comm = moved / 3.125e9;
        printf "  %2d nodes: %6.0f MB per node per step, %.3f s; compute %.2f s;" \
            " communication %4.1f%% of the step\n",
            N, moved / 1e6, comm, comp, 100 * comm / (comm + comp) }'
done
