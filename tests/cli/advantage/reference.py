"""Advantages by an independent reference: the formulas of TRL's
GRPOTrainer and RLOO written with Python's statistics module (stdev is
the sample std, as torch.std; pstdev the population one).

    python3 reference.py IN.jsonl BASELINE SCALE POPULATION EPS BATCH

prints one advantage per line, or nothing for a dropped group."""
import json
import statistics
import sys

path, baseline, scale, population, eps, batch = sys.argv[1:7]
population, eps, batch = population == "1", float(eps), int(batch)
std = statistics.pstdev if population else statistics.stdev

groups = []
for line in open(path):
    rec = json.loads(line)
    if groups and groups[-1][0] == rec["group"]:
        groups[-1][1].append(rec["reward"])
    else:
        groups.append((rec["group"], [rec["reward"]]))


def advantages(r, s):
    if len(set(r)) == 1:
        return [0.0] * len(r)
    g = len(r)
    out = []
    for x in r:
        b = (sum(r) - x) / (g - 1) if baseline == "loo" else sum(r) / g
        a = x - b
        if scale != "none":
            a /= s + eps
        out.append(a)
    return out


if scale == "batch":
    n = batch if batch else len(groups)
    for i in range(0, len(groups), n):
        chunk = [r for _, r in groups[i:i + n]]
        s = std([x for r in chunk for x in r])
        for r in chunk:
            for a in advantages(r, s):
                print(repr(a))
else:
    for _, r in groups:
        s = std(r) if scale == "group" and len(r) > 1 else 0
        for a in advantages(r, s):
            print(repr(a))
