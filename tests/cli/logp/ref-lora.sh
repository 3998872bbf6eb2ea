# LoRA against PEFT's arithmetic in the plain-PyTorch reference
# (tests/ref/ref_model.py --adapter: W x + s B (A x)), both ways: an
# adapter the reference writes in PEFT's layout (F32 and BF16, rsLoRA,
# some targets) read by logp --adapter, and one update --lora trained read
# by the reference; every log-probability within 1e-4.  An adapter
# written the way PEFT writes it comes back byte for byte from update
# (a step of learning rate 0).
. "$TESTDIR/ref.inc"
cat >c.json <<'E'
{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "rms_norm_eps": 1e-06, "hidden_act": "silu", "initializer_range": 0.02,
 "head_dim": 16, "max_position_embeddings": 64, "rope_theta": 1000000.0,
 "attention_bias": false, "tie_word_embeddings": true, "rope_scaling": null,
 "use_sliding_window": false, "sliding_window": null, "max_window_layers": 2}
E
sed 's/"qwen3"/"qwen2"/; s/Qwen3/Qwen2/; s/"attention_bias": false/"attention_bias": true/' c.json >q2.json &&
ref_samples >samples.jsonl &&
init -c c.json -s 11 --std 0.25 -o m &&
init -c q2.json -s 12 --std 0.25 -o m2 &&
"$PYTHON" "$REF" lora-random m pa --r 4 --alpha 8 --seed 3 --std 0.2 \
    --targets v_proj,q_proj,down_proj,o_proj &&
"$PYTHON" "$REF" lora-random m pb --r 3 --alpha 5 --rslora --seed 4 --std 0.2 \
    --dtype bfloat16 --targets k_proj,gate_proj,up_proj &&
"$PYTHON" "$REF" lora-random m2 pc --r 2 --alpha 16 --seed 5 --std 0.2 &&
logp -q -m m --adapter pa samples.jsonl >pa.out &&
logp -q -m m --adapter pb samples.jsonl >pb.out &&
logp -q -m m2 --adapter pc samples.jsonl >pc.out &&
"$PYTHON" "$REF" compare --adapter pa m samples.jsonl pa.out &&
"$PYTHON" "$REF" compare --adapter pb m samples.jsonl pb.out &&
"$PYTHON" "$REF" compare --adapter pc m2 samples.jsonl pc.out &&
jq -c '. + {advantage: 1.0}' samples.jsonl | pack -q -L 64 >p.jsonl &&
update -q -m m2 -o ours --grpo --lora 4 --lora-alpha 8 --lora-targets q,k,v,o,up \
    --lr 3e-2 --threads 1 p.jsonl &&
logp -q -m m2 --adapter ours samples.jsonl >ours.out &&
"$PYTHON" "$REF" compare --adapter ours m2 samples.jsonl ours.out &&
update -q -m m --adapter pa -o pa2 --grpo --lr 0 --min-lr 0 --threads 1 p.jsonl &&
cmp pa/adapter_config.json pa2/adapter_config.json &&
cmp pa/adapter_model.safetensors pa2/adapter_model.safetensors && echo "round trip: same bytes"
