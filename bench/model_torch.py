"""PyTorch CPU peer of bench/model_bench.c and update(1): the same decoder
(RMSNorm, RoPE, grouped-query attention, Qwen3's q_norm/k_norm, SwiGLU,
tied or untied head), the same training step (forward, mean cross-entropy
over the targets, backward, AdamW, gradient clipping at 1), the same
shapes; prints one JSON line like model_bench.

    python3 model_torch.py SHAPE B T STEPS [--data FILE] [--micro M] [--lr X] [--autocast bf16]

SHAPE is a preset (tiny, smollm-135m), an HF config.json (its shape,
head_dim, tied or untied head, rope_theta and rope_scaling, rms_norm_eps,
biases, and for model_type qwen3 the per-head q_norm/k_norm before RoPE)
with random weights, or a checkpoint directory (posttrain-checkpoint(5),
as init(1) and update(1) write it): its config.json and its weights.  --data FILE
takes the rows of a packed file (posttrain-records(5): ids and loss_mask,
B rows per step, in order) instead of random tokens; a token is a target
where its loss_mask is 1, as update --sft reads it.  One warm-up step is
taken first; "losses" lists every step's loss, the warm-up's first.

The step is written as a user who must fit it in memory would write it:
  - the head and its cross-entropy are one autograd function over chunks
    of rows (the fused linear cross-entropy of Liger-Kernel and others):
    each chunk's logits, log-softmax, loss and both gradients (of the
    hidden states and of the head matrix) are computed in the forward and
    the chunk's logits freed, so B x T x V logits never exist and nothing
    is recomputed; the backward only scales the stored gradients;
  - --autocast bf16: the forward under torch.autocast("cpu", bfloat16),
    PyTorch's CPU mixed precision (fp32 master weights and optimizer);
  - --micro M: forward and backward over M rows at a time, gradients
    accumulated over the B rows of the step (default M = B), the loss of
    every token weighted by the step's whole count of targets, so the
    step is the same whatever M.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import ref_model  # noqa: E402  (the reference's safetensors reader and RoPE formulas)

PRESETS = {
    "tiny": dict(dim=256, hidden=768, layers=4, heads=4, kv=2, vocab=264),
    "smollm-135m": dict(dim=576, hidden=1536, layers=30, heads=9, kv=3, vocab=49152),
}
# rows of logits per chunk of the head: at most 256 MiB of fp32 logits, as
# lib/model.c's logit_chunk
CHUNK_BYTES = 256 << 20


def shape(name):
    """A preset, or the shape of a config.json (with the config itself)."""
    if name in PRESETS:
        c = dict(PRESETS[name])
        c.update(hd=c["dim"] // c["heads"], eps=1e-5, qknorm=False, tied=True,
                 qkv_bias=False, o_bias=False,
                 cfg={"rope_theta": 10000.0, "head_dim": c["dim"] // c["heads"]})
        return c
    with open(name) as f:
        j = json.load(f)
    h = j["num_attention_heads"]
    qkv_b, o_b = ref_model.biases(j)
    if j.get("use_sliding_window"):
        raise SystemExit("model_torch: %s: use_sliding_window is not in this peer" % name)
    return dict(dim=j["hidden_size"], hidden=j["intermediate_size"], layers=j["num_hidden_layers"],
                heads=h, kv=j.get("num_key_value_heads") or h, vocab=j["vocab_size"],
                hd=ref_model.head_dim(j), eps=float(j.get("rms_norm_eps", 1e-6)),
                qknorm=ref_model.family(j) == "qwen3", tied=j.get("tie_word_embeddings", False),
                qkv_bias=qkv_b, o_bias=o_b, cfg=j)


class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    rot = torch.cat((-x[..., h:], x[..., :h]), dim=-1)
    return x * cos + rot * sin


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["dim"], c["hd"]
        self.h, self.kv, self.hd = c["heads"], c["kv"], hd
        self.input_layernorm = RMSNorm(d, c["eps"])
        self.post_attention_layernorm = RMSNorm(d, c["eps"])
        self.q_norm = RMSNorm(hd, c["eps"]) if c["qknorm"] else None
        self.k_norm = RMSNorm(hd, c["eps"]) if c["qknorm"] else None
        self.q_proj = torch.nn.Linear(d, self.h * hd, bias=c["qkv_bias"])
        self.k_proj = torch.nn.Linear(d, self.kv * hd, bias=c["qkv_bias"])
        self.v_proj = torch.nn.Linear(d, self.kv * hd, bias=c["qkv_bias"])
        self.o_proj = torch.nn.Linear(self.h * hd, d, bias=c["o_bias"])
        self.gate_proj = torch.nn.Linear(d, c["hidden"], bias=False)
        self.up_proj = torch.nn.Linear(d, c["hidden"], bias=False)
        self.down_proj = torch.nn.Linear(c["hidden"], d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        y = self.input_layernorm(x)
        q = self.q_proj(y).view(B, T, self.h, self.hd)
        k = self.k_proj(y).view(B, T, self.kv, self.hd)
        v = self.v_proj(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = rope(q.transpose(1, 2), cos, sin), rope(k.transpose(1, 2), cos, sin)
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q * (1.0 / math.sqrt(self.hd))) @ k.transpose(-1, -2)
            a = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + self.o_proj(a.transpose(1, 2).reshape(B, T, -1))
        y = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(y)) * self.up_proj(y))


class LinearCrossEntropy(torch.autograd.Function):
    """scale * sum over rows of -log softmax(h W^T)[target], chunk rows at a
    time; the gradients are computed in the forward (see the module's
    docstring)."""

    @staticmethod
    def forward(ctx, h, w, target, scale, chunk):
        dh = torch.empty_like(h)
        dw = torch.zeros_like(w)
        loss = torch.zeros((), dtype=torch.float64)
        for a in range(0, h.shape[0], chunk):
            hc, t = h[a:a + chunk], target[a:a + chunk]
            # under autocast the product is bf16; the softmax and its
            # gradient fp32, as autocast computes log-softmax
            z = (hc @ w.t()).float()
            lse = torch.logsumexp(z, dim=-1)
            loss += (lse - z.gather(1, t[:, None])[:, 0]).sum().double()
            z.sub_(lse[:, None]).exp_()                     # softmax
            z[torch.arange(z.shape[0]), t] -= 1.0           # - one-hot
            z.mul_(scale)
            dh[a:a + chunk] = z @ w
            if torch.is_autocast_cpu_enabled():
                dw += (z.t() @ hc).float()
            else:
                dw.addmm_(z.t(), hc)
        ctx.save_for_backward(dh, dw)
        return (loss * scale).to(h.dtype)

    @staticmethod
    def backward(ctx, g):
        dh, dw = ctx.saved_tensors
        return dh * g, dw * g, None, None, None


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(c["vocab"], c["dim"])
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"], c["eps"])
        self.lm_head = None if c["tied"] else torch.nn.Linear(c["dim"], c["vocab"], bias=False)
        self.chunk = max(1, CHUNK_BYTES // (4 * c["vocab"]))
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    def load(self, tensors):
        """Weights named as transformers names them (model.*, lm_head.*)."""
        own = dict(self.named_parameters())
        for name, t in tensors.items():
            key = name[len("model."):] if name.startswith("model.") else name
            key = key.replace("self_attn.", "").replace("mlp.", "")
            if key == "lm_head.weight" and self.lm_head is None:
                continue
            if key not in own or own[key].shape != t.shape:
                raise SystemExit("model_torch: checkpoint tensor %s %s does not fit this model"
                                 % (name, list(t.shape)))
            own.pop(key).data = t.to(torch.float32)
        if own:
            raise SystemExit("model_torch: checkpoint lacks %s" % ", ".join(sorted(own)))

    def loss(self, ids, loss_mask, cos, sin, mask, scale):
        """scale * the summed cross-entropy of the rows' targets (tokens whose
        loss_mask is 1, each predicted from the position before it)."""
        x = self.embed_tokens(ids)
        for l in self.layers:
            x = l(x, cos, sin, mask)
        x = self.norm(x)
        sel = loss_mask[:, 1:].reshape(-1).nonzero()[:, 0]
        h = x[:, :-1].reshape(-1, x.shape[-1])[sel]
        w = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return LinearCrossEntropy.apply(h, w, ids[:, 1:].reshape(-1)[sel], scale, self.chunk)


def summary(path):
    """Prints the side-by-side table of a model.sh run: per shape, the best
    step of each side over its rounds (the machine is shared: the best step
    is the one least disturbed), and the mean."""
    rows = [json.loads(l) for l in open(path) if l.strip()]
    peak = max(r["gflops"] for r in rows if r["what"] == "sgemm_peak")
    best, mean, gflop = {}, {}, {}
    for r in rows:
        if r["what"] != "step":
            continue
        k = (r["preset"], r["B"], r["T"])
        best.setdefault(k, {}).setdefault(r["impl"], 0)
        best[k][r["impl"]] = max(best[k][r["impl"]], r["best_tokens_per_sec"])
        mean.setdefault(k, {}).setdefault(r["impl"], []).append(r["tokens_per_sec"])
        if r["impl"] == "posttrain":
            gflop[k] = r["gflop_per_step"]
    print(f"sgemm peak {peak:.1f} GFLOP/s (best of the run's measurements)")
    print(f"{'shape':<20} {'posttrain tok/s':>16} {'pytorch tok/s':>14} {'ratio':>6}"
          f" {'MFU':>6} {'torch MFU':>9}   (best step; mean in brackets)")
    for k in best:
        o, t = best[k].get("posttrain"), best[k].get("pytorch")
        if not o or not t:
            continue
        mo = sum(mean[k]["posttrain"]) / len(mean[k]["posttrain"])
        mt = sum(mean[k]["pytorch"]) / len(mean[k]["pytorch"])
        tokens = k[1] * k[2]
        mfu = gflop[k] * o / tokens / peak
        print(f"{k[0] + ' ' + str(k[1]) + 'x' + str(k[2]):<20} {o:>7.1f} [{mo:>6.1f}]"
              f" {t:>6.1f} [{mt:>6.1f}] {o / t:>5.2f}x {100 * mfu:>5.1f}%"
              f" {100 * mfu * t / o:>8.1f}%")


def main():
    argv = sys.argv[1:]
    if argv[0] == "--summary":
        return summary(argv[1])
    data = ref_model.opt(argv, "--data", None)
    micro = ref_model.opt(argv, "--micro", None)
    lr = float(ref_model.opt(argv, "--lr", "1e-4"))
    autocast = ref_model.opt(argv, "--autocast", None)
    if autocast not in (None, "bf16"):
        raise SystemExit("model_torch: --autocast takes bf16")
    if len(argv) != 4:
        raise SystemExit(__doc__)
    preset, B, T, steps = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    M = int(micro) if micro else B
    if M < 1 or B % M:
        raise SystemExit("model_torch: --micro %d does not divide the batch of %d rows" % (M, B))
    ckpt = preset if os.path.isdir(preset) else None
    c = shape(os.path.join(ckpt, "config.json") if ckpt else preset)
    torch.set_num_threads(int(os.environ.get("POSTTRAIN_THREADS") or os.cpu_count()))
    torch.manual_seed(0)
    m = Model(c)
    if ckpt:
        m.load(ref_model.load_dir(ckpt)[1])
    inv, att = ref_model.rope_params(c["cfg"], T)
    f = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos = (torch.cat((f, f), -1).cos() * att).float()
    sin = (torch.cat((f, f), -1).sin() * att).float()
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    nd = [p for p in m.parameters() if p.dim() == 2]
    d = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": nd, "weight_decay": 0.1},
                             {"params": d, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95), eps=1e-8)
    n_rows = B * (steps + 1)
    if data:
        with open(data) as fh:
            recs = [json.loads(l) for l in fh if l.strip()][:n_rows]
        if len(recs) < n_rows or any(len(r["ids"]) != T for r in recs):
            raise SystemExit("model_torch: %s: want %d rows of %d ids" % (data, n_rows, T))
        all_ids = torch.tensor([r["ids"] for r in recs])
        all_mask = torch.tensor([r.get("loss_mask") or [0] + [1] * (T - 1) for r in recs])
    else:
        all_ids = torch.randint(0, c["vocab"], (n_rows, T))
        all_mask = torch.ones(n_rows, T, dtype=torch.long)
        all_mask[:, 0] = 0
    total, best, losses = 0.0, 1e30, []
    for s in range(-1, steps):
        ids, lm = all_ids[B * (s + 1):B * (s + 2)], all_mask[B * (s + 1):B * (s + 2)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        scale = 1.0 / max(1, int(lm[:, 1:].sum()))
        loss = 0.0
        for a in range(0, B, M):
            if autocast:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    part = m.loss(ids[a:a + M], lm[a:a + M], cos, sin, mask, scale)
            else:
                part = m.loss(ids[a:a + M], lm[a:a + M], cos, sin, mask, scale)
            part.backward()
            loss += part.item()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        t = time.perf_counter() - t0
        losses.append(loss)
        if s >= 0:
            total += t
            best = min(best, t)
    n = sum(p.numel() for p in m.parameters())
    print(json.dumps({"what": "step", "impl": "pytorch", "dtype": "bf16" if autocast else "f32",
                      "preset": preset, "B": B, "T": T,
                      "micro": M, "params": n, "steps": steps,
                      "sec_per_step": round(total / steps, 4), "best_sec": round(best, 4),
                      "tokens_per_sec": round(B * T / (total / steps), 1),
                      "best_tokens_per_sec": round(B * T / best, 1),
                      "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "loss": round(losses[-1], 4), "losses": losses}))


if __name__ == "__main__":
    main()
