/*
 * model.c - the Llama-family decoder of model.h: layer kernels (fast and
 * naive reference), the parameter table, the planned activation arena,
 * and the forward and backward passes over packed batches.
 *
 * Not here: file formats (ckpt.c, safetensors.c), the optimizer (optim.c),
 * sampling and the KV cache (gen).
 */
#include "model.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ============================== Config ============================== */

int
model_config_check(const struct model_config *c, const char **why)
{
    const char *w = NULL;

    if (c->dim <= 0)
        w = "hidden_size must be positive";
    else if (c->hidden_dim <= 0)
        w = "intermediate_size must be positive";
    else if (c->n_layers <= 0)
        w = "num_hidden_layers must be positive";
    else if (c->n_heads <= 0 || c->n_kv_heads <= 0)
        w = "num_attention_heads and num_key_value_heads must be positive";
    else if (c->n_heads % c->n_kv_heads != 0)
        w = "num_key_value_heads must divide num_attention_heads";
    else if (c->head_dim <= 0 || c->head_dim % 2 != 0)
        w = "head_dim must be positive and even";
    else if (c->vocab_size <= 0)
        w = "vocab_size must be positive";
    else if (c->max_pos <= 0)
        w = "max_position_embeddings must be positive";
    else if (!(c->norm_eps > 0) || !(c->rope_theta > 0))
        w = "rms_norm_eps and rope_theta must be positive";
    else if (c->arch == MODEL_SEQ_CLS && c->num_labels <= 0)
        w = "num_labels must be positive";
    else if ((int64_t)c->dim * c->vocab_size > (int64_t)1 << 40 ||
             (int64_t)c->n_heads * c->head_dim > (int64_t)1 << 20 ||
             c->n_layers > 4096 || c->hidden_dim > 1 << 24)
        w = "sizes are too large";
    if (w && why)
        *why = w;
    return w ? -1 : 0;
}

/* ============================== Weights ============================== */

/*
 * Walks the parameter layout in memory order, recording each tensor in
 * tab (when not NULL) and returning the total count.  wq/wk/wv, bq/bk/bv
 * and w_gate/w_up are adjacent so each group is one matrix.
 */
static size_t
layout(const struct model_config *c, struct model_tensor *tab, int *ntab)
{
    size_t off = 0;
    int n = 0, l;
    size_t C = c->dim, H = c->hidden_dim, V = c->vocab_size;
    size_t QD = (size_t)c->n_heads * c->head_dim, KVD = (size_t)c->n_kv_heads * c->head_dim;

#define ADD(nm, rows, cols, dec)                                            \
    do {                                                                    \
        if (tab) {                                                          \
            struct model_tensor *t_ = &tab[n];                              \
            snprintf(t_->name, sizeof(t_->name), "%s", (nm));               \
            t_->off = off;                                                  \
            t_->ndim = (cols) ? 2 : 1;                                      \
            t_->shape[0] = (int64_t)(rows);                                 \
            t_->shape[1] = (int64_t)(cols);                                 \
            t_->n = (size_t)(rows) * ((cols) ? (size_t)(cols) : 1);         \
            t_->decay = (dec);                                              \
        }                                                                   \
        off += (size_t)(rows) * ((cols) ? (size_t)(cols) : 1);              \
        n++;                                                                \
    } while (0)

    ADD("model.embed_tokens.weight", V, C, 1);
    for (l = 0; l < c->n_layers; l++) {
        char nm[64];
#define LNAME(s) (snprintf(nm, sizeof(nm), "model.layers.%d.%s", l, (s)), nm)
        ADD(LNAME("input_layernorm.weight"), C, 0, 0);
        ADD(LNAME("self_attn.q_proj.weight"), QD, C, 1);
        ADD(LNAME("self_attn.k_proj.weight"), KVD, C, 1);
        ADD(LNAME("self_attn.v_proj.weight"), KVD, C, 1);
        if (c->attn_bias) {
            ADD(LNAME("self_attn.q_proj.bias"), QD, 0, 0);
            ADD(LNAME("self_attn.k_proj.bias"), KVD, 0, 0);
            ADD(LNAME("self_attn.v_proj.bias"), KVD, 0, 0);
        }
        ADD(LNAME("self_attn.o_proj.weight"), C, QD, 1);
        ADD(LNAME("post_attention_layernorm.weight"), C, 0, 0);
        ADD(LNAME("mlp.gate_proj.weight"), H, C, 1);
        ADD(LNAME("mlp.up_proj.weight"), H, C, 1);
        ADD(LNAME("mlp.down_proj.weight"), C, H, 1);
#undef LNAME
    }
    ADD("model.norm.weight", C, 0, 0);
    if (c->arch == MODEL_CAUSAL_LM && !c->tie_embeddings)
        ADD("lm_head.weight", V, C, 1);
    if (c->arch == MODEL_SEQ_CLS)
        ADD("score.weight", c->num_labels, C, 1);
#undef ADD
    if (ntab)
        *ntab = n;
    return off;
}

