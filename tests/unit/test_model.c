/*
 * test_model.c - the model's layers and whole forward/backward.
 *
 * Layer gradients are checked against central differences of independent
 * double-precision reference forwards written here (step 1e-5, tolerance
 * 1e-3 relative to the largest gradient entry plus 1e-5 absolute).  The
 * whole model's gradient is checked by central differences of the fp32
 * model along one random direction per tensor (step chosen per tensor,
 * tolerance 1e-2 relative).  Packed batches must equal the per-sample
 * sums (norm-wise relative error <= 1e-5 per tensor).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "util.h"

static struct rng rng;

static void
fill(float *x, size_t n, float s)
{
    size_t i;

    for (i = 0; i < n; i++)
        x[i] = (float)(rng_normal(&rng) * s);
}

/* max |a - b| <= rtol max |b| + atol */
static int
close_arr(const float *a, const double *b, size_t n, double rtol, double atol,
          const char *what)
{
    double mx = 0, err = 0;
    size_t i, worst = 0;

    for (i = 0; i < n; i++) {
        mx = fmax(mx, fabs(b[i]));
        if (fabs(a[i] - b[i]) > err) {
            err = fabs(a[i] - b[i]);
            worst = i;
        }
    }
    if (err > rtol * mx + atol) {
        fprintf(stderr, "%s: max err %g at %zu (%g vs %g), max |ref| %g\n", what, err, worst,
                a[worst], b[worst], mx);
        return 0;
    }
    return 1;
}

/* ---- double-precision references ---- */

static void
rmsnorm_d(double *out, const double *x, const double *w, int N, int C, double eps)
{
    for (int t = 0; t < N; t++) {
        double ss = 0;
        for (int i = 0; i < C; i++)
            ss += x[t * C + i] * x[t * C + i];
        double r = 1 / sqrt(ss / C + eps);
        for (int i = 0; i < C; i++)
            out[t * C + i] = x[t * C + i] * r * w[i];
    }
}

static void
swiglu_d(double *h, const double *gu, int N, int H)
{
    for (int t = 0; t < N; t++)
        for (int i = 0; i < H; i++) {
            double g = gu[t * 2 * H + i], u = gu[t * 2 * H + H + i];
            h[t * H + i] = g / (1 + exp(-g)) * u;
        }
}

/* causal attention within segments, qkv (N, (nh+2nkv) hd) */
static void
attention_d(double *out, const double *qkv, const size_t *ss, int nseg, int nh, int nkv,
            int hd)
{
    int QD = nh * hd, QKV = (nh + 2 * nkv) * hd;
    double sc[64];

    for (int s = 0; s < nseg; s++)
        for (int h = 0; h < nh; h++) {
            int g = h / (nh / nkv);
            for (size_t i = ss[s]; i < ss[s + 1]; i++) {
                double m = -INFINITY, sum = 0;
                for (size_t j = ss[s]; j <= i; j++) {
                    double a = 0;
                    for (int d = 0; d < hd; d++)
                        a += qkv[i * QKV + h * hd + d] * qkv[j * QKV + QD + g * hd + d];
                    sc[j - ss[s]] = a / sqrt(hd);
                    m = fmax(m, sc[j - ss[s]]);
                }
                for (size_t j = ss[s]; j <= i; j++)
                    sum += exp(sc[j - ss[s]] - m);
                for (int d = 0; d < hd; d++) {
                    double o = 0;
                    for (size_t j = ss[s]; j <= i; j++)
                        o += exp(sc[j - ss[s]] - m) / sum *
                             qkv[j * QKV + QD + (nkv + g) * hd + d];
                    out[i * QD + h * hd + d] = o;
                }
            }
        }
}

