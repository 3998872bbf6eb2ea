/*
 * model.c - the Llama-family decoder of model.h: layer kernels (fast and
 * naive reference), the parameter table, the planned activation arena,
 * and the forward and backward passes over packed batches.
 *
 * Parallel work runs on the program's one pool (pool.h).  Not here: file
 * formats (ckpt.c, safetensors.c), the optimizer (optim.c), sampling and
 * the KV cache (gen).
 */
#include "model.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "kern.h"
#include "lora.h"
#include "pool.h"
#include "util.h"
#include "w16.h"

/*
 * Hot element-wise loops are compiled for AVX-512 and AVX2 as well
 * (chosen at load time), and vectorised: the build's baseline is generic
 * x86-64.  Sanitizer builds check the plain code.  No FMA contraction,
 * so a vector lane and the scalar remainder loop round alike and a row's
 * result does not depend on its alignment.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default"), \
                           optimize("O3", "no-trapping-math", "fp-contract=off")))
#else
#define HOT
#endif

/*
 * exp(x) = 2^k exp(r), k = round(x / ln 2), |r| <= ln(2)/2, exp(r) by
 * its degree-6 Taylor polynomial (error < 2e-7 relative), ln 2 split in
 * two so r is exact (Cody & Waite).  Branch-free so loops vectorise;
 * x is clamped to [-87.3, 88] (below, ~1e-38: callers zero masked
 * entries themselves).
 */
static inline __attribute__((always_inline)) float
exp_fast(float x)
{
    float k, r, p;
    union { float f; int32_t i; } u;

    x = x < -87.3f ? -87.3f : x;
    x = x > 88.0f ? 88.0f : x;
    k = floorf(x * 1.44269504f + 0.5f);
    r = x - k * 0.693145751953125f;
    r = r - k * 1.428606765330187e-6f;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                                                                      r * (1.0f / 720))))));
    u.i = (int32_t)((uint32_t)((int32_t)k + 127) << 23);
    return p * u.f;
}

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
    else if (c->rope.type != MODEL_ROPE_DEFAULT && !(c->rope.factor > 0))
        w = "rope_scaling.factor must be positive";
    else if (c->rope.type == MODEL_ROPE_LLAMA3 &&
             (c->rope.orig_max_pos <= 0 || !(c->rope.low_freq_factor > 0) ||
              !(c->rope.high_freq_factor > c->rope.low_freq_factor)))
        w = "rope_scaling (llama3) needs original_max_position_embeddings and "
            "0 < low_freq_factor < high_freq_factor";
    else if (c->rope.type == MODEL_ROPE_YARN &&
             (c->rope.beta_fast < 0 || c->rope.beta_slow < 0 || c->rope.orig_max_pos < 0 ||
              c->rope.attention_factor < 0 || c->rope.mscale < 0 || c->rope.mscale_all_dim < 0))
        w = "rope_scaling (yarn) fields must not be negative";
    else if (c->n_layers > MODEL_MAX_LAYERS)
        w = "num_hidden_layers is too large";
    else if (c->mla.kv_lora_rank < 0 || c->mla.q_lora_rank < 0 ||
             (c->mla.kv_lora_rank > 0 &&
              (c->mla.nope < 1 || c->mla.rope < 2 || c->mla.rope % 2 != 0 ||
               c->mla.v_dim < 1 || c->head_dim != c->mla.rope)))
        w = "the MLA fields are inconsistent (kv_lora_rank, qk_nope_head_dim, v_head_dim "
            "positive, qk_rope_head_dim positive, even and equal to head_dim)";
    else if (c->mla.kv_lora_rank > 0 && (c->attn_bias || c->qk_norm))
        w = "MLA has no attention biases or q/k norms";
    else if (c->mla.kv_lora_rank > 1 << 16 || c->mla.q_lora_rank > 1 << 20 ||
             c->mla.nope > 1 << 12 || c->mla.rope > 1 << 12 || c->mla.v_dim > 1 << 12)
        w = "sizes are too large";
    else if (c->moe.n_experts < 0 ||
             (c->moe.n_experts > 0 &&
              (c->moe.top_k < 1 || c->moe.top_k > c->moe.n_experts || c->moe.hidden <= 0 ||
               c->moe.n_group < 1 || c->moe.n_experts % c->moe.n_group != 0 ||
               c->moe.topk_group < 1 || c->moe.topk_group > c->moe.n_group ||
               c->moe.top_k > c->moe.topk_group * (c->moe.n_experts / c->moe.n_group) ||
               c->moe.sparse_step < 1 || c->moe.n_shared < 0 || !(c->moe.scaling > 0))))
        w = "the mixture-of-experts fields are inconsistent (num_experts_per_tok between 1 "
            "and the experts of topk_group groups, n_group dividing the experts, "
            "moe_intermediate_size and decoder_sparse_step positive)";
    else if (c->moe.n_experts > 0 &&
             (int64_t)c->moe.n_shared * c->moe.hidden > (int64_t)c->hidden_dim)
        w = "n_shared_experts x moe_intermediate_size must not pass intermediate_size";
    else if (c->moe.n_experts > 1 << 16 || c->moe.hidden > 1 << 24)
        w = "sizes are too large";
    else if ((int64_t)c->dim * c->vocab_size > (int64_t)1 << 40 ||
             (int64_t)c->n_heads * c->head_dim > (int64_t)1 << 20 ||
             c->n_layers > 4096 || c->hidden_dim > 1 << 24)
        w = "sizes are too large";
    if (w && why)
        *why = w;
    return w ? -1 : 0;
}

void
model_attn_dims(const struct model_config *c, struct model_attn_dims *d)
{
    const struct model_mla *a = &c->mla;

    memset(d, 0, sizeof(*d));
    if (a->kv_lora_rank > 0) {
        d->mla = 1;
        d->hd = a->kv_lora_rank + a->rope;
        d->QD = c->n_heads * d->hd;
        d->KVD = d->hd;
        d->QKV = (c->n_heads + 2) * d->hd;
        d->OD = c->n_heads * a->v_dim;
        d->QF = c->n_heads * (a->nope + a->rope);
        d->QA = a->q_lora_rank > 0 ? a->q_lora_rank : d->QF;
        d->A = d->QA + d->hd;
        return;
    }
    d->hd = c->head_dim;
    d->QD = d->OD = c->n_heads * c->head_dim;
    d->KVD = c->n_kv_heads * c->head_dim;
    d->QKV = d->A = d->QD + 2 * d->KVD;
}

int
model_layer_moe(const struct model_config *c, int l)
{
    const struct model_moe *e = &c->moe;

    return e->n_experts > 0 && l >= e->first_dense && (l + 1) % e->sparse_step == 0 &&
           !(e->mlp_only[l / 8] >> (l % 8) & 1);
}

int
model_sparse_layers(const struct model_config *c)
{
    int l, n = 0;

    for (l = 0; l < c->n_layers; l++)
        n += model_layer_moe(c, l);
    return n;
}