/* Points w's fields into base following the table. */
static void
carve_weights(const struct model *m, float *base, struct model_weights *w)
{
    const struct model_config *c = &m->cfg;
    int i = 0, l;

    w->embed = base + m->tensors[i++].off;
    for (l = 0; l < c->n_layers; l++) {
        struct model_layer *L = &w->layers[l];
        L->attn_norm = base + m->tensors[i++].off;
        L->wq = base + m->tensors[i++].off;
        L->wk = base + m->tensors[i++].off;
        L->wv = base + m->tensors[i++].off;
        L->bq = L->bk = L->bv = NULL;
        if (c->attn_bias) {
            L->bq = base + m->tensors[i++].off;
            L->bk = base + m->tensors[i++].off;
            L->bv = base + m->tensors[i++].off;
        }
        L->wo = base + m->tensors[i++].off;
        L->mlp_norm = base + m->tensors[i++].off;
        L->w_gate = base + m->tensors[i++].off;
        L->w_up = base + m->tensors[i++].off;
        L->w_down = base + m->tensors[i++].off;
    }
    w->norm = base + m->tensors[i++].off;
    w->lm_head = NULL;
    w->score = NULL;
    if (c->arch == MODEL_CAUSAL_LM)
        w->lm_head = c->tie_embeddings ? w->embed : base + m->tensors[i++].off;
    else
        w->score = base + m->tensors[i++].off;
}

/* ============================== Run state ============================== */

/*
 * Activations of the last forward, carved from one arena.  Per-layer
 * buffers are indexed [l * N * width] in training; under NOGRAD every
 * layer shares slot 0.  N is the batch's token count (<= cap).
 */
struct model_acts {
    void *arena;
    size_t cap;         /* tokens planned for */
    int train;          /* planned with per-layer slots */
    /* the last forward */
    size_t ntok, nseg;
    int fwd_train;
    float temp;
    /* per token / per segment */
    int *pos;           /* (N) */
    size_t *seg_start;  /* (N + 1) */
    int *rows;          /* (LC) token index of each LM-head row */
    /* saved for backward, per layer */
    float *res;         /* (L+1, N, C) residual entering each layer; [L] final */
    float *rstd1;       /* (L, N) */
    float *rstd2;       /* (L, N) */
    float *qkv;         /* (L, N, QKV) after bias and RoPE */
    float *att;         /* (L, N, QD) attention output before o_proj */
    float *lse;         /* (L, nh, N) */
    float *res2;        /* (L, N, C) residual after attention */
    float *gu;          /* (L, N, 2H) gate | up before SwiGLU */
    float *lnf;         /* (N, C) final norm output */
    float *rstdf;       /* (N) */
    /* scratch */
    float *ln;          /* (N, C) norm output (recomputed in backward) */
    float *h;           /* (N, H) SwiGLU output (recomputed in backward) */
    float *dres;        /* (N, C) */
    float *dln;         /* (N, C) */
    float *dqkv;        /* (N, QKV) */
    float *datt;        /* (N, QD) */
    float *dgu;         /* (N, 2H) */
    float *dh;          /* (N, H) */
    float *logits;      /* (LC, V) */
    float *xc;          /* (LC, C) gathered rows of lnf */
    float *dxc;         /* (LC, C) */
    float *att_scratch; /* 2 B^2 + 4 B */
    /* RoPE tables, grown to the longest segment seen */
    float *cos_t, *sin_t; /* (npos, hd/2) */
    int npos;
};

/* Lays out (base NULL: only sizes) the arena for N tokens; returns bytes. */
static size_t
acts_plan(const struct model *m, struct model_acts *a, size_t N, int train, char *base)
{
    const struct model_config *c = &m->cfg;
    size_t C = c->dim, H = c->hidden_dim, V = c->vocab_size;
    size_t QD = (size_t)c->n_heads * c->head_dim;
    size_t QKV = QD + 2 * (size_t)c->n_kv_heads * c->head_dim;
    size_t L = train ? (size_t)c->n_layers : 1, LC = (size_t)m->logit_chunk;
    size_t B = (size_t)m->att_block;
    size_t off = 0;

#define CARVE(field, count, type)                                           \
    do {                                                                    \
        if (base)                                                           \
            a->field = (type *)(void *)(base + off);                        \
        off += (xmul((count), sizeof(type)) + 63) & ~(size_t)63;            \
    } while (0)

    CARVE(pos, N, int);
    CARVE(seg_start, N + 1, size_t);
    CARVE(rows, LC, int);
    CARVE(res, xmul(L + 1, N * C), float);
    CARVE(rstd1, L * N, float);
    CARVE(rstd2, L * N, float);
    CARVE(qkv, xmul(L, N * QKV), float);
    CARVE(att, xmul(L, N * QD), float);
    CARVE(lse, xmul(L, N * c->n_heads), float);
    CARVE(res2, xmul(L, N * C), float);
    CARVE(gu, xmul(L, N * 2 * H), float);
    CARVE(lnf, N * C, float);
    CARVE(rstdf, N, float);
    CARVE(ln, N * C, float);
    CARVE(h, N * H, float);
    if (train) {
        CARVE(dres, N * C, float);
        CARVE(dln, N * C, float);
        CARVE(dqkv, N * QKV, float);
        CARVE(datt, N * QD, float);
        CARVE(dgu, N * 2 * H, float);
        CARVE(dh, N * H, float);
        CARVE(dxc, LC * C, float);
    }
    CARVE(logits, xmul(LC, V), float);
    CARVE(xc, LC * C, float);
    CARVE(att_scratch, 2 * B * B + 4 * B, float);
#undef CARVE
    return off;
}

/* Makes the arena hold N tokens (and per-layer slots when train). */
static void
acts_reserve(struct model *m, size_t N, int train)
{
    struct model_acts *a = m->acts;

    if (a->arena && a->cap >= N && (a->train || !train))
        return;
    if (a->cap > N)
        N = a->cap;
    train = train || a->train;
    free(a->arena);
    a->arena = NULL;
    a->arena = xmalloc(acts_plan(m, a, N, train, NULL));
    acts_plan(m, a, N, train, a->arena);
    a->cap = N;
    a->train = train;
}

