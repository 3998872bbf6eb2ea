/*
 * w16.h - bf16 copies of a model's matrices for bf16 products (kern.h's
 * mm16, fp32 accumulation): the weights a forward reads when the model
 * computes in bf16 (gen, logp, score-rm, serve, update --dtype bf16).
 *
 * The fp32 parameters stay the master copy (update's optimizer steps them;
 * the backward multiplies by them); the copies here are each matrix
 * rounded to bf16 (round to nearest even) and packed for the kernels, and
 * model_w16_refresh() rounds them again after the parameters change.  A
 * checkpoint stored in bf16 is loaded into fp32 exactly, so its copies
 * are its stored bits.  Which products: the fused q/k/v (MLA: q or q_a
 * with kv_a, and q_b), the attention output, the fused gate/up and the
 * down products of every layer (dense, shared experts and each routed
 * expert) and the LM head.  Not: the embedding lookup, norms, the router
 * (fp32, as transformers computes it), MLA's kv_b_proj (absorbed into the
 * attention's own loops) and a reward model's score head, which stay
 * fp32.
 *
 * Every forward of a model with m->w16 set goes through block.h's
 * operations, which then take these copies: the training forward and the
 * KV-cache forward read the same bf16 weights through the same kernels,
 * so gen, logp and update still agree bit for bit within the dtype.
 *
 *     model_use_bf16(m, KERN16_AUTO, 0);    (m->w16 set, owned by m)
 *     ... forwards ...
 *     optim_step(...); model_w16_refresh(m);
 */
#ifndef POSTTRAIN_W16_H
#define POSTTRAIN_W16_H

#include "kern.h"
#include "model.h"

struct w16_layer {
    struct bf16w qkv, o;      /* (A, C), (C, OD) (model_attn_dims) */
    struct bf16w qb;          /* MLA's q_b_proj (QF, QA); O = 0 without */
    struct bf16w gu, down;    /* (2H, C), (C, H): dense MLP or shared experts; O = 0 without */
    struct bf16w *experts;    /* (2E): expert e's gate/up (2Hm, C) at 2e, down (C, Hm) at 2e+1;
                                 NULL in dense layers */
};

struct model_w16 {
    struct kernels16 K;       /* the bf16 kernel set */
    struct w16_layer *layers; /* (nlayers) */
    int nlayers;
    struct bf16w head;        /* (V, C) lm_head (the embedding when tied); O = 0 without */
    int nmats;
    struct w16_src *mats;     /* each copy and its fp32 source, by source address */
    int backward;             /* w16_matmul_backward multiplies */
    bf16 *s_dout, *s_in, *s_dT; /* its scratch, grown as needed */
    size_t n_dout, n_in, n_dT;
};

/*
 * Gives m bf16 copies of its matrices (m->w16, owned by m: model_free
 * frees them), computed with kernel set k (AUTO: the best the CPU has;
 * dies if the CPU lacks k).  Packs on the pool.  backward: the backward's
 * products of those matrices are bf16 too (w16_matmul_backward), with
 * transposed copies made at the first backward after each refresh.
 */
void model_use_bf16(struct model *m, enum kern16 k, int backward);

/*
 * The backward of out = in W^T in bf16 products, fp32 accumulation: din
 * (N, IC) = dout (N, OC) W when din is set (overwritten), and dW (OC,
 * IC) += dout^T in when dW is set; the operands are rounded to bf16 (W
 * as its copy, dout and in as they come).  Each element is one chain
 * over its sum in index order (kern.h), so the result does not depend on
 * the threads.  Returns 0, doing nothing, when W is not one of w's
 * matrices (the caller multiplies in fp32), else 1.
 */
int w16_matmul_backward(struct model_w16 *w, float *din, float *dW, const float *dout,
                        const float *in, const float *W, size_t N, int IC, int OC);
/* Rounds the copies again from m->params (after an optimizer step). */
void model_w16_refresh(struct model *m);
/* "f32" (also fp32, float32) 0, "bf16" (bfloat16) 1, else -1: the tools' --dtype. */
int w16_parse_dtype(const char *name);

/* Frees w; NULL is allowed. */
void model_w16_free(struct model_w16 *w);

#endif
