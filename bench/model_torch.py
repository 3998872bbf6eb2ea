"""PyTorch CPU peer of bench/model_bench.c: the same Llama-family decoder
(RMSNorm, RoPE, grouped-query attention, SwiGLU, tied head), the same
training step (forward, mean cross-entropy, backward, AdamW), the same
shapes; prints one JSON line like model_bench.

    python3 model_torch.py PRESET B T STEPS

PRESET may be an HF config.json: its shape (head_dim, tied or untied
head), rope_theta, rms_norm_eps and, for model_type qwen3, the per-head
q_norm/k_norm RMSNorm before RoPE.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

PRESETS = {
    "tiny": dict(dim=256, hidden=768, layers=4, heads=4, kv=2, vocab=264),
    "smollm-135m": dict(dim=576, hidden=1536, layers=30, heads=9, kv=3, vocab=49152),
}


def shape(name):
    """A preset, or the shape of a config.json."""
    if name in PRESETS:
        c = dict(PRESETS[name])
        c.update(hd=c["dim"] // c["heads"], theta=10000.0, eps=1e-5, qknorm=False, tied=True)
        return c
    with open(name) as f:
        j = json.load(f)
    h = j["num_attention_heads"]
    return dict(dim=j["hidden_size"], hidden=j["intermediate_size"], layers=j["num_hidden_layers"],
                heads=h, kv=j.get("num_key_value_heads") or h, vocab=j["vocab_size"],
                hd=j.get("head_dim") or j["hidden_size"] // h,
                theta=float(j.get("rope_theta", 10000.0)), eps=float(j.get("rms_norm_eps", 1e-6)),
                qknorm=j.get("model_type") == "qwen3", tied=j.get("tie_word_embeddings", False))


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
        self.n1, self.n2 = RMSNorm(d, c["eps"]), RMSNorm(d, c["eps"])
        self.qn = RMSNorm(hd, c["eps"]) if c["qknorm"] else None
        self.kn = RMSNorm(hd, c["eps"]) if c["qknorm"] else None
        self.q = torch.nn.Linear(d, self.h * hd, bias=False)
        self.k = torch.nn.Linear(d, self.kv * hd, bias=False)
        self.v = torch.nn.Linear(d, self.kv * hd, bias=False)
        self.o = torch.nn.Linear(self.h * hd, d, bias=False)
        self.g = torch.nn.Linear(d, c["hidden"], bias=False)
        self.u = torch.nn.Linear(d, c["hidden"], bias=False)
        self.dn = torch.nn.Linear(c["hidden"], d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        y = self.n1(x)
        q = self.q(y).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        if self.qn is not None:
            q, k = self.qn(q), self.kn(k)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
            a = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, T, -1))
        y = self.n2(x)
        return x + self.dn(F.silu(self.g(y)) * self.u(y))


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.emb = torch.nn.Embedding(c["vocab"], c["dim"])
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"], c["eps"])
        self.head = None if c["tied"] else torch.nn.Linear(c["dim"], c["vocab"], bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    def forward(self, ids, cos, sin, mask):
        x = self.emb(ids)
        for l in self.layers:
            x = l(x, cos, sin, mask)
        if self.head is not None:
            return self.head(self.norm(x))
        return self.norm(x) @ self.emb.weight.t()


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
    if sys.argv[1] == "--summary":
        return summary(sys.argv[2])
    preset, B, T, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    c = shape(preset)
    torch.set_num_threads(int(os.environ.get("POSTTRAIN_THREADS") or os.cpu_count()))
    torch.manual_seed(0)
    m = Model(c)
    hd = c["hd"]
    inv = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2).float() / hd))
    f = torch.outer(torch.arange(T).float(), inv)
    cos = torch.cat((f, f), -1).cos()
    sin = torch.cat((f, f), -1).sin()
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    nd = [p for p in m.parameters() if p.dim() == 2]
    d = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": nd, "weight_decay": 0.1},
                             {"params": d, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    ids = torch.randint(0, c["vocab"], (B, T))
    total, best = 0.0, 1e30
    for s in range(-1, steps):
        t0 = time.perf_counter()
        logits = m(ids, cos, sin, mask)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        t = time.perf_counter() - t0
        if s >= 0:
            total += t
            best = min(best, t)
    n = sum(p.numel() for p in m.parameters())
    print(json.dumps({"what": "step", "impl": "pytorch", "preset": preset, "B": B, "T": T,
                      "params": n, "steps": steps, "sec_per_step": round(total / steps, 4),
                      "best_sec": round(best, 4),
                      "tokens_per_sec": round(B * T / (total / steps), 1),
                      "best_tokens_per_sec": round(B * T / best, 1),
                      "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "loss": round(loss.item(), 4)}))


if __name__ == "__main__":
    main()
