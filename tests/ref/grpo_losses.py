#!/usr/bin/python3
"""grpo_losses.py - the GRPO-family token losses of update(1), written
from their papers with PyTorch autograd and nothing of posttrain's code,
on random data: the reference dump tests/unit/test_train.c compares
lib/train.c with.

    /usr/bin/python3 grpo_losses.py > tests/ref/grpo_losses.json

Formulas (train.h, update(1)):
  ppo         -min(r A, clip(r, 1-lo, 1+hi) A),  r = exp(logp - old)
              (Schulman 2017, arXiv:1707.06347, eq. 7; DAPO's two bounds,
              arXiv:2503.14476, eq. 10)
  gspo        the same with s = exp(mean over the sequence of logp - old),
              gradient through s (Zheng 2025, arXiv:2507.18071, eq. 5, 7)
  gspo-token  s_t = sg[s] exp(logp_t - sg[logp_t])  (GSPO eq. 13, 14)
  cispo       -sg[clip(r, 1-lo, 1+hi)] A logp  (MiniMax-M1,
              arXiv:2506.13585, eq. 4)
  + beta k(logp, ref): k1 d, k2 d^2/2, k3 e^-d + d - 1, d = logp - ref
  - ent_coef H;  A = adv + distill (ref - old)
  times the sampler's importance weight (token: exp(old - b), seq:
  exp(sum (old - b)); truncate min(rho, C), mask rho [rho <= C]),
  aggregated with token-mean, seq-mean-token-mean or
  seq-mean-token-sum-norm (largest n of the batch).
Metrics of the same tokens (update(1) --metrics, before the division by
the targets): the sum and largest of the ratio (r, or s for gspo and
gspo-token), the tokens the clip took the gradient from below and above
(ppo, gspo: r outside the bound on the side A pushes it; cispo: r outside
either bound), the sum of the k-estimates, the sum of the importance
weights and the count the cap truncated or masked.
Needs python3 and torch.
"""
import json
import random
import sys

import torch

torch.set_default_dtype(torch.float64)
rng = random.Random(20)


def f32(x):
    """x rounded to float32, as the C side holds it."""
    return float(torch.tensor(x, dtype=torch.float32))