/* ============================== The model ============================== */

struct model *
model_new(const struct model_config *cfg)
{
    struct model *m = xcalloc(1, sizeof(*m));
    const char *why;

    if (model_config_check(cfg, &why))
        die("model: %s", why);
    m->cfg = *cfg;
    layout(cfg, NULL, &m->ntensors);
    m->tensors = xcalloc((size_t)m->ntensors, sizeof(*m->tensors));
    m->nparams = layout(cfg, m->tensors, NULL);
    m->params = xcalloc(m->nparams, sizeof(float));
    m->w.layers = xcalloc((size_t)cfg->n_layers, sizeof(struct model_layer));
    m->g.layers = xcalloc((size_t)cfg->n_layers, sizeof(struct model_layer));
    carve_weights(m, m->params, &m->w);
    m->att_block = 128;
    m->logit_chunk = 256;
    m->acts = xcalloc(1, sizeof(*m->acts));
    return m;
}

void
model_free(struct model *m)
{
    if (!m)
        return;
    if (m->acts) {
        free(m->acts->arena);
        free(m->acts->cos_t);
        free(m->acts->sin_t);
        free(m->acts);
    }
    free(m->w.layers);
    free(m->g.layers);
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m);
}

void
model_init_random(struct model *m, uint64_t seed, float std)
{
    struct rng r;
    int i;

    rng_seed(&r, seed);
    for (i = 0; i < m->ntensors; i++) {
        const struct model_tensor *t = &m->tensors[i];
        float *p = m->params + t->off;
        size_t k;
        int is_norm = strstr(t->name, "norm") != NULL;

        for (k = 0; k < t->n; k++) {
            if (t->ndim == 2)
                p[k] = (float)(rng_normal(&r) * std);
            else
                p[k] = is_norm ? 1.0f : 0.0f;
        }
    }
}

const struct model_tensor *
model_find_tensor(const struct model *m, const char *name)
{
    int i;

    for (i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

void
model_zero_grad(struct model *m)
{
    if (!m->grads) {
        m->grads = xcalloc(m->nparams, sizeof(float));
        carve_weights(m, m->grads, &m->g);
        return;
    }
    memset(m->grads, 0, m->nparams * sizeof(float));
}

void
model_set_threads(int n)
{
    if (n >= 1)
        openblas_set_num_threads(n);
}

int
model_threads_env(void)
{
    const char *s = getenv("POSTTRAIN_THREADS");
    long n;

    if (!s || !*s)
        return 0;
    if (parse_long(s, 1, 4096, &n))
        die("POSTTRAIN_THREADS: '%s' is not an integer in [1, 4096]", s);
    return (int)n;
}

void
model_batch_shift_targets(const struct model_batch *b, const unsigned char *mask,
                          int *targets)
{
    size_t s, t0 = 0, i;

    for (s = 0; s < b->nseg; s++) {
        size_t n = (size_t)b->seg_len[s];
        for (i = 0; i < n; i++) {
            size_t t = t0 + i;
            if (i + 1 < n && (!mask || mask[t + 1]))
                targets[t] = b->ids[t + 1];
            else
                targets[t] = -1;
        }
        t0 += n;
    }
}

/* ============================== Layers ============================== */

void
rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t N, int C,
                float eps)
{
    size_t t;
    int i;

    for (t = 0; t < N; t++) {
        const float *xt = x + t * C;
        float *o = out + t * C;
        float ss = 0.0f, r;
        for (i = 0; i < C; i++)
            ss += xt[i] * xt[i];
        r = 1.0f / sqrtf(ss / C + eps);
        for (i = 0; i < C; i++)
            o[i] = xt[i] * r * w[i];
        if (rstd)
            rstd[t] = r;
    }
}

/*
 * y_i = w_i x_i r, r = (sum x^2 / C + eps)^-1/2, so
 * dx_j = r w_j g_j - r^3 x_j / C * sum_i g_i w_i x_i.
 */
void
rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                 const float *rstd, size_t N, int C)
{
    size_t t;
    int i;

    for (t = 0; t < N; t++) {
        const float *xt = x + t * C, *g = dout + t * C;
        float *d = dx + t * C;
        float r = rstd[t], dot = 0.0f, k;
        for (i = 0; i < C; i++) {
            dot += g[i] * w[i] * xt[i];
            dw[i] += g[i] * xt[i] * r;
        }
        k = r * r * r * dot / C;
        for (i = 0; i < C; i++)
            d[i] += r * w[i] * g[i] - k * xt[i];
    }
}

/* out (N,OC) = beta out + in (N,IC) W^T, W (OC,IC). */
static void
gemm_nt(float *out, const float *in, const float *W, size_t N, int IC, int OC, float beta)
{
    if (N == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, OC, IC, 1.0f, in, IC, W,
                IC, beta, out, OC);
}

void
matmul_forward(float *out, const float *in, const float *W, const float *bias, size_t N,
               int IC, int OC)
{
    size_t t;
    int o;

    gemm_nt(out, in, W, N, IC, OC, 0.0f);
    if (bias)
        for (t = 0; t < N; t++)
            for (o = 0; o < OC; o++)
                out[t * OC + o] += bias[o];
}