static double
dot_d(const double *a, const float *b, size_t n)
{
    double s = 0;

    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void
to_d(double *d, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
}

/* ---- layer checks ---- */

#define FD_H 1e-5

static void
test_rmsnorm(void)
{
    enum { N = 3, C = 8 };
    float x[N * C], w[C], dout[N * C], out[N * C], rstd[N], dx[N * C] = {0}, dw[C] = {0};
    double xd[N * C], wd[C], o[N * C], gx[N * C], gw[C];

    fill(x, N * C, 1);
    fill(w, C, 1);
    fill(dout, N * C, 1);
    rmsnorm_forward(out, rstd, x, w, N, C, 1e-5f);
    rmsnorm_backward(dx, dw, dout, x, w, rstd, N, C);
    to_d(xd, x, N * C);
    to_d(wd, w, C);
    rmsnorm_d(o, xd, wd, N, C, 1e-5);
    CHECK(close_arr(out, o, N * C, 1e-6, 1e-6, "rmsnorm fwd"));
    for (int i = 0; i < N * C; i++) {
        double p, q, k = xd[i];
        xd[i] = k + FD_H; rmsnorm_d(o, xd, wd, N, C, 1e-5); p = dot_d(o, dout, N * C);
        xd[i] = k - FD_H; rmsnorm_d(o, xd, wd, N, C, 1e-5); q = dot_d(o, dout, N * C);
        xd[i] = k;
        gx[i] = (p - q) / (2 * FD_H);
    }
    for (int i = 0; i < C; i++) {
        double p, q, k = wd[i];
        wd[i] = k + FD_H; rmsnorm_d(o, xd, wd, N, C, 1e-5); p = dot_d(o, dout, N * C);
        wd[i] = k - FD_H; rmsnorm_d(o, xd, wd, N, C, 1e-5); q = dot_d(o, dout, N * C);
        wd[i] = k;
        gw[i] = (p - q) / (2 * FD_H);
    }
    CHECK(close_arr(dx, gx, N * C, 1e-3, 1e-5, "rmsnorm dx"));
    CHECK(close_arr(dw, gw, C, 1e-3, 1e-5, "rmsnorm dw"));
}

static void
test_matmul(void)
{
    enum { N = 5, IC = 7, OC = 6 };
    float in[N * IC], W[OC * IC], b[OC], out[N * OC], ref[N * OC], dout[N * OC];
    float din[N * IC], dW[OC * IC] = {0}, db[OC] = {0};
    double gin[N * IC], gW[OC * IC], gb[OC], refd[N * OC];

    fill(in, N * IC, 1);
    fill(W, OC * IC, 1);
    fill(b, OC, 1);
    fill(dout, N * OC, 1);
    matmul_forward(out, in, W, b, N, IC, OC);
    matmul_forward_ref(ref, in, W, b, N, IC, OC);
    to_d(refd, ref, N * OC);
    CHECK(close_arr(out, refd, N * OC, 1e-6, 1e-6, "matmul fwd vs ref"));
    matmul_backward(din, dW, db, dout, in, W, N, IC, OC);
    /* the product is bilinear: exact gradients by hand */
    for (int t = 0; t < N; t++)
        for (int i = 0; i < IC; i++) {
            double s = 0;
            for (int o = 0; o < OC; o++)
                s += (double)dout[t * OC + o] * W[o * IC + i];
            gin[t * IC + i] = s;
        }
    for (int o = 0; o < OC; o++) {
        gb[o] = 0;
        for (int i = 0; i < IC; i++) {
            double s = 0;
            for (int t = 0; t < N; t++)
                s += (double)dout[t * OC + o] * in[t * IC + i];
            gW[o * IC + i] = s;
        }
        for (int t = 0; t < N; t++)
            gb[o] += dout[t * OC + o];
    }
    CHECK(close_arr(din, gin, N * IC, 1e-5, 1e-6, "matmul din"));
    CHECK(close_arr(dW, gW, OC * IC, 1e-5, 1e-6, "matmul dW"));
    CHECK(close_arr(db, gb, OC, 1e-5, 1e-6, "matmul db"));
}

static void
test_rope(void)
{
    enum { N = 4, NH = 2, HD = 8, ST = 20, NP = 16 };
    float x[N * ST], y[N * ST], cs[NP * HD / 2], sn[NP * HD / 2];
    int pos[N] = {0, 5, 1, 15};
    double ref[N * ST];

    double inv[HD / 2];
    for (int i = 0; i < HD / 2; i++)
        inv[i] = pow(10000.0, -2.0 * i / HD);
    rope_tables(cs, sn, NP, HD, inv, 1.0);
    fill(x, N * ST, 1);
    memcpy(y, x, sizeof(x));
    rope_forward(y, pos, cs, sn, N, ST, NH, HD);
    /* HF rotate_half by hand, columns past NH*HD untouched */
    for (int t = 0; t < N; t++)
        for (int c = 0; c < ST; c++) {
            int h = c / HD, i = c % HD, half = HD / 2;
            if (h >= NH) {
                ref[t * ST + c] = x[t * ST + c];
                continue;
            }
            int f = i % half;
            double a = pos[t] * pow(10000.0, -2.0 * f / HD);
            double xi = x[t * ST + c];
            double xo = i < half ? -x[t * ST + c + half] : x[t * ST + c - half];
            ref[t * ST + c] = xi * cos(a) + xo * sin(a);
        }
    CHECK(close_arr(y, ref, N * ST, 1e-5, 1e-6, "rope fwd"));
    /* backward of a rotation is its inverse */
    rope_backward(y, pos, cs, sn, N, ST, NH, HD);
    to_d(ref, x, N * ST);
    CHECK(close_arr(y, ref, N * ST, 1e-5, 1e-6, "rope bwd"));
}

static void
test_swiglu(void)
{
    enum { N = 3, H = 5 };
    float gu[N * 2 * H], h[N * H], dh[N * H], dgu[N * 2 * H];
    double gud[N * 2 * H], hd[N * H], g[N * 2 * H];

    fill(gu, N * 2 * H, 2);
    fill(dh, N * H, 1);
    swiglu_forward(h, gu, N, H);
    to_d(gud, gu, N * 2 * H);
    swiglu_d(hd, gud, N, H);
    CHECK(close_arr(h, hd, N * H, 1e-6, 1e-6, "swiglu fwd"));
    swiglu_backward(dgu, dh, gu, N, H);
    for (int i = 0; i < N * 2 * H; i++) {
        double p, q, k = gud[i];
        gud[i] = k + FD_H; swiglu_d(hd, gud, N, H); p = dot_d(hd, dh, N * H);
        gud[i] = k - FD_H; swiglu_d(hd, gud, N, H); q = dot_d(hd, dh, N * H);
        gud[i] = k;
        g[i] = (p - q) / (2 * FD_H);
    }
    CHECK(close_arr(dgu, g, N * 2 * H, 1e-3, 1e-5, "swiglu bwd"));
}

static void
test_attention(void)
{
    enum { NH = 4, NKV = 2, HD = 4, N = 23, QD = NH * HD, QKV = (NH + 2 * NKV) * HD };
    size_t ss[] = {0, 9, 10, 23};   /* segments of 9, 1 and 13 tokens */
    float qkv[N * QKV], out[N * QD], out2[N * QD], lse[NH * N], lse2[NH * N];
    float dout[N * QD], dqkv[N * QKV] = {0}, scratch[2 * 16 * 16 + 4 * 16 + 64];
    double qd[N * QKV], od[N * QD], g[N * QKV];

    fill(qkv, N * QKV, 1);
    fill(dout, N * QD, 1);
    /* block 4: several tiles per segment, partial last tiles */
    attention_forward(out, lse, qkv, ss, 3, NH, NKV, HD, 4, scratch);
    attention_forward_ref(out2, lse2, qkv, ss, 3, NH, NKV, HD, scratch);
    to_d(od, out2, N * QD);
    CHECK(close_arr(out, od, N * QD, 1e-5, 1e-6, "attention blocked vs ref"));
    to_d(od, lse2, NH * N);
    CHECK(close_arr(lse, od, NH * N, 1e-5, 1e-6, "attention lse"));
    to_d(qd, qkv, N * QKV);
    attention_d(od, qd, ss, 3, NH, NKV, HD);
    CHECK(close_arr(out, od, N * QD, 1e-5, 1e-6, "attention vs double"));
    /* one big block must agree too */
    attention_forward(out2, lse2, qkv, ss, 3, NH, NKV, HD, 16, scratch);
    to_d(od, out2, N * QD);
    CHECK(close_arr(out, od, N * QD, 1e-5, 1e-6, "attention block 16 vs 4"));

    attention_backward(dqkv, dout, qkv, out, lse, ss, 3, NH, NKV, HD, 4, scratch);
    for (int i = 0; i < N * QKV; i++) {
        double p, q, k = qd[i];
        qd[i] = k + FD_H; attention_d(od, qd, ss, 3, NH, NKV, HD); p = dot_d(od, dout, N * QD);
        qd[i] = k - FD_H; attention_d(od, qd, ss, 3, NH, NKV, HD); q = dot_d(od, dout, N * QD);
        qd[i] = k;
        g[i] = (p - q) / (2 * FD_H);
    }
    CHECK(close_arr(dqkv, g, N * QKV, 1e-3, 1e-5, "attention bwd"));
}

static void
logprob_d(double *lp, double *ent, const double *l, int V, int y, double temp)
{
    double m = -INFINITY, s = 0, pz = 0;

    for (int k = 0; k < V; k++)
        m = fmax(m, l[k] / temp);
    for (int k = 0; k < V; k++)
        s += exp(l[k] / temp - m);
    double lse = m + log(s);
    for (int k = 0; k < V; k++)
        pz += exp(l[k] / temp - lse) * (l[k] / temp - lse);
    *lp = l[y] / temp - lse;
    *ent = -pz;
}

static void
test_logprob(void)
{
    enum { V = 37 };   /* two 16-lane blocks and a tail */
    float l[V], row[V], lp, ent;
    double ld[V], g[V], a, b, c, d;
    const float temp = 0.7f, dlp = -0.8f, dent = 0.3f;

    fill(l, V, 2);
    memcpy(row, l, sizeof(l));
    logprob_row(&lp, &ent, row, V, 4, temp, 0, 0, 0);
    to_d(ld, l, V);
    logprob_d(&a, &b, ld, V, 4, temp);
    CHECK_NEAR(lp, a, 1e-5);
    CHECK_NEAR(ent, b, 1e-5);
    memcpy(row, l, sizeof(l));
    logprob_row(NULL, NULL, row, V, 4, temp, dlp, dent, 1);
    for (int i = 0; i < V; i++) {
        double k = ld[i];
        ld[i] = k + FD_H; logprob_d(&a, &b, ld, V, 4, temp);
        ld[i] = k - FD_H; logprob_d(&c, &d, ld, V, 4, temp);
        ld[i] = k;
        g[i] = dlp * (a - c) / (2 * FD_H) + dent * (b - d) / (2 * FD_H);
    }
    CHECK(close_arr(row, g, V, 1e-3, 1e-5, "logprob dlogits"));
}

/* ---- whole model ---- */

static struct model_config
tiny_config(int arch, int tie, int bias)
{
    struct model_config c = {0};

    c.arch = arch;
    strcpy(c.model_type, "llama");
    c.dim = 16;
    c.hidden_dim = 24;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 4;
    c.vocab_size = 13;
    c.max_pos = 64;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_embeddings = tie;
    c.attn_bias = bias;
    c.num_labels = 1;
    c.bos_id = c.eos_id = c.pad_id = -1;
    return c;
}

enum { NTOK = 20, NSEG = 3 };
static const int seg_len[NSEG] = {7, 4, 9};
static int ids[NTOK], tg[NTOK];
static float wlp[NTOK], went[NTOK], wsc[NSEG];

/* the routers of the mixture-of-experts variants: Qwen3-MoE's softmax, and
   DeepSeek's sigmoid with groups, a selection bias, scaling and a shared expert */
static const struct model_moe moe_softmax = {
    .n_experts = 4, .top_k = 2, .hidden = 8, .norm_topk = 1, .n_group = 1,
    .topk_group = 1, .scaling = 1.0f, .sparse_step = 1};
static const struct model_moe moe_sigmoid = {
    .n_experts = 6, .top_k = 2, .hidden = 8, .norm_topk = 1, .sigmoid = 1, .n_group = 3,
    .topk_group = 2, .scaling = 2.5f, .n_shared = 1, .score_bias = 1, .sparse_step = 1};

/* the sequence-wise balance loss's coefficient in the variants below (0: off) */
static float seq_aux;
/* routes replayed in the gradient checks (model_batch.routes), or NULL */
static const int *grad_routes;

/*
 * L = sum w_lp logp + w_ent entropy (causal) or sum w_sc score (RM), plus
 * the sequence-wise balance loss when seq_aux is set.
 */
static double
model_loss(struct model *m, const struct model_batch *b, float temp)
{
    float lp[NTOK], en[NTOK], sc[NSEG];
    double L = 0;

    m->moe_seq_aux = seq_aux;
    m->moe_aux_loss = 0.0;
    model_forward(m, b, temp, lp, en, sc, 0);
    L = m->moe_aux_loss;
    if (m->cfg.arch == MODEL_SEQ_CLS) {
        for (size_t s = 0; s < b->nseg; s++)
            L += (double)wsc[s] * sc[s];
    } else {
        for (size_t t = 0; t < b->ntok; t++)
            L += (double)wlp[t] * lp[t] + (double)went[t] * en[t];
    }
    return L;
}

static void
model_grad(struct model *m, const struct model_batch *b, float temp)
{
    model_loss(m, b, temp);
    model_zero_grad(m);
    model_backward(m, b, wlp, went, wsc);
}

/*
 * Every parameter's gradient against a central difference, for a family
 * variant: qk_norm (Qwen3's per-head q/k RMSNorm) and a RoPE scaling type
 * (the scaled tables and yarn's attention factor on cos and sin).
 */
static void
test_model_grad_mla(int arch, int tie, int bias, int qk_norm,
                    const struct model_rope_scaling *rope, const struct model_moe *moe,
                    const struct model_mla *mla)
{
    struct model_config c = tiny_config(arch, tie, bias);
    struct model *m;

    c.qk_norm = qk_norm;
    if (rope)
        c.rope = *rope;
    if (moe)
        c.moe = *moe;
    if (mla) {
        c.mla = *mla;
        c.head_dim = mla->rope;
    }
    m = model_new(&c);
    struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, grad_routes};
    float *dir = xmalloc(m->nparams * sizeof(float));
    float *save = xmalloc(m->nparams * sizeof(float));
    const float temp = 0.9f;

    /* MLA's products of products curve more: smaller weights keep the
       central difference's own error below the tolerance */
    model_init_random(m, 7, mla ? 0.2f : 0.3f);
    m->att_block = 4;
    m->logit_chunk = 4;   /* several LM-head chunks */
    model_grad(m, &b, temp);
    for (int i = 0; i < m->ntensors; i++) {
        const struct model_tensor *t = &m->tensors[i];
        float *p = m->params + t->off, *g = m->grads + t->off;
        double an = 0, fd, lp, lm, gn = 0;
        /* direction: random signs; step eps per element */
        const float eps = 1e-3f;
        for (size_t k = 0; k < t->n; k++) {
            dir[k] = rng_normal(&rng) > 0 ? 1.0f : -1.0f;
            an += (double)dir[k] * g[k];
            gn += fabs(g[k]);
            save[k] = p[k];
        }
        /* the median of three central differences (steps eps/2, eps,
           2 eps): a float32 forward's rounding moves any one of them by
           a percent on a small tensor, and differently on each CPU's
           kernels; a wrong gradient is off at every step */
        double fds[3];
        for (int e = 0; e < 3; e++) {
            const float h = eps * (float)(1 << e) / 2;
            for (size_t k = 0; k < t->n; k++)
                p[k] = save[k] + h * dir[k];
            lp = model_loss(m, &b, temp);
            for (size_t k = 0; k < t->n; k++)
                p[k] = save[k] - h * dir[k];
            lm = model_loss(m, &b, temp);
            fds[e] = (lp - lm) / (2 * h);
        }
        memcpy(p, save, t->n * sizeof(float));
        fd = fmax(fmin(fds[0], fds[1]), fmin(fmax(fds[0], fds[1]), fds[2]));
        CHECK_MSG(fabs(fd - an) <= 1e-2 * fmax(fabs(an), 1e-2 * gn),
                  "arch %d tie %d bias %d qk_norm %d rope %d experts %d mla %d/%d aux %g %s: "
                  "analytic %g vs central difference %g", arch, tie, bias, qk_norm,
                  (int)c.rope.type, c.moe.n_experts, c.mla.kv_lora_rank, c.mla.q_lora_rank,
                  (double)seq_aux, t->name, an, fd);
    }
    free(dir);
    free(save);
    model_free(m);
}