int
model_route_width(const struct model_config *c)
{
    return model_sparse_layers(c) * c->moe.top_k;
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
        char nm[96];
#define LNAME(s) (snprintf(nm, sizeof(nm), "model.layers.%d.%s", l, (s)), nm)
#define ENAME(s)                                                                          \
    (snprintf(nm, sizeof(nm), "model.layers.%d.mlp.experts.%d.%s.weight", l, (int)e, (s)), nm)
        ADD(LNAME("input_layernorm.weight"), C, 0, 0);
        if (c->mla.kv_lora_rank > 0) {
            /* q (or q_a) and kv_a adjacent: one product of the normed input */
            const struct model_mla *a = &c->mla;
            struct model_attn_dims d;
            model_attn_dims(c, &d);
            ADD(LNAME(a->q_lora_rank > 0 ? "self_attn.q_a_proj.weight"
                                          : "self_attn.q_proj.weight"), d.QA, C, 1);
            ADD(LNAME("self_attn.kv_a_proj_with_mqa.weight"), d.hd, C, 1);
            if (a->q_lora_rank > 0) {
                ADD(LNAME("self_attn.q_a_layernorm.weight"), d.QA, 0, 0);
                ADD(LNAME("self_attn.q_b_proj.weight"), d.QF, d.QA, 1);
            }
            ADD(LNAME("self_attn.kv_a_layernorm.weight"), a->kv_lora_rank, 0, 0);
            ADD(LNAME("self_attn.kv_b_proj.weight"),
                (size_t)c->n_heads * (a->nope + a->v_dim), a->kv_lora_rank, 1);
            ADD(LNAME("self_attn.o_proj.weight"), C, d.OD, 1);
            goto mlp;
        }
        ADD(LNAME("self_attn.q_proj.weight"), QD, C, 1);
        ADD(LNAME("self_attn.k_proj.weight"), KVD, C, 1);
        ADD(LNAME("self_attn.v_proj.weight"), KVD, C, 1);
        if (c->attn_bias) {
            ADD(LNAME("self_attn.q_proj.bias"), QD, 0, 0);
            ADD(LNAME("self_attn.k_proj.bias"), KVD, 0, 0);
            ADD(LNAME("self_attn.v_proj.bias"), KVD, 0, 0);
        }
        ADD(LNAME("self_attn.o_proj.weight"), C, QD, 1);
        if (c->qk_norm) {
            ADD(LNAME("self_attn.q_norm.weight"), c->head_dim, 0, 0);
            ADD(LNAME("self_attn.k_norm.weight"), c->head_dim, 0, 0);
        }
mlp:
        ADD(LNAME("post_attention_layernorm.weight"), C, 0, 0);
        if (!model_layer_moe(c, l)) {
            ADD(LNAME("mlp.gate_proj.weight"), H, C, 1);
            ADD(LNAME("mlp.up_proj.weight"), H, C, 1);
            ADD(LNAME("mlp.down_proj.weight"), C, H, 1);
        } else {
            size_t E = (size_t)c->moe.n_experts, Hm = (size_t)c->moe.hidden;
            size_t Hs = Hm * (size_t)c->moe.n_shared, e;
            ADD(LNAME("mlp.gate.weight"), E, C, 1);
            if (c->moe.score_bias)
                ADD(LNAME("mlp.gate.e_score_correction_bias"), E, 0, 0);
            for (e = 0; e < E; e++) {
                ADD(ENAME("gate_proj"), Hm, C, 1);
                ADD(ENAME("up_proj"), Hm, C, 1);
                ADD(ENAME("down_proj"), C, Hm, 1);
            }
            if (Hs > 0) {
                ADD(LNAME("mlp.shared_experts.gate_proj.weight"), Hs, C, 1);
                ADD(LNAME("mlp.shared_experts.up_proj.weight"), Hs, C, 1);
                ADD(LNAME("mlp.shared_experts.down_proj.weight"), C, Hs, 1);
            }
        }
#undef ENAME
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
        L->q_a_norm = L->wq_b = L->kv_a_norm = L->wkv_b = NULL;
        L->bq = L->bk = L->bv = NULL;
        L->q_norm = L->k_norm = NULL;
        if (c->mla.kv_lora_rank > 0) {
            L->wv = NULL;
            if (c->mla.q_lora_rank > 0) {
                L->q_a_norm = base + m->tensors[i++].off;
                L->wq_b = base + m->tensors[i++].off;
            }
            L->kv_a_norm = base + m->tensors[i++].off;
            L->wkv_b = base + m->tensors[i++].off;
            L->wo = base + m->tensors[i++].off;
            goto mlp;
        }
        L->wv = base + m->tensors[i++].off;
        if (c->attn_bias) {
            L->bq = base + m->tensors[i++].off;
            L->bk = base + m->tensors[i++].off;
            L->bv = base + m->tensors[i++].off;
        }
        L->wo = base + m->tensors[i++].off;
        if (c->qk_norm) {
            L->q_norm = base + m->tensors[i++].off;
            L->k_norm = base + m->tensors[i++].off;
        }
mlp:
        L->mlp_norm = base + m->tensors[i++].off;
        L->w_gate = L->w_up = L->w_down = NULL;
        L->router = L->router_bias = L->experts = NULL;
        L->mlp_hidden = 0;
        if (model_layer_moe(c, l)) {
            L->router = base + m->tensors[i++].off;
            if (c->moe.score_bias)
                L->router_bias = base + m->tensors[i++].off;
            L->experts = base + m->tensors[i].off;
            i += 3 * c->moe.n_experts;
            if (c->moe.n_shared == 0)
                continue;
            L->mlp_hidden = c->moe.n_shared * c->moe.hidden;
        } else {
            L->mlp_hidden = c->hidden_dim;
        }
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
    const int *routes;  /* the batch's (model_batch), borrowed for the forward */
    size_t *seg_start;  /* (N + 1) */
    int *rows;          /* (LC) token index of each LM-head row */
    /* saved for backward, per layer */
    float *res;         /* (L+1, N, C) residual entering each layer; [L] final */
    float *rstd1;       /* (L, N) */
    float *rstd2;       /* (L, N) */
    float *qkv;         /* (L, N, QKV) after bias, qk-norm and RoPE */
    float *qkraw;       /* (L, N, QD + KVD) q and k before qk-norm (qk_norm only) */
    float *qkrstd;      /* (L, N, nh + nkv) their per-head rstd */
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
    float *dqkraw;      /* (N, QD + KVD) qk_norm only */
    float *datt;        /* (N, QD) */
    float *dgu;         /* (N, 2H) */
    float *dh;          /* (N, H) */
    float *lu;          /* (N, lora_row_floats()) adapter products (m->lora only) */
    float *logits;      /* (LC, V) */
    float *xc;          /* (LC, C) gathered rows of lnf */
    float *dxc;         /* (LC, C) */
    float *att_scratch; /* (nthreads, 2 B^2 + 4 B) */
    float *dw_part;     /* (nthreads, max(C, 2 hd)) per-task RMSNorm weight gradients */
    float *logit_cache; /* (N, V) LM-head logits kept for backward, or NULL */
    int *cache_row;     /* (N) row of each target token in logit_cache */
    int nthreads;       /* threads the scratch was planned for */
    /* sparse layers (per layer like the above; K = N top_k slots) */
    float *probs;       /* (L, N, E) router scores */
    int *ids, *slot;    /* (L, N, k) choices, their slots */
    float *wts;         /* (L, N, k) their weights */
    int *start;         /* (L, 2E + 1) expert slot offsets (+ scratch) */
    int *slot_row;      /* (L, K) */
    float *gue;         /* (L, K, 2 Hm) */
    float *ye;          /* (L, K, C) */
    float *xe, *he;     /* (K, C), (K, Hm) scratch */
    float *ys;          /* (N, C) shared experts' output */
    float *dye, *dhe, *dgue, *dxe; /* (K, C), (K, Hm), (K, 2 Hm), (K, C) */
    float *dlogit;      /* (N, E) */
    /* MLA layers (per layer like the above; model_attn_dims()) */
    float *mla_a;       /* (L, N, A) q (or q_a) and kv_a products */
    float *mla_qf;      /* (L, N, QF) q_b_proj's output (q_lora_rank only) */
    float *rstdq, *rstdkv; /* (L, N) q_a_layernorm's and kv_a_layernorm's rstd */
    float *vo;          /* (L, N, OD) the heads' values */
    float *mla_qn;      /* (N, QA) q_a_layernorm's output (recomputed in backward) */
    float *dmla_a, *dqf, *dvo, *dqn; /* (N, A), (N, QF), (N, OD), (N, QA) */
    const struct lora *lora; /* the adapter it was planned for */
    float *srow;        /* (nthreads, KERN_ATT_Q, srow_cap) attention scores */
    int srow_cap, srow_threads;
    /* RoPE tables, grown to the longest segment seen */
    float *cos_t, *sin_t; /* (npos, hd/2) */
    int npos;
};

/* Largest LM-head logit cache (floats): 1 GiB. */
#define LOGIT_CACHE_MAX ((size_t)1 << 28)

/* Lays out (base NULL: only sizes) the arena for N tokens; returns bytes. */
static size_t
acts_plan(const struct model *m, struct model_acts *a, size_t N, int train, char *base)
{
    const struct model_config *c = &m->cfg;
    size_t C = c->dim, H = c->hidden_dim, V = c->vocab_size;
    struct model_attn_dims d;
    size_t QD, KVD, QKV;
    size_t L = train ? (size_t)c->n_layers : 1, LC = (size_t)m->logit_chunk;
    size_t B = (size_t)m->att_block, NT = (size_t)pool_threads();
    size_t off = 0;

    model_attn_dims(c, &d);
    QD = (size_t)d.QD;
    KVD = (size_t)d.KVD;
    QKV = (size_t)d.QKV;
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
    if (c->qk_norm) {
        CARVE(qkraw, xmul(L, N * (QD + KVD)), float);
        CARVE(qkrstd, xmul(L, N * (size_t)(c->n_heads + c->n_kv_heads)), float);
    }
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
        if (c->qk_norm)
            CARVE(dqkraw, N * (QD + KVD), float);
        CARVE(datt, N * QD, float);
        CARVE(dgu, N * 2 * H, float);
        CARVE(dh, N * H, float);
        CARVE(dxc, LC * C, float);
    }
    if (c->moe.n_experts > 0) {
        size_t E = (size_t)c->moe.n_experts, k = (size_t)c->moe.top_k;
        size_t Hm = (size_t)c->moe.hidden, K = xmul(N, k);
        CARVE(probs, xmul(L, N * E), float);
        CARVE(ids, xmul(L, K), int);
        CARVE(slot, xmul(L, K), int);
        CARVE(wts, xmul(L, K), float);
        CARVE(start, xmul(L, 2 * E + 1), int);
        CARVE(slot_row, xmul(L, K), int);
        CARVE(gue, xmul(L, xmul(K, 2 * Hm)), float);
        CARVE(ye, xmul(L, xmul(K, C)), float);
        CARVE(xe, xmul(K, C), float);
        CARVE(he, xmul(K, Hm), float);
        CARVE(ys, N * C, float);
        if (train) {
            CARVE(dye, xmul(K, C), float);
            CARVE(dhe, xmul(K, Hm), float);
            CARVE(dgue, xmul(K, 2 * Hm), float);
            CARVE(dxe, xmul(K, C), float);
            CARVE(dlogit, N * E, float);
        }
    }
    if (d.mla) {
        size_t A = (size_t)d.A, QF = (size_t)d.QF, QA = (size_t)d.QA, OD = (size_t)d.OD;
        int qlora = c->mla.q_lora_rank > 0;
        CARVE(mla_a, xmul(L, N * A), float);
        CARVE(mla_qf, qlora ? xmul(L, N * QF) : 0, float);
        CARVE(rstdq, L * N, float);
        CARVE(rstdkv, L * N, float);
        CARVE(vo, xmul(L, N * OD), float);
        CARVE(mla_qn, qlora ? N * QA : 0, float);
        if (train) {
            CARVE(dmla_a, N * A, float);
            CARVE(dqf, N * QF, float);
            CARVE(dvo, N * OD, float);
            CARVE(dqn, qlora ? N * QA : 0, float);
        }
    }
    if (m->lora)
        CARVE(lu, xmul(N, lora_row_floats(m->lora)), float);
    else if (base)
        a->lu = NULL;
    CARVE(logits, xmul(LC, V), float);
    CARVE(xc, LC * C, float);
    CARVE(att_scratch, NT * (2 * B * B + 4 * B), float);
    CARVE(dw_part, NT * PT_MAX(PT_MAX(C, 2 * (size_t)d.hd), (size_t)d.QA), float);
    /* keeping the logits saves recomputing the LM head in backward */
    if (train && c->arch == MODEL_CAUSAL_LM && N * V <= LOGIT_CACHE_MAX) {
        CARVE(logit_cache, N * V, float);
        CARVE(cache_row, N, int);
    } else if (base) {
        a->logit_cache = NULL;
        a->cache_row = NULL;
    }
    if (base)
        a->nthreads = (int)NT;