void
matmul_forward_ref(float *out, const float *in, const float *W, const float *bias,
                   size_t N, int IC, int OC)
{
    size_t t;
    int o, i;

    for (t = 0; t < N; t++)
        for (o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (i = 0; i < IC; i++)
                s += (double)in[t * IC + i] * W[(size_t)o * IC + i];
            out[t * OC + o] = (float)s;
        }
}

void
matmul_backward(float *din, float *dW, float *dbias, const float *dout, const float *in,
                const float *W, size_t N, int IC, int OC)
{
    size_t t;
    int o;

    if (N == 0)
        return;
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, IC, OC, 1.0f, dout,
                    OC, W, IC, 0.0f, din, IC);
    if (dW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, (int)N, 1.0f, dout, OC,
                    in, IC, 1.0f, dW, IC);
    if (dbias)
        for (t = 0; t < N; t++)
            for (o = 0; o < OC; o++)
                dbias[o] += dout[t * OC + o];
}

/*
 * HF's inv_freq_i = theta^(-2i/hd); the angle is computed in double so
 * long positions keep their precision.
 */
void
rope_tables(float *cos_t, float *sin_t, int npos, int hd, float theta)
{
    int p, i, half = hd / 2;

    for (p = 0; p < npos; p++)
        for (i = 0; i < half; i++) {
            double f = pow((double)theta, -2.0 * i / hd), a = p * f;
            cos_t[(size_t)p * half + i] = (float)cos(a);
            sin_t[(size_t)p * half + i] = (float)sin(a);
        }
}

/* rotate_half: (a, b) -> (a cos - b sin, b cos + a sin); sign -1 inverts. */
static void
rope_apply(float *x, const int *pos, const float *cos_t, const float *sin_t, size_t N,
           int stride, int nh, int hd, float sign)
{
    size_t t;
    int h, i, half = hd / 2;

    for (t = 0; t < N; t++) {
        const float *cs = cos_t + (size_t)pos[t] * half, *sn = sin_t + (size_t)pos[t] * half;
        for (h = 0; h < nh; h++) {
            float *v = x + t * stride + (size_t)h * hd;
            for (i = 0; i < half; i++) {
                float a = v[i], b = v[i + half], s = sign * sn[i];
                v[i] = a * cs[i] - b * s;
                v[i + half] = b * cs[i] + a * s;
            }
        }
    }
}

void
rope_forward(float *x, const int *pos, const float *cos_t, const float *sin_t, size_t N,
             int stride, int nh, int hd)
{
    rope_apply(x, pos, cos_t, sin_t, N, stride, nh, hd, 1.0f);
}

/* The rotation is orthogonal: its transpose is the rotation by -angle. */
void
rope_backward(float *dx, const int *pos, const float *cos_t, const float *sin_t, size_t N,
              int stride, int nh, int hd)
{
    rope_apply(dx, pos, cos_t, sin_t, N, stride, nh, hd, -1.0f);
}

