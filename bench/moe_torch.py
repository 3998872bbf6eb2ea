"""PyTorch CPU peer of bench/moe.sh for the mixture-of-experts families:
DeepSeek-V3 (Multi-head Latent Attention, DeepSeekMoE's sigmoid router
with the selection bias, groups, shared experts) and Qwen3-MoE (GQA with
q/k norm, softmax router), written as transformers writes them, batched,
fp32.

    python3 moe_torch.py decode CONFIG PROMPTS G STEPS THREADS
        -> "tokens/s N cache-bytes/token N"
    python3 moe_torch.py train CKPT B T STEPS --data FILE [--lr X]
        -> one JSON line (tokens_per_sec, losses)

decode: random weights (std 0.02) of CONFIG's shape, PROMPTS 32-token
prompts prefilled, then STEPS timed steps of PROMPTS x G sequences, one
token each, the next token a fixed function of the step (as
bench/gen-decode.c).  The cache is transformers': the keys and values of
every head, MLA's expanded from the latent by kv_b_proj
(DeepseekV3Attention caches key_states and value_states).

train: the weights of checkpoint CKPT (posttrain-checkpoint(5)); B rows
of T tokens per step from FILE (packed records: ids, loss_mask), one
warm-up step then STEPS timed; each step the mean cross-entropy over the
targets, backward, clipping at 1, AdamW (betas 0.9, 0.95, weight decay
0.1 on matrices): update --sft's step.  "losses" lists every step's loss,
the warm-up's first, so bench/moe.sh checks the first against update's.

The experts run as transformers runs them: per expert, the rows routed to
it gathered, its MLP, the weighted result added back (index_add_).
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import ref_model  # noqa: E402  (the reference's config readers, RoPE formulas, safetensors)

P = 32


class Net:
    """The decoder over a dict of HF-named fp32 tensors w."""

    def __init__(self, cfg, w):
        self.c, self.w = cfg, w
        self.fam = ref_model.family(cfg)
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg.get("num_key_value_heads") or self.nh
        self.hd = ref_model.head_dim(cfg)
        if "lm_head.weight" not in w or cfg.get("tie_word_embeddings", False):
            w["lm_head.weight"] = w["model.embed_tokens.weight"]
        self.scale = 1.0 / math.sqrt(self.hd)
        if self.fam == "deepseek_v3":
            ds = lambda k: ref_model.ds(cfg, k)  # noqa: E731
            self.nope, self.rope, self.vd = ds("qk_nope_head_dim"), ds("qk_rope_head_dim"), \
                ds("v_head_dim")
            self.r = ds("kv_lora_rank")
            self.scale = (self.nope + self.rope) ** -0.5
            rs = cfg.get("rope_scaling")
            if rs is not None and rs.get("mscale_all_dim", 0) and rs["factor"] > 1:
                m = 0.1 * rs["mscale_all_dim"] * math.log(rs["factor"]) + 1.0
                self.scale *= m * m

    def rope_tables(self, n):
        inv, att = ref_model.rope_params(self.c, n)
        ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
        emb = torch.cat((ang, ang), dim=-1)
        self.cos, self.sin = (emb.cos() * att).float(), (emb.sin() * att).float()

    def norm(self, x, w, eps=None):
        eps = self.eps if eps is None else eps
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def lin(self, x, name):
        y = x @ self.w[name + ".weight"].t()
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    def rot(self, x, pos):  # x (B, heads, T, d): rotate_half RoPE at positions pos
        c, s = self.cos[pos], self.sin[pos]
        h = x.shape[-1] // 2
        return x * c + torch.cat((-x[..., h:], x[..., :h]), dim=-1) * s

    def attend(self, q, k, v, pos0):  # q (B, nh, T, d), k (B, nh, S, d): causal from pos0
        T, S = q.shape[2], k.shape[2]
        s = (q @ k.transpose(-1, -2)) * self.scale
        if T > 1:
            i = torch.arange(T)[:, None] + pos0
            s = s.masked_fill(torch.arange(S)[None, :] > i, float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    def mla(self, h, p, pos, cache):
        B, T, _ = h.shape
        nh, nope, rope, vd = self.nh, self.nope, self.rope, self.vd
        if ref_model.ds(self.c, "q_lora_rank") is None:
            q = self.lin(h, p + "q_proj")
        else:
            q = self.lin(self.norm(self.lin(h, p + "q_a_proj"), self.w[p + "q_a_layernorm.weight"],
                                   1e-6), p + "q_b_proj")
        q = q.view(B, T, nh, nope + rope).transpose(1, 2)
        ckv = self.lin(h, p + "kv_a_proj_with_mqa")
        kv = self.lin(self.norm(ckv[..., :self.r], self.w[p + "kv_a_layernorm.weight"], 1e-6),
                      p + "kv_b_proj").view(B, T, nh, nope + vd).transpose(1, 2)
        q_rot, k_rot = q[..., nope:], ckv[..., self.r:].view(B, 1, T, rope)
        if ref_model.ds(self.c, "rope_interleave"):
            q_rot = q_rot.reshape(B, nh, T, rope // 2, 2).transpose(4, 3).reshape(B, nh, T, rope)
            k_rot = k_rot.reshape(B, 1, T, rope // 2, 2).transpose(4, 3).reshape(B, 1, T, rope)
        qs = torch.cat((q[..., :nope], self.rot(q_rot, pos)), dim=-1)
        ks = torch.cat((kv[..., :nope], self.rot(k_rot, pos).expand(B, nh, T, rope)), dim=-1)
        v = kv[..., nope:]
        if cache is not None:
            ks, v = cache.put(ks, v, pos[0])
        a = self.attend(qs, ks, v, int(pos[0]))
        return self.lin(a.transpose(1, 2).reshape(B, T, nh * vd), p + "o_proj")

    def gqa(self, h, p, pos, cache):
        B, T, _ = h.shape
        nh, nkv, hd = self.nh, self.nkv, self.hd
        q = self.lin(h, p + "q_proj").view(B, T, nh, hd)
        k = self.lin(h, p + "k_proj").view(B, T, nkv, hd)
        v = self.lin(h, p + "v_proj").view(B, T, nkv, hd).transpose(1, 2)
        if self.fam in ("qwen3", "qwen3_moe"):
            q = self.norm(q, self.w[p + "q_norm.weight"])
            k = self.norm(k, self.w[p + "k_norm.weight"])
        q, k = self.rot(q.transpose(1, 2), pos), self.rot(k.transpose(1, 2), pos)
        if cache is not None:
            k, v = cache.put(k, v, pos[0])
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        a = self.attend(q, k, v, int(pos[0]))
        return self.lin(a.transpose(1, 2).reshape(B, T, nh * hd), p + "o_proj")

    def swiglu(self, x, q):
        return self.lin(F.silu(self.lin(x, q + "gate_proj")) * self.lin(x, q + "up_proj"),
                        q + "down_proj")

    routed = ref_model.Ref.routed  # per expert, its rows' MLP, added back by index_add_

    def moe(self, h, p):
        c, (B, T, C) = self.c, h.shape
        h = h.reshape(B * T, C)
        if self.fam == "deepseek_v3":
            ds = lambda k: ref_model.ds(c, k)  # noqa: E731
            E, k, G, TG = ref_model.n_experts(c), ds("num_experts_per_tok"), ds("n_group"), \
                ds("topk_group")
            scores = (h @ self.w[p + "gate.weight"].t()).sigmoid()
            with torch.no_grad():
                choice = scores + self.w[p + "gate.e_score_correction_bias"][None, :]
                if G > 1:
                    gs = choice.view(-1, G, E // G).topk(2, dim=-1)[0].sum(dim=-1)
                    gi = torch.topk(gs, k=TG, dim=-1, sorted=False)[1]
                    gm = torch.zeros_like(gs).scatter_(1, gi, 1)
                    mask = gm.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E)
                    choice = choice.masked_fill(~mask.bool(), 0.0)
                sel = torch.topk(choice, k=k, dim=-1, sorted=False)[1]
            wt = scores.gather(1, sel)
            if ds("norm_topk_prob"):
                wt = wt / (wt.sum(dim=-1, keepdim=True) + 1e-20)
            wt = wt * ds("routed_scaling_factor")
            out = self.routed(h, p, sel, wt, E)
            if ds("n_shared_experts"):
                out = out + self.swiglu(h, p + "shared_experts.")
        else:
            wt = torch.softmax(h @ self.w[p + "gate.weight"].t(), dim=1)
            wt, sel = torch.topk(wt, c.get("num_experts_per_tok", 8), dim=-1)
            if c.get("norm_topk_prob", False):
                wt = wt / wt.sum(dim=-1, keepdim=True)
            out = self.routed(h, p, sel, wt, c.get("num_experts", 128))
        return out.view(B, T, C)

    def hidden(self, ids, pos0=0, caches=None):
        """The final-normed hidden states of ids (B, T) at positions pos0..."""
        c, T = self.c, ids.shape[1]
        pos = torch.arange(pos0, pos0 + T)
        x = self.w["model.embed_tokens.weight"][ids]
        for l in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % l
            cache = caches[l] if caches else None
            h = self.norm(x, self.w[p + "input_layernorm.weight"])
            if self.fam == "deepseek_v3":
                x = x + self.mla(h, p + "self_attn.", pos, cache)
            else:
                x = x + self.gqa(h, p + "self_attn.", pos, cache)
            h = self.norm(x, self.w[p + "post_attention_layernorm.weight"])
            x = x + (self.moe(h, p + "mlp.") if ref_model.sparse(c, l)
                     else self.swiglu(h, p + "mlp."))
        return self.norm(x, self.w["model.norm.weight"])


class Cache:
    """One layer's keys and values (B, heads, maxlen, d), written in place."""

    def __init__(self, B, heads, maxlen, dk, dv):
        self.k = torch.zeros(B, heads, maxlen, dk)
        self.v = torch.zeros(B, heads, maxlen, dv)

    def put(self, k, v, pos0):
        T = k.shape[2]
        self.k[:, :, pos0:pos0 + T] = k
        self.v[:, :, pos0:pos0 + T] = v
        return self.k[:, :, :pos0 + T], self.v[:, :, :pos0 + T]