#undef CARVE
    return off;
}

/* Makes the arena hold N tokens (and per-layer slots when train). */
static void
acts_reserve(struct model *m, size_t N, int train)
{
    struct model_acts *a = m->acts;

    if (a->arena && a->cap >= N && (a->train || !train) && a->nthreads == pool_threads() &&
        a->lora == m->lora)
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
    a->lora = m->lora;
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
    /* up to 1024 LM-head rows at once, their logits at most 256 MiB */
    m->logit_chunk = (int)PT_MAX(64, PT_MIN(1024, ((size_t)1 << 26) / cfg->vocab_size));
    m->acts = xcalloc(1, sizeof(*m->acts));
    if (cfg->moe.n_experts > 0)
        m->expert_load = xcalloc((size_t)cfg->n_layers * cfg->moe.n_experts, sizeof(uint64_t));
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
        free(m->acts->srow);
        free(m->acts);
    }
    free(m->expert_load);
    model_w16_free(m->w16);
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

const uint64_t *
model_expert_load(const struct model *m)
{
    return m->expert_load;
}

void
model_expert_load_reset(struct model *m)
{
    if (m->expert_load)
        memset(m->expert_load, 0,
               (size_t)m->cfg.n_layers * m->cfg.moe.n_experts * sizeof(uint64_t));
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

/* ============================== Threads ============================== */

void
model_set_threads(int n)
{
    pool_set_threads(n);
}

/*
 * A row-major sgemm split over the pool: the larger of M and N is cut
 * into blocks of whole 16s, one per thread.  Small products run inline.
 */
struct gemm_job {
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc, split_m, parts;
    float alpha, beta;
    const float *A, *B;
    float *C;
};

static void
gemm_task(void *ctx, int task, int tid)
{
    const struct gemm_job *g = ctx;
    int dim = g->split_m ? g->M : g->N, nb = (dim + 15) / 16;
    int lo = (int)((long)nb * task / g->parts) * 16;
    int hi = PT_MIN(dim, (int)((long)nb * (task + 1) / g->parts) * 16);

    (void)tid;
    if (lo >= hi)
        return;
    if (g->split_m)
        cblas_sgemm(CblasRowMajor, g->ta, g->tb, hi - lo, g->N, g->K, g->alpha,
                    g->ta == CblasNoTrans ? g->A + (size_t)lo * g->lda : g->A + lo, g->lda,
                    g->B, g->ldb, g->beta, g->C + (size_t)lo * g->ldc, g->ldc);
    else
        cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->M, hi - lo, g->K, g->alpha, g->A, g->lda,
                    g->tb == CblasNoTrans ? g->B + lo : g->B + (size_t)lo * g->ldb, g->ldb,
                    g->beta, g->C + lo, g->ldc);
}

static void
par_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
          const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    struct gemm_job g = {ta, tb, M, N, K, lda, ldb, ldc, M >= N, pool_threads(), alpha, beta,
                         A, B, C};

    if (g.parts == 1 || (double)M * N * K < 1e6) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    pool_run(gemm_task, &g, g.parts);
}

int
model_threads_env(void)
{
    return pool_threads_env();
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

HOT void
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
HOT void
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
    par_sgemm(CblasNoTrans, CblasTrans, (int)N, OC, IC, 1.0f, in, IC, W,
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

/* bf16 copies whose backward is bf16 too (w16.h), during model_backward */
static struct model_w16 *bwd16;

void
matmul_backward(float *din, float *dW, float *dbias, const float *dout, const float *in,
                const float *W, size_t N, int IC, int OC)
{
    size_t t;
    int o;

    if (N == 0)
        return;
    if (bwd16 && w16_matmul_backward(bwd16, din, dW, dout, in, W, N, IC, OC))
        din = dW = NULL;
    if (din)
        par_sgemm(CblasNoTrans, CblasNoTrans, (int)N, IC, OC, 1.0f, dout,
                    OC, W, IC, 0.0f, din, IC);
    if (dW)
        par_sgemm(CblasTrans, CblasNoTrans, OC, IC, (int)N, 1.0f, dout, OC,
                    in, IC, 1.0f, dW, IC);
    if (dbias)
        for (t = 0; t < N; t++)
            for (o = 0; o < OC; o++)
                dbias[o] += dout[t * OC + o];
}

/*
 * transformers' modeling_rope_utils, in double: default inv_freq_i =
 * theta^(-2i/hd); linear divides by factor; dynamic (NTK) rescales theta
 * only for sequences past max_position_embeddings, so within the context
 * it is the default; llama3 keeps high frequencies, divides low ones by
 * factor and blends the band between; yarn ramps between interpolated
 * and extrapolated frequencies over the correction range of beta_fast
 * and beta_slow and returns its attention factor.
 */
static double
yarn_mscale(double scale, double mscale)
{
    return scale <= 1.0 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

static double
yarn_corr_dim(double rot, int dim, double base, double maxpos)
{
    return dim * log(maxpos / (rot * 2.0 * M_PI)) / (2.0 * log(base));
}

double
model_rope_freqs(const struct model_config *c, double *inv_freq)
{
    const struct model_rope_scaling *r = &c->rope;
    int hd = c->head_dim, half = hd / 2, i;
    double base = c->rope_theta, f = r->factor, att = 1.0;

    for (i = 0; i < half; i++)
        inv_freq[i] = 1.0 / pow(base, 2.0 * i / hd);
    switch (r->type) {
    case MODEL_ROPE_DEFAULT:
    case MODEL_ROPE_DYNAMIC:
        break;
    case MODEL_ROPE_LINEAR:
        for (i = 0; i < half; i++)
            inv_freq[i] /= f;
        break;
    case MODEL_ROPE_LLAMA3: {
        double old = r->orig_max_pos, lo = r->low_freq_factor, hi = r->high_freq_factor;
        double lo_wl = old / lo, hi_wl = old / hi;
        for (i = 0; i < half; i++) {
            double wl = 2.0 * M_PI / inv_freq[i], v = inv_freq[i];
            if (wl > lo_wl) {
                v = v / f;
            } else if (!(wl < hi_wl)) {
                double sm = (old / wl - lo) / (hi - lo);
                v = (1.0 - sm) * v / f + sm * v;
            }
            inv_freq[i] = v;
        }
        break;
    }
    case MODEL_ROPE_YARN: {
        double omax = c->max_pos, lo, hi, bf = r->beta_fast > 0 ? r->beta_fast : 32.0;
        double bs = r->beta_slow > 0 ? r->beta_slow : 1.0;
        if (r->orig_max_pos > 0) {
            omax = r->orig_max_pos;
            f = (double)c->max_pos / r->orig_max_pos;
        }
        if (r->attention_factor > 0)
            att = r->attention_factor;
        else if (r->mscale > 0 && r->mscale_all_dim > 0)
            att = yarn_mscale(f, r->mscale) / yarn_mscale(f, r->mscale_all_dim);
        else
            att = yarn_mscale(f, 1.0);
        lo = yarn_corr_dim(bf, hd, base, omax);
        hi = yarn_corr_dim(bs, hd, base, omax);
        if (!r->no_truncate) {
            lo = floor(lo);
            hi = ceil(hi);
        }
        lo = lo < 0 ? 0 : lo;
        hi = hi > hd - 1 ? hd - 1 : hi;
        if (lo == hi)
            hi += 0.001;
        for (i = 0; i < half; i++) {
            double ramp = (i - lo) / (hi - lo), ex;
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            ex = 1.0 - ramp;  /* the extrapolation weight */
            inv_freq[i] = inv_freq[i] / f * (1.0 - ex) + inv_freq[i] * ex;
        }
        break;
    }
    }
    return att;
}

void
rope_tables(float *cos_t, float *sin_t, int npos, int hd, const double *inv_freq,
            double attn_factor)
{
    int p, i, half = hd / 2;

    for (p = 0; p < npos; p++)
        for (i = 0; i < half; i++) {
            double a = p * inv_freq[i];
            cos_t[(size_t)p * half + i] = (float)(cos(a) * attn_factor);
            sin_t[(size_t)p * half + i] = (float)(sin(a) * attn_factor);
        }
}

void
model_rope_tables(const struct model_config *c, float *cos_t, float *sin_t, int npos)
{
    double *inv = xmalloc((size_t)c->head_dim / 2 * sizeof(double));
    double att = model_rope_freqs(c, inv);

    rope_tables(cos_t, sin_t, npos, c->head_dim, inv, att);
    free(inv);
}

/* rotate_half: (a, b) -> (a cos - b sin, b cos + a sin); sign -1 inverts. */
HOT static void
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

HOT void
swiglu_span(float *h, const float *g, const float *up, int a, int b)
{
    int i;

    for (i = a; i < b; i++)
        h[i] = g[i] / (1.0f + exp_fast(-g[i])) * up[i];
}

void
swiglu_forward(float *h, const float *gu, size_t N, int H)
{
    size_t t;

    for (t = 0; t < N; t++)
        swiglu_span(h + t * H, gu + t * 2 * H, gu + t * 2 * H + H, 0, H);
}

/* silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). */
HOT void
swiglu_backward(float *dgu, const float *dh, const float *gu, size_t N, int H)
{
    size_t t;
    int i;

    for (t = 0; t < N; t++) {
        const float *g = gu + t * 2 * H, *u = g + H, *d = dh + t * H;
        float *dg = dgu + t * 2 * H, *du = dg + H;
        for (i = 0; i < H; i++) {
            float s = 1.0f / (1.0f + exp_fast(-g[i]));
            du[i] = d[i] * g[i] * s;
            dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        }
    }
}

/* One head of one segment [s0, s0 + Ls): see attention_forward. */
HOT static void
attention_forward_head(float *out, float *lse, const float *qkv, size_t N, size_t s0, int Ls,
                       int h, int nh, int nkv, int hd, int B, float *scratch)
{
    int QD = nh * hd, QKV = (nh + 2 * nkv) * hd, g = h / (nh / nkv), i0, j0, r, c;
    float scale = 1.0f / sqrtf((float)hd);
    float *S = scratch, *mx = S + (size_t)B * B, *l = mx + B;
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
                        Q + (size_t)i0 * QKV, QKV, K + (size_t)j0 * QKV, QKV, 0.0f, S, bk);
            /* online softmax: rescale what was summed under the old max */
            for (r = 0; r < bq; r++) {
                float *Sr = S + (size_t)r * bk, m = mx[r], corr, sum = 0.0f;
                int nv = PT_MIN(bk, i0 + r - j0 + 1);
                for (c = 0; c < nv; c++)
                    m = Sr[c] > m ? Sr[c] : m;
                for (c = 0; c < nv; c++)
                    Sr[c] = exp_fast(Sr[c] - m);
                for (c = 0; c < nv; c++)
                    sum += Sr[c];
                for (; c < bk; c++)
                    Sr[c] = 0.0f;
                if (nv <= 0)
                    continue;
                corr = mx[r] == -INFINITY ? 0.0f : exp_fast(mx[r] - m);
                if (corr != 1.0f) {
                    float *o = O + (size_t)(i0 + r) * QD;
                    for (c = 0; c < hd; c++)
                        o[c] *= corr;
                }
                l[r] = l[r] * corr + sum;
                mx[r] = m;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, hd, bk, 1.0f, S, bk,
                        V + (size_t)j0 * QKV, QKV, 1.0f, O + (size_t)i0 * QD, QD);
        }
        for (r = 0; r < bq; r++) {
            float *o = O + (size_t)(i0 + r) * QD, inv = 1.0f / l[r];
            for (c = 0; c < hd; c++)
                o[c] *= inv;
            LSE[i0 + r] = mx[r] + logf(l[r]);
        }
    }
}

