/*
 * block.h - the decoder's blocks, defined once for training, logp and gen.
 *
 * A forward pass is a list of operations over the rows (tokens) of a
 * step: RMSNorm, a matrix product with an optional residual, the gated
 * MLP product, the attention block's q/k preparation (per-head norm,
 * RoPE, the key/value store) and attention itself.  Each operation is
 * cut into chunks that are independent of each other; running every
 * chunk of an operation, in any order and on any thread, before the next
 * operation starts, computes the pass.  A family's layer is one builder
 * here (block_layer_ops()) that emits its operations; the training
 * forward (model.c) and the KV-cache forward (infer.c) only differ in
 * where the keys and values live (struct block_kv) and in how they run
 * the chunks: model.c hands each operation to the pool (block_run()),
 * infer.c chains them through atomic counters so its threads never wait
 * for each other.  So a row's numbers are the same float in both, bit for
 * bit (kern.h's batch invariance), and a new family is written once.
 *
 * A LoRA adapter (lora.h) on the model adds a BOP_LORA_A operation
 * before each adapted product and its low-rank term inside the product's
 * chunks, in both forwards alike.
 *
 * What is not here: the backward (model.c; training only), the caches'
 * memory (infer.c), sampling.
 */
#ifndef POSTTRAIN_BLOCK_H
#define POSTTRAIN_BLOCK_H

#include <stddef.h>

#include "kern.h"
#include "lora.h"
#include "model.h"

/* The key/value spans a row's attention reads, in key order. */
struct block_spans {
    const float *k[2], *v[2]; /* first key (and value) of each span, or NULL */
    size_t ld[2];             /* row stride of each span */
    int n[2];                 /* keys in each span */
};

/*
 * Where a layer's keys and values live.  spans() gives row r's spans for
 * kv head g of layer l (its own key last); store() (or NULL when the keys
 * stay in the q/k/v buffer) copies row r's keys and values of kv heads
 * [g0, g1) of layer l, each head_dim floats, to where spans() finds them.
 */
struct block_kv {
    void (*spans)(void *ctx, int l, int r, int g, struct block_spans *sp);
    void (*store)(void *ctx, int l, int r, int g0, int g1, const float *k, const float *v);
    void *ctx;
};

enum block_op_kind {
    BOP_NORM,       /* out[r] = rmsnorm(in[rows ? rows[r] : r], w); rstd[r] if set */
    BOP_MM,         /* out = (addend +) in W^T (+ bias) */
    BOP_MM_SWIGLU,  /* gu = in [Wg; Wu]^T, h = silu(g) * up */
    BOP_QK,         /* per row: q/k head norm, RoPE, store */
    BOP_ATTEND,     /* per row and kv head: attention (with BOP_QK's work when fused) */
    BOP_ROUTE,      /* per row: router scores, the top-k experts and their weights */
    BOP_MOE_GROUP,  /* one chunk: each choice's slot, the slots grouped by expert */
    BOP_MOE_GATHER, /* per slot: the chosen row's input */
    BOP_MOE_UP,     /* per expert and columns: gate/up product and SwiGLU of its slots */
    BOP_MOE_DOWN,   /* per expert and columns: down product of its slots */
    BOP_MOE_COMBINE, /* per row: residual + weighted expert outputs (+ shared) */
    BOP_LORA_A,     /* lu (R, n r) = s drop(in) A_i^T for the adapters of the next product */
    BOP_MLA_Q,      /* MLA, per row and head: the absorbed query q_nope W_UK, roped q_rope */
    BOP_MLA_UV,     /* MLA, per head and rows: the head's value W_UV o_latent */
};

/*
 * A sparse MLP layer's routing and expert buffers (model.h's struct
 * model_moe).  Slots: the R k choices laid out expert by expert, each
 * expert's in row order, so an expert's rows are one matrix.
 */
