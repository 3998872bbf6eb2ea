"""ref_model.py - an independent plain-PyTorch reading of a Hugging Face
checkpoint directory and the per-token log-probabilities of its decoder,
to check posttrain's model, checkpoint reader and writer against.

It follows transformers' modeling_llama.py, modeling_mistral.py,
modeling_qwen2.py, modeling_qwen3.py, modeling_qwen3_moe.py (its
Qwen3MoeSparseMoeBlock: softmax router in float, top-k, renormalized when
norm_topk_prob, experts summed by index_add), modeling_deepseek_v3.py
(DeepseekV3Attention: Multi-head Latent Attention with per-head keys and
values expanded from the latent, as written there, RoPE on the rope part,
interleaved or not, the yarn mscale on the softmax scale;
DeepseekV3TopkRouter and DeepseekV3MoE: sigmoid scores, the correction
bias for selection, group-limited top-k, scaling, shared experts) and
modeling_rope_utils.py (rope types default, linear, dynamic, yarn, llama3), and safetensors' and
huggingface_hub's file layout, with nothing of posttrain's code: the
safetensors files are parsed here with struct and json, the model runs in
float64 one sequence at a time, and the writer lays files out as
safetensors' serialize() and save_pretrained() do.

    python3 ref_model.py logp CKPT SAMPLES.jsonl [--temperature X]
        each record with "ref_logprobs" of its completion_ids
    python3 ref_model.py compare CKPT SAMPLES.jsonl OUT.jsonl [...] [--tol X]
        OUT's ref_logprobs against this model's (for each triple); exit 1
        past the tolerance (default 1e-4)
    python3 ref_model.py resave SRC DST [--max-shard-size N] [--dtype D]
        SRC's weights written again as save_pretrained would write them
    python3 ref_model.py random CONFIG DST [...] [--seed N] [--std X]
        [--dtype D] [--max-shard-size N]   random checkpoints written that way
    python3 ref_model.py lora-random CKPT DST [--r R] [--alpha A] [--rslora]
        [--targets q_proj,v_proj,...] [--seed N] [--std X] [--dtype D]
        a random LoRA adapter for CKPT in PEFT's layout (adapter_config.json
        as LoraConfig.save_pretrained writes it, adapter_model.safetensors
        with PEFT's names), B not zero

logp and compare take --adapter DIR: the model with a PEFT LoRA adapter,
as peft's LoraLayer computes it in eval mode: W x + s B (A x), s =
lora_alpha / r (or / sqrt(r) with use_rslora).

Needs only python3 and torch (Debian's python3-torch).
"""
import json
import math
import os
import struct
import sys

import torch

# ---------------------------------------------------------------- safetensors

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
NAMES = {v: k for k, v in DTYPES.items()}
TORCH_NAMES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}
# position in safetensors' Dtype enum: files list the widest dtype first
RANK = {"F16": 13, "BF16": 14, "F32": 17}
SIZE = {"F32": 4, "BF16": 2, "F16": 2}