void
attention_forward(float *out, float *lse, const float *qkv, const size_t *seg_start,
                  size_t nseg, int nh, int nkv, int hd, int block, float *scratch)
{
    size_t s;
    int h;

    for (s = 0; s < nseg; s++)
        for (h = 0; h < nh; h++)
            attention_forward_head(out, lse, qkv, seg_start[nseg], seg_start[s],
                                   (int)(seg_start[s + 1] - seg_start[s]), h, nh, nkv, hd,
                                   block, scratch);
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
 * FlashAttention-2's backward for the query heads of kv head g in one
 * segment: P = exp(S - lse) is recomputed per tile, D_i = dO_i . O_i,
 * dS = P (dP - D), dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO.
 * K/V gradients of a kv head sum over its query heads, so one call owns
 * them.
 */
HOT static void
attention_backward_group(float *dqkv, const float *dout, const float *qkv, const float *out,
                         const float *lse, size_t N, size_t s0, int Ls, int g, int nh,
                         int nkv, int hd, int B, float scale, float *scratch)
{
    int QD = nh * hd, QKV = (nh + 2 * nkv) * hd, grp = nh / nkv, h;
    float *P = scratch, *dP = P + (size_t)B * B, *D = dP + (size_t)B * B;
    size_t ko = QD + (size_t)g * hd, vo = ko + (size_t)nkv * hd;
    const float *K = qkv + s0 * QKV + ko, *V = qkv + s0 * QKV + vo;
    float *dK = dqkv + s0 * QKV + ko, *dV = dqkv + s0 * QKV + vo;

    for (h = g * grp; h < (g + 1) * grp; h++) {
        const float *Q = qkv + s0 * QKV + (size_t)h * hd;
        const float *O = out + s0 * QD + (size_t)h * hd;
        const float *dO = dout + s0 * QD + (size_t)h * hd;
        const float *LSE = lse + (size_t)h * N + s0;
        float *dQ = dqkv + s0 * QKV + (size_t)h * hd;
        int i0, j0, r, c;
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
                            Q + (size_t)i0 * QKV, QKV, K + (size_t)j0 * QKV, QKV, 0.0f, P, bk);
                for (r = 0; r < bq; r++) {
                    float *Pr = P + (size_t)r * bk, m = LSE[i0 + r];
                    int nv = PT_MIN(bk, i0 + r - j0 + 1);
                    for (c = 0; c < nv; c++)
                        Pr[c] = exp_fast(Pr[c] - m);
                    for (; c < bk; c++)
                        Pr[c] = 0.0f;
                }
                /* dV_j += P^T dO_i */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bk, hd, bq, 1.0f, P, bk,
                            dO + (size_t)i0 * QD, QD, 1.0f, dV + (size_t)j0 * QKV, QKV);
                /* dP = dO_i V_j^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bk, hd, 1.0f,
                            dO + (size_t)i0 * QD, QD, V + (size_t)j0 * QKV, QKV, 0.0f, dP, bk);
                for (r = 0; r < bq; r++) {
                    float *Pr = P + (size_t)r * bk, *dPr = dP + (size_t)r * bk;
                    for (c = 0; c < bk; c++)
                        Pr[c] = Pr[c] * (dPr[c] - D[r]);
                }
                /* dQ_i += scale dS K_j;  dK_j += scale dS^T Q_i */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, hd, bk, scale, P,
                            bk, K + (size_t)j0 * QKV, QKV, 1.0f, dQ + (size_t)i0 * QKV, QKV);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bk, hd, bq, scale, P, bk,
                            Q + (size_t)i0 * QKV, QKV, 1.0f, dK + (size_t)j0 * QKV, QKV);
            }
        }
    }
}

void
attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                   const float *lse, const size_t *seg_start, size_t nseg, int nh, int nkv,
                   int hd, int block, float *scratch)
{
    size_t s;
    int g;

    for (s = 0; s < nseg; s++)
        for (g = 0; g < nkv; g++)
            attention_backward_group(dqkv, dout, qkv, out, lse, seg_start[nseg], seg_start[s],
                                     (int)(seg_start[s + 1] - seg_start[s]), g, nh, nkv, hd,
                                     block, 1.0f / sqrtf((float)hd), scratch);
}

/*
 * z = logits / temp, lse = log sum exp z, logp = z_y - lse,
 * H = -sum p log p = lse - sum p z.  dlogp/dl_k = (1[k=y] - p_k) / temp
 * and dH/dl_k = -p_k (z_k - lse + H) / temp.  The sums of exp(z - max z)
 * run in 16 float lanes, added up in double.
 */
HOT void
logprob_row(float *logp, float *ent, float *row, int V, int target, float temp,
            float dlogp, float dent, int backward)
{
    /* 16 independent lanes, so the passes vectorise without reassociation */
    float inv = 1.0f / temp, m = -INFINITY, lse, H, mx[16], s1[16], sz[16];
    double sum = 0.0, szd = 0.0;
    int k, i, V16 = V & ~15;

    for (i = 0; i < 16; i++) {
        mx[i] = -INFINITY;
        s1[i] = sz[i] = 0.0f;
    }
    for (k = 0; k < V16; k += 16)
        for (i = 0; i < 16; i++)
            mx[i] = row[k + i] > mx[i] ? row[k + i] : mx[i];
    for (i = 0; i < 16; i++)
        m = mx[i] > m ? mx[i] : m;
    for (k = V16; k < V; k++)
        m = row[k] > m ? row[k] : m;
    m *= inv;
    for (k = 0; k < V16; k += 16)
        for (i = 0; i < 16; i++) {
            float z = row[k + i] * inv - m, e = exp_fast(z);
            s1[i] += e;
            sz[i] += e * z;
        }
    for (i = 0; i < 16; i++) {
        sum += s1[i];
        szd += sz[i];
    }
    for (k = V16; k < V; k++) {
        float z = row[k] * inv - m, e = exp_fast(z);
        sum += e;
        szd += (double)e * z;
    }
    lse = m + (float)log(sum);
    H = (float)(log(sum) - szd / sum);
    if (logp)
        *logp = row[target] * inv - lse;
    if (ent)
        *ent = H;
    if (!backward)
        return;
    for (k = 0; k < V; k++) {
        float lp = row[k] * inv - lse, p = exp_fast(lp);
        row[k] = (-dlogp * p - dent * p * (lp + H)) * inv;
    }
    row[target] += dlogp * inv;
}

/* ============================== Batches ============================== */

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
    model_rope_tables(&m->cfg, a->cos_t, a->sin_t, npos);
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

/* ============================== Parallel jobs ==============================
 * Each kernel call is split into row ranges (or, for attention, segment x
 * head tasks) run by pool_run.  Kernels that accumulate a weight gradient
 * over rows (RMSNorm) write per-task partials reduced afterwards in task
 * order, so a run repeats bit for bit.
 */

enum job_op {
    J_RMS_FWD, J_RMS_BWD, J_SWIGLU_FWD, J_SWIGLU_BWD, J_ROPE, J_ATT_FWD, J_ATT_BWD,
    J_LOGP, J_QKN_BWD,
};

struct job {
    enum job_op op;
    struct model_acts *a;
    size_t N;
    int ntasks;
    float *o1, *o2;
    const float *i1, *i2, *i3, *i4;
    int C, H, nh, nkv, hd, stride, block, V;
    float f;
    float *rstd;              /* J_QKN_* */
    /* J_LOGP */
    const float *rowsrc;      /* (n, V) logits of the gathered rows */
    float *rowdst;            /* (n, V) dlogits (backward) or NULL */
    const int *rows, *targets;
    float *logp, *ent;
    const float *dlogp, *dent;
};