struct block_moe {
    const struct model_moe *cfg;
    int E, k, Hm, C;
    const float *router, *router_bias, *experts;
    const struct bf16w *experts16; /* w16.h's (2E) expert copies, or NULL: fp32 */
    const struct kernels16 *K16;
    float *probs;            /* (R, E) router scores: softmax or sigmoid of the logits */
    int *ids;                /* (R, k) chosen experts, best first */
    float *wts;              /* (R, k) their weights */
    int *slot;               /* (R, k) each choice's slot */
    int *start;              /* (E + 1) each expert's first slot */
    int *slot_row;           /* (R k) each slot's row */
    float *xe;               /* (R k, C) gathered inputs */
    float *gue, *he;         /* (R k, 2 Hm), (R k, Hm) */
    float *ye;               /* (R k, C) expert outputs */
    const float *ys;         /* (R, C) the shared experts' output, or NULL */
    /*
     * Routing replay (NULL: off): row r takes the k experts at replay +
     * r ld_replay when the first is >= 0 (else it routes afresh); its
     * gate weights are still the router's scores of those experts,
     * normalized and scaled as routing weighs them (block_route_weights).
     */
    const int *replay;
    size_t ld_replay;
};

/* The attention geometry and state one layer's BOP_QK and BOP_ATTEND share. */
struct block_attn {
    int nh, nkv, hd, QD, QKV;
    float scale, eps;
    const float *q_norm, *k_norm; /* (hd) each, or NULL */
    const float *cos_t, *sin_t;   /* RoPE tables (positions, hd / 2) */
    const int *pos;               /* (R) each row's position */
    struct block_kv kv;
    float *qkv;                   /* (R, QKV) q, k, v of each row, prepared in place */
    float *att;                   /* (R, QD) attention output */
    float *qkraw, *qkrstd;        /* saved for the backward: (R, QD + KVD), (R, nh + nkv) */
    float *lse;                   /* (nh, R) log-sum-exp of each row's scores, or NULL */
    float *scratch;               /* (threads, KERN_ATT_Q, scratch_n) attention scores */
    size_t scratch_n;
    /*
     * MLA (model.h's struct model_mla): qkv rows are the nh absorbed
     * queries, the key (latent, roped rope key) and its copy as value,
     * hd = kv_lora_rank + rope each; nkv = nh, each "kv head" one query
     * head over the one key (spans() is asked for g = 0).  BOP_QK
     * prepares the key from kva and stores it alone (v NULL).
     */
    int mla, nope, rope, vd, rkv, interleave;
    const float *qf;              /* (R, ldqf) each head's q: nope then rope floats */
    const float *kva;             /* (R, ldkva) latent then rope key, before norm and RoPE */
    size_t ldqf, ldkva;
    const float *wkv_b, *kv_norm; /* kv_b_proj (nh (nope + vd), rkv), kv_a_layernorm */
    float *kvrstd;                /* (R) kv_a_layernorm's rstd, or NULL */
    float *vo;                    /* (R, nh vd) the heads' values */
};

struct block_op {
    enum block_op_kind kind;
    int R;                   /* rows */
    const struct kernels *K;
    float *out;              /* NORM, MM: (R, OC); SWIGLU: gu (R, 2H) */
    const float *in;         /* NORM: (.., C); MM, SWIGLU: (R, IC) */
    const float *addend;     /* MM: added (== out: accumulate), or NULL */
    const float *w, *bias;   /* NORM: (C); MM: W (OC, IC), bias (OC) or NULL;
                                SWIGLU: Wg (H, IC) with Wu after it */
    /* MM, SWIGLU: W as bf16 (w16.h; (2H, IC) for SWIGLU) with its kernels:
       the product is mm16's instead of K->mm's.  NULL: fp32 */
    const struct bf16w *w16;
    const struct kernels16 *K16;
    float *h;                /* SWIGLU: (R, H) */
    float *rstd;             /* NORM: (R) or NULL */
    const int *rows;         /* NORM: rows of in to normalize, or NULL */
    size_t ldi;              /* NORM: row stride of in, 0: OC */
    int IC, OC;              /* NORM: OC = C; SWIGLU: OC = H */
    float eps;
    int layer, fused;        /* QK/ATTEND: the layer; ATTEND does BOP_QK's work itself */
    const struct block_attn *at;
    const struct block_moe *moe; /* ROUTE, MOE_*: in = the normed input, out (COMBINE) */
    /* LoRA (lora.h): MM, SWIGLU add lu B_i^T to adapter i's columns;
       LORA_A computes lu from in.  NULL: no adapter. */
    const struct lora_mm *lora;
    float *lu;               /* (R, n r) */
};

