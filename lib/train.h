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
 *   grpo  r = exp(logp - old);  A = advantage[s] (+ distill (ref - old))
 *         w_is the importance weight of the sampler's policy (below)
 *         ppo        l = -w_is min(r A, clip(r, 1 - clip_low, 1 + clip_high) A)
 *                    (clipped surrogate of PPO, Schulman 2017,
 *                    arXiv:1707.06347, eq. 7, with DAPO's separate upper
 *                    bound, Yu 2025, arXiv:2503.14476, eq. 10)
 *         gspo       the same with r replaced by the segment's
 *                    s = exp(1/n sum_t (logp_t - old_t)) and the gradient
 *                    through s (Zheng 2025, GSPO, arXiv:2507.18071, eq. 5
 *                    and 7)
 *         gspo-token the same value, the gradient of
 *                    s_t = sg[s] exp(logp_t - sg[logp_t]) (GSPO eq. 13-14)
 *         cispo      l = -w_is sg[clip(r, 1 - clip_low, 1 + clip_high)] A logp
 *                    (MiniMax-M1, arXiv:2506.13585, eq. 4)
 *         + beta k(logp, ref), d = logp - ref (Schulman 2020,
 *                    http://joschu.net/blog/kl-approx.html):
 *                    k1 = d;  k2 = d^2 / 2;  k3 = e^-d + d - 1 (GRPO's,
 *                    Shao 2024, arXiv:2402.03300, eq. 4)
 *         - ent_coef H_t, H_t the entropy of the prediction of token t
 *         The sampler's log-probabilities (the records' old_logprobs, b):
 *         when old is the trainer's own first pass, the tokens were drawn
 *         from b, not from old, and the importance weight corrects for it
 *         (truncated importance sampling, Yao et al. 2025, "Your efficient
 *         RL framework secretly brings you off-policy RL training",
 *         https://fengyao.notion.site/off-policy-rl; the masked form of
 *         Liu et al. 2025, "When speed kills stability"):
 *         token      rho_t = exp(old_t - b_t)
 *         seq        rho_t = exp(sum_u (old_u - b_u)) over the segment
 *         truncate   w_is = min(rho, C);   mask   w_is = rho [rho <= C]
 *         Where the floats agree bit for bit, rho = 1 exactly and w_is = 1.
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
 * With an adapter on the model (m->lora, lora.h) the step trains the
 * adapter alone: the optimizer runs over lora->params (o sized
 * lora->nparams), the base gets no gradient, and each micro-batch's
 * dropout masks are keyed by (optimizer step, iter, micro-batch).
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

enum train_objective {
    TRAIN_OBJ_PPO = 0,
    TRAIN_OBJ_GSPO,
    TRAIN_OBJ_GSPO_TOKEN,
    TRAIN_OBJ_CISPO,
};

enum train_kl {
    TRAIN_KL_K3 = 0,
    TRAIN_KL_K1,
    TRAIN_KL_K2,
};

enum train_is {
    TRAIN_IS_OFF = 0,
    TRAIN_IS_TOKEN,
    TRAIN_IS_SEQ,
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
    enum train_objective obj;  /* grpo: the surrogate */
    enum train_kl kl;          /* grpo: the estimator under beta */
    float ent_coef;            /* grpo: entropy bonus */
    float distill;             /* grpo: coefficient of ref - old in A (0: off) */
    enum train_is is_level;    /* grpo: importance weights of the sampler */
    int is_mask;               /* 1 mask, 0 truncate at is_cap */
    float is_cap;              /* C */
    float temperature;         /* logits / temperature before the softmax */
    float margin;              /* rm: added to each pair's own margin */
    float norm_len;            /* seq-mean-token-sum-norm: C (0 = largest n_s) */
    int recompute_old;         /* grpo: old log-probs from the first pass */
    size_t micro_tokens;       /* tokens per forward (whole rows; >= 1) */
    /*
     * Mixtures of experts (both 0: off).  moe_seq_aux: alpha of the
     * sequence-wise balance loss (model.h), averaged over the global
     * batch's segments.  moe_bias_speed: gamma of the auxiliary-loss-free
     * balancing (DeepSeek-V3 report, 2.1.2; Wang et al. 2024,
     * arXiv:2408.15664, Algorithm 1): after each optimizer step every
     * sparse layer's e_score_correction_bias b_i += gamma sign(mean load -
     * load_i), the loads counted over the whole global batch (every
     * process's share), so the step is the same however it is cut.
     */
    float moe_seq_aux, moe_bias_speed;
};