static void
job_run(void *ctx, int task, int tid)
{
    struct job *j = ctx;
    struct model_acts *a = j->a;
    size_t lo = j->N * (size_t)task / (size_t)j->ntasks;
    size_t hi = j->N * (size_t)(task + 1) / (size_t)j->ntasks, n = hi - lo, r;
    size_t C = (size_t)j->C, per = 2 * (size_t)j->block * j->block + 4 * (size_t)j->block;

    switch (j->op) {
    case J_RMS_FWD:
        rmsnorm_forward(j->o1 + lo * C, j->o2 + lo, j->i1 + lo * C, j->i2, n, j->C, j->f);
        break;
    case J_RMS_BWD:
        /* The partial belongs to the task, not to the thread that happens
         * to run it, so the reduction below adds the same sums in the same
         * order on every run. */
        rmsnorm_backward(j->o1 + lo * C, a->dw_part + (size_t)task * C, j->i1 + lo * C,
                         j->i2 + lo * C, j->i3, j->i4 + lo, n, j->C);
        break;
    case J_SWIGLU_FWD:
        swiglu_forward(j->o1 + lo * j->H, j->i1 + lo * 2 * j->H, n, j->H);
        break;
    case J_SWIGLU_BWD:
        swiglu_backward(j->o1 + lo * 2 * j->H, j->i1 + lo * j->H, j->i2 + lo * 2 * j->H, n,
                        j->H);
        break;
    case J_ROPE:
        rope_apply(j->o1 + lo * j->stride, a->pos + lo, a->cos_t, a->sin_t, n, j->stride,
                   j->nh, j->hd, j->f);
        break;
    case J_ATT_FWD: {
        size_t s = (size_t)task / j->nh;
        attention_forward_head(j->o1, j->o2, j->i1, a->ntok, a->seg_start[s],
                               (int)(a->seg_start[s + 1] - a->seg_start[s]), task % j->nh,
                               j->nh, j->nkv, j->hd, j->block, a->att_scratch + tid * per);
        break;
    }
    case J_ATT_BWD: {
        size_t s = (size_t)task / j->nkv;
        attention_backward_group(j->o1, j->i1, j->i2, j->i3, j->i4, a->ntok, a->seg_start[s],
                                 (int)(a->seg_start[s + 1] - a->seg_start[s]),
                                 task % j->nkv, j->nh, j->nkv, j->hd, j->block, j->f,
                                 a->att_scratch + tid * per);
        break;
    }
    case J_QKN_BWD: {
        /* o1 = dqkv (stride), o2 = draw, i1 = raw, i2/i3 = weights */
        float *dwq = a->dw_part + (size_t)task * 2 * j->hd, *dwk = dwq + j->hd;
        size_t QD = (size_t)j->nh * j->hd, W = QD + (size_t)j->nkv * j->hd;
        for (r = lo; r < hi; r++) {
            float *drow = j->o1 + r * j->stride, *draw = j->o2 + r * W;
            const float *raw = j->i1 + r * W, *rs = j->rstd + r * (size_t)(j->nh + j->nkv);
            memset(draw, 0, W * sizeof(float));
            rmsnorm_backward(draw, dwq, drow, raw, j->i2, rs, (size_t)j->nh, j->hd);
            rmsnorm_backward(draw + QD, dwk, drow + QD, raw + QD, j->i3, rs + j->nh,
                             (size_t)j->nkv, j->hd);
            memcpy(drow, draw, W * sizeof(float));
        }
        break;
    }
    case J_LOGP:
        for (r = lo; r < hi; r++) {
            int tok = j->rows[r];
            float *row = (float *)j->rowsrc + r * j->V;
            if (j->rowdst) {
                logprob_row(NULL, NULL, row, j->V, j->targets[tok], j->f,
                            j->dlogp ? j->dlogp[tok] : 0.0f, j->dent ? j->dent[tok] : 0.0f,
                            1);
            } else {
                logprob_row(j->logp ? &j->logp[tok] : NULL, j->ent ? &j->ent[tok] : NULL, row,
                            j->V, j->targets[tok], j->f, 0.0f, 0.0f, 0);
            }
        }
        break;
    }
}

/* Row tasks: one per thread, or a single one for small N. */
static void
job_rows(struct job *j, size_t N)
{
    j->N = N;
    j->ntasks = N < 32 ? 1 : pool_threads();
    pool_run(job_run, j, j->ntasks);
}

static void
par_rmsnorm_forward(struct model_acts *a, float *out, float *rstd, const float *x,
                    const float *w, size_t N, int C, float eps)
{
    struct job j = {.op = J_RMS_FWD, .a = a, .o1 = out, .o2 = rstd, .i1 = x, .i2 = w,
                    .C = C, .f = eps};
    job_rows(&j, N);
}

static void
par_rmsnorm_backward(struct model_acts *a, float *dx, float *dw, const float *dout,
                     const float *x, const float *w, const float *rstd, size_t N, int C)
{
    struct job j = {.op = J_RMS_BWD, .a = a, .o1 = dx, .i1 = dout, .i2 = x, .i3 = w,
                    .i4 = rstd, .C = C};
    int t, i;

    memset(a->dw_part, 0, (size_t)a->nthreads * C * sizeof(float));
    job_rows(&j, N);
    for (t = 0; t < a->nthreads && dw; t++)
        for (i = 0; i < C; i++)
            dw[i] += a->dw_part[(size_t)t * C + i];
}

static void
par_rope(struct model_acts *a, float *x, size_t N, int stride, int nh, int hd, float sign)
{
    struct job j = {.op = J_ROPE, .a = a, .o1 = x, .stride = stride, .nh = nh, .hd = hd,
                    .f = sign};
    job_rows(&j, N);
}

/* Attention: one task per segment and head (or kv head). */
static void
par_attention(struct job *j, int ntasks)
{
    j->N = (size_t)ntasks;
    j->ntasks = ntasks;
    pool_run(job_run, j, ntasks);
}

/* ============================== Forward ============================== */

/*
 * The forward is block.h's operations run on the pool: the same blocks,
 * kernels and chunks as infer.c's KV-cache forward, so each token's
 * result is the same float here as in gen whatever the batch.
 */
static const struct kernels *
fwd_kernels(void)
{
    static struct kernels K;
    static int have;

    if (!have) {
        K = kernels_for(INFER_KERNEL_AUTO);
        have = 1;
    }
    return &K;
}

/* Keys and values stay in the layer's q/k/v rows: a row's segment is its past. */
struct batch_kv {
    const struct model *m;
    const float *qkv;      /* (N, QKV) of the layer being run */
};

static void
batch_spans(void *ctx, int l, int r, int g, struct block_spans *sp)
{
    const struct batch_kv *kv = ctx;
    const struct model_config *c = &kv->m->cfg;
    const struct model_acts *a = kv->m->acts;
    struct model_attn_dims d;
    size_t s0 = (size_t)r - (size_t)a->pos[r];

    (void)l;
    model_attn_dims(c, &d);   /* MLA: g = 0, the key then its copy as value */
    sp->k[0] = kv->qkv + s0 * d.QKV + d.QD + (size_t)g * d.hd;
    sp->v[0] = sp->k[0] + d.KVD;
    sp->ld[0] = (size_t)d.QKV;
    sp->n[0] = a->pos[r] + 1;
}

/* The routing and expert buffers of layer slot `slot` (nothing without experts). */
static void
moe_bufs(const struct model *m, struct block_moe *mo, size_t slot, size_t N)
{
    const struct model_config *c = &m->cfg;
    const struct model_acts *a = m->acts;
    size_t E = (size_t)c->moe.n_experts, K = N * (size_t)c->moe.top_k;
    size_t Hm = (size_t)c->moe.hidden, C = (size_t)c->dim;

    memset(mo, 0, sizeof(*mo));
    if (E == 0)
        return;
    mo->probs = a->probs + slot * N * E;
    mo->ids = a->ids + slot * K;
    mo->wts = a->wts + slot * K;
    mo->slot = a->slot + slot * K;
    mo->start = a->start + slot * (2 * E + 1);
    mo->slot_row = a->slot_row + slot * K;
    mo->gue = a->gue + slot * K * 2 * Hm;
    mo->ye = a->ye + slot * K * C;
    mo->xe = a->xe;
    mo->he = a->he;
}

/* The scalar head: the adapter's copy when there is one (lora.h). */
static const float *
score_w(const struct model *m)
{
    return m->lora ? lora_score(m->lora) : m->w.score;
}

/*
 * The sequence-wise balance loss of one sparse layer's routing mo over
 * the segments of the last forward (model.h, moe_seq_aux), and with dp
 * (N, E) set, its gradient with respect to the router's scores added to
 * dp: dL/ds'_it = a f_i / T, then through the normalization s' = s /
 * sum_j s_j (sigmoid scores; a softmax's sum is 1).
 */