/* Chunks of op; every chunk may run in parallel with the others. */
int block_op_chunks(const struct block_op *op);
/* Runs chunk c of op on thread tid (indexes per-thread scratch). */
void block_op_run(const struct block_op *op, int c, int tid);
/* Runs ops[0..n) in order on the pool (pool.h), one pool_run each. */
void block_run(const struct block_op *ops, int n);

/* A decoder layer's buffers, for block_layer_ops(). */
struct block_layer_io {
    const float *x;          /* (R, C) residual in */
    float *xmid;             /* (R, C) after attention */
    float *xout;             /* (R, C) after the MLP (may be x) */
    float *ln;               /* (R, C) scratch: the normed input of a product */
    float *qkv, *att, *gu, *h; /* (R, QKV), (R, QD), (R, 2H), (R, H) */
    float *rstd1, *rstd2;    /* (R) each, or NULL */
    float *ys;               /* (R, C) sparse layers with shared experts: their output */
    float *lu;               /* (R, lora_row_floats()) when the model has an adapter */
    /* MLA (model_attn_dims()): qkv is (R, QKV), att (R, QD) */
    float *mla_a;            /* (R, A) q (or q_a) and kv_a rows */
    float *mla_qn;           /* (R, QA) q_a_layernorm's output (q_lora_rank only) */
    float *mla_qf;           /* (R, QF) q_b_proj's output (q_lora_rank only) */
    float *vo;               /* (R, OD) the heads' values, o_proj's input */
    float *rstdq, *rstdkv;   /* (R) each, or NULL */
};

/* Most operations one layer has (with a BOP_LORA_A before each product). */
#define BLOCK_LAYER_MAX_OPS 24

/*
 * The operations of layer l of model m over R rows: attention (norm,
 * q/k/v product, q/k preparation, attention, output product into xmid)
 * then the MLP (norm, gated product, down product into xout).  at must
 * have pos, kv, scratch (and the saves) set; block_layer_ops() fills the
 * rest.  fused: rows are distinct sequences (their keys are not each
 * other's), so BOP_QK's work moves into BOP_ATTEND.  Returns the count.
 */
int block_layer_ops(struct block_op *ops, const struct model *m, int l, int R,
                    const struct kernels *K, const struct block_layer_io *io,
                    struct block_attn *at, struct block_moe *moe, int fused);

/*
 * The softmax scale of c's attention: head_dim^-1/2, or for MLA
 * (nope + rope)^-1/2 times yarn's mscale(factor, mscale_all_dim)^2 when
 * rope_scaling sets mscale_all_dim (transformers' DeepseekV3Attention).
 */
float block_attn_scale(const struct model_config *c);

/*
 * RoPE's input in the layout rope_forward() rotates: src's n floats, or
 * with interleave their pairs (2i, 2i + 1) split to i and n/2 + i (the
 * permutation transformers' apply_rotary_pos_emb_interleave applies).
 * block_rope_store() is its inverse (for the backward).
 */
void block_rope_load(float *dst, const float *src, int n, int interleave);
void block_rope_store(float *dst, const float *src, int n, int interleave);

/*
 * The router's choice for one row from its scores p (E; softmax or
 * sigmoid of the logits): ids and weights (k each), as transformers'
 * Qwen3MoeSparseMoeBlock and DeepseekV3TopkRouter choose them.
 */
void block_route_row(const struct model_moe *cfg, const float *p, const float *bias, int *ids,
                     float *wts);
/*
 * The weights (k) routing gives the chosen experts ids (k, in order) from
 * the scores p: p[ids[j]], normalized when norm_topk_prob, scaled by
 * routed_scaling_factor (block_route_row()'s last step, and the whole
 * of a replayed row's).  Dies on an expert out of range.
 */
void block_route_weights(const struct model_moe *cfg, const float *p, const int *ids,
                         float *wts);

/*
 * The head's operations: ops[0] the final norm of R rows of x (rows[r],
 * or r when rows is NULL) into lnf (rstd saved when set), ops[1] their
 * logits (R, V) = lnf W^T with the LM head.
 */
void block_head_ops(struct block_op ops[2], const struct model *m, const struct kernels *K,
                    int R, const int *rows, const float *x, float *lnf, float *rstd,
                    float *logits);

/* x (n, C) = the embeddings of ids; dies on an id out of range. */
void block_embed(float *x, const struct model *m, const int *ids, size_t n);

#endif