def decode(argv):
    path, nprompts, G, steps, threads = argv[0], *map(int, argv[1:5])
    torch.set_num_threads(threads)
    with open(path) as f:
        cfg = json.load(f)
    w = {k: v.float() for k, v in ref_model.random_state(cfg, 1, 0.02).items()}
    net = Net(cfg, w)
    V, B, maxlen = cfg["vocab_size"], nprompts * G, P + steps + 2
    net.rope_tables(maxlen)
    if net.fam == "deepseek_v3":
        dims = (net.nh, net.nope + net.rope, net.vd)
    else:
        dims = (net.nkv, net.hd, net.hd)
    caches = [Cache(B, dims[0], maxlen, dims[1], dims[2]) for _ in range(cfg["num_hidden_layers"])]
    per_token = sum(4 * (c.k[0, :, 0].numel() + c.v[0, :, 0].numel()) for c in caches)
    with torch.inference_mode():
        # each prompt prefilled once, its cache copied to its G sequences (a
        # shared prefix, as gen's)
        prompt = (torch.arange(P)[None, :] * 31 + torch.arange(nprompts)[:, None] * 7 + 1) % V
        one = [Cache(nprompts, dims[0], maxlen, dims[1], dims[2]) for _ in caches]
        net.hidden(prompt, 0, one)
        for c, o in zip(caches, one):
            c.k[:, :, :P] = o.k[:, :, :P].repeat_interleave(G, dim=0)
            c.v[:, :, :P] = o.v[:, :, :P].repeat_interleave(G, dim=0)
        head = w["lm_head.weight"]
        tok = (torch.arange(B)[:, None] * 13 + 5) % V
        net.hidden(tok, P, caches)[:, -1] @ head.t()
        t0 = time.perf_counter()
        for t in range(steps):
            tok = (torch.arange(B)[:, None] * 13 + t * 7 + 5) % V
            net.hidden(tok, P + 1 + t, caches)[:, -1] @ head.t()
        dt = time.perf_counter() - t0
    print("tokens/s %.2f cache-bytes/token %d" % (B * steps / dt, per_token))