static double
seq_balance(const struct model *m, const struct block_moe *mo, float *dp)
{
    const struct model_acts *a = m->acts;
    const struct model_moe *cf = &m->cfg.moe;
    int E = cf->n_experts, k = cf->top_k, e, j;
    double f[1024], P[1024], L = 0.0, coef = m->moe_seq_aux;
    size_t s, t;

    for (s = 0; s < a->nseg; s++) {
        size_t s0 = a->seg_start[s], s1 = a->seg_start[s + 1];
        double T = (double)(s1 - s0);
        for (e = 0; e < E; e++)
            f[e] = P[e] = 0.0;
        for (t = s0; t < s1; t++) {
            const float *p = mo->probs + t * E;
            double sum = 0.0;
            for (j = 0; j < k; j++)
                f[mo->ids[t * k + j]] += 1.0;
            for (e = 0; e < E; e++)
                sum += p[e];
            for (e = 0; e < E; e++)
                P[e] += cf->sigmoid ? p[e] / sum : p[e];
        }
        for (e = 0; e < E; e++) {
            f[e] *= E / (k * T);
            L += f[e] * P[e] / T;
        }
        for (t = s0; dp && t < s1; t++) {
            const float *p = mo->probs + t * E;
            float *d = dp + t * E;
            double sum = 0.0, sg = 0.0;
            if (!cf->sigmoid) {
                for (e = 0; e < E; e++)
                    d[e] += (float)(coef * f[e] / T);
                continue;
            }
            for (e = 0; e < E; e++)
                sum += p[e];
            for (e = 0; e < E; e++)
                sg += coef * f[e] / T * p[e] / sum;
            for (e = 0; e < E; e++)
                d[e] += (float)((coef * f[e] / T - sg) / sum);
        }
    }
    return coef * L;
}

/* One decoder layer, residual res -> resn (may alias under NOGRAD). */
static void
layer_forward(struct model *m, int l, int train, size_t N)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = m->acts;
    int C = c->dim, H = c->hidden_dim, nh = c->n_heads, nkv = c->n_kv_heads;
    int hd = c->head_dim, QD, QKV;
    size_t slot = train ? (size_t)l : 0;
    struct model_attn_dims d;
    struct block_layer_io io;
    struct batch_kv kv = {m, NULL};
    struct block_attn at = {
        .cos_t = a->cos_t, .sin_t = a->sin_t, .pos = a->pos,
        .kv = {batch_spans, NULL, &kv},
        .lse = a->lse + slot * N * nh,
        .scratch = a->srow, .scratch_n = (size_t)a->srow_cap,
    };
    struct block_moe moe;
    struct block_op ops[BLOCK_LAYER_MAX_OPS];
    int n;

    model_attn_dims(c, &d);
    QD = d.QD;
    QKV = d.QKV;
    io = (struct block_layer_io){
        .x = a->res + slot * N * C, .xmid = a->res2 + slot * N * C,
        .xout = a->res + (train ? slot + 1 : 0) * N * C, .ln = a->ln,
        .qkv = a->qkv + slot * N * QKV, .att = a->att + slot * N * QD,
        .gu = a->gu + slot * N * 2 * H, .h = a->h,
        .rstd1 = a->rstd1 + slot * N, .rstd2 = a->rstd2 + slot * N, .lu = a->lu,
    };
    kv.qkv = io.qkv;
    if (d.mla) {
        io.mla_a = a->mla_a + slot * N * d.A;
        io.mla_qf = a->mla_qf + slot * N * d.QF;
        io.mla_qn = a->mla_qn;
        io.vo = a->vo + slot * N * d.OD;
        io.rstdq = a->rstdq + slot * N;
        io.rstdkv = a->rstdkv + slot * N;
    }
    if (c->qk_norm) {
        at.qkraw = a->qkraw + slot * N * (QD + nkv * hd);
        at.qkrstd = a->qkrstd + slot * N * (nh + nkv);
    }
    moe_bufs(m, &moe, slot, N);
    if (a->routes && m->w.layers[l].router) {
        int j, sl = 0;
        for (j = 0; j < l; j++)
            sl += model_layer_moe(c, j);
        moe.replay = a->routes + (size_t)sl * c->moe.top_k;
        moe.ld_replay = (size_t)model_route_width(c);
    }
    io.ys = a->ys;
    n = block_layer_ops(ops, m, l, (int)N, fwd_kernels(), &io, &at, &moe, 0);
    block_run(ops, n);
    if (train && m->w.layers[l].router) {
        uint64_t *load = m->expert_load + (size_t)l * c->moe.n_experts;
        size_t i;
        for (i = 0; i < N * (size_t)c->moe.top_k; i++)
            load[moe.ids[i]]++;
        if (m->moe_seq_aux > 0)
            m->moe_aux_loss += seq_balance(m, &moe, NULL);
    }
}

/*
 * Gathers up to LC rows t >= *next whose target is set (and, for the
 * backward, whose gradient is not zero) into a->rows and their lnf rows
 * into a->xc, in exact mode from one segment only.  Returns the count;
 * *next moves past them.
 */
static int
gather_rows(struct model *m, const struct model_batch *b, size_t *next, const float *dlogp,
            const float *dent, int exact)
{
    struct model_acts *a = m->acts;
    int n = 0, C = m->cfg.dim;
    size_t t = *next, end = b->ntok, s = 0;

    while (n == 0 && t < b->ntok) {
        if (exact) {   /* one segment per chunk (a long one in several) */
            while (a->seg_start[s + 1] <= t)
                s++;
            end = a->seg_start[s + 1];
        }
        for (; t < end && n < m->logit_chunk; t++) {
            if (!b->targets || b->targets[t] < 0)
                continue;
            if ((dlogp || dent) && !(dlogp && dlogp[t] != 0.0f) && !(dent && dent[t] != 0.0f))
                continue;
            a->rows[n] = (int)t;
            memcpy(a->xc + (size_t)n * C, a->lnf + t * C, (size_t)C * sizeof(float));
            n++;
        }
    }
    *next = t;
    return n;
}