static void
test_model_grad_variant(int arch, int tie, int bias, int qk_norm,
                        const struct model_rope_scaling *rope, const struct model_moe *moe)
{
    test_model_grad_mla(arch, tie, bias, qk_norm, rope, moe, NULL);
}

static void
test_model_grad(int arch, int tie, int bias)
{
    test_model_grad_variant(arch, tie, bias, 0, NULL, NULL);
}

static double
rel_err(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;

    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return s > 0 ? sqrt(d / s) : sqrt(d);
}

static void
test_packed(int arch)
{
    struct model_config c = tiny_config(arch, 0, 1);
    struct model *m = model_new(&c);
    struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, NULL};
    float *gsum = xcalloc(m->nparams, sizeof(float));
    double Lp, Ls = 0;
    size_t off = 0;
    const float temp = 1.3f;

    model_init_random(m, 11, 0.3f);
    m->att_block = 4;
    Lp = model_loss(m, &b, temp);
    for (int s = 0; s < NSEG; s++) {
        struct model_batch one = {(size_t)seg_len[s], ids + off, tg + off, 1, &seg_len[s], NULL};
        float save_lp[NTOK], save_ent[NTOK], save_sc = wsc[0];
        /* the weights of sample s, moved to the front for the lone run */
        memcpy(save_lp, wlp, sizeof(wlp));
        memcpy(save_ent, went, sizeof(went));
        memmove(wlp, wlp + off, (size_t)seg_len[s] * sizeof(float));
        memmove(went, went + off, (size_t)seg_len[s] * sizeof(float));
        wsc[0] = wsc[s];
        Ls += model_loss(m, &one, temp);
        model_zero_grad(m);
        model_backward(m, &one, wlp, went, wsc);
        for (size_t k = 0; k < m->nparams; k++)
            gsum[k] += m->grads[k];
        memcpy(wlp, save_lp, sizeof(wlp));
        memcpy(went, save_ent, sizeof(went));
        wsc[0] = save_sc;
        off += (size_t)seg_len[s];
    }
    model_grad(m, &b, temp);
    CHECK_REL(Lp, Ls, 1e-5, 1e-6);
    for (int i = 0; i < m->ntensors; i++) {
        const struct model_tensor *t = &m->tensors[i];
        double e = rel_err(m->grads + t->off, gsum + t->off, t->n);
        CHECK_MSG(e <= 1e-5, "packed vs unpacked arch %d %s: rel err %g", arch, t->name, e);
    }
    free(gsum);
    model_free(m);
}

