/*
 * lora.h - low-rank adapters (LoRA, Hu 2021, arXiv:2106.09685) on the
 * linear products of a struct model, in PEFT's layout and with PEFT's
 * numbers.
 *
 * An adapter on a product y = x W^T (W (out, in)) adds
 *
 *     y += s (drop(x) A^T) B^T,   A (r, in), B (out, r),
 *     s = alpha / r, or alpha / sqrt(r) with rsLoRA (Kalajdzievski 2023,
 *     arXiv:2312.03732)
 *
 * where drop is inverted dropout of probability p on the adapter's input
 * only, in training forwards only (PEFT's lora_dropout).  B starts at
 * zero and A as PEFT's kaiming_uniform_(a = sqrt(5)): U(-1/sqrt(in),
 * 1/sqrt(in)), so a new adapter leaves the model's numbers unchanged.
 *
 * Where it runs: inside block.h's operations, so the training forward
 * (model.c), the KV-cache forward (infer.c) and therefore gen, logp and
 * update compute the same floats with an adapter as without one.  Each
 * product of a layer (q/k/v fused, o, gate/up fused, down) gets one
 * BOP_LORA_A operation before it, u = s drop(x) A_i^T for each of its
 * adapters (per-row, with the batch-invariant kernels of kern.h), and the
 * product's own chunks then add u_i B_i^T to the columns of adapter i's
 * target only (lora_mm_add()): an adapter on q never touches k or v.
 * The backward (lora_backward(), called by model.c beside each frozen
 * product) gives dA, dB and adds the adapter's share to dx.
 *
 * Dropout is a hash of (seed, key, layer, target, row, column): the
 * trainer sets key per micro-batch, and the backward recomputes the same
 * mask, so nothing is stored and a resumed run draws the same masks.
 *
 * On a mixture of experts (model.h) the gate, up and down targets adapt
 * the dense layers' MLP only: a sparse layer's router, experts and shared
 * experts take no adapter (PEFT would adapt each expert's projections).
 *
 * A reward model's scalar head is trained with the adapters (PEFT's
 * modules_to_save for classification heads): the adapter holds its own
 * copy, score, used in place of the base's.
 *
 * Files (posttrain-checkpoint(5)): DIR/adapter_config.json (peft_type
 * LORA, r, lora_alpha, lora_dropout, target_modules, use_rslora, bias
 * "none", task_type, base_model_name_or_path; other fields carried
 * through) and DIR/adapter_model.safetensors with PEFT's names,
 * base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight (r, in)
 * and .lora_B.weight (out, r), base_model.model.score.weight.  update
 * adds optimizer.safetensors and trainer_state.json over the adapter's
 * parameters.
 *
 *     struct lora *lo = lora_new(m, &cfg, seed);        (or lora_load())
 *     m->lora = lo;                      (the model now runs with it, frozen)
 *     ... model_forward / model_backward; optim_step(o, lo->params, lo->grads, 1)
 *     lora_save(lo, "adapter", "base", o, NULL, &err);
 *     m->lora = NULL;  lora_free(lo);
 */
#ifndef POSTTRAIN_LORA_H
#define POSTTRAIN_LORA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kern.h"
#include "model.h"
#include "optim.h"
#include "util.h"

enum lora_target {
    LORA_Q, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN,
    LORA_NT
};

/* A layer's products, in block order, and the targets each one holds. */
enum lora_prod {
    LORA_P_QKV, LORA_P_O, LORA_P_GU, LORA_P_DOWN,
    LORA_NP
};

#define LORA_ALL_TARGETS ((1u << LORA_NT) - 1)
#define LORA_MAX_RANK 4096

struct lora_config {
    int r;             /* rank, 1..LORA_MAX_RANK */
    double alpha;      /* lora_alpha (default: r, i.e. s = 1) */
    double dropout;    /* lora_dropout in [0, 1) */
    unsigned targets;  /* bits 1 << enum lora_target */
    int rslora;        /* use_rslora: s = alpha / sqrt(r) */
};

/* r 8, alpha 16, dropout 0, every target, no rsLoRA. */
void lora_config_default(struct lora_config *c);
/*
 * Parses a --lora-targets list: comma-separated q, k, v, o, gate, up,
 * down (or PEFT's module names q_proj, ..., or "all").  0, or -1 with a
 * static reason in *why.
 */
int lora_targets_parse(const char *s, unsigned *targets, const char **why);
/* PEFT's module name of t ("q_proj", ...), static. */
const char *lora_target_name(enum lora_target t);

/* One product's adapters (the q/k/v and gate/up products fuse targets). */
struct lora_mm {
    int n;                      /* adapters on this product, 0..3 */
    int tgt[3];                 /* their enum lora_target */
    int col[3], ncol[3];        /* output columns [col, col + ncol) of each */
    const float *A[3], *B[3];   /* (r, IC), (ncol, r) in lo->params */
    float *gA[3], *gB[3];       /* the same in lo->grads */
    int r, IC;
    const struct lora *lo;      /* the owner: scale, dropout, key */
    int layer;
};

