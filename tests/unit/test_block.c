/*
 * test_block.c - the decoder's operations (lib/block) on random data:
 * each kind against a plain double-precision computation written here,
 * and every operation's result independent of the order its chunks run
 * in (reversed, interleaved) and of the row count of the call, bit for
 * bit, as the training and the KV-cache forwards rely on.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "check.h"
#include "kern.h"
#include "model.h"
#include "util.h"

static float *
rnd(struct rng *r, size_t n, float s)
{
    float *x = xmalloc(n * sizeof(float));
    size_t i;

    for (i = 0; i < n; i++)
        x[i] = (float)rng_normal(r) * s;
    return x;
}

/* Runs op's chunks last to first (a schedule no executor uses). */
static void
run_reversed(const struct block_op *op)
{
    int c;

    for (c = block_op_chunks(op) - 1; c >= 0; c--)
        block_op_run(op, c, 0);
}

static double
max_rel(const float *a, const double *b, size_t n)
{
    double m = 0.0;
    size_t i;

    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (fabs(b[i]) + 1.0);
        m = d > m ? d : m;
    }
    return m;
}

/* BOP_MM with bias and addend, BOP_NORM with rows, BOP_MM_SWIGLU. */
static void
test_products(const struct kernels *K, int R)
{
    struct rng rg;
    int IC = 72, OC = 300, H = 150, r, o, i;
    float *in, *W, *bias, *add, *out, *out2, *gu, *h, *h2, *gu2, *ln, *ln2, *rs, *w;
    double *ref = xmalloc((size_t)R * (OC > 2 * H ? OC : 2 * H) * sizeof(double));
    int *rows = xmalloc((size_t)R * sizeof(int));
    struct block_op op;

    rng_seed(&rg, 7 + (uint64_t)R);
    in = rnd(&rg, (size_t)R * IC, 1.0f);
    W = rnd(&rg, (size_t)OC * IC, 0.2f);
    bias = rnd(&rg, (size_t)OC, 1.0f);
    add = rnd(&rg, (size_t)R * OC, 1.0f);
    out = xcalloc((size_t)R * OC, sizeof(float));
    out2 = xcalloc((size_t)R * OC, sizeof(float));

    /* out = in W^T + bias */
    op = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = out, .in = in, .w = W,
                           .bias = bias, .IC = IC, .OC = OC};
    block_run(&op, 1);
    for (r = 0; r < R; r++)
        for (o = 0; o < OC; o++) {
            double s = bias[o];
            for (i = 0; i < IC; i++)
                s += (double)in[(size_t)r * IC + i] * W[(size_t)o * IC + i];
            ref[(size_t)r * OC + o] = s;
        }
    CHECK_MSG(max_rel(out, ref, (size_t)R * OC) < 1e-4, "mm+bias R=%d", R);
    /* out = add + in W^T */
    op.bias = NULL;
    op.addend = add;
    block_run(&op, 1);
    for (r = 0; r < R; r++)
        for (o = 0; o < OC; o++) {
            double s = add[(size_t)r * OC + o];
            for (i = 0; i < IC; i++)
                s += (double)in[(size_t)r * IC + i] * W[(size_t)o * IC + i];
            ref[(size_t)r * OC + o] = s;
        }
    CHECK_MSG(max_rel(out, ref, (size_t)R * OC) < 1e-4, "mm R=%d", R);
    op.out = out2;
    run_reversed(&op);
    CHECK(memcmp(out, out2, (size_t)R * OC * sizeof(float)) == 0);
    /* one row alone gives that row's bits */
    op.R = 1;
    op.out = out2 + (size_t)(R - 1) * OC;
    op.in = in + (size_t)(R - 1) * IC;
    op.addend = add + (size_t)(R - 1) * OC;
    block_run(&op, 1);
    CHECK(memcmp(out + (size_t)(R - 1) * OC, out2 + (size_t)(R - 1) * OC,
                 (size_t)OC * sizeof(float)) == 0);

    /* norm of rows given in reverse order */
    ln = xcalloc((size_t)R * IC, sizeof(float));
    ln2 = xcalloc((size_t)R * IC, sizeof(float));
    rs = xcalloc((size_t)R, sizeof(float));
    w = rnd(&rg, (size_t)IC, 1.0f);
    for (r = 0; r < R; r++)
        rows[r] = R - 1 - r;
    op = (struct block_op){.kind = BOP_NORM, .R = R, .K = K, .out = ln, .in = in, .w = w,
                           .rstd = rs, .rows = rows, .OC = IC, .eps = 1e-5f};
    block_run(&op, 1);
    for (r = 0; r < R; r++) {
        const float *x = in + (size_t)rows[r] * IC;
        double ss = 0.0, k;
        for (i = 0; i < IC; i++)
            ss += (double)x[i] * x[i];
        k = 1.0 / sqrt(ss / IC + 1e-5);
        CHECK_NEAR(rs[r], k, 1e-5 * k);
        for (i = 0; i < IC; i++)
            ref[(size_t)r * IC + i] = x[i] * k * w[i];
    }
    CHECK(max_rel(ln, ref, (size_t)R * IC) < 1e-5);
    op.out = ln2;
    op.rstd = NULL;
    run_reversed(&op);
    CHECK(memcmp(ln, ln2, (size_t)R * IC * sizeof(float)) == 0);

    /* gated MLP product: W holds gate (H, IC) then up (H, IC) */
    gu = xcalloc((size_t)R * 2 * H, sizeof(float));
    gu2 = xcalloc((size_t)R * 2 * H, sizeof(float));
    h = xcalloc((size_t)R * H, sizeof(float));
    h2 = xcalloc((size_t)R * H, sizeof(float));
    op = (struct block_op){.kind = BOP_MM_SWIGLU, .R = R, .K = K, .out = gu, .in = in,
                           .w = W, .h = h, .IC = IC, .OC = H};
    block_run(&op, 1);
    for (r = 0; r < R; r++)
        for (o = 0; o < H; o++) {
            double g = 0.0, u = 0.0;
            for (i = 0; i < IC; i++) {
                g += (double)in[(size_t)r * IC + i] * W[(size_t)o * IC + i];
                u += (double)in[(size_t)r * IC + i] * W[(size_t)(H + o) * IC + i];
            }
            ref[(size_t)r * H + o] = g / (1.0 + exp(-g)) * u;
        }
    CHECK_MSG(max_rel(h, ref, (size_t)R * H) < 1e-4, "swiglu R=%d", R);
    op.out = gu2;
    op.h = h2;
    run_reversed(&op);
    CHECK(memcmp(h, h2, (size_t)R * H * sizeof(float)) == 0);
    CHECK(memcmp(gu, gu2, (size_t)R * 2 * H * sizeof(float)) == 0);

    free(in); free(W); free(bias); free(add); free(out); free(out2); free(ref); free(rows);
    free(ln); free(ln2); free(rs); free(w); free(gu); free(gu2); free(h); free(h2);
}