def train(argv):
    data = ref_model.opt(argv, "--data", None)
    lr = float(ref_model.opt(argv, "--lr", "1e-5"))
    ckpt, B, T, steps = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    torch.set_num_threads(int(os.environ.get("POSTTRAIN_THREADS") or os.cpu_count()))
    cfg, raw = ref_model.load_dir(ckpt)
    w = {k: v.float().requires_grad_(not k.endswith("e_score_correction_bias"))
         for k, v in raw.items()}
    net = Net(cfg, w)
    net.rope_tables(T)
    params = [t for k, t in w.items() if t.requires_grad]
    opt = torch.optim.AdamW([{"params": [t for t in params if t.dim() == 2], "weight_decay": 0.1},
                             {"params": [t for t in params if t.dim() < 2], "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95), eps=1e-8)
    n_rows = B * (steps + 1)
    with open(data) as fh:
        recs = [json.loads(l) for l in fh if l.strip()][:n_rows]
    if len(recs) < n_rows or any(len(r["ids"]) != T for r in recs):
        raise SystemExit("moe_torch: %s: want %d rows of %d ids" % (data, n_rows, T))
    all_ids = torch.tensor([r["ids"] for r in recs])
    all_mask = torch.tensor([r["loss_mask"] for r in recs])
    total, losses = 0.0, []
    for s in range(-1, steps):
        ids, lm = all_ids[B * (s + 1):B * (s + 2)], all_mask[B * (s + 1):B * (s + 2)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        h = net.hidden(ids)[:, :-1].reshape(-1, cfg["hidden_size"])
        sel = lm[:, 1:].reshape(-1).nonzero()[:, 0]
        logits = h[sel] @ w["lm_head.weight"].t()
        loss = F.cross_entropy(logits, ids[:, 1:].reshape(-1)[sel])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        t = time.perf_counter() - t0
        losses.append(loss.item())
        if s >= 0:
            total += t
    print(json.dumps({"what": "step", "impl": "pytorch", "B": B, "T": T, "steps": steps,
                      "tokens_per_sec": round(B * T / (total / steps), 1),
                      "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "losses": losses}))


def main():
    argv = sys.argv[1:]
    if len(argv) >= 6 and argv[0] == "decode":
        return decode(argv[1:])
    if len(argv) >= 5 and argv[0] == "train":
        return train(argv[1:])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