/* A named tensor of the adapter (PEFT's name) in params. */
struct lora_tensor {
    char name[96];
    size_t off, n;
    int64_t shape[2];
    int layer, tgt;             /* tgt -1: the score head */
    int is_b;
};

struct lora {
    struct lora_config cfg;
    float scale;                /* s */
    const struct model *m;      /* the base (borrowed; shapes only) */
    float *params, *grads;      /* (nparams) one allocation each; grads zeroed */
    size_t nparams;
    struct lora_tensor *tensors;
    int ntensors;
    struct lora_mm *mm;         /* (n_layers, LORA_NP) */
    float *score, *gscore;      /* (num_labels, C): MODEL_SEQ_CLS only */
    json_t *config;             /* adapter_config.json fields to carry, or NULL */
    char *base_name;            /* base_model_name_or_path */
    uint64_t seed;              /* dropout */
    uint64_t key;               /* the trainer's per-forward dropout key */
    int train;                  /* set by model_forward: a training forward */
    /* scratch, grown as needed */
    float *drop;                /* (threads, drop_w): a dropped input row */
    size_t drop_w;
    int drop_threads;
    float *bx, *bu, *bdu;       /* backward: (N, IC) dropped x, (N, r) u and du */
    size_t bx_cap, bu_cap, bdu_cap;
};

/*
 * A new adapter for m (borrowed: it must outlive the result) with cfg:
 * A from seed as PEFT, B zero; for a MODEL_SEQ_CLS m the score head copied
 * from m.  base_name: base_model_name_or_path (copied; may be NULL).
 * Dies on a bad cfg (the caller checks its options first).  New.
 */
struct lora *lora_new(const struct model *m, const struct lora_config *cfg, uint64_t seed,
                      const char *base_name);
void lora_free(struct lora *lo);

/*
 * Reads dir's adapter_config.json and adapter_model.safetensors for m
 * (F32, BF16, F16).  Every adapter tensor of the config's targets must be
 * there with its shape, and no other (for a MODEL_SEQ_CLS m, the score
 * head base_model.model.score.weight too).  New, or NULL with
 * "FILE: field 'x': what is wrong" appended to err.
 */
struct lora *lora_load(const char *dir, const struct model *m, struct sbuf *err);

/*
 * Writes lo as the adapter directory dir, atomically as checkpoints are
 * (ckpt.h): adapter_config.json, adapter_model.safetensors (F32), and when
 * o is not NULL optimizer.safetensors and trainer_state.json with
 * state_extra merged in.  0, or -1 with a message.
 */
int lora_save(const struct lora *lo, const char *dir, const struct optim *o,
              const json_t *state_extra, struct sbuf *err);

/* Zeroes lo->grads.  (Every tensor of an adapter is a matrix: all decay.) */
void lora_zero_grad(struct lora *lo);

/*
 * Adds s B A to every adapted weight of m (and copies the score head):
 * m becomes the merged model.  m must be lo's base shape.
 */
void lora_merge(const struct lora *lo, struct model *m);

/* Content hash of the adapter (config and every parameter bit). */
uint64_t lora_hash(const struct lora *lo, uint64_t h);

/* ---- what block.c and model.c call ---- */

/* Most floats per row BOP_LORA_A writes for one product: 3 r. */
size_t lora_row_floats(const struct lora *lo);
/* Chunks of product mm's A step over R rows. */
int lora_a_chunks(const struct lora_mm *mm, int R);
/*
 * Chunk c of u (R, n r) = s drop(in) A_i^T, in (R, IC); tid indexes the
 * dropout scratch (a training forward with dropout only).
 */
void lora_a_run(const struct lora_mm *mm, const struct kernels *K, float *u, const float *in,
                int R, int c, int tid);
/*
 * out[r][o] += u_i[r0 + r] . B_i[o - col_i] for the chunk's R rows from
 * r0 and columns o in [c0, c1) of adapter i's target (out at the chunk's
 * first row, ldo the product's row stride; u from row 0, as
 * lora_a_run() wrote it).
 */
void lora_mm_add(const struct lora_mm *mm, const struct kernels *K, float *out, size_t ldo,
                 const float *u, int r0, int R, int c0, int c1);
/* Sizes the dropout scratch for a training forward on nthreads threads. */
void lora_reserve(struct lora *lo, int nthreads);

/*
 * The backward of layer l's product p given dout (N, OC) and its input x
 * (N, IC): grads of A and B accumulate, din (N, IC) += the adapter's part.
 */
void lora_backward(struct lora *lo, int l, enum lora_prod p, float *din, const float *dout,
                   const float *x, size_t N);

/* The head's weights and gradient for MODEL_SEQ_CLS: lo's copy. */
const float *lora_score(const struct lora *lo);

#endif