void
swiglu_forward(float *h, const float *gu, size_t N, int H)
{
    size_t t;
    int i;

    for (t = 0; t < N; t++) {
        const float *g = gu + t * 2 * H, *u = g + H;
        float *o = h + t * H;
        for (i = 0; i < H; i++)
            o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

/* silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). */
void
swiglu_backward(float *dgu, const float *dh, const float *gu, size_t N, int H)
{
    size_t t;
    int i;

    for (t = 0; t < N; t++) {
        const float *g = gu + t * 2 * H, *u = g + H, *d = dh + t * H;
        float *dg = dgu + t * 2 * H, *du = dg + H;
        for (i = 0; i < H; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            du[i] = d[i] * g[i] * s;
            dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        }
    }
}

void
attention_forward(float *out, float *lse, const float *qkv, const size_t *seg_start,
                  size_t nseg, int nh, int nkv, int hd, int block, float *scratch)
{
    size_t N = seg_start[nseg], s;
    int QD = nh * hd, QKV = (nh + 2 * nkv) * hd, B = block, grp = nh / nkv, h;
    float scale = 1.0f / sqrtf((float)hd);
    float *S = scratch, *mx = S + (size_t)B * B, *l = mx + B;

    for (s = 0; s < nseg; s++) {
        size_t s0 = seg_start[s];
        int Ls = (int)(seg_start[s + 1] - s0);
        for (h = 0; h < nh; h++) {
            int g = h / grp, i0, j0, r, c;
            const float *Q = qkv + s0 * QKV + (size_t)h * hd;
            const float *K = qkv + s0 * QKV + QD + (size_t)g * hd;
            const float *V = K + (size_t)nkv * hd;
            float *O = out + s0 * QD + (size_t)h * hd;
            float *LSE = lse + (size_t)h * N + s0;
            for (i0 = 0; i0 < Ls; i0 += B) {
                int bq = PT_MIN(B, Ls - i0);
                for (r = 0; r < bq; r++) {
                    mx[r] = -INFINITY;
                    l[r] = 0.0f;
                    memset(O + (size_t)(i0 + r) * QD, 0, (size_t)hd * sizeof(float));
                }
                for (j0 = 0; j0 < i0 + bq; j0 += B) {
                    int bk = PT_MIN(B, i0 + bq - j0);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bk, hd, scale,
                                Q + (size_t)i0 * QKV, QKV, K + (size_t)j0 * QKV, QKV, 0.0f,
                                S, bk);
                    for (r = 0; r < bq; r++) {
                        float *Sr = S + (size_t)r * bk, m = mx[r], corr, sum = 0.0f;
                        int nv = PT_MIN(bk, i0 + r - j0 + 1);
                        for (c = 0; c < nv; c++)
                            m = Sr[c] > m ? Sr[c] : m;
                        for (c = 0; c < nv; c++) {
                            Sr[c] = expf(Sr[c] - m);
                            sum += Sr[c];
                        }
                        for (; c < bk; c++)
                            Sr[c] = 0.0f;
                        if (nv <= 0)
                            continue;
                        corr = expf(mx[r] - m);
                        if (corr != 1.0f) {
                            float *o = O + (size_t)(i0 + r) * QD;
                            for (c = 0; c < hd; c++)
                                o[c] *= corr;
                        }
                        l[r] = l[r] * corr + sum;
                        mx[r] = m;
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, hd, bk, 1.0f,
                                S, bk, V + (size_t)j0 * QKV, QKV, 1.0f,
                                O + (size_t)i0 * QD, QD);
                }
                for (r = 0; r < bq; r++) {
                    float *o = O + (size_t)(i0 + r) * QD, inv = 1.0f / l[r];
                    for (c = 0; c < hd; c++)
                        o[c] *= inv;
                    LSE[i0 + r] = mx[r] + logf(l[r]);
                }
            }
        }
    }
}

void
attention_forward_ref(float *out, float *lse, const float *qkv, const size_t *seg_start,
                      size_t nseg, int nh, int nkv, int hd, float *scratch)
{
    size_t N = seg_start[nseg], s;
    int QD = nh * hd, QKV = (nh + 2 * nkv) * hd, h;
    double scale = 1.0 / sqrt((double)hd);

    for (s = 0; s < nseg; s++) {
        size_t s0 = seg_start[s];
        int Ls = (int)(seg_start[s + 1] - s0), i, j, d;
        for (h = 0; h < nh; h++) {
            int g = h / (nh / nkv);
            for (i = 0; i < Ls; i++) {
                const float *q = qkv + (s0 + i) * QKV + (size_t)h * hd;
                double m = -INFINITY, sum = 0.0;
                for (j = 0; j <= i; j++) {
                    const float *k = qkv + (s0 + j) * QKV + QD + (size_t)g * hd;
                    double a = 0.0;
                    for (d = 0; d < hd; d++)
                        a += (double)q[d] * k[d];
                    scratch[j] = (float)(a * scale);
                    m = scratch[j] > m ? scratch[j] : m;
                }
                for (j = 0; j <= i; j++)
                    sum += exp(scratch[j] - m);
                for (d = 0; d < hd; d++) {
                    double o = 0.0;
                    for (j = 0; j <= i; j++) {
                        const float *v = qkv + (s0 + j) * QKV + QD + (size_t)(nkv + g) * hd;
                        o += exp(scratch[j] - m) / sum * v[d];
                    }
                    out[(s0 + i) * QD + (size_t)h * hd + d] = (float)o;
                }
                lse[(size_t)h * N + s0 + i] = (float)(m + log(sum));
            }
        }
    }
}

/*
 * FlashAttention-2's backward: P = exp(S - lse) is recomputed per tile,
 * D_i = dO_i . O_i, dS = P (dP - D), dQ = scale dS K, dK = scale dS^T Q,
 * dV = P^T dO.  K/V gradients of a kv head sum over its query heads.
 */
void
attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                   const float *lse, const size_t *seg_start, size_t nseg, int nh, int nkv,
                   int hd, int block, float *scratch)
{
    size_t N = seg_start[nseg], s;
    int QD = nh * hd, QKV = (nh + 2 * nkv) * hd, B = block, grp = nh / nkv, h;
    float scale = 1.0f / sqrtf((float)hd);
    float *P = scratch, *dP = P + (size_t)B * B, *D = dP + (size_t)B * B;

    for (s = 0; s < nseg; s++) {
        size_t s0 = seg_start[s];
        int Ls = (int)(seg_start[s + 1] - s0);
        for (h = 0; h < nh; h++) {
            int g = h / grp, i0, j0, r, c;
            size_t ko = QD + (size_t)g * hd, vo = ko + (size_t)nkv * hd;
            const float *Q = qkv + s0 * QKV + (size_t)h * hd;
            const float *K = qkv + s0 * QKV + ko, *V = qkv + s0 * QKV + vo;
            const float *O = out + s0 * QD + (size_t)h * hd;
            const float *dO = dout + s0 * QD + (size_t)h * hd;
            const float *LSE = lse + (size_t)h * N + s0;
            float *dQ = dqkv + s0 * QKV + (size_t)h * hd;
            float *dK = dqkv + s0 * QKV + ko, *dV = dqkv + s0 * QKV + vo;
            for (i0 = 0; i0 < Ls; i0 += B) {
                int bq = PT_MIN(B, Ls - i0);
                for (r = 0; r < bq; r++) {
                    const float *o = O + (size_t)(i0 + r) * QD, *d = dO + (size_t)(i0 + r) * QD;
                    float a = 0.0f;
                    for (c = 0; c < hd; c++)
                        a += o[c] * d[c];
                    D[r] = a;
                }
                for (j0 = 0; j0 < i0 + bq; j0 += B) {
                    int bk = PT_MIN(B, i0 + bq - j0);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bk, hd, scale,
                                Q + (size_t)i0 * QKV, QKV, K + (size_t)j0 * QKV, QKV, 0.0f,
                                P, bk);
                    for (r = 0; r < bq; r++) {
                        float *Pr = P + (size_t)r * bk, m = LSE[i0 + r];
                        int nv = PT_MIN(bk, i0 + r - j0 + 1);
                        for (c = 0; c < nv; c++)
                            Pr[c] = expf(Pr[c] - m);
                        for (; c < bk; c++)
                            Pr[c] = 0.0f;
                    }
                    /* dV_j += P^T dO_i */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bk, hd, bq, 1.0f, P,
                                bk, dO + (size_t)i0 * QD, QD, 1.0f, dV + (size_t)j0 * QKV,
                                QKV);
                    /* dP = dO_i V_j^T */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bk, hd, 1.0f,
                                dO + (size_t)i0 * QD, QD, V + (size_t)j0 * QKV, QKV, 0.0f,
                                dP, bk);
                    for (r = 0; r < bq; r++) {
                        float *Pr = P + (size_t)r * bk, *dPr = dP + (size_t)r * bk;
                        for (c = 0; c < bk; c++)
                            Pr[c] = Pr[c] * (dPr[c] - D[r]);
                    }
                    /* dQ_i += scale dS K_j;  dK_j += scale dS^T Q_i */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, hd, bk, scale,
                                P, bk, K + (size_t)j0 * QKV, QKV, 1.0f, dQ + (size_t)i0 * QKV,
                                QKV);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bk, hd, bq, scale, P,
                                bk, Q + (size_t)i0 * QKV, QKV, 1.0f, dK + (size_t)j0 * QKV,
                                QKV);
                }
            }
        }
    }
}

