"""Decode throughput of a hand-written Llama decoder with a KV cache in
PyTorch (CPU, fp32), for bench/gen.sh: the same shapes, prompt length and
number of steps as bench/gen-decode.c.

    python3 gen_torch.py PRESET PROMPTS G STEPS THREADS  -> "tokens/s N"

PRESET may be an HF config.json: its shape, rope_theta, rms_norm_eps and,
for model_type qwen3, the per-head q_norm/k_norm RMSNorm before RoPE.
"""
import json
import sys
import time

import torch

PRESETS = {
    "tiny": dict(C=256, H=768, L=4, nh=4, nkv=2, hd=64, V=264, maxpos=512),
    "smollm-135m": dict(C=576, H=1536, L=30, nh=9, nkv=3, hd=64, V=49152, maxpos=2048),
}
P = 32


def shape(name):
    """A preset, or the shape of a config.json."""
    if name in PRESETS:
        return dict(PRESETS[name], theta=10000.0, eps=1e-5, qknorm=False)
    with open(name) as f:
        c = json.load(f)
    nh = c["num_attention_heads"]
    return dict(C=c["hidden_size"], H=c["intermediate_size"], L=c["num_hidden_layers"], nh=nh,
                nkv=c.get("num_key_value_heads") or nh,
                hd=c.get("head_dim") or c["hidden_size"] // nh, V=c["vocab_size"],
                maxpos=c.get("max_position_embeddings", 2048),
                theta=float(c.get("rope_theta", 10000.0)), eps=float(c.get("rms_norm_eps", 1e-6)),
                qknorm=c.get("model_type") == "qwen3")


def main():
    preset, nprompts, G, steps, threads = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    s = shape(preset)
    C, H, L, nh, nkv, hd, V = s["C"], s["H"], s["L"], s["nh"], s["nkv"], s["hd"], s["V"]
    B, maxlen, grp = nprompts * G, P + steps + 2, s["nh"] // s["nkv"]

    def w(*shape):
        return torch.randn(*shape) * 0.02

    embed = w(V, C)
    layers = [dict(n1=torch.ones(C), wqkv=w((nh + 2 * nkv) * hd, C), wo=w(C, nh * hd),
                   n2=torch.ones(C), wgu=w(2 * H, C), wd=w(C, H), qn=torch.ones(hd),
                   kn=torch.ones(hd)) for _ in range(L)]
    normf = torch.ones(C)
    inv = 1.0 / (s["theta"] ** (torch.arange(0, hd, 2).float() / hd))
    ang = torch.arange(maxlen).float()[:, None] * inv[None, :]
    cos, sin = torch.cos(ang), torch.sin(ang)
    kc = torch.zeros(L, B, nkv, maxlen, hd)
    vc = torch.zeros(L, B, nkv, maxlen, hd)

    def rms(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s["eps"]) * g

    def rope(x, pos):  # x (B, heads, T, hd)
        c, s_ = cos[pos][None, None], sin[pos][None, None]
        a, b = x[..., : hd // 2], x[..., hd // 2:]
        return torch.cat([a * c - b * s_, b * c + a * s_], -1)

    def forward(tok, pos0):  # tok (B, T)
        T = tok.shape[1]
        pos = torch.arange(pos0, pos0 + T)
        x = embed[tok]
        for l, ly in enumerate(layers):
            qkv = rms(x, ly["n1"]) @ ly["wqkv"].T
            q = qkv[..., : nh * hd].view(B, T, nh, hd).transpose(1, 2)
            k = qkv[..., nh * hd: (nh + nkv) * hd].view(B, T, nkv, hd).transpose(1, 2)
            v = qkv[..., (nh + nkv) * hd:].view(B, T, nkv, hd).transpose(1, 2)
            if s["qknorm"]:
                q, k = rms(q, ly["qn"]), rms(k, ly["kn"])
            q, k = rope(q, pos), rope(k, pos)
            kc[l, :, :, pos0:pos0 + T] = k
            vc[l, :, :, pos0:pos0 + T] = v
            K, Vv = kc[l, :, :, : pos0 + T], vc[l, :, :, : pos0 + T]
            qg = q.reshape(B, nkv, grp * T, hd)
            sc = qg @ K.transpose(-1, -2) / hd ** 0.5
            if T > 1:
                mask = torch.full((T, pos0 + T), float("-inf")).triu(pos0 + 1)
                sc = sc.view(B, nkv, grp, T, -1) + mask
                sc = sc.view(B, nkv, grp * T, -1)
            att = (sc.softmax(-1) @ Vv).view(B, nh, T, hd).transpose(1, 2).reshape(B, T, nh * hd)
            x = x + att @ ly["wo"].T
            gu = rms(x, ly["n2"]) @ ly["wgu"].T
            x = x + (torch.nn.functional.silu(gu[..., :H]) * gu[..., H:]) @ ly["wd"].T
        return rms(x[:, -1], normf) @ embed.T

    with torch.inference_mode():
        prompt = torch.randint(0, V, (B, P))
        forward(prompt, 0)
        tok = torch.randint(0, V, (B, 1))
        forward(tok, P)
        t0 = time.perf_counter()
        for t in range(steps):
            tok = (torch.arange(B)[:, None] * 13 + t * 7 + 5) % V
            forward(tok, P + 1 + t)
        dt = time.perf_counter() - t0
    print("tokens/s %.2f" % (B * steps / dt))


main()