/* Keys and values of a test: rows are one sequence, keys in the qkv rows. */
struct seq_kv {
    const float *qkv;
    int QD, KVD, QKV, hd;
};

static void
seq_spans(void *ctx, int l, int r, int g, struct block_spans *sp)
{
    const struct seq_kv *s = ctx;

    (void)l;
    sp->k[0] = s->qkv + s->QD + (size_t)g * s->hd;
    sp->v[0] = sp->k[0] + s->KVD;
    sp->ld[0] = (size_t)s->QKV;
    sp->n[0] = r + 1;
}

/*
 * BOP_QK then BOP_ATTEND (q/k norm, RoPE, causal GQA attention) against
 * the same steps in double precision; the fused BOP_ATTEND of one row at
 * a time equals the unfused pair.
 */
static void
test_attention(const struct kernels *K)
{
    struct rng rg;
    int R = 21, nh = 4, nkv = 2, hd = 8, QD = nh * hd, KVD = nkv * hd, QKV = QD + 2 * KVD;
    int grp = nh / nkv, r, h, i, j;
    float *qkv, *qkv0, *att, *att2, *lse, *qn, *kn, *cs, *sn, *S, *raw, *rst;
    double *q = xmalloc((size_t)R * QKV * sizeof(double));
    double *ref = xmalloc((size_t)R * QD * sizeof(double));
    int pos[21];
    struct block_attn at;
    struct block_op ops[2];
    struct seq_kv kv;

    rng_seed(&rg, 11);
    qkv0 = rnd(&rg, (size_t)R * QKV, 1.0f);
    qkv = xmalloc((size_t)R * QKV * sizeof(float));
    memcpy(qkv, qkv0, (size_t)R * QKV * sizeof(float));
    qn = rnd(&rg, (size_t)hd, 1.0f);
    kn = rnd(&rg, (size_t)hd, 1.0f);
    cs = xmalloc((size_t)R * hd / 2 * sizeof(float));
    sn = xmalloc((size_t)R * hd / 2 * sizeof(float));
    for (r = 0; r < R; r++) {
        pos[r] = r;
        for (i = 0; i < hd / 2; i++) {
            double th = r * pow(10000.0, -2.0 * i / hd);
            cs[r * hd / 2 + i] = (float)cos(th);
            sn[r * hd / 2 + i] = (float)sin(th);
        }
    }
    att = xcalloc((size_t)R * QD, sizeof(float));
    att2 = xcalloc((size_t)R * QD, sizeof(float));
    lse = xcalloc((size_t)nh * R, sizeof(float));
    S = xcalloc((size_t)R * KERN_ATT_Q, sizeof(float));
    raw = xcalloc((size_t)R * (QD + KVD), sizeof(float));
    rst = xcalloc((size_t)R * (nh + nkv), sizeof(float));
    kv = (struct seq_kv){qkv, QD, KVD, QKV, hd};
    memset(&at, 0, sizeof(at));
    at = (struct block_attn){.nh = nh, .nkv = nkv, .hd = hd, .QD = QD, .QKV = QKV,
                             .scale = 1.0f / sqrtf((float)hd), .eps = 1e-6f, .q_norm = qn,
                             .k_norm = kn, .cos_t = cs, .sin_t = sn, .pos = pos,
                             .kv = {seq_spans, NULL, &kv}, .qkv = qkv, .att = att,
                             .qkraw = raw, .qkrstd = rst, .lse = lse, .scratch = S,
                             .scratch_n = (size_t)R};
    ops[0] = (struct block_op){.kind = BOP_QK, .R = R, .K = K, .at = &at};
    ops[1] = (struct block_op){.kind = BOP_ATTEND, .R = R, .K = K, .at = &at};
    run_reversed(&ops[0]);
    run_reversed(&ops[1]);

    /* reference: per-head norm, rotate_half RoPE, softmax attention */
    for (r = 0; r < R; r++)
        for (h = 0; h < nh + nkv; h++) {
            const float *x = qkv0 + (size_t)r * QKV + (size_t)h * hd;
            const float *wn = h < nh ? qn : kn;
            double ss = 0.0, k, *y = q + (size_t)r * QKV + (size_t)h * hd, tmp[8];
            for (i = 0; i < hd; i++)
                ss += (double)x[i] * x[i];
            k = 1.0 / sqrt(ss / hd + 1e-6);
            for (i = 0; i < hd; i++)
                tmp[i] = x[i] * k * wn[i];
            for (i = 0; i < hd / 2; i++) {
                double th = r * pow(10000.0, -2.0 * i / hd);
                y[i] = tmp[i] * cos(th) - tmp[i + hd / 2] * sin(th);
                y[i + hd / 2] = tmp[i + hd / 2] * cos(th) + tmp[i] * sin(th);
            }
        }
    for (r = 0; r < R; r++)
        for (h = 0; h < nh; h++) {
            const double *qq = q + (size_t)r * QKV + (size_t)h * hd;
            double sc[21], mx = -1e300, sum = 0.0;
            int g = h / grp;
            for (j = 0; j <= r; j++) {
                const double *kk = q + (size_t)j * QKV + QD + (size_t)g * hd;
                double d = 0.0;
                for (i = 0; i < hd; i++)
                    d += qq[i] * kk[i];
                sc[j] = d / sqrt((double)hd);
                mx = sc[j] > mx ? sc[j] : mx;
            }
            for (j = 0; j <= r; j++)
                sum += exp(sc[j] - mx);
            CHECK_NEAR(lse[(size_t)h * R + r], mx + log(sum), 1e-4);
            for (i = 0; i < hd; i++) {
                double o = 0.0;
                for (j = 0; j <= r; j++)
                    o += exp(sc[j] - mx) / sum * qkv0[(size_t)j * QKV + QD + KVD +
                                                      (size_t)g * hd + i];
                ref[(size_t)r * QD + (size_t)h * hd + i] = o;
            }
        }
    CHECK(max_rel(att, ref, (size_t)R * QD) < 1e-4);
    /* saved for the backward: the input of the norm and its rstd */
    CHECK(memcmp(raw, qkv0, (size_t)QD * sizeof(float)) == 0);

    /* fused, a row at a time in order (decoding): the same bits */
    memcpy(qkv, qkv0, (size_t)R * QKV * sizeof(float));
    at.att = att2;
    at.qkraw = at.qkrstd = NULL;
    at.lse = NULL;
    ops[1].fused = 1;
    for (j = 0; j < block_op_chunks(&ops[1]); j++)
        block_op_run(&ops[1], j, 0);
    CHECK(memcmp(att, att2, (size_t)R * QD * sizeof(float)) == 0);

    free(qkv); free(qkv0); free(att); free(att2); free(lse); free(qn); free(kn); free(cs);
    free(sn); free(S); free(raw); free(rst); free(q); free(ref);
}

int
main(void)
{
    enum infer_kernel ks[] = {INFER_KERNEL_C, INFER_KERNEL_AVX2, INFER_KERNEL_AVX512};
    size_t i;

    for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        struct kernels K;
        if (!kern_cpu_has(ks[i]))
            continue;
        K = kernels_for(ks[i]);
        test_products(&K, 3);
        test_products(&K, 130);
        test_attention(&K);
    }
    return check_done();
}
