/*
 * train.h - the losses of update(1) and its optimizer step over a global
 * batch of packed rows (pack.h), with micro-batches and gradient
 * accumulation.  What it is not: record reading, checkpoints (ckpt.h) or
 * the optimizer itself (optim.h).
 *
 * Losses (per target token t of segment s, logp the trainer's
 * log-probability of ids[t] at the temperature):
 *
 *   sft   l = -logp
 *   grpo  r = exp(logp - old);  A = advantage[s]
 *         l = -min(r A, clip(r, 1 - clip_low, 1 + clip_high) A)
 *             + beta (exp(ref - logp) - (ref - logp) - 1)
 *         (clipped surrogate of PPO, Schulman 2017, arXiv:1707.06347, with
 *         DAPO's separate upper bound, Yu 2025, arXiv:2503.14476; the k3
 *         KL estimator, Schulman 2020, http://joschu.net/blog/kl-approx.html,
 *         as GRPO uses it, Shao 2024, arXiv:2402.03300)
 *   rm    per pair (chosen c, rejected j of one prompt), scores from the
 *         scalar head: l = -log sigmoid(score_c - score_j - margin)
 *         (Bradley-Terry; the margin of Llama 2, arXiv:2307.09288)
 *
 * Aggregation of token losses over the global batch (S segments that
 * have targets, n_s targets in segment s, T = sum n_s):
 *
 *   token-mean               sum_t l_t / T                (DAPO)
 *   seq-mean-token-mean      1/S sum_s 1/n_s sum_t l_t    (DeepSeekMath GRPO)
 *   seq-mean-token-sum-norm  1/S sum_s sum_t l_t / C      (Dr. GRPO,
 *                            Liu 2025, arXiv:2503.20783; C = norm_len, or
 *                            the largest n_s of the batch when 0)
 *
 * rm averages over the pairs of the batch.  The weights are fixed from the
 * whole global batch before any forward, so the gradient is the same
 * however the batch is cut into micro-batches (up to float summation
 * order), and the same however its samples were packed into rows.
 *
 *     struct trainer tr;
 *     trainer_init(&tr, &cfg, model, opt);
 *     for (iter = 0; iter < mu; iter++)
 *         train_step(&tr, rows, nrows, iter, &st);   (one optimizer step)
 *     trainer_release(&tr);
 */
#ifndef POSTTRAIN_TRAIN_H
#define POSTTRAIN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "optim.h"
#include "pack.h"

enum train_mode {
    TRAIN_SFT = 0,
    TRAIN_GRPO,
    TRAIN_RM,
};

enum train_agg {
    TRAIN_TOKEN_MEAN = 0,
    TRAIN_SEQ_MEAN_TOKEN_MEAN,
    TRAIN_SEQ_MEAN_TOKEN_SUM_NORM,
};

struct train_config {
    enum train_mode mode;
    enum train_agg agg;
    float clip_low, clip_high; /* grpo: r clipped to [1 - low, 1 + high] */
    float beta;                /* grpo: KL coefficient; 0 needs no ref_logprobs */
    float temperature;         /* logits / temperature before the softmax */
    float margin;              /* rm: added to each pair's own margin */
    float norm_len;            /* seq-mean-token-sum-norm: C (0 = largest n_s) */
    int recompute_old;         /* grpo: old log-probs from the first pass */
    size_t micro_tokens;       /* tokens per forward (whole rows; >= 1) */
};

/*
 * sft with token-mean; grpo clip 0.2/0.28, beta 0, seq-mean-token-mean;
 * temperature 1; micro-batches of 4096 tokens.
 */
void train_config_default(struct train_config *c, enum train_mode mode);
/* "token-mean", ... -> agg; -1 if unknown.  And the name of one (static). */
int train_agg_parse(const char *s, enum train_agg *out);
const char *train_agg_name(enum train_agg a);

/* What one step measured (sums reset by train_step). */
struct train_stats {
    double loss;           /* the aggregated loss */
    double lr, grad_norm;  /* the step's learning rate, norm before clipping */
    size_t rows, segments, tokens, targets;
    /* grpo, over target tokens */
    double ratio_sum, kl_sum, entropy_sum, mismatch_sum;
    size_t clip_low, clip_high, mismatch_n;
    /* the records' old log-probs against the first pass's: the largest
       |difference| and the tokens whose floats differ at all */
    double mismatch_max;
    size_t mismatch_ndiff;
    /* rm */
    size_t pairs, correct;
    double score_diff_sum;
};

/* ---- Losses, without a model (the tests check them by hand) ---- */