void
model_forward(struct model *m, const struct model_batch *b, float temperature, float *logp,
              float *entropy, float *scores, int flags)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a;
    int train = !(flags & MODEL_FWD_NOGRAD), exact = !!(flags & MODEL_FWD_EXACT);
    int C = c->dim, V = c->vocab_size, l, maxlen = 0;
    size_t N = b->ntok, s, t, done = 0;
    float *resf;
    struct block_op head[2];

    check_batch(m, b);
    if (!(temperature > 0.0f))
        die("model: temperature must be positive");
    acts_reserve(m, N, train);
    a = m->acts;
    if (m->lora) {
        m->lora->train = train;
        lora_reserve(m->lora, pool_threads());
    }
    a->ntok = N;
    a->nseg = b->nseg;
    a->routes = b->routes;
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
    if (c->rope.type == MODEL_ROPE_DYNAMIC && maxlen > c->max_pos)
        die("model: a sequence of %d tokens passes max_position_embeddings %d, past which "
            "dynamic rope_scaling changes every position's frequencies", maxlen, c->max_pos);
    ensure_rope(m, maxlen);
    if (a->srow_cap < maxlen || a->srow_threads != pool_threads()) {
        free(a->srow);
        a->srow_cap = PT_MAX(maxlen, PT_MIN(2 * a->srow_cap, c->max_pos));
        a->srow_threads = pool_threads();
        a->srow = xmalloc(xmul((size_t)a->srow_threads * KERN_ATT_Q * a->srow_cap, sizeof(float)));
    }
    block_embed(a->res, m, b->ids, N);
    for (l = 0; l < c->n_layers; l++)
        layer_forward(m, l, train, N);
    resf = a->res + (train ? (size_t)c->n_layers : 0) * N * C;
    block_head_ops(head, m, fwd_kernels(), (int)N, NULL, resf, a->lnf, a->rstdf, NULL);
    block_run(&head[0], 1);

    if (c->arch == MODEL_SEQ_CLS) {
        for (s = 0; s < b->nseg; s++) {
            const float *x = a->lnf + (a->seg_start[s + 1] - 1) * C;
            int k, i;
            for (k = 0; k < c->num_labels; k++) {
                const float *wk = score_w(m) + (size_t)k * C;
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
    if (a->logit_cache)
        for (t = 0; t < N; t++)
            a->cache_row[t] = -1;
    for (t = 0; t < N;) {
        int n = gather_rows(m, b, &t, NULL, NULL, exact), r;
        float *dst = a->logit_cache ? a->logit_cache + done * V : a->logits;
        struct job j = {.op = J_LOGP, .a = a, .V = V, .f = temperature, .rowsrc = dst,
                        .rows = a->rows, .targets = b->targets, .logp = logp, .ent = entropy};
        if (n == 0)
            break;
        head[1].R = n;
        head[1].in = a->xc;
        head[1].out = dst;
        block_run(&head[1], 1);
        if (a->logit_cache)
            for (r = 0; r < n; r++)
                a->cache_row[a->rows[r]] = (int)(done + (size_t)r);
        done += (size_t)n;
        job_rows(&j, (size_t)n);
    }
}

/* ============================== Backward ============================== */

/*
 * The experts' and the router's gradients of sparse layer l, from dres
 * (dL/d of the layer's output) and a->ln (the MLP's normed input), added
 * to a->dln and the weight gradients.  Per expert: its slots' rows as one
 * matrix (the forward's grouping, saved), SwiGLU recomputed from the
 * saved gate/up products.  Router (weights w_j = scale q_j, q_j = p_j / D
 * when normalized, D the sum of the chosen p): dq_j = scale dw_j, dp_j =
 * (dq_j - sum_i dq_i q_i) / D, then through softmax (dz_e = p_e (dp_e -
 * sum_f p_f dp_f)) or sigmoid (dz_e = dp_e p_e (1 - p_e)).
 */
static void
moe_backward(struct model *m, int l, size_t N)
{
    const struct model_config *c = &m->cfg;
    const struct model_moe *cf = &c->moe;
    struct model_acts *a = m->acts;
    const struct model_layer *w = &m->w.layers[l];
    struct model_layer *g = &m->g.layers[l];
    struct block_moe mo;
    int C = c->dim, E = cf->n_experts, k = cf->top_k, Hm = cf->hidden, e, j, i;
    size_t K = N * (size_t)k, r, s;
    float dwq[64];
    size_t ge = (size_t)3 * Hm * C;

    if (k > 64)
        die("model: num_experts_per_tok %d (at most 64 in training)", k);
    moe_bufs(m, &mo, (size_t)l, N);
    /* combine: out = x + sum_j w_j ye_j (+ ys); dye = w dout, dw = ye . dout */
    memset(a->dlogit, 0, N * (size_t)E * sizeof(float));
    for (r = 0; r < N; r++) {
        const float *d = a->dres + r * C, *p = mo.probs + r * E;
        const int *id = mo.ids + r * k;
        const float *wt = mo.wts + r * k;
        float D = 0.0f, sq = 0.0f, *dz = a->dlogit + r * E;
        for (j = 0; j < k; j++) {
            size_t sl = (size_t)mo.slot[r * k + j];
            const float *y = mo.ye + sl * C;
            float *dy = a->dye + sl * C, acc = 0.0f;
            for (i = 0; i < C; i++) {
                dy[i] = wt[j] * d[i];
                acc += y[i] * d[i];
            }
            dwq[j] = acc * cf->scaling;
            D += p[id[j]];
        }
        if (cf->norm_topk) {
            if (cf->sigmoid)
                D += 1e-20f;
            for (j = 0; j < k; j++)
                sq += dwq[j] * (wt[j] / cf->scaling);
            for (j = 0; j < k; j++)
                dwq[j] = (dwq[j] - sq) / D;
        }
        /* dwq now holds dL/dp of the chosen experts */
        for (j = 0; j < k; j++)
            dz[id[j]] += dwq[j];
    }
    if (m->moe_seq_aux > 0)
        seq_balance(m, &mo, a->dlogit);
    /* dL/dp to dL/dz: sigmoid dz = dp p (1 - p), softmax dz = p (dp - p . dp) */
    for (r = 0; r < N; r++) {
        const float *p = mo.probs + r * E;
        float *dz = a->dlogit + r * E, sp = 0.0f;
        if (cf->sigmoid) {
            for (e = 0; e < E; e++)
                dz[e] *= p[e] * (1.0f - p[e]);
            continue;
        }
        for (e = 0; e < E; e++)
            sp += p[e] * dz[e];
        for (e = 0; e < E; e++)
            dz[e] = p[e] * (dz[e] - sp);
    }
    /* experts, each over its slots */
    for (s = 0; s < K; s++)
        memcpy(a->xe + s * C, a->ln + (size_t)mo.slot_row[s] * C, (size_t)C * sizeof(float));
    for (e = 0; e < E; e++) {
        size_t s0 = (size_t)mo.start[e], n = (size_t)mo.start[e + 1] - s0;
        const float *W = w->experts + (size_t)e * ge;
        float *G = g->experts ? g->experts + (size_t)e * ge : NULL; /* NULL: frozen */
        if (n == 0)
            continue;
        swiglu_forward(a->he + s0 * Hm, mo.gue + s0 * 2 * Hm, n, Hm);
        matmul_backward(a->dhe + s0 * Hm, G ? G + 2 * (size_t)Hm * C : NULL, NULL,
                        a->dye + s0 * C, a->he + s0 * Hm, W + 2 * (size_t)Hm * C, n, Hm, C);
        swiglu_backward(a->dgue + s0 * 2 * Hm, a->dhe + s0 * Hm, mo.gue + s0 * 2 * Hm, n, Hm);
        matmul_backward(a->dxe + s0 * C, G, NULL, a->dgue + s0 * 2 * Hm, a->xe + s0 * C, W, n,
                        C, 2 * Hm);
    }
    for (s = 0; s < K; s++) {
        float *dx = a->dln + (size_t)mo.slot_row[s] * C;
        const float *src = a->dxe + s * C;
        for (i = 0; i < C; i++)
            dx[i] += src[i];
    }
    /* router: dln += dz Wr, dWr += dz^T ln (xe is free again: scratch) */
    matmul_backward(a->xe, g->router, NULL, a->dlogit, a->ln, w->router, N, C, E);
    for (r = 0; r < N * C; r++)
        a->dln[r] += a->xe[r];
}

/*
 * MLA's attention backward (block.c's mla_ops, forward): o_proj; each
 * head's value (vo_h = o_h W_UV^T, o_h the latent part of its attention
 * output); attention over the one key, whose gradient is the key's plus
 * the value's (the value is the key's copy); the key's RoPE and
 * kv_a_layernorm; each head's absorbed query (q_lat = q_nope W_UK) and
 * its RoPE; q_b_proj and q_a_layernorm; the first product and the norm.
 * Weight gradients are skipped where m->g has none (frozen).
 */
static void
mla_backward(struct model *m, int l, size_t N)
{
    const struct model_config *c = &m->cfg;
    const struct model_mla *ml = &c->mla;
    struct model_acts *a = m->acts;
    const struct model_layer *w = &m->w.layers[l];
    struct model_layer *g = &m->g.layers[l];
    struct model_attn_dims d;
    int C = c->dim, nh = c->n_heads, rkv = ml->kv_lora_rank, rope = ml->rope;
    int nope = ml->nope, vd = ml->v_dim, qk = nope + rope, kvb = nope + vd, h, i;
    int qlora = ml->q_lora_rank > 0;
    size_t L = (size_t)l, r, hd, QD, QKV, A, QA, QF, OD, ldq;
    const float *res, *qkv, *att, *ma, *qf, *vo, *rstdq, *rstdkv;
    float *rstd1, *sink = a->dw_part;
    struct job ja = {.op = J_ATT_BWD, .a = a, .o1 = a->dqkv, .i1 = a->datt, .nh = nh,
                     .nkv = 1, .block = m->att_block, .f = block_attn_scale(c)};

    model_attn_dims(c, &d);
    hd = (size_t)d.hd, QD = (size_t)d.QD, QKV = (size_t)d.QKV, A = (size_t)d.A;
    QA = (size_t)d.QA, QF = (size_t)d.QF, OD = (size_t)d.OD;
    res = a->res + L * N * C;
    rstd1 = a->rstd1 + L * N;
    qkv = a->qkv + L * N * QKV;
    att = a->att + L * N * QD;
    ma = a->mla_a + L * N * A;
    qf = qlora ? a->mla_qf + L * N * QF : ma;
    ldq = qlora ? QF : A;
    vo = a->vo + L * N * OD;
    rstdq = a->rstdq + L * N;
    rstdkv = a->rstdkv + L * N;
    ja.i2 = qkv;
    ja.i3 = att;
    ja.i4 = a->lse + L * N * nh;
    ja.hd = d.hd;

    /* o_proj, then each head's value: do_h = dvo_h W_UV, dW_UV += dvo_h^T o_h */
    matmul_backward(a->dvo, g->wo, NULL, a->dres, vo, w->wo, N, d.OD, C);
    memset(a->datt, 0, N * QD * sizeof(float));
    for (h = 0; h < nh; h++) {
        size_t uv = ((size_t)h * kvb + nope) * rkv;
        par_sgemm(CblasNoTrans, CblasNoTrans, (int)N, rkv, vd, 1.0f, a->dvo + (size_t)h * vd,
                  (int)OD, w->wkv_b + uv, rkv, 0.0f, a->datt + (size_t)h * hd, (int)QD);
        if (g->wkv_b)
            par_sgemm(CblasTrans, CblasNoTrans, vd, rkv, (int)N, 1.0f,
                      a->dvo + (size_t)h * vd, (int)OD, att + (size_t)h * hd, (int)QD, 1.0f,
                      g->wkv_b + uv, rkv);
    }
    memset(a->dqkv, 0, N * QKV * sizeof(float));
    par_attention(&ja, (int)a->nseg);
    /* the key: value's gradient added, RoPE and kv_a_layernorm undone */
    memset(a->dmla_a, 0, N * A * sizeof(float));
    for (r = 0; r < N; r++) {
        float *dk = a->dqkv + r * QKV + QD, *dsrc = a->dmla_a + r * A + QA;
        for (i = 0; i < (int)hd; i++)
            dk[i] += dk[hd + (size_t)i];
        rope_backward(dk + rkv, &a->pos[r], a->cos_t, a->sin_t, 1, rope, 1, rope);
        block_rope_store(dsrc + rkv, dk + rkv, rope, ml->interleave);
        rmsnorm_backward(dsrc, g->kv_a_norm ? g->kv_a_norm : sink, dk, ma + r * A + QA,
                         w->kv_a_norm, &rstdkv[r], 1, rkv);
        /* the queries' RoPE */
        for (h = 0; h < nh; h++) {
            float *dq = a->dqkv + r * QKV + (size_t)h * hd + rkv;
            rope_backward(dq, &a->pos[r], a->cos_t, a->sin_t, 1, rope, 1, rope);
            block_rope_store(a->dqf + r * QF + (size_t)h * qk + nope, dq, rope,
                             ml->interleave);
        }
    }
    /* the absorbed queries: dq_nope = dq_lat W_UK^T, dW_UK += q_nope^T dq_lat */
    for (h = 0; h < nh; h++) {
        size_t uk = (size_t)h * kvb * rkv;
        par_sgemm(CblasNoTrans, CblasTrans, (int)N, nope, rkv, 1.0f, a->dqkv + (size_t)h * hd,
                  (int)QKV, w->wkv_b + uk, rkv, 0.0f, a->dqf + (size_t)h * qk, (int)QF);
        if (g->wkv_b)
            par_sgemm(CblasTrans, CblasNoTrans, nope, rkv, (int)N, 1.0f,
                      qf + (size_t)h * qk, (int)ldq, a->dqkv + (size_t)h * hd, (int)QKV, 1.0f,
                      g->wkv_b + uk, rkv);
    }
    if (qlora) {
        for (r = 0; r < N; r++)
            rmsnorm_forward(a->mla_qn + r * QA, NULL, ma + r * A, w->q_a_norm, 1, (int)QA,
                            MODEL_MLA_NORM_EPS);
        matmul_backward(a->dqn, g->wq_b, NULL, a->dqf, a->mla_qn, w->wq_b, N, (int)QA,
                        (int)QF);
        for (r = 0; r < N; r++)
            rmsnorm_backward(a->dmla_a + r * A, g->q_a_norm ? g->q_a_norm : sink,
                             a->dqn + r * QA, ma + r * A, w->q_a_norm, &rstdq[r], 1, (int)QA);
    } else {
        for (r = 0; r < N; r++)
            memcpy(a->dmla_a + r * A, a->dqf + r * QF, QF * sizeof(float));
    }
    par_rmsnorm_forward(a, a->ln, rstd1, res, w->attn_norm, N, C, c->norm_eps);
    matmul_backward(a->dln, g->wq, NULL, a->dmla_a, a->ln, w->wq, N, C, d.A);
    par_rmsnorm_backward(a, a->dres, g->attn_norm, a->dln, res, w->attn_norm, rstd1, N, C);
}

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
    struct job js = {.op = J_SWIGLU_FWD, .a = a, .o1 = a->h, .i1 = gu, .H = H};
    struct job jsb = {.op = J_SWIGLU_BWD, .a = a, .o1 = a->dgu, .i1 = a->dh, .i2 = gu, .H = H};
    struct job ja = {.op = J_ATT_BWD, .a = a, .o1 = a->dqkv, .i1 = a->datt, .i2 = qkv,
                     .i3 = att, .i4 = lse, .nh = nh, .nkv = nkv, .hd = hd,
                     .block = m->att_block, .f = block_attn_scale(c)};

    /* MLP: resn = res2 + swiglu(norm(res2) Wgu^T) Wd^T (+ the experts) */
    par_rmsnorm_forward(a, a->ln, rstd2, res2, w->mlp_norm, N, C, c->norm_eps);
    js.H = jsb.H = w->mlp_hidden;
    if (w->mlp_hidden > 0) {
        job_rows(&js, N);
        matmul_backward(a->dh, g->w_down, NULL, a->dres, a->h, w->w_down, N, w->mlp_hidden, C);
        if (m->lora)
            lora_backward(m->lora, l, LORA_P_DOWN, a->dh, a->dres, a->h, N);
        job_rows(&jsb, N);
        matmul_backward(a->dln, g->w_gate, NULL, a->dgu, a->ln, w->w_gate, N, C,
                        2 * w->mlp_hidden);
        if (m->lora)
            lora_backward(m->lora, l, LORA_P_GU, a->dln, a->dgu, a->ln, N);
    } else {
        memset(a->dln, 0, N * C * sizeof(float));
    }
    if (w->router)
        moe_backward(m, l, N);
    par_rmsnorm_backward(a, a->dres, g->mlp_norm, a->dln, res2, w->mlp_norm, rstd2, N, C);
    if (c->mla.kv_lora_rank > 0) {
        mla_backward(m, l, N);
        return;
    }
    /* attention: res2 = res + attn(norm(res)) Wo^T */
    matmul_backward(a->datt, g->wo, NULL, a->dres, att, w->wo, N, QD, C);
    if (m->lora)
        lora_backward(m->lora, l, LORA_P_O, a->datt, a->dres, att, N);
    memset(a->dqkv, 0, N * QKV * sizeof(float));
    par_attention(&ja, (int)a->nseg * nkv);
    par_rope(a, a->dqkv, N, QKV, nh, hd, -1.0f);
    par_rope(a, a->dqkv + QD, N, QKV, nkv, hd, -1.0f);
    if (c->qk_norm) {
        struct job jq = {.op = J_QKN_BWD, .a = a, .o1 = a->dqkv, .stride = QKV,
                         .o2 = a->dqkraw, .i1 = a->qkraw + L * N * (QD + nkv * hd),
                         .rstd = a->qkrstd + L * N * (nh + nkv), .i2 = w->q_norm,
                         .i3 = w->k_norm, .nh = nh, .nkv = nkv, .hd = hd};
        int t, i;
        memset(a->dw_part, 0, (size_t)a->nthreads * 2 * hd * sizeof(float));
        job_rows(&jq, N);
        for (t = 0; t < jq.ntasks && g->q_norm; t++)
            for (i = 0; i < hd; i++) {
                g->q_norm[i] += a->dw_part[(size_t)t * 2 * hd + i];
                g->k_norm[i] += a->dw_part[(size_t)t * 2 * hd + hd + i];
            }
    }
    par_rmsnorm_forward(a, a->ln, rstd1, res, w->attn_norm, N, C, c->norm_eps);
    matmul_backward(a->dln, g->wq, g->bq, a->dqkv, a->ln, w->wq, N, C, QKV);
    if (m->lora)
        lora_backward(m->lora, l, LORA_P_QKV, a->dln, a->dqkv, a->ln, N);
    par_rmsnorm_backward(a, a->dres, g->attn_norm, a->dln, res, w->attn_norm, rstd1, N, C);
}

/* dL/dlnf through the LM head, chunk by chunk, into a->dln. */
static void
head_backward(struct model *m, const struct model_batch *b, const float *dlogp,
              const float *dentropy)
{
    struct model_acts *a = m->acts;
    int C = m->cfg.dim, V = m->cfg.vocab_size, n, r;
    size_t t = 0;

    for (;;) {
        float *lg = a->logits;
        struct job j = {.op = J_LOGP, .a = a, .V = V, .f = a->temp, .rows = a->rows,
                        .targets = b->targets, .dlogp = dlogp, .dent = dentropy};
        n = gather_rows(m, b, &t, dlogp, dentropy, 0);
        if (n == 0)
            break;
        if (a->logit_cache) {
            /* rows with a gradient, in forward order: use the cached logits
               in place when they are consecutive there, else copy them */
            int first = a->cache_row[a->rows[0]];
            for (r = 1; r < n && a->cache_row[a->rows[r]] == first + r; r++)
                ;
            if (r == n)
                lg = a->logit_cache + (size_t)first * V;
            else
                for (r = 0; r < n; r++)
                    memcpy(lg + (size_t)r * V,
                           a->logit_cache + (size_t)a->cache_row[a->rows[r]] * V,
                           (size_t)V * sizeof(float));
        } else {
            gemm_nt(lg, a->xc, m->w.lm_head, (size_t)n, C, V, 0.0f);
        }
        j.rowsrc = lg;
        j.rowdst = lg;
        job_rows(&j, (size_t)n);
        matmul_backward(a->dxc, m->g.lm_head, NULL, lg, a->xc, m->w.lm_head, (size_t)n, C, V);
        for (r = 0; r < n; r++) {
            float *dx = a->dln + (size_t)a->rows[r] * C;
            const float *src = a->dxc + (size_t)r * C;
            int i;
            for (i = 0; i < C; i++)
                dx[i] += src[i];
        }
    }
}

void
model_backward(struct model *m, const struct model_batch *b, const float *dlogp,
               const float *dentropy, const float *dscores)
{
    const struct model_config *c = &m->cfg;
    struct model_acts *a = m->acts;
    int C = c->dim, l;
    size_t N = b->ntok, s, t;

    if (!a->fwd_train || a->ntok != N || a->nseg != b->nseg)
        die("model: backward without a matching training forward");
    if (!m->grads && !m->lora)
        model_zero_grad(m);
    bwd16 = m->w16;
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
                const float *wk = score_w(m) + (size_t)k * C;
                float *gk = (m->lora ? m->lora->gscore : m->g.score) + (size_t)k * C;
                for (i = 0; i < C; i++) {
                    dx[i] += d * wk[i];
                    gk[i] += d * x[i];
                }
            }
        }
    } else {
        head_backward(m, b, dlogp, dentropy);
    }
    par_rmsnorm_backward(a, a->dres, m->g.norm, a->dln, a->res + (size_t)c->n_layers * N * C,
                         m->w.norm, a->rstdf, N, C);
    for (l = c->n_layers - 1; l >= 0; l--)
        layer_backward(m, l, N);
    for (t = 0; t < N && m->g.embed; t++) {
        float *ge = m->g.embed + (size_t)b->ids[t] * C;
        const float *d = a->dres + t * C;
        int i;
        for (i = 0; i < C; i++)
            ge[i] += d[i];
    }
    bwd16 = NULL;
}

