#!/bin/sh
# bench/moe.sh - posttrain beside PyTorch on mixtures of experts (random
# weights, the same architecture on both sides), in one run, for a tiny and
# a mid-size model of each family:
#
#   deepseek-v3-tiny, qwen3-moe-tiny   init's test presets
#   deepseek-v2-lite-2l                DeepSeek-V2-Lite's shapes (init -p
#                                      deepseek-v2-lite): layer 0 dense, layer
#                                      1 with 64 experts of 1408, 6 chosen, 2
#                                      shared, MLA with kv_lora_rank 512
#   qwen3-30b-a3b-1l                   Qwen3-30B-A3B's shapes: one layer of 128
#                                      experts of 768, 8 chosen
#
# The mid-size models keep those layers' shapes whole; their vocabulary is
# cut to 8192 ids (the embedding and head are not what is measured, and
# the whole 102400 or 151936 ids would triple the memory of training) and
# they have 2 and 1 layers so that weights, gradients and AdamW's moments
# of each side fit the machine's 24 GB.
#
#   decode   tokens/s of lib/infer's KV-cache decode (bench/gen-decode.c)
#            and of a PyTorch decoder with transformers' cache
#            (bench/moe_torch.py decode), one sequence and 8 prompts x G=8,
#            after a 32-token prompt; and each side's cache bytes per token
#            over all layers: MLA's latent and rope key against the
#            expanded per-head keys and values
#   train    tokens/s of update --sft steps of 4 x 256 tokens (forward,
#            backward, AdamW, fp32; the mean over the steps after the
#            first, from --metrics) and of moe_torch.py train's steps on
#            the same weights (update's checkpoint) and the same rows; the
#            first step's loss of each side, which must agree within 1e-4
#            for the figures to be of the same work
#
# and the ratios posttrain / PyTorch.  PyTorch is Debian's python3-torch
# with OMP_WAIT_POLICY=passive and torch.set_num_threads(THREADS).
#
#   sh bench/moe.sh            THREADS (default 2), STEPS (training steps
#                              per side, default 3), REPEAT (decode runs per
#                              figure, best kept; default 2), SHAPES (a
#                              subset of the names above)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
THREADS=${THREADS:-2}
STEPS=${STEPS:-3}
REPEAT=${REPEAT:-2}
SHAPES=${SHAPES:-deepseek-v3-tiny qwen3-moe-tiny deepseek-v2-lite-2l qwen3-30b-a3b-1l}
PY=${PYTHON:-/usr/bin/python3}
OUT="$TOP/bench/out/moe"
export OMP_WAIT_POLICY=passive POSTTRAIN_THREADS="$THREADS"

$PY -c 'import torch' || { echo "bench/moe.sh: $PY lacks torch (make deps)" >&2; exit 1; }
. "$TOP/bench/best.inc"
build_gen_decode
mkdir -p "$OUT"

# config NAME: the shape's config.json in $OUT/NAME.json
config() {
    case $1 in
    *-tiny)
        rm -rf "$OUT/cfg" && bin/init -p "$1" -o "$OUT/cfg" >/dev/null &&
            cp "$OUT/cfg/config.json" "$OUT/$1.json" && rm -rf "$OUT/cfg" ;;
    deepseek-v2-lite-2l)
        cat >"$OUT/$1.json" <<'E'
{"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
 "hidden_size": 2048, "intermediate_size": 10944, "num_hidden_layers": 2,
 "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 8192,
 "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
 "tie_word_embeddings": false, "attention_bias": false, "hidden_act": "silu",
 "q_lora_rank": null, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
 "qk_rope_head_dim": 64, "v_head_dim": 128, "rope_interleave": true,
 "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                  "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707},
 "n_routed_experts": 64, "num_experts_per_tok": 6, "moe_intermediate_size": 1408,
 "n_shared_experts": 2, "first_k_dense_replace": 1, "n_group": 1, "topk_group": 1,
 "norm_topk_prob": false, "routed_scaling_factor": 1.0, "scoring_func": "sigmoid",
 "topk_method": "noaux_tc", "num_nextn_predict_layers": 0}
E
        ;;
    qwen3-30b-a3b-1l)
        cat >"$OUT/$1.json" <<'E'
{"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe",
 "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 1,
 "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
 "vocab_size": 8192, "max_position_embeddings": 40960, "rms_norm_eps": 1e-06,
 "rope_theta": 1000000.0, "tie_word_embeddings": false, "attention_bias": false,
 "hidden_act": "silu", "num_experts": 128, "num_experts_per_tok": 8,
 "moe_intermediate_size": 768, "norm_topk_prob": true, "decoder_sparse_step": 1,
 "mlp_only_layers": []}