/*
 * Per-target weights of the aggregation over rows (token-aligned with the
 * rows laid end to end; 0 where loss_mask is 0): w (total tokens).
 */
void train_weights(const struct train_config *c, const struct pack_row *rows, size_t nrows,
                   float *w);

/*
 * GRPO loss of one token (before weighting) and dl/dlogp into *dlogp.
 * *clip receives -1 when the lower bound clipped the gradient away, 1 for
 * the upper bound, else 0; *kl the k3 estimate (0 without ref).
 */
double train_grpo_token(const struct train_config *c, float logp, float old, const float *ref,
                        float adv, float *dlogp, int *clip, double *kl);

/*
 * Loss over token-aligned arrays for rows (sft or grpo): logp[t] is the
 * trainer's log-probability of ids[t], old[t] the old policy's (grpo),
 * w[t] from train_weights().  Writes dlogp (0 off targets), adds to st,
 * returns sum_t w[t] l_t.
 */
double train_token_loss(const struct train_config *c, const struct pack_row *rows,
                        size_t nrows, const float *w, const float *logp, const float *old,
                        float *dlogp, struct train_stats *st);

/*
 * Bradley-Terry loss over the pairs of rows given scores per segment
 * (rows end to end) and weight wpair per pair: returns the weighted sum,
 * writes dscores, adds to st.
 */
double train_pair_loss(const struct train_config *c, const struct pack_row *rows,
                       size_t nrows, const float *scores, double wpair, float *dscores,
                       struct train_stats *st);

/* ---- The step ---- */

/*
 * Sums over the processes of a data-parallel job (dist.h): the partial
 * gradients g (n floats), the stats as doubles d (nd) and counts u (nu),
 * each replaced in place by the sum over all processes.
 */
typedef void (*train_reduce_fn)(void *ctx, float *g, size_t n, double *d, size_t nd,
                                uint64_t *u, size_t nu);

struct trainer {
    struct train_config cfg;
    struct model *m;      /* borrowed */
    struct optim *o;      /* borrowed */
    /* scratch, grown to the largest micro-batch or batch seen */
    int *ids, *targets, *seg;
    unsigned char *mask;
    float *logp, *ent, *dlogp, *tlogp, *tdlogp, *told, *scores, *dscores;
    size_t cap_tok, cap_seg;
    float *w;             /* (batch tokens) */
    size_t cap_w;
    struct pack_row *sub; /* the rows of this process, and their weights */
    float *subw;
    size_t cap_sub, cap_subw;
    train_reduce_fn reduce;
    void *reduce_ctx;
};

/* m and o are borrowed; they must outlive tr. */
void trainer_init(struct trainer *tr, const struct train_config *c, struct model *m,
                  struct optim *o);
void trainer_release(struct trainer *tr);

/*
 * One optimizer step over the global batch rows[0..nrows): zero the
 * gradients, forward and backward each micro-batch, one AdamW step.
 * grpo: at iter 0, when cfg.recompute_old is set or a row has no
 * old_logprobs, the row's old log-probs become the current policy's
 * (rows[i].old is allocated or overwritten); st->mismatch_* compare the
 * records' old_logprobs with the trainer's at iter 0.  Fills st.
 */
void train_step(struct trainer *tr, struct pack_row *rows, size_t nrows, int iter,
                struct train_stats *st);

/*
 * Data parallelism: every process calls train_step_part with the same
 * global batch and its own share, mine[i] != 0 for the rows it computes
 * (mine NULL: all).  The aggregation weights come from the whole batch,
 * the forward and backward only from the rows of the share; then
 * reduce (trainer_set_reduce) sums the partial gradients and the stats
 * of every share, and each process takes the same optimizer step.  The
 * shares' gradients add up to train_step's up to float summation order.
 * Rows outside the share are left as they are (no old log-probs).
 */
void train_step_part(struct trainer *tr, struct pack_row *rows, size_t nrows,
                     const unsigned char *mine, int iter, struct train_stats *st);
/* The sum of train_step_part (NULL: none, one process). */
void trainer_set_reduce(struct trainer *tr, train_reduce_fn fn, void *ctx);

/*
 * Without a step: the loss of rows under the current model (sft: mean
 * token NLL; rm: the Bradley-Terry loss, st->correct the pairs ranked
 * right).  st may be NULL.
 */
double train_eval(struct trainer *tr, struct pack_row *rows, size_t nrows,
                  struct train_stats *st);

/*
 * Sets c->total_steps so that a cosine over nsteps optimizer steps
 * starting at global step start reaches min_lr at its last step.
 */
void train_schedule_span(struct optim_config *c, long start, long nsteps);

#endif