/*
 * z = logits / temp, lse = log sum exp z, logp = z_y - lse,
 * H = lse - sum p z.  dlogp/dl_k = (1[k=y] - p_k) / temp and
 * dH/dl_k = -p_k (z_k - lse + H) / temp.  row holds the logits on entry;
 * it is overwritten (with dL/dlogits when backward).
 */
void
logprob_row(float *logp, float *ent, float *row, int V, int target, float temp,
            float dlogp, float dent, int backward)
{
    float inv = 1.0f / temp, m = -INFINITY, lse, H = 0.0f;
    double sum = 0.0, pz = 0.0;
    int k, need_h = ent != NULL || (backward && dent != 0.0f);

    for (k = 0; k < V; k++) {
        row[k] *= inv;
        m = row[k] > m ? row[k] : m;
    }
    for (k = 0; k < V; k++)
        sum += expf(row[k] - m);
    lse = m + (float)log(sum);
    if (need_h) {
        for (k = 0; k < V; k++)
            pz += expf(row[k] - lse) * row[k];
        H = lse - (float)pz;
    }
    if (logp)
        *logp = row[target] - lse;
    if (ent)
        *ent = H;
    if (!backward)
        return;
    for (k = 0; k < V; k++) {
        float lp = row[k] - lse, p = expf(lp);
        row[k] = (-dlogp * p - dent * p * (lp + H)) * inv;
    }
    row[target] += dlogp * inv;
}

/* ============================== Forward ============================== */

static void
ensure_rope(struct model *m, int npos)
{
    struct model_acts *a = m->acts;
    int half = m->cfg.head_dim / 2;

    if (npos <= a->npos)
        return;
    npos = PT_MAX(npos, PT_MIN(2 * a->npos, m->cfg.max_pos));
    npos = PT_MAX(npos, 64);
    free(a->cos_t);
    free(a->sin_t);
    a->cos_t = xmalloc(xmul((size_t)npos * half, sizeof(float)));
    a->sin_t = xmalloc(xmul((size_t)npos * half, sizeof(float)));
    rope_tables(a->cos_t, a->sin_t, npos, m->cfg.head_dim, m->cfg.rope_theta);
    a->npos = npos;
}

static void
check_batch(const struct model *m, const struct model_batch *b)
{
    size_t t, s, sum = 0;
    int V = m->cfg.vocab_size;

    for (s = 0; s < b->nseg; s++) {
        if (b->seg_len[s] < 1)
            die("model: segment %zu has length %d", s, b->seg_len[s]);
        sum += (size_t)b->seg_len[s];
    }
    if (sum != b->ntok || b->ntok == 0)
        die("model: segments sum to %zu tokens, batch has %zu", sum, b->ntok);
    for (t = 0; t < b->ntok; t++) {
        if (b->ids[t] < 0 || b->ids[t] >= V)
            die("model: token id %d out of range [0, %d)", b->ids[t], V);
        if (b->targets && b->targets[t] >= V)
            die("model: target id %d out of range [0, %d)", b->targets[t], V);
    }
}

/* One decoder layer, residual res -> resn (may alias under NOGRAD). */
static void
layer_forward(struct model *m, int l, int train, size_t N)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = m->acts;
    const struct model_layer *w = &m->w.layers[l];
    int C = c->dim, H = c->hidden_dim, nh = c->n_heads, nkv = c->n_kv_heads;
    int hd = c->head_dim, QD = nh * hd, QKV = (nh + 2 * nkv) * hd;
    size_t slot = train ? (size_t)l : 0;
    float *res = a->res + slot * N * C, *resn = a->res + (train ? slot + 1 : 0) * N * C;
    float *rstd1 = a->rstd1 + slot * N, *rstd2 = a->rstd2 + slot * N;
    float *qkv = a->qkv + slot * N * QKV, *att = a->att + slot * N * QD;
    float *lse = a->lse + slot * N * nh, *res2 = a->res2 + slot * N * C;
    float *gu = a->gu + slot * N * 2 * H;

    rmsnorm_forward(a->ln, rstd1, res, w->attn_norm, N, C, c->norm_eps);
    matmul_forward(qkv, a->ln, w->wq, w->bq, N, C, QKV);
    rope_forward(qkv, a->pos, a->cos_t, a->sin_t, N, QKV, nh, hd);
    rope_forward(qkv + QD, a->pos, a->cos_t, a->sin_t, N, QKV, nkv, hd);
    attention_forward(att, lse, qkv, a->seg_start, a->nseg, nh, nkv, hd, m->att_block,
                      a->att_scratch);
    memmove(res2, res, N * C * sizeof(float));
    gemm_nt(res2, att, w->wo, N, QD, C, 1.0f);
    rmsnorm_forward(a->ln, rstd2, res2, w->mlp_norm, N, C, c->norm_eps);
    matmul_forward(gu, a->ln, w->w_gate, NULL, N, C, 2 * H);
    swiglu_forward(a->h, gu, N, H);
    memmove(resn, res2, N * C * sizeof(float));
    gemm_nt(resn, a->h, w->w_down, N, H, C, 1.0f);
}