/*
 * Routing replay (model_batch.routes).  Rows all -1 route as without
 * routes, bit for bit.  Experts forced on every row give what the router
 * itself gives under a selection bias (e_score_correction_bias, which
 * chooses but never weighs) that makes it choose them, in that order: the
 * replayed weights are the router's scores of the recorded experts.  And
 * the gradient through replayed rows (some rows routing, some replayed,
 * both routers) against central differences.
 */
static void
test_replay(void)
{
    struct model_config c = tiny_config(MODEL_CAUSAL_LM, 1, 0);
    struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, NULL};
    float lp0[NTOK], lp1[NTOK];
    int W, rt[NTOK * 8], l, t, j;
    struct model *m;
    struct model_moe q = moe_softmax;

    c.moe = moe_sigmoid;  /* 6 experts in 3 groups of 2, top 2 of the 2 best groups */
    m = model_new(&c);
    model_init_random(m, 11, 0.3f);
    W = model_route_width(&c);
    CHECK(model_sparse_layers(&c) == 2 && W == 4);
    model_forward(m, &b, 1.0f, lp0, NULL, NULL, MODEL_FWD_NOGRAD);
    for (j = 0; j < NTOK * W; j++)
        rt[j] = -1;
    b.routes = rt;
    model_forward(m, &b, 1.0f, lp1, NULL, NULL, MODEL_FWD_NOGRAD);
    CHECK(memcmp(lp0, lp1, sizeof(lp0)) == 0);
    /* experts 3 then 2 (group 1) on every row of both layers */
    for (t = 0; t < NTOK; t++)
        for (l = 0; l < 2; l++) {
            rt[t * W + l * 2] = 3;
            rt[t * W + l * 2 + 1] = 2;
        }
    model_forward(m, &b, 1.0f, lp1, NULL, NULL, MODEL_FWD_NOGRAD);
    CHECK(memcmp(lp0, lp1, sizeof(lp0)) != 0);
    for (l = 0; l < 2; l++) {
        m->w.layers[l].router_bias[3] = 2000.0f;
        m->w.layers[l].router_bias[2] = 1000.0f;
    }
    b.routes = NULL;
    model_forward(m, &b, 1.0f, lp0, NULL, NULL, MODEL_FWD_NOGRAD);
    CHECK_MSG(memcmp(lp0, lp1, sizeof(lp0)) == 0, "replayed experts 3, 2 differ from the "
              "router's own choice of them: %g vs %g at 1", (double)lp1[1], (double)lp0[1]);
    model_free(m);

    /* the gradient: rows alternately replayed (experts 4, 1 of 6; 0, 3 of 4) and routed */
    for (t = 0; t < NTOK; t++)
        for (l = 0; l < 2; l++) {
            rt[t * W + l * 2] = t % 2 ? -1 : 4;
            rt[t * W + l * 2 + 1] = t % 2 ? -1 : 1;
        }
    grad_routes = rt;
    test_model_grad_variant(MODEL_CAUSAL_LM, 1, 0, 0, NULL, &moe_sigmoid);
    for (t = 0; t < NTOK; t++)
        for (l = 0; l < 2; l++) {
            rt[t * W + l * 2] = t % 2 ? -1 : 0;
            rt[t * W + l * 2 + 1] = t % 2 ? -1 : 3;
        }
    test_model_grad_variant(MODEL_CAUSAL_LM, 0, 0, 1, NULL, &q);
    grad_routes = NULL;
}