E
        ;;
    *) echo "bench/moe.sh: unknown shape $1" >&2; return 1 ;;
    esac
}

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "posttrain vs PyTorch $($PY -c 'import torch; print(torch.__version__)') (CPU fp32), $THREADS threads"
for shape in $SHAPES; do
    config "$shape"
    cfg="$OUT/$shape.json"
    echo "shape $shape: $(jq -c '{model_type, hidden_size, num_hidden_layers, num_attention_heads,
        kv_lora_rank, experts: (.n_routed_experts // .num_experts), num_experts_per_tok,
        moe_intermediate_size, n_shared_experts, vocab_size}' "$cfg")"
    for rows in 1x1 8x8; do
        np=${rows%x*} G=${rows#*x}
        steps=16
        [ "$rows" = 8x8 ] && steps=4
        ours=$(best build/bench/gen-decode "$cfg" "$np" "$G" $steps "$THREADS")
        theirs=$(best $PY bench/moe_torch.py decode "$cfg" "$np" "$G" $steps "$THREADS")
        echo "  decode $rows: posttrain $ours tok/s, pytorch $theirs tok/s, ratio $(ratio "$ours" "$theirs")"
    done
    cb=$(build/bench/gen-decode "$cfg" 1 1 1 1 | sed 's/.*cache-bytes\/token //')
    tb=$($PY bench/moe_torch.py decode "$cfg" 1 1 1 1 | sed 's/.*cache-bytes\/token //')
    echo "  cache per token, all layers: posttrain $cb bytes, pytorch (expanded) $tb bytes," \
        "ratio $(ratio "$tb" "$cb")"

    # 4 x (STEPS + 1) rows of 256 random tokens, every token but the first a target
    V=$(jq .vocab_size "$cfg")
    awk -v n=$((4 * (STEPS + 1))) -v V="$V" 'BEGIN { srand(1);
        for (i = 0; i < n; i++) {
            ids = ""; m = "";
            for (j = 0; j < 256; j++) { ids = ids (j ? "," : "") int(rand() * V); m = m (j ? ",1" : "0") }
            printf "{\"ids\":[%s],\"segments\":[256],\"loss_mask\":[%s]}\n", ids, m
        } }' >"$OUT/packed.jsonl"
    ck="$OUT/ckpt"
    rm -rf "$ck" "$OUT/next" "$OUT/metrics.jsonl"
    bin/init -c "$cfg" --dtype f32 -o "$ck" >/dev/null
    /usr/bin/time -v bin/update -q -m "$ck" -o "$OUT/next" --sft --lr 1e-5 --schedule constant \
        --batch 4 --micro-tokens 1024 --epochs 1 --no-shuffle --threads "$THREADS" \
        --metrics "$OUT/metrics.jsonl" "$OUT/packed.jsonl" 2>"$OUT/time.txt" ||
        echo "  update failed: $(grep -m1 -i 'signal\|error' "$OUT/time.txt")"
    ours=$(awk -F'"tokens_per_s":' 'NR > 1 { split($2, a, /[,}]/); s += a[1]; n++ }
        END { printf "%.1f", n ? s / n : 0 }' "$OUT/metrics.jsonl")
    /usr/bin/time -v $PY bench/moe_torch.py train "$ck" 4 256 "$STEPS" \
        --data "$OUT/packed.jsonl" --lr 1e-5 >"$OUT/torch.json" 2>"$OUT/torch-time.txt" || true
    theirs=$(jq -r '.tokens_per_sec // empty' "$OUT/torch.json" 2>/dev/null || true)
    [ -n "$theirs" ] || theirs="(failed)"
    gb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1" | awk '{ printf "%.2f GB", $1 * 1024 / 1e9 }'; }
    echo "  train 4x256: posttrain $ours tok/s (peak RSS $(gb "$OUT/time.txt")), pytorch $theirs" \
        "tok/s (peak RSS $(gb "$OUT/torch-time.txt")), ratio $(ratio "$ours" "$theirs")"
    echo "  $(loss_check "$OUT/metrics.jsonl" "$OUT/torch.json")"
    rm -rf "$ck" "$OUT/next"
done
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(figures from a shared machine: other jobs may have run at the same time)"