/*
 * Gathers up to LC rows t >= *next whose target is set (and, for the
 * backward, whose gradient is not zero) into a->rows and their lnf rows
 * into a->xc.  Returns the count; *next moves past them.
 */
static int
gather_rows(struct model *m, const struct model_batch *b, size_t *next, const float *dlogp,
            const float *dent)
{
    struct model_acts *a = m->acts;
    int n = 0, C = m->cfg.dim;
    size_t t;

    for (t = *next; t < b->ntok && n < m->logit_chunk; t++) {
        if (!b->targets || b->targets[t] < 0)
            continue;
        if ((dlogp || dent) && !(dlogp && dlogp[t] != 0.0f) && !(dent && dent[t] != 0.0f))
            continue;
        a->rows[n] = (int)t;
        memcpy(a->xc + (size_t)n * C, a->lnf + t * C, (size_t)C * sizeof(float));
        n++;
    }
    *next = t;
    return n;
}

void
model_forward(struct model *m, const struct model_batch *b, float temperature, float *logp,
              float *entropy, float *scores, int flags)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = m->acts;
    int train = !(flags & MODEL_FWD_NOGRAD), C = c->dim, V = c->vocab_size, l, maxlen = 0;
    size_t N = b->ntok, s, t;
    float *resf;

    check_batch(m, b);
    if (!(temperature > 0.0f))
        die("model: temperature must be positive");
    acts_reserve(m, N, train);
    a->ntok = N;
    a->nseg = b->nseg;
    a->fwd_train = train;
    a->temp = temperature;
    a->seg_start[0] = 0;
    for (s = 0; s < b->nseg; s++) {
        int i;
        for (i = 0; i < b->seg_len[s]; i++)
            a->pos[a->seg_start[s] + (size_t)i] = i;
        a->seg_start[s + 1] = a->seg_start[s] + (size_t)b->seg_len[s];
        maxlen = PT_MAX(maxlen, b->seg_len[s]);
    }
    ensure_rope(m, maxlen);
    for (t = 0; t < N; t++)
        memcpy(a->res + t * C, m->w.embed + (size_t)b->ids[t] * C, (size_t)C * sizeof(float));
    for (l = 0; l < c->n_layers; l++)
        layer_forward(m, l, train, N);
    resf = a->res + (train ? (size_t)c->n_layers : 0) * N * C;
    rmsnorm_forward(a->lnf, a->rstdf, resf, m->w.norm, N, C, c->norm_eps);

    if (c->arch == MODEL_SEQ_CLS) {
        for (s = 0; s < b->nseg; s++) {
            const float *x = a->lnf + (a->seg_start[s + 1] - 1) * C;
            int k, i;
            for (k = 0; k < c->num_labels; k++) {
                const float *wk = m->w.score + (size_t)k * C;
                float acc = 0.0f;
                for (i = 0; i < C; i++)
                    acc += x[i] * wk[i];
                scores[s * c->num_labels + k] = acc;
            }
        }
        return;
    }
    if (logp)
        memset(logp, 0, N * sizeof(float));
    if (entropy)
        memset(entropy, 0, N * sizeof(float));
    for (t = 0; t < N;) {
        int n = gather_rows(m, b, &t, NULL, NULL), r;
        if (n == 0)
            break;
        gemm_nt(a->logits, a->xc, m->w.lm_head, (size_t)n, C, V, 0.0f);
        for (r = 0; r < n; r++) {
            int tok = a->rows[r];
            logprob_row(logp ? &logp[tok] : NULL, entropy ? &entropy[tok] : NULL,
                        a->logits + (size_t)r * V, V, b->targets[tok], temperature, 0.0f,
                        0.0f, 0);
        }
    }
}

/* ============================== Backward ============================== */

