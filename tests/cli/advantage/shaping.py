"""Reward shaping and per-reward advantages by an independent reference,
written from the papers with Python's statistics module:
  overlong   DAPO (arXiv:2503.14476) eq. 13: 0 up to Lmax - Lc, then
             ((Lmax - Lc) - L) / Lc, -1 past Lmax or when truncated
  kl         -coef sum_t k(logprobs_t - ref_logprobs_t), k1 d, k2 d^2/2,
             k3 e^-d + d - 1
  per-reward GDPO (arXiv:2601.05242) eq. 4-6: each component normalized
             in its group ((x - mean) / (stdev + eps), 0 for a uniform one),
             summed, and the sums normalized over the batch (every sample
             of the input: (A - mean) / (stdev + eps)), a group uniform in
             every component keeping its 0s

    python3 shaping.py IN.jsonl LC LMAX FACTOR KLCOEF KL PER MASK [BATCH]

(BATCH: groups per batch of --per-reward's last step, default all)

prints, per written record, its advantage and reward."""
import json
import math
import statistics
import sys

path, lc, lmax, factor, klcoef, kl, per, mask = sys.argv[1:9]
lc, lmax, factor, klcoef = int(lc), int(lmax), float(factor), float(klcoef)
per, mask, eps = per == "1", mask == "1", 1e-4
nb = int(sys.argv[9]) if len(sys.argv) > 9 and int(sys.argv[9]) > 0 else 1 << 60

groups = []
for line in open(path):
    rec = json.loads(line)
    if groups and groups[-1][0] == rec["group"]:
        groups[-1][1].append(rec)
    else:
        groups.append((rec["group"], [rec]))


def norm(xs):
    if len(set(xs)) == 1:
        return [0.0] * len(xs)
    m, s = statistics.mean(xs), statistics.stdev(xs)
    return [(x - m) / (s + eps) for x in xs]


out = []
for _, recs in groups:
    comps = []
    for r in recs:
        terms = []
        if lc:
            L = len(r["completion_ids"])
            if r["finish"] == "length" or L > lmax:
                ov = -1.0
            elif L <= lmax - lc:
                ov = 0.0
            else:
                ov = ((lmax - lc) - L) / lc
            terms.append(factor * ov)
        if klcoef:
            s = 0.0
            for a, b in zip(r["logprobs"], r["ref_logprobs"]):
                d = a - b
                s += {"k1": d, "k2": d * d / 2, "k3": math.exp(-d) + d - 1}[kl]
            terms.append(-klcoef * s)
        comps.append(terms)
    rewards = [r["reward"] + sum(t) for r, t in zip(recs, comps)]
    uniform = False
    if per:
        cols = [[r["rewards"][k] for r in recs] for k in recs[0]["rewards"]]
        cols += [[t[j] for t in comps] for j in range(len(comps[0]))]
        adv = [sum(c) for c in zip(*[norm(col) for col in cols])]
        uniform = all(len(set(col)) == 1 for col in cols)
    else:
        adv = norm(rewards)
    out.append((recs, adv, rewards, uniform))

if per:
    done = []
    for b in range(0, len(out), nb):
        batch = out[b:b + nb]
        sums = [a for _, adv, _, _ in batch for a in adv]
        m = statistics.mean(sums)
        s = statistics.stdev(sums) if len(sums) > 1 else 0.0
        done += [(recs, adv if u else [(a - m) / (s + eps) for a in adv], w, u)
                 for recs, adv, w, u in batch]
    out = done
for recs, adv, rewards, _ in out:
    for r, a, w in zip(recs, adv, rewards):
        if mask and r["finish"] == "length":
            continue
        print("%.17g %.17g" % (a, w))