/* NOGRAD forward equals the training forward; block size does not matter. */
static void
test_nograd(void)
{
    struct model_config c = tiny_config(MODEL_CAUSAL_LM, 1, 0);
    struct model *m = model_new(&c);
    struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, NULL};
    float a[NTOK], e[NTOK], a2[NTOK], e2[NTOK];
    double ad[NTOK];

    model_init_random(m, 3, 0.3f);
    model_forward(m, &b, 1.0f, a2, e2, NULL, MODEL_FWD_NOGRAD);
    m->att_block = 3;
    model_forward(m, &b, 1.0f, a, e, NULL, 0);
    to_d(ad, a2, NTOK);
    CHECK(close_arr(a, ad, NTOK, 1e-5, 1e-6, "nograd logp"));
    to_d(ad, e2, NTOK);
    CHECK(close_arr(e, ad, NTOK, 1e-5, 1e-6, "nograd entropy"));
    for (int t = 0; t < NTOK; t++)
        CHECK((tg[t] < 0) == (a[t] == 0.0f && e[t] == 0.0f) || tg[t] >= 0);
    model_free(m);
}

/*
 * Two threads (the pool and OpenBLAS) give the gradients of one thread up
 * to summation order, for long segments spanning several attention blocks.
 */
static void
test_threads(void)
{
    struct model_config c = tiny_config(MODEL_CAUSAL_LM, 0, 1);
    enum { N2 = 300 };
    static int id2[N2], tg2[N2];
    static float w2[N2];
    int sl2[4] = {100, 37, 130, 33};
    struct model_batch b = {N2, id2, tg2, 4, sl2, NULL};
    struct model *m = model_new(&c);
    float lp1[N2], lp2[N2], *g1;

    for (int t = 0; t < N2; t++) {
        id2[t] = (int)rng_below(&rng, 13);
        w2[t] = (float)rng_normal(&rng);
    }
    model_batch_shift_targets(&b, NULL, tg2);
    model_init_random(m, 5, 0.3f);
    m->att_block = 32;
    model_set_threads(1);
    model_forward(m, &b, 1.0f, lp1, NULL, NULL, 0);
    model_zero_grad(m);
    model_backward(m, &b, w2, NULL, NULL);
    g1 = xmalloc(m->nparams * sizeof(float));
    memcpy(g1, m->grads, m->nparams * sizeof(float));
    model_set_threads(2);
    model_forward(m, &b, 1.0f, lp2, NULL, NULL, 0);
    model_zero_grad(m);
    model_backward(m, &b, w2, NULL, NULL);
    model_set_threads(1);
    {
        double d[N2];
        to_d(d, lp1, N2);
        CHECK(close_arr(lp2, d, N2, 1e-5, 1e-6, "logp, 2 threads vs 1"));
    }
    for (int i = 0; i < m->ntensors; i++) {
        const struct model_tensor *t = &m->tensors[i];
        double e = rel_err(m->grads + t->off, g1 + t->off, t->n);
        CHECK_MSG(e <= 1e-5, "2 threads vs 1: %s: rel err %g", t->name, e);
    }
    free(g1);
    model_free(m);
}