def case(cfg):
    nseg = rng.randint(2, 4)
    seg, mask, adv = [], [], []
    for _ in range(nseg):
        n = rng.randint(3, 7)
        p = rng.randint(1, n - 1)  # prompt tokens: the first is never a target
        seg.append(n)
        mask += [0] * p + [1] * (n - p)
        adv.append(f32(rng.uniform(-2, 2)))
    T = len(mask)
    spread = 2e-3 if cfg["obj"].startswith("gspo") else 0.6
    old = [f32(-rng.uniform(0.1, 3)) if m else 0.0 for m in mask]
    logp = [f32(min(o + rng.uniform(-spread, spread), 0)) if m else 0.0
            for o, m in zip(old, mask)]
    b = [f32(min(o + rng.uniform(-0.8, 0.8), 0)) if m else 0.0 for o, m in zip(old, mask)]
    ref = [f32(min(o + rng.uniform(-1, 1), 0)) if m else 0.0 for o, m in zip(old, mask)]
    ent = [f32(rng.uniform(0, 3)) if m else 0.0 for m in mask]

    # aggregation weights
    ns, bounds, t = [], [], 0
    for n in seg:
        ns.append(sum(mask[t:t + n]))
        bounds.append((t, t + n))
        t += n
    S = sum(1 for n in ns if n > 0)
    Ttot = sum(ns)
    C = max(ns)
    w = [0.0] * T
    for (a, e), n in zip(bounds, ns):
        for i in range(a, e):
            if mask[i]:
                w[i] = {"token-mean": 1 / Ttot, "seq-mean-token-mean": 1 / (S * n),
                        "seq-mean-token-sum-norm": 1 / (S * C)}[cfg["agg"]]

    # importance weights (no gradient)
    isw = [1.0] * T
    met = {"ratio_sum": 0.0, "ratio_max": 0.0, "clip_low": 0, "clip_high": 0,
           "kl_sum": 0.0, "is_sum": 0.0, "is_capped": 0}
    for a, e in bounds:
        ssum = sum(old[i] - b[i] for i in range(a, e) if mask[i])
        for i in range(a, e):
            if not mask[i] or cfg["is"] == "off":
                continue
            rho = torch.exp(torch.tensor(ssum if cfg["is"] == "seq" else old[i] - b[i])).item()
            if rho > cfg["cap"]:
                isw[i] = 0.0 if cfg["mask"] else cfg["cap"]
                met["is_capped"] += 1
            else:
                isw[i] = rho
            met["is_sum"] += isw[i]

    L = torch.tensor(logp, requires_grad=True)
    H = torch.tensor(ent, requires_grad=True)
    O, R = torch.tensor(old), torch.tensor(ref)
    lo, hi = 1 - cfg["clip_low"], 1 + cfg["clip_high"]
    loss = torch.zeros(())
    for s, (a, e) in enumerate(bounds):
        idx = [i for i in range(a, e) if mask[i]]
        if not idx:
            continue
        ii = torch.tensor(idx)
        lp, op, rp = L[ii], O[ii], R[ii]
        A = adv[s] + cfg["distill"] * (rp - op)
        wi = torch.tensor([isw[i] for i in idx])
        if cfg["obj"] == "ppo":
            r = torch.exp(lp - op)
            lt = -torch.minimum(r * A, torch.clamp(r, lo, hi) * A)
        elif cfg["obj"] == "gspo":
            sr = torch.exp((lp - op).mean()).expand(len(idx))
            lt = -torch.minimum(sr * A, torch.clamp(sr, lo, hi) * A)
        elif cfg["obj"] == "gspo-token":
            sr = torch.exp((lp - op).mean()).detach() * torch.exp(lp - lp.detach())
            lt = -torch.minimum(sr * A, torch.clamp(sr, lo, hi) * A)
        else:
            r = torch.exp(lp - op)
            lt = -torch.clamp(r, lo, hi).detach() * A * lp
        lt = wi * lt
        d = lp - rp
        k = {"k1": d, "k2": 0.5 * d * d, "k3": torch.exp(-d) + d - 1}[cfg["kl"]]
        x = (sr if cfg["obj"].startswith("gspo") else r).detach()
        Ad = A.detach() if torch.is_tensor(A) else torch.full((len(idx),), A)
        met["ratio_sum"] += x.sum().item()
        met["ratio_max"] = max(met["ratio_max"], x.max().item())
        met["kl_sum"] += k.detach().sum().item()
        for xj, aj in zip(x.tolist(), Ad.tolist()):
            if cfg["obj"] == "cispo":
                met["clip_low"] += xj < lo
                met["clip_high"] += xj > hi
            else:
                met["clip_low"] += aj < 0 and xj < lo
                met["clip_high"] += aj > 0 and xj > hi
        lt = lt + cfg["beta"] * k - cfg["ent_coef"] * H[ii]
        loss = loss + (torch.tensor([w[i] for i in idx]) * lt).sum()
    loss.backward()
    return {"cfg": cfg, "seg": seg, "mask": mask, "adv": adv, "old": old, "logp": logp,
            "b": b, "ref": ref, "ent": ent, "loss": loss.item(), "w": w, "isw": isw,
            "dlogp": L.grad.tolist(), "dent": H.grad.tolist(), "metrics": met}


cases = []
for obj in ["ppo", "gspo", "gspo-token", "cispo"]:
    for k in range(6):
        cfg = {"obj": obj,
               "agg": ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"][k % 3],
               "kl": ["k1", "k2", "k3"][k % 3], "beta": [0.0, 0.04, 0.5][(k + 1) % 3],
               "clip_low": {"gspo": 3e-4, "gspo-token": 3e-4, "cispo": 1.0}.get(obj, 0.2),
               "clip_high": {"gspo": 4e-4, "gspo-token": 4e-4}.get(obj, 0.28),
               "ent_coef": [0.0, 0.01, -0.1][k % 3], "distill": [0.0, 1.0][k // 3 % 2] * (k % 2),
               "is": ["off", "token", "seq"][k % 3], "mask": k % 2, "cap": [2.0, 1.2][k % 2]}
        cases.append(case(cfg))
json.dump(cases, sys.stdout)
sys.stdout.write("\n")
