/*
 * optim.h - AdamW with decoupled weight decay and bias correction
 * (Loshchilov & Hutter, arXiv:1711.05101; the update of PyTorch's
 * torch.optim.AdamW), global gradient-norm clipping, and the learning-rate
 * schedules: constant, and linear warmup + cosine decay to a minimum.
 *
 * The optimizer works on one flat parameter array (model.h keeps every
 * tensor in one allocation) with ranges excluded from weight decay
 * (norms and biases).  Gradient accumulation: run model_backward over
 * several micro-batches (it accumulates), then one optim_step() with
 * grad_scale = 1 / micro-batches (or a loss already normalised).
 *
 * State (moments, step, trainer RNG, config) is what ckpt.h saves to
 * optimizer.safetensors and trainer_state.json, so a resumed run takes
 * bit-identical steps.
 *
 *     struct optim_config oc;
 *     optim_config_default(&oc);                 (SFT: 5e-6 -> 1e-6 cosine)
 *     oc.total_steps = 1000;
 *     struct optim *o = optim_new(&oc, m->nparams);
 *     optim_no_decay(o, t->off, t->n);           (for each norm / bias)
 *     double gnorm = optim_step(o, m->params, m->grads, 1.0f);
 *     optim_free(o);
 */
#ifndef POSTTRAIN_OPTIM_H
#define POSTTRAIN_OPTIM_H

#include <stddef.h>

#include "util.h"

enum optim_schedule {
    OPTIM_CONSTANT = 0, /* lr, after the warmup */
    OPTIM_COSINE,       /* warmup, then cosine from lr to min_lr at total_steps */
};

struct optim_config {
    float lr;            /* peak learning rate */
    float min_lr;        /* floor of the cosine decay */
    float beta1, beta2;
    float eps;
    float weight_decay;  /* decoupled: p -= lr * wd * p */
    float grad_clip;     /* max global L2 norm; 0 = no clipping */
    enum optim_schedule schedule;
    long warmup_steps;   /* linear warmup: lr * (step + 1) / warmup_steps */
    long total_steps;    /* end of the cosine (min_lr after it) */
};

struct optim {
    struct optim_config cfg;
    size_t n;
    float *m, *v;        /* (n) first and second moments */
    long step;           /* steps taken so far */
    struct rng rng;      /* the trainer's RNG (shuffling), saved with the state */
    size_t nnd;
    size_t (*nodecay)[2]; /* (nnd) [offset, count] ranges without weight decay */
};

/*
 * The DeepSeek-V3 SFT setting: cosine 5e-6 -> 1e-6, betas (0.9, 0.95),
 * eps 1e-8, weight decay 0.1, clipping at 1.0, no warmup, 1000 steps.
 */
void optim_config_default(struct optim_config *c);
/* Name of a schedule ("constant", "cosine"), and back (-1 if unknown). */
const char *optim_schedule_name(enum optim_schedule s);
int optim_schedule_parse(const char *s, enum optim_schedule *out);

/* New optimizer over n parameters, moments zero, step 0.  Result is new. */
struct optim *optim_new(const struct optim_config *c, size_t n);
void optim_free(struct optim *o);
/* Excludes params [off, off + n) from weight decay. */
void optim_no_decay(struct optim *o, size_t off, size_t n);

/* Learning rate of step (0-based: the step about to be taken). */
double optim_lr(const struct optim_config *c, long step);
/* Global L2 norm of g (n), accumulated in double. */
double optim_grad_norm(const float *g, size_t n);

/*
 * One AdamW step on params with grads * grad_scale, clipped to
 * cfg.grad_clip in global norm.  Returns that norm before clipping.
 * grads is not modified.
 */
double optim_step(struct optim *o, float *params, const float *grads, float grad_scale);

#endif