double
model_flops_forward(const struct model *m, const struct model_batch *b)
{
    const struct model_config *c = &m->cfg;
    const struct model_moe *e = &c->moe;
    struct model_attn_dims d;
    double C = c->dim, H = c->hidden_dim, nh = c->n_heads, proj;
    double N = (double)b->ntok, f = 0.0, att = 0.0, ntarget = 0.0;
    size_t s, t;
    int l;

    for (s = 0; s < b->nseg; s++) {
        double Ls = b->seg_len[s];
        att += Ls * (Ls + 1) / 2.0;
    }
    /* attention: its products per token, then scores and weighted sums */
    model_attn_dims(c, &d);
    proj = C * d.A + (double)d.OD * C;
    if (d.mla) {
        const struct model_mla *a = &c->mla;
        if (a->q_lora_rank > 0)
            proj += (double)d.QA * d.QF;
        proj += nh * a->kv_lora_rank * (a->nope + a->v_dim); /* absorbed q, values */
    }
    for (l = 0; l < c->n_layers; l++) {
        double mlp = 3.0 * C * H;
        if (model_layer_moe(c, l))
            mlp = C * e->n_experts + 3.0 * C * e->hidden * (e->top_k + e->n_shared);
        f += 2.0 * N * (proj + mlp) + 4.0 * att * d.hd * nh;
    }
    if (c->arch == MODEL_CAUSAL_LM) {
        for (t = 0; t < b->ntok; t++)
            ntarget += b->targets && b->targets[t] >= 0;
        f += 2.0 * ntarget * C * c->vocab_size;
    }
    return f;
}