def read_safetensors(path):
    """{name: tensor} of one file, each in its stored dtype."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=dt) if e > b else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"])
    return out


def load_dir(ckpt):
    """config dict and {name: tensor} of a checkpoint, one file or sharded."""
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    single = os.path.join(ckpt, "model.safetensors")
    if os.path.exists(single):
        return cfg, read_safetensors(single)
    with open(os.path.join(ckpt, "model.safetensors.index.json")) as f:
        index = json.load(f)
    tensors = {}
    for shard in sorted(set(index["weight_map"].values())):
        part = read_safetensors(os.path.join(ckpt, shard))
        for name in part:
            assert index["weight_map"][name] == shard, name
        tensors.update(part)
    assert set(tensors) == set(index["weight_map"]), "index and shards disagree"
    return cfg, tensors


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.float32:
        return t.numpy().tobytes()
    return t.view(torch.int16).numpy().tobytes()


def serialize(tensors, metadata):
    """The bytes safetensors' serialize() writes for {name: tensor}."""
    order = sorted(tensors, key=lambda k: (-RANK[NAMES[tensors[k].dtype]], k.encode()))
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for k in order:
        b = tensor_bytes(tensors[k])
        header[k] = {"dtype": NAMES[tensors[k].dtype], "shape": list(tensors[k].shape),
                     "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def save_pretrained(dst, state, max_shard, nparams):
    """state ({name: tensor}, in state-dict order) as save_pretrained writes
    it: huggingface_hub's split, then each file, then the index."""
    shards, cur, cur_size, total = [], {}, 0, 0
    for k, t in state.items():
        size = t.numel() * t.element_size()
        if size > max_shard:
            total += size
            shards.append({k: t})
            continue
        if cur_size + size > max_shard:
            shards.append(cur)
            cur, cur_size = {}, 0
        cur[k] = t
        cur_size += size
        total += size
    if cur:
        shards.append(cur)
    os.makedirs(dst, exist_ok=True)
    meta = {"format": "pt"}
    if len(shards) == 1:
        with open(os.path.join(dst, "model.safetensors"), "wb") as f:
            f.write(serialize(shards[0], meta))
        return
    wmap = {}
    for i, shard in enumerate(shards):
        name = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        with open(os.path.join(dst, name), "wb") as f:
            f.write(serialize(shard, meta))
        for k in shard:
            wmap[k] = name
    index = {"metadata": {"total_parameters": nparams, "total_size": total}, "weight_map": wmap}
    with open(os.path.join(dst, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------- the config

def family(cfg):
    mt = cfg.get("model_type", "llama")
    if mt not in ("llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "deepseek_v3"):
        raise SystemExit("ref_model: model_type %r is not one this reference knows" % mt)
    return mt


def sparse(cfg, l):
    """Whether layer l is a sparse block (Qwen3MoeDecoderLayer, DeepseekV3DecoderLayer)."""
    if family(cfg) == "deepseek_v3":
        return l >= cfg.get("first_k_dense_replace", 3)
    if family(cfg) != "qwen3_moe":
        return False
    return (l not in (cfg.get("mlp_only_layers") or []) and cfg.get("num_experts", 128) > 0
            and (l + 1) % cfg.get("decoder_sparse_step", 1) == 0)


def head_dim(cfg):
    if family(cfg) == "deepseek_v3":   # DeepseekV3Config sets head_dim = qk_rope_head_dim
        return cfg.get("qk_rope_head_dim", 64)
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def ds(cfg, key):
    """A DeepseekV3Config field, with the config class's default."""
    d = {"q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
         "qk_rope_head_dim": 64, "v_head_dim": 128, "n_routed_experts": 256,
         "n_shared_experts": 1, "num_experts_per_tok": 8, "moe_intermediate_size": 2048,
         "n_group": 8, "topk_group": 4, "norm_topk_prob": True,
         "routed_scaling_factor": 2.5, "rope_interleave": True}
    return cfg[key] if key in cfg else d[key]


def n_experts(cfg):
    if family(cfg) == "deepseek_v3":
        return ds(cfg, "n_routed_experts")
    return cfg.get("num_experts", 128)


def ds_attn_names(p, cfg):
    """DeepseekV3Attention's parameters, in registration order."""
    a = p + "self_attn."
    if ds(cfg, "q_lora_rank") is None:
        n = [a + "q_proj.weight"]
    else:
        n = [a + "q_a_proj.weight", a + "q_a_layernorm.weight", a + "q_b_proj.weight"]
    return n + [a + "kv_a_proj_with_mqa.weight", a + "kv_a_layernorm.weight",
                a + "kv_b_proj.weight", a + "o_proj.weight"]


def ds_shapes(cfg, n):
    C, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nope, rope, vd = ds(cfg, "qk_nope_head_dim"), ds(cfg, "qk_rope_head_dim"), ds(cfg, "v_head_dim")
    qr, r = ds(cfg, "q_lora_rank"), ds(cfg, "kv_lora_rank")
    leaf = n.split(".")[-2]
    return {"q_proj": (nh * (nope + rope), C), "q_a_proj": (qr, C), "q_a_layernorm": (qr,),
            "q_b_proj": (nh * (nope + rope), qr or 0), "kv_a_proj_with_mqa": (r + rope, C),
            "kv_a_layernorm": (r,), "kv_b_proj": (nh * (nope + vd), r),
            "o_proj": (C, nh * vd)}.get(leaf)


def biases(cfg):
    """(q/k/v bias, o_proj bias) as each family's attention builds them."""
    mt = family(cfg)
    if mt == "qwen2":
        return True, False
    if mt == "mistral":
        return False, False
    ab = bool(cfg.get("attention_bias", False))
    return ab, ab


def state_names(cfg):
    """Tensor names in the order the transformers modules register them."""
    qkv_b, o_b = biases(cfg)
    names = ["model.embed_tokens.weight"]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        if family(cfg) == "deepseek_v3":
            names += ds_attn_names(p, cfg)
            if sparse(cfg, i):
                names.append(p + "mlp.gate.weight")
                names.append(p + "mlp.gate.e_score_correction_bias")
                for e in range(n_experts(cfg)):
                    q = p + "mlp.experts.%d." % e
                    names += [q + "gate_proj.weight", q + "up_proj.weight",
                              q + "down_proj.weight"]
                if ds(cfg, "n_shared_experts"):
                    q = p + "mlp.shared_experts."
                    names += [q + "gate_proj.weight", q + "up_proj.weight",
                              q + "down_proj.weight"]
            else:
                names += [p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight",
                          p + "mlp.down_proj.weight"]
            names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
            continue
        for x in ("q", "k", "v", "o"):
            names.append(p + "self_attn.%s_proj.weight" % x)
            if (qkv_b and x != "o") or (o_b and x == "o"):
                names.append(p + "self_attn.%s_proj.bias" % x)
        if family(cfg) in ("qwen3", "qwen3_moe"):
            names += [p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"]
        if sparse(cfg, i):
            names.append(p + "mlp.gate.weight")
            for e in range(cfg.get("num_experts", 128)):
                q = p + "mlp.experts.%d." % e
                names += [q + "gate_proj.weight", q + "up_proj.weight", q + "down_proj.weight"]
        else:
            names += [p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight",
                      p + "mlp.down_proj.weight"]
        names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
    names.append("model.norm.weight")
    if not cfg.get("tie_word_embeddings", False):
        names.append("lm_head.weight")
    return names


def state_shapes(cfg):
    C, H, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd, nh = head_dim(cfg), cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    out = {}
    Hm = cfg.get("moe_intermediate_size", 768)
    for n in state_names(cfg):
        leaf = n.split(".")[-2] if n.endswith(("weight", "bias")) else n
        if family(cfg) == "deepseek_v3":
            Hm = ds(cfg, "moe_intermediate_size")
            if ".self_attn." in n:
                out[n] = ds_shapes(cfg, n)
                continue
            if n.endswith("e_score_correction_bias"):
                out[n] = (n_experts(cfg),)
                continue
            if ".shared_experts." in n:
                Hs = Hm * ds(cfg, "n_shared_experts")
                out[n] = (C, Hs) if leaf == "down_proj" else (Hs, C)
                continue
        if ".experts." in n:
            s = (C, Hm) if leaf == "down_proj" else (Hm, C)
        elif leaf == "gate":
            s = (n_experts(cfg), C)
        elif n in ("model.embed_tokens.weight", "lm_head.weight"):
            s = (V, C)
        elif leaf == "q_proj":
            s = (nh * hd, C) if n.endswith("weight") else (nh * hd,)
        elif leaf in ("k_proj", "v_proj"):
            s = (nkv * hd, C) if n.endswith("weight") else (nkv * hd,)
        elif leaf == "o_proj":
            s = (C, nh * hd) if n.endswith("weight") else (C,)
        elif leaf in ("q_norm", "k_norm"):
            s = (hd,)
        elif leaf in ("gate_proj", "up_proj"):
            s = (H, C)
        elif leaf == "down_proj":
            s = (C, H)
        else:
            s = (C,)
        out[n] = s
    return out


# ---------------------------------------------------------------- RoPE

def rope_params(cfg, seq_len):
    """(inv_freq float64 (hd/2), attention_factor), modeling_rope_utils."""
    base = float(cfg.get("rope_theta", 10000.0))
    dim = int(head_dim(cfg) * cfg.get("partial_rotary_factor", 1.0))
    max_pos = cfg.get("max_position_embeddings", 2048)
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    ar = torch.arange(0, dim, 2, dtype=torch.float64) / dim
    if kind == "default":
        return 1.0 / base ** ar, 1.0
    if kind == "linear":
        return 1.0 / base ** ar / rs["factor"], 1.0
    if kind == "dynamic":
        # NTK-aware, recomputed for sequences past max_position_embeddings
        factor, n = rs["factor"], max(seq_len, max_pos)
        b = base * ((factor * n / max_pos) - (factor - 1)) ** (dim / (dim - 2))
        return 1.0 / b ** ar, 1.0
    if kind == "llama3":
        inv = 1.0 / base ** ar
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        mid = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wl < hi_wl) & ~(wl > lo_wl)
        return torch.where(medium, mid, scaled), 1.0
    if kind == "yarn":
        orig = rs.get("original_max_position_embeddings", max_pos)
        factor = rs.get("factor")
        if factor is None:
            factor = max_pos / orig

        def mscale(s, m=1.0):
            return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0
        att = rs.get("attention_factor")
        if att is None:
            if rs.get("mscale") and rs.get("mscale_all_dim"):
                att = mscale(factor, rs["mscale"]) / mscale(factor, rs["mscale_all_dim"])
            else:
                att = mscale(factor)
        fast, slow = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

        def corr_dim(rot):
            return dim * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(base))
        lo, hi = corr_dim(fast), corr_dim(slow)
        if rs.get("truncate", True):
            lo, hi = math.floor(lo), math.ceil(hi)
        lo, hi = max(lo, 0), min(hi, dim - 1)
        if lo == hi:
            hi += 0.001
        ramp = ((torch.arange(dim // 2, dtype=torch.float64) - lo) / (hi - lo)).clamp(0, 1)
        extra = 1 - ramp
        pos = base ** ar
        inv = (1.0 / (factor * pos)) * (1 - extra) + (1.0 / pos) * extra
        return inv, float(att)
    raise SystemExit("ref_model: rope type %r is not one this reference knows" % kind)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


# ---------------------------------------------------------------- the model

LORA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LORA_PATH = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn",
             "o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def load_adapter(adapter):
    """{module name: (A, B, s)} of a PEFT LoRA adapter directory, A (r, in) and
    B (out, r) in float64, keyed as the base model's module names."""
    with open(os.path.join(adapter, "adapter_config.json")) as f:
        ac = json.load(f)
    assert ac["peft_type"] == "LORA" and not ac.get("use_dora"), "plain LoRA only"
    r, alpha = ac["r"], ac.get("lora_alpha", 8)
    s = alpha / math.sqrt(r) if ac.get("use_rslora") else alpha / r
    w = read_safetensors(os.path.join(adapter, "adapter_model.safetensors"))
    out, pre = {}, "base_model.model."
    for k in w:
        if k.endswith(".lora_A.weight"):
            mod = k[len(pre):-len(".lora_A.weight")]
            out[mod] = (w[k].to(torch.float64),
                        w[pre + mod + ".lora_B.weight"].to(torch.float64), s)
    return out


def write_adapter(dst, cfg, base_name, r, alpha, rslora, targets, seed, std, dtype):
    """A random adapter as PEFT saves one: LoraConfig's fields, json.dumps
    with indent 2 and sorted keys, and the state dict without the adapter
    name, metadata {"format": "pt"}."""
    g = torch.Generator().manual_seed(seed)
    C, H = cfg["hidden_size"], cfg["intermediate_size"]
    nh, hd = cfg["num_attention_heads"], head_dim(cfg)
    nkv = cfg.get("num_key_value_heads") or nh
    dims = {"q_proj": (C, nh * hd), "k_proj": (C, nkv * hd), "v_proj": (C, nkv * hd),
            "o_proj": (nh * hd, C), "gate_proj": (C, H), "up_proj": (C, H),
            "down_proj": (H, C)}
    dt = DTYPES[TORCH_NAMES.get(dtype, dtype.upper())]
    state = {}
    for l in range(cfg["num_hidden_layers"]):
        for t in targets:
            i, o = dims[t]
            p = "base_model.model.model.layers.%d.%s.%s." % (l, LORA_PATH[t], t)
            state[p + "lora_A.weight"] = (torch.randn((r, i), generator=g) * std).to(dt)
            state[p + "lora_B.weight"] = (torch.randn((o, r), generator=g) * std).to(dt)
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, "adapter_model.safetensors"), "wb") as f:
        f.write(serialize(state, {"format": "pt"}))
    ac = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": base_name,
          "bias": "none", "fan_in_fan_out": False, "inference_mode": True,
          "init_lora_weights": True, "layer_replication": None, "layers_pattern": None,
          "layers_to_transform": None, "loftq_config": {}, "lora_alpha": alpha,
          "lora_dropout": 0.05, "megatron_config": None, "megatron_core": "megatron.core",
          "modules_to_save": None, "peft_type": "LORA", "r": r, "rank_pattern": {},
          "revision": None, "target_modules": targets, "task_type": "CAUSAL_LM",
          "use_dora": False, "use_rslora": rslora}
    with open(os.path.join(dst, "adapter_config.json"), "w") as f:
        f.write(json.dumps(ac, indent=2, sort_keys=True))


class Ref:
    def __init__(self, ckpt, adapter=None):
        self.cfg, raw = load_dir(ckpt)
        self.lora = load_adapter(adapter) if adapter else {}
        self.fam = family(self.cfg)
        if self.cfg.get("use_sliding_window"):
            raise SystemExit("ref_model: use_sliding_window is not in this reference")
        self.w = {k: v.to(torch.float64) for k, v in raw.items()}
        if "lm_head.weight" not in self.w or self.cfg.get("tie_word_embeddings", False):
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.eps = float(self.cfg.get("rms_norm_eps", 1e-6))

    def norm(self, x, w, eps=None):
        eps = self.eps if eps is None else eps
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def lin(self, x, name):
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        if b is not None:
            y = y + b
        if name in self.lora:   # peft LoraLayer: result + lora_B(lora_A(x)) * scaling
            A, B, s = self.lora[name]
            y = y + ((x @ A.T) @ B.T) * s
        return y

    def logits(self, ids):
        c, T = self.cfg, len(ids)
        nh, hd = c["num_attention_heads"], head_dim(c)
        nkv = c.get("num_key_value_heads") or nh
        inv, att = rope_params(c, T)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        emb = torch.cat((ang, ang), dim=-1)
        cos, sin = emb.cos() * att, emb.sin() * att
        i = torch.arange(T)
        allowed = i[None, :] <= i[:, None]
        sw = c.get("sliding_window") if self.fam == "mistral" else None
        if sw:
            allowed &= (i[:, None] - i[None, :]) < sw
        x = self.w["model.embed_tokens.weight"][torch.tensor(ids)]
        for l in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % l
            h = self.norm(x, self.w[p + "input_layernorm.weight"])
            if self.fam == "deepseek_v3":
                x = x + self.mla(h, p + "self_attn.", cos, sin, allowed)
                h = self.norm(x, self.w[p + "post_attention_layernorm.weight"])
                x = x + (self.ds_moe(h, p + "mlp.") if sparse(c, l) else self.swiglu(h, p + "mlp."))
                continue
            q = self.lin(h, p + "self_attn.q_proj").view(T, nh, hd)
            k = self.lin(h, p + "self_attn.k_proj").view(T, nkv, hd)
            v = self.lin(h, p + "self_attn.v_proj").view(T, nkv, hd)
            if self.fam in ("qwen3", "qwen3_moe"):
                q = self.norm(q, self.w[p + "self_attn.q_norm.weight"])
                k = self.norm(k, self.w[p + "self_attn.k_norm.weight"])
            q = q.transpose(0, 1)
            k = k.transpose(0, 1)
            v = v.transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=0)
            v = v.repeat_interleave(nh // nkv, dim=0)
            s = (q @ k.transpose(1, 2)) / math.sqrt(hd)
            s = s.masked_fill(~allowed, float("-inf"))
            a = torch.softmax(s, dim=-1) @ v
            x = x + self.lin(a.transpose(0, 1).reshape(T, nh * hd), p + "self_attn.o_proj")
            h = self.norm(x, self.w[p + "post_attention_layernorm.weight"])
            if sparse(c, l):
                x = x + self.moe(h, p + "mlp.")
                continue
            g = self.lin(h, p + "mlp.gate_proj")
            x = x + self.lin(torch.nn.functional.silu(g) * self.lin(h, p + "mlp.up_proj"),
                             p + "mlp.down_proj")
        x = self.norm(x, self.w["model.norm.weight"])
        return x @ self.w["lm_head.weight"].T

    def mla(self, h, p, cos, sin, allowed):
        """DeepseekV3Attention.forward, eager, one sequence: the keys and
        values expanded per head from the latent."""
        c, T = self.cfg, h.shape[0]
        nh = c["num_attention_heads"]
        nope, rope, vd = ds(c, "qk_nope_head_dim"), ds(c, "qk_rope_head_dim"), ds(c, "v_head_dim")
        r = ds(c, "kv_lora_rank")
        if ds(c, "q_lora_rank") is None:
            q = self.lin(h, p + "q_proj")
        else:
            qa = self.lin(h, p + "q_a_proj")
            q = self.lin(self.norm(qa, self.w[p + "q_a_layernorm.weight"], 1e-6), p + "q_b_proj")
        q = q.view(T, nh, nope + rope).transpose(0, 1)
        q_pass, q_rot = q[..., :nope], q[..., nope:]
        ckv = self.lin(h, p + "kv_a_proj_with_mqa")
        k_pass, k_rot = ckv[:, :r], ckv[:, r:]
        kv = self.lin(self.norm(k_pass, self.w[p + "kv_a_layernorm.weight"], 1e-6),
                      p + "kv_b_proj").view(T, nh, nope + vd).transpose(0, 1)
        k_pass, v = kv[..., :nope], kv[..., nope:]
        k_rot = k_rot.view(1, T, rope)
        if ds(c, "rope_interleave"):
            # apply_rotary_pos_emb_interleave: pairs (2i, 2i+1) to i and d/2 + i
            q_rot = q_rot.reshape(nh, T, rope // 2, 2).transpose(3, 2).reshape(nh, T, rope)
            k_rot = k_rot.reshape(1, T, rope // 2, 2).transpose(3, 2).reshape(1, T, rope)
        q_rot = q_rot * cos + rotate_half(q_rot) * sin
        k_rot = k_rot * cos + rotate_half(k_rot) * sin
        k_rot = k_rot.expand(nh, T, rope)
        qs = torch.cat((q_pass, q_rot), dim=-1)
        ks = torch.cat((k_pass, k_rot), dim=-1)
        scale = (nope + rope) ** -0.5
        rs = c.get("rope_scaling")
        if rs is not None:
            m_all = rs.get("mscale_all_dim", 0)
            if m_all:
                f = rs["factor"]
                m = 1.0 if f <= 1 else 0.1 * m_all * math.log(f) + 1.0
                scale = scale * m * m
        s = (qs @ ks.transpose(1, 2)) * scale
        s = s.masked_fill(~allowed, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        return self.lin(a.transpose(0, 1).reshape(T, nh * vd), p + "o_proj")

    def ds_moe(self, h, p):
        """DeepseekV3MoE.forward (DeepseekV3TopkRouter's choice), one sequence."""
        c = self.cfg
        E, k = n_experts(c), ds(c, "num_experts_per_tok")
        G, TG = ds(c, "n_group"), ds(c, "topk_group")
        scores = (h @ self.w[p + "gate.weight"].T).sigmoid()
        choice = scores + self.w[p + "gate.e_score_correction_bias"][None, :]
        gs = choice.view(-1, G, E // G).topk(2, dim=-1)[0].sum(dim=-1)
        gi = torch.topk(gs, k=TG, dim=-1, sorted=False)[1]
        gm = torch.zeros_like(gs)
        gm.scatter_(1, gi, 1)
        mask = gm.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E)
        choice = choice.masked_fill(~mask.bool(), 0.0)
        sel = torch.topk(choice, k=k, dim=-1, sorted=False)[1]
        w = scores.gather(1, sel)
        if ds(c, "norm_topk_prob"):
            w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
        w = w * ds(c, "routed_scaling_factor")
        out = self.routed(h, p, sel, w, E)
        if ds(c, "n_shared_experts"):
            out = out + self.swiglu(h, p + "shared_experts.")
        return out

    def moe(self, h, p):
        """Qwen3MoeSparseMoeBlock.forward, one sequence."""
        c = self.cfg
        k = c.get("num_experts_per_tok", 8)
        logits = self.lin(h, p + "gate")
        w = torch.softmax(logits, dim=1)
        w, sel = torch.topk(w, k, dim=-1)
        if c.get("norm_topk_prob", False):
            w = w / w.sum(dim=-1, keepdim=True)
        return self.routed(h, p, sel, w, c.get("num_experts", 128))

    def swiglu(self, x, q):
        """An MLP: down(silu(gate x) * up x), its tensors under prefix q."""
        return self.lin(torch.nn.functional.silu(self.lin(x, q + "gate_proj")) *
                        self.lin(x, q + "up_proj"), q + "down_proj")

    def routed(self, h, p, sel, w, E):
        """Each row's chosen experts (sel) weighted by w, summed by index_add."""
        out = torch.zeros_like(h)
        for e in range(E):
            rows, slot = torch.where(sel == e)
            if len(rows) == 0:
                continue
            y = self.swiglu(h[rows], p + "experts.%d." % e)
            out.index_add_(0, rows, y * w[rows, slot, None])
        return out

    def completion_logprobs(self, prompt, completion, temperature=1.0):
        ids = list(prompt) + list(completion)
        lp = torch.log_softmax(self.logits(ids) / temperature, dim=-1)
        P = len(prompt)
        return [lp[P + j - 1, t].item() for j, t in enumerate(completion)]


# ---------------------------------------------------------------- CLI

def opt(argv, name, default):
    if name in argv:
        i = argv.index(name)
        v = argv[i + 1]
        del argv[i:i + 2]
        return v
    return default


def parse_size(s):
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    s = s.strip()
    if s[-2:].upper() in units:
        return int(float(s[:-2]) * units[s[-2:].upper()])
    return int(s)


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_like_hub(cfg, state, dst, dtype, max_shard):
    """config.json and weights as save_pretrained writes them."""
    os.makedirs(dst, exist_ok=True)
    dt = DTYPES[TORCH_NAMES.get(dtype, dtype.upper())] if dtype else None
    order = {}
    for n in state_names(cfg):
        t = state[n]
        order[n] = t.to(dt) if dt is not None else t
    nparams = sum(t.numel() for t in order.values())
    save_pretrained(dst, order, max_shard, nparams)
    cfg = dict(cfg)
    cfg["torch_dtype"] = {v: k for k, v in TORCH_NAMES.items()}[NAMES[next(iter(order.values())).dtype]]
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def random_state(cfg, seed, std):
    """Random weights: matrices N(0, std^2), norms near 1, biases near 0."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for n, s in state_shapes(cfg).items():
        if len(s) == 2:
            state[n] = torch.randn(s, generator=g) * std
        elif n.endswith("norm.weight"):
            state[n] = 1 + 0.1 * torch.randn(s, generator=g)
        else:
            state[n] = 0.1 * torch.randn(s, generator=g)
    return state


def compare(ckpt, samples, out, temperature, tol, adapter=None):
    """Prints one line for ckpt; returns 1 past the tolerance."""
    ref = Ref(ckpt, adapter)
    want, got = records(samples), records(out)
    if len(want) != len(got):
        print("%s: %d records, %s has %d" % (ckpt, len(want), out, len(got)))
        return 1
    worst, ntok = 0.0, 0
    for w, g in zip(want, got):
        lp = ref.completion_logprobs(w["prompt_ids"], w["completion_ids"], temperature)
        if len(lp) != len(g.get("ref_logprobs", [])):
            print("%s: record %s: %d log-probs, want %d" % (ckpt, w.get("id"),
                                                           len(g.get("ref_logprobs", [])), len(lp)))
            return 1
        for a, b in zip(lp, g["ref_logprobs"]):
            worst = max(worst, abs(a - b))
            ntok += 1
    if not worst <= tol:
        print("%s: %d tokens: max |diff| %.3g, over %g" % (ckpt, ntok, worst, tol))
        return 1
    print("%s: %d tokens: max |diff| within %g" % (ckpt, ntok, tol))
    return 0


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    temperature = float(opt(args, "--temperature", "1"))
    adapter = opt(args, "--adapter", None)
    if cmd == "logp":
        ref = Ref(args[0], adapter)
        for r in records(args[1]):
            r["ref_logprobs"] = ref.completion_logprobs(r["prompt_ids"], r["completion_ids"],
                                                        temperature)
            print(json.dumps(r))
    elif cmd == "compare":
        tol = float(opt(args, "--tol", "1e-4"))
        if not args or len(args) % 3:
            raise SystemExit(__doc__)
        bad = 0
        for a in range(0, len(args), 3):
            bad += compare(args[a], args[a + 1], args[a + 2], temperature, tol, adapter)
        sys.exit(1 if bad else 0)
    elif cmd == "resave":
        max_shard = parse_size(opt(args, "--max-shard-size", "5GB"))
        dtype = opt(args, "--dtype", None)
        cfg, state = load_dir(args[0])
        if cfg.get("tie_word_embeddings", False):
            state.pop("lm_head.weight", None)
        write_like_hub(cfg, state, args[1], dtype, max_shard)
    elif cmd == "random":
        max_shard = parse_size(opt(args, "--max-shard-size", "5GB"))
        dtype = opt(args, "--dtype", "float32")
        seed = int(opt(args, "--seed", "0"))
        std = float(opt(args, "--std", "0.02"))
        if not args or len(args) % 2:
            raise SystemExit(__doc__)
        for a in range(0, len(args), 2):
            with open(args[a]) as f:
                cfg = json.load(f)
            write_like_hub(cfg, random_state(cfg, seed, std), args[a + 1], dtype, max_shard)
    elif cmd == "lora-random":
        r = int(opt(args, "--r", "4"))
        alpha = int(opt(args, "--alpha", "8"))
        rslora = "--rslora" in args
        if rslora:
            args.remove("--rslora")
        targets = opt(args, "--targets", ",".join(LORA_MODULES)).split(",")
        seed = int(opt(args, "--seed", "0"))
        std = float(opt(args, "--std", "0.1"))
        dtype = opt(args, "--dtype", "float32")
        if len(args) != 2:
            raise SystemExit(__doc__)
        cfg, _ = load_dir(args[0])
        write_adapter(args[1], cfg, args[0], r, alpha, rslora, targets, seed, std, dtype)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