/* MODEL_FWD_EXACT: each segment alone gives the bits it gives in the batch. */
static void
test_exact(int threads)
{
    struct model_config c = tiny_config(MODEL_CAUSAL_LM, 1, 1);
    enum { N3 = 75 };
    int id3[N3], tg3[N3], sl3[5] = {9, 1, 33, 2, 30};
    float lp[N3], en[N3], lp1[N3], en1[N3];
    struct model *m;
    size_t off = 0;

    c.dim = 48;
    c.hidden_dim = 72;
    c.head_dim = 12;
    m = model_new(&c);
    model_init_random(m, 8, 0.3f);
    m->att_block = 8;
    m->logit_chunk = 20;
    model_set_threads(threads);
    for (int t = 0; t < N3; t++)
        id3[t] = (int)rng_below(&rng, 13);
    struct model_batch b = {N3, id3, tg3, 5, sl3, NULL};
    model_batch_shift_targets(&b, NULL, tg3);
    model_forward(m, &b, 0.7f, lp, en, NULL, MODEL_FWD_NOGRAD | MODEL_FWD_EXACT);
    for (int s = 0; s < 5; s++) {
        struct model_batch one = {(size_t)sl3[s], id3 + off, tg3 + off, 1, &sl3[s], NULL};
        model_forward(m, &one, 0.7f, lp1 + off, en1 + off, NULL,
                      MODEL_FWD_NOGRAD | MODEL_FWD_EXACT);
        off += (size_t)sl3[s];
    }
    CHECK_MSG(memcmp(lp, lp1, sizeof(lp)) == 0 && memcmp(en, en1, sizeof(en)) == 0,
              "exact forward differs alone and packed (%d threads)", threads);
    model_set_threads(1);
    model_free(m);
}