/*
 * sft with token-mean; grpo ppo, clip 0.2/0.28, beta 0 (k3),
 * seq-mean-token-mean, token-level importance weights truncated at 2;
 * temperature 1; micro-batches of 4096 tokens.
 */
void train_config_default(struct train_config *c, enum train_mode mode);
/* "token-mean", ... -> agg; -1 if unknown.  And the name of one (static). */
int train_agg_parse(const char *s, enum train_agg *out);
const char *train_agg_name(enum train_agg a);
/* "ppo", "gspo", "gspo-token", "cispo"; "k1", "k2", "k3"; -1 if unknown. */
int train_objective_parse(const char *s, enum train_objective *out);
int train_kl_parse(const char *s, enum train_kl *out);
/* The estimator k(logp, ref) and dk/dlogp into *dk (see above). */
double train_kl_value(enum train_kl kind, double logp, double ref, double *dk);

/* What one step measured (sums reset by train_step). */
struct train_stats {
    double loss;           /* the aggregated loss */
    double lr, grad_norm;  /* the step's learning rate, norm before clipping */
    size_t rows, segments, tokens, targets;
    /* grpo, over target tokens (ratio: r, or s for gspo) */
    double ratio_sum, ratio_max, kl_sum, entropy_sum, mismatch_sum;
    size_t clip_low, clip_high, mismatch_n;
    /* importance weights of the sampler: their sum, the tokens where
       the cap truncated or masked them, of is_n weighted tokens; the k3
       estimate of KL(sampler || trainer) summed over mismatch_n */
    double is_sum, mismatch_kl_sum;
    size_t is_capped, is_n;
    /* the records' old log-probs against the first pass's: the largest
       |difference| and the tokens whose floats differ at all */
    double mismatch_max;
    size_t mismatch_ndiff;
    double moe_aux_loss;   /* the sequence-wise balance loss (moe_seq_aux) */
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
 * PPO loss of one token (before weighting, without w_is and entropy) and
 * dl/dlogp into *dlogp.  *clip receives -1 when the lower bound clipped
 * the gradient away, 1 for the upper bound, else 0; *kl the estimate of
 * c->kl (0 without ref).
 */
double train_grpo_token(const struct train_config *c, float logp, float old, const float *ref,
                        float adv, float *dlogp, int *clip, double *kl);

/*
 * Importance weights of the sampler for rows (token-aligned; b the
 * sampler's log-probs, old the trainer's): w_is into isw (1 off targets
 * and where c->is_level is off), counts into st.
 */
void train_is_weights(const struct train_config *c, const struct pack_row *rows,
                      size_t nrows, const float *old, const float *b, float *isw,
                      struct train_stats *st);

/*
 * Loss over token-aligned arrays for rows (sft or grpo): logp[t] is the
 * trainer's log-probability of ids[t], old[t] the old policy's, isw[t]
 * the importance weight (NULL: 1), ent[t] the entropy of its prediction
 * (NULL: no bonus) (grpo), w[t] from train_weights().  Writes dlogp and
 * dent (NULL, or dL/dent; 0 off targets), adds to st, returns
 * sum_t w[t] l_t.
 */
double train_token_loss(const struct train_config *c, const struct pack_row *rows,
                        size_t nrows, const float *w, const float *logp, const float *old,
                        const float *isw, const float *ent, float *dlogp, float *dent,
                        struct train_stats *st);

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
    float *tent, *tdent, *dent;
    size_t cap_tok, cap_seg;
    int *routes;                 /* (cap_routes) the batch's routes (pack_row_routes()) */
    size_t cap_routes;
    float *w;             /* (batch tokens) */
    size_t cap_w;
    float *isw;           /* (share tokens) importance weights of iter 0 */
    size_t cap_isw;
    struct train_stats mm;/* the mismatch of iter 0, repeated at later iters */
    struct pack_row *sub; /* the rows of this process, and their weights */
    float *subw;
    size_t cap_sub, cap_subw;
    train_reduce_fn reduce;
    void *reduce_ctx;
    uint64_t *load0;      /* (n_layers n_experts) expert load before the step */
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
 * (rows[i].old is allocated or overwritten), and the importance weights
 * of the records' old_logprobs against them are kept for the later iters
 * of the same batch; st->mismatch_* compare the records' old_logprobs
 * with the trainer's at iter 0 (repeated at later iters).  Fills st.
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