static void
layer_backward(struct model *m, int l, size_t N)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = m->acts;
    const struct model_layer *w = &m->w.layers[l];
    struct model_layer *g = &m->g.layers[l];
    int C = c->dim, H = c->hidden_dim, nh = c->n_heads, nkv = c->n_kv_heads;
    int hd = c->head_dim, QD = nh * hd, QKV = (nh + 2 * nkv) * hd;
    size_t L = (size_t)l;
    const float *res = a->res + L * N * C, *res2 = a->res2 + L * N * C;
    float *rstd1 = a->rstd1 + L * N, *rstd2 = a->rstd2 + L * N;
    const float *qkv = a->qkv + L * N * QKV, *att = a->att + L * N * QD;
    const float *lse = a->lse + L * N * nh, *gu = a->gu + L * N * 2 * H;

    /* MLP: resn = res2 + swiglu(norm(res2) Wgu^T) Wd^T */
    rmsnorm_forward(a->ln, rstd2, res2, w->mlp_norm, N, C, c->norm_eps);
    swiglu_forward(a->h, gu, N, H);
    matmul_backward(a->dh, g->w_down, NULL, a->dres, a->h, w->w_down, N, H, C);
    swiglu_backward(a->dgu, a->dh, gu, N, H);
    matmul_backward(a->dln, g->w_gate, NULL, a->dgu, a->ln, w->w_gate, N, C, 2 * H);
    rmsnorm_backward(a->dres, g->mlp_norm, a->dln, res2, w->mlp_norm, rstd2, N, C);
    /* attention: res2 = res + attn(norm(res)) Wo^T */
    matmul_backward(a->datt, g->wo, NULL, a->dres, att, w->wo, N, QD, C);
    memset(a->dqkv, 0, N * QKV * sizeof(float));
    attention_backward(a->dqkv, a->datt, qkv, att, lse, a->seg_start, a->nseg, nh, nkv, hd,
                       m->att_block, a->att_scratch);
    rope_backward(a->dqkv, a->pos, a->cos_t, a->sin_t, N, QKV, nh, hd);
    rope_backward(a->dqkv + QD, a->pos, a->cos_t, a->sin_t, N, QKV, nkv, hd);
    rmsnorm_forward(a->ln, rstd1, res, w->attn_norm, N, C, c->norm_eps);
    matmul_backward(a->dln, g->wq, g->bq, a->dqkv, a->ln, w->wq, N, C, QKV);
    rmsnorm_backward(a->dres, g->attn_norm, a->dln, res, w->attn_norm, rstd1, N, C);
}

void
model_backward(struct model *m, const struct model_batch *b, const float *dlogp,
               const float *dentropy, const float *dscores)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = m->acts;
    int C = c->dim, V = c->vocab_size, l;
    size_t N = b->ntok, s, t;

    if (!a->fwd_train || a->ntok != N || a->nseg != b->nseg)
        die("model: backward without a matching training forward");
    if (!m->grads)
        model_zero_grad(m);
    memset(a->dres, 0, N * C * sizeof(float));
    memset(a->dln, 0, N * C * sizeof(float));

    if (c->arch == MODEL_SEQ_CLS) {
        for (s = 0; s < b->nseg; s++) {
            size_t last = a->seg_start[s + 1] - 1;
            const float *x = a->lnf + last * C;
            float *dx = a->dln + last * C;
            int k, i;
            for (k = 0; k < c->num_labels; k++) {
                float d = dscores[s * c->num_labels + k];
                const float *wk = m->w.score + (size_t)k * C;
                float *gk = m->g.score + (size_t)k * C;
                for (i = 0; i < C; i++) {
                    dx[i] += d * wk[i];
                    gk[i] += d * x[i];
                }
            }
        }
    } else {
        for (t = 0; t < N;) {
            int n = gather_rows(m, b, &t, dlogp, dentropy), r;
            if (n == 0)
                break;
            gemm_nt(a->logits, a->xc, m->w.lm_head, (size_t)n, C, V, 0.0f);
            for (r = 0; r < n; r++) {
                int tok = a->rows[r];
                logprob_row(NULL, NULL, a->logits + (size_t)r * V, V, b->targets[tok],
                            a->temp, dlogp ? dlogp[tok] : 0.0f,
                            dentropy ? dentropy[tok] : 0.0f, 1);
            }
            matmul_backward(a->dxc, m->g.lm_head, NULL, a->logits, a->xc, m->w.lm_head,
                            (size_t)n, C, V);
            for (r = 0; r < n; r++) {
                float *dx = a->dln + (size_t)a->rows[r] * C;
                const float *src = a->dxc + (size_t)r * C;
                int i;
                for (i = 0; i < C; i++)
                    dx[i] += src[i];
            }
        }
    }
    rmsnorm_backward(a->dres, m->g.norm, a->dln, a->res + (size_t)c->n_layers * N * C,
                     m->w.norm, a->rstdf, N, C);
    for (l = c->n_layers - 1; l >= 0; l--)
        layer_backward(m, l, N);
    for (t = 0; t < N; t++) {
        float *ge = m->g.embed + (size_t)b->ids[t] * C;
        const float *d = a->dres + t * C;
        int i;
        for (i = 0; i < C; i++)
            ge[i] += d[i];
    }
}

double
model_flops_forward(const struct model *m, const struct model_batch *b)
{
    const struct model_config *c = &m->cfg;
    double C = c->dim, H = c->hidden_dim, hd = c->head_dim;
    double QD = c->n_heads * hd, QKV = (c->n_heads + 2.0 * c->n_kv_heads) * hd;
    double N = (double)b->ntok, f = 0.0, att = 0.0, ntarget = 0.0;
    size_t s, t;

    for (s = 0; s < b->nseg; s++) {
        double Ls = b->seg_len[s];
        att += Ls * (Ls + 1) / 2.0;
    }
    f += c->n_layers * (2.0 * N * (C * QKV + QD * C + C * 2.0 * H + H * C) +
                        4.0 * att * hd * c->n_heads);
    if (c->arch == MODEL_CAUSAL_LM) {
        for (t = 0; t < b->ntok; t++)
            ntarget += b->targets && b->targets[t] >= 0;
        f += 2.0 * ntarget * C * c->vocab_size;
    }
    return f;
}