static void
test_shift_targets(void)
{
    int id[6] = {1, 2, 3, 4, 5, 6}, sl[2] = {4, 2}, t[6];
    unsigned char mask[6] = {0, 0, 1, 1, 0, 1};
    struct model_batch b = {6, id, NULL, 2, sl, NULL};
    int want[6] = {-1, 3, 4, -1, 6, -1}, want_all[6] = {2, 3, 4, -1, 6, -1};

    model_batch_shift_targets(&b, mask, t);
    CHECK(memcmp(t, want, sizeof(t)) == 0);
    model_batch_shift_targets(&b, NULL, t);
    CHECK(memcmp(t, want_all, sizeof(t)) == 0);
}

int
main(void)
{
    rng_seed(&rng, 1);
    model_set_threads(1);
    test_rmsnorm();
    test_matmul();
    test_rope();
    test_swiglu();
    test_attention();
    test_logprob();
    for (int t = 0; t < NTOK; t++) {
        ids[t] = (int)rng_below(&rng, 13);
        wlp[t] = (float)rng_normal(&rng);
        went[t] = (float)rng_normal(&rng) * 0.5f;
    }
    for (int s = 0; s < NSEG; s++)
        wsc[s] = (float)rng_normal(&rng);
    {
        struct model_batch b = {NTOK, ids, NULL, NSEG, seg_len, NULL};
        model_batch_shift_targets(&b, NULL, tg);
        tg[2] = -1;  /* a masked position inside a segment */
        wlp[5] = went[5] = 0.0f;  /* a target without gradient: skipped in backward */
    }
    test_model_grad(MODEL_CAUSAL_LM, 0, 1);
    test_model_grad(MODEL_CAUSAL_LM, 1, 0);
    test_model_grad(MODEL_SEQ_CLS, 0, 0);
    {
        /* tiny_config: head_dim 4, max_position_embeddings 64 */
        struct model_rope_scaling rs[] = {
            {.type = MODEL_ROPE_LINEAR, .factor = 2.0},
            {.type = MODEL_ROPE_DYNAMIC, .factor = 2.0},
            {.type = MODEL_ROPE_LLAMA3, .factor = 8.0, .low_freq_factor = 1.0,
             .high_freq_factor = 4.0, .orig_max_pos = 16},
            {.type = MODEL_ROPE_YARN, .factor = 4.0, .orig_max_pos = 16},
            {.type = MODEL_ROPE_YARN, .factor = 4.0, .beta_fast = 8.0, .beta_slow = 2.0,
             .mscale = 1.0, .mscale_all_dim = 0.5, .no_truncate = 1},
        };
        test_model_grad_variant(MODEL_CAUSAL_LM, 0, 0, 1, NULL, NULL);
        test_model_grad_variant(MODEL_CAUSAL_LM, 1, 0, 1, &rs[3], NULL);
        for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++)
            test_model_grad_variant(MODEL_CAUSAL_LM, 1, 0, 0, &rs[i], NULL);
    }
    {
        /* mixtures of experts (tiny_config: 2 layers, hidden 24): Qwen3-MoE's softmax
           router, with and without renormalization, layer 0 dense; DeepSeek's sigmoid
           router with groups, a selection bias, scaling and a shared expert */
        struct model_moe q = moe_softmax, d = moe_sigmoid;
        test_model_grad_variant(MODEL_CAUSAL_LM, 0, 0, 1, NULL, &q);
        q.norm_topk = 0;
        q.mlp_only[0] = 1;
        q.top_k = 3;
        test_model_grad_variant(MODEL_CAUSAL_LM, 1, 0, 1, NULL, &q);
        test_model_grad_variant(MODEL_CAUSAL_LM, 1, 0, 0, NULL, &d);
        d.norm_topk = 0;
        d.first_dense = 1;
        test_model_grad_variant(MODEL_SEQ_CLS, 0, 0, 0, NULL, &d);
    }
    {
        /* Multi-head Latent Attention: a plain q_proj and the q_a/q_b path, rope
           pairs interleaved or not, yarn with mscale_all_dim on the softmax scale,
           and with DeepSeekMoE layers */
        struct model_mla a = {.kv_lora_rank = 6, .nope = 4, .rope = 4, .v_dim = 3};
        struct model_mla b = {.q_lora_rank = 5, .kv_lora_rank = 8, .nope = 2, .rope = 6,
                              .v_dim = 5, .interleave = 1};
        struct model_rope_scaling y = {.type = MODEL_ROPE_YARN, .factor = 4.0,
                                       .orig_max_pos = 16, .mscale = 0.7,
                                       .mscale_all_dim = 0.7};
        struct model_moe d = {.n_experts = 4, .top_k = 2, .hidden = 8, .norm_topk = 1,
                              .sigmoid = 1, .n_group = 2, .topk_group = 1, .scaling = 2.5f,
                              .n_shared = 1, .score_bias = 1, .sparse_step = 1,
                              .first_dense = 1};
        test_model_grad_mla(MODEL_CAUSAL_LM, 0, 0, 0, NULL, NULL, &a);
        test_model_grad_mla(MODEL_CAUSAL_LM, 1, 0, 0, NULL, NULL, &b);
        test_model_grad_mla(MODEL_CAUSAL_LM, 0, 0, 0, &y, &d, &a);
        a.interleave = 1;
        test_model_grad_mla(MODEL_CAUSAL_LM, 1, 0, 0, &y, NULL, &a);
        test_model_grad_mla(MODEL_SEQ_CLS, 0, 0, 0, &y, &d, &b);
    }
    {
        /* the sequence-wise balance loss: its gradient alone (the token weights
           zeroed) and beside the log-probs', for the softmax and the sigmoid
           router; and its value where every expert is chosen (f_i = 1, so each
           segment and sparse layer adds a sum_i P_i = a) */
        struct model_moe q = moe_softmax, d = moe_sigmoid;
        float swlp[NTOK], swent[NTOK];
        struct model_config c = tiny_config(MODEL_CAUSAL_LM, 1, 0);
        struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, NULL};
        struct model *m;
        memcpy(swlp, wlp, sizeof(wlp));
        memcpy(swent, went, sizeof(went));
        memset(wlp, 0, sizeof(wlp));
        memset(went, 0, sizeof(went));
        seq_aux = 1.0f;
        test_model_grad_variant(MODEL_CAUSAL_LM, 1, 0, 0, NULL, &q);
        test_model_grad_variant(MODEL_CAUSAL_LM, 1, 0, 0, NULL, &d);
        memcpy(wlp, swlp, sizeof(wlp));
        memcpy(went, swent, sizeof(went));
        seq_aux = 0.3f;
        test_model_grad_variant(MODEL_CAUSAL_LM, 0, 0, 1, NULL, &q);
        d.mlp_only[0] = 1;
        test_model_grad_variant(MODEL_CAUSAL_LM, 1, 0, 0, NULL, &d);
        for (int sig = 0; sig < 2; sig++) {
            c.moe = sig ? d : q;
            c.moe.top_k = c.moe.topk_group = c.moe.n_group = 1;
            c.moe.top_k = c.moe.n_experts;
            memset(c.moe.mlp_only, 0, sizeof(c.moe.mlp_only));
            m = model_new(&c);
            model_init_random(m, 3, 0.3f);
            seq_aux = 0.25f;
            model_loss(m, &b, 1.0f);
            CHECK_MSG(fabs(m->moe_aux_loss - 0.25 * NSEG * c.n_layers) < 1e-5,
                      "sigmoid %d: balance loss %g with every expert chosen, want %g", sig,
                      m->moe_aux_loss, 0.25 * NSEG * c.n_layers);
            model_free(m);
        }
        seq_aux = 0.0f;
    }
    test_replay();
    test_packed(MODEL_CAUSAL_LM);
    test_packed(MODEL_SEQ_CLS);
    test_nograd();
    test_threads();
    test_exact(1);
    test_exact(2);
    test_shift_targets();
    return check_done();
}
