"""A posttrain checkpoint (config.json + safetensors, Hugging Face tensor
names, model_type llama or qwen3) as a GGUF file llama.cpp loads, F32 or
BF16, the same weights: for bench/llama.sh.

    PYTHONPATH=$LLAMA_SRC/gguf-py python3 to_gguf.py CKPT OUT.gguf f32|bf16

It writes what llama.cpp's llama and qwen3 architectures read: the shape,
rope theta, RMSNorm epsilon, head counts and head size from config.json,
and a vocabulary of vocab_size tokens: the checkpoint's tokenizer.json
(byte-level BPE, "gpt2") when there is one, else a placeholder SentencePiece
one (<0x00>..<0xFF>, then tok_N); llama-bench feeds random token ids, so
only loading needs it.  What it is not: a general converter (no MoE, MLA,
rope scaling, biases or sharded checkpoints; llama.cpp's
convert_hf_to_gguf.py is that).

Layout differences it undoes, as convert_hf_to_gguf.py does: Hugging Face
Llama rotates the two halves of each head (rotate_half) where llama.cpp's
llama architecture rotates adjacent pairs, so q_proj and k_proj rows are
permuted per head; qwen3 is NEOX-style in llama.cpp and is written as is.
Norm weights stay F32 in a BF16 file (llama.cpp's converter does the same).
Tied embeddings: no output.weight, llama.cpp then uses token_embd.
"""
import json
import os
import struct
import sys

import numpy as np

import gguf

NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def die(msg):
    sys.exit(f"to_gguf.py: {msg}")


def read_safetensors(path):
    """name -> float32 array of every tensor in the file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        base = 8 + n
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = raw[base + a:base + b]
        if t["dtype"] == "F32":
            x = buf.view(np.float32)
        elif t["dtype"] == "BF16":
            x = (buf.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif t["dtype"] == "F16":
            x = buf.view(np.float16).astype(np.float32)
        else:
            die(f"{path}: tensor '{name}': dtype '{t['dtype']}' not supported")
        out[name] = x.reshape(t["shape"])
    return out


def read_weights(ckpt):
    index = os.path.join(ckpt, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for fn in files:
        w.update(read_safetensors(os.path.join(ckpt, fn)))
    return w


def permute(x, nh):
    """rotate_half rows of each head -> adjacent pairs (convert_hf_to_gguf)."""
    return x.reshape(nh, 2, x.shape[0] // nh // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    if parts[:2] == ["model", "layers"] and parts[-1] == "weight":
        key = ".".join(parts[3:-1])
        if key in NAMES:
            return f"blk.{parts[2]}.{NAMES[key]}.weight"
    die(f"tensor '{hf}': no GGUF name for it")


def add_vocab(w, ckpt, V, cfg):
    tj = os.path.join(ckpt, "tokenizer.json")
    if os.path.exists(tj):
        with open(tj) as f:
            tok = json.load(f)
        toks = [None] * V
        types = [gguf.TokenType.NORMAL] * V
        for s, i in tok["model"]["vocab"].items():
            if i < V:
                toks[i] = s
        for a in tok.get("added_tokens", []):
            if a["id"] < V:
                toks[a["id"]] = a["content"]
                types[a["id"]] = gguf.TokenType.CONTROL if a.get("special") else gguf.TokenType.USER_DEFINED
        for i in range(V):
            if toks[i] is None:
                toks[i] = f"[PAD{i}]"
                types[i] = gguf.TokenType.UNUSED
        merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"].get("merges", [])]
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("default")
        w.add_token_list(toks)
        w.add_token_types(types)
        w.add_token_merges(merges)
    else:
        if V < 259:
            die(f"vocab_size {V}: the placeholder vocabulary needs at least 259 tokens")
        toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
        toks += [f"tok_{i}" for i in range(len(toks), V)]
        types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
        types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * (V - 259)
        w.add_tokenizer_model("llama")
        w.add_token_list(toks)
        w.add_token_scores([0.0] * V)
        w.add_token_types(types)
        w.add_add_bos_token(False)
    for key, add in (("bos_token_id", w.add_bos_token_id), ("eos_token_id", w.add_eos_token_id)):
        if isinstance(cfg.get(key), int) and cfg[key] < V:
            add(cfg[key])


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("f32", "bf16"):
        sys.stderr.write("usage: to_gguf.py CKPT OUT.gguf f32|bf16\n")
        sys.exit(2)
    ckpt, out, dtype = sys.argv[1:]
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    mt = cfg.get("model_type")
    if mt not in ("llama", "qwen3"):
        die(f"{ckpt}/config.json: model_type '{mt}': only llama and qwen3")
    if cfg.get("rope_scaling"):
        die(f"{ckpt}/config.json: rope_scaling: not supported")
    arch = "llama" if mt == "llama" else "qwen3"
    C, L, nh = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim") or C // nh
    V = cfg["vocab_size"]

    w = gguf.GGUFWriter(out, arch)
    w.add_name(os.path.basename(os.path.normpath(ckpt)))
    w.add_context_length(cfg.get("max_position_embeddings", 2048))
    w.add_embedding_length(C)
    w.add_block_count(L)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    w.add_vocab_size(V)
    ft = gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_BF16
    w.add_file_type(ft)
    add_vocab(w, ckpt, V, cfg)

    weights = read_weights(ckpt)
    if cfg.get("tie_word_embeddings"):
        weights.pop("lm_head.weight", None)
    for hf in sorted(weights):
        x = weights[hf]
        if arch == "llama" and hf.endswith("self_attn.q_proj.weight"):
            x = permute(x, nh)
        elif arch == "llama" and hf.endswith("self_attn.k_proj.weight"):
            x = permute(x, nkv)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if dtype == "bf16" and x.ndim > 1:
            w.add_tensor(gguf_name(hf), gguf.quants.quantize(x, gguf.GGMLQuantizationType.BF16),
                         raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor(gguf_name(hf), x)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
