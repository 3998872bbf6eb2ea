/*
 * adv.h - group-relative advantages (GRPO and its variants) and the
 * streaming driver of advantage(1).
 *
 * A group is the G samples of one prompt, with rewards r_1..r_G.  The
 * advantage of sample i is
 *
 *     A_i = (r_i - b_i) / (s + eps)     scale "group" or "batch"
 *     A_i =  r_i - b_i                  scale "none"
 *
 * with the baseline b_i
 *
 *     b_i = mean(r)                     baseline "mean"  (GRPO)
 *     b_i = (sum(r) - r_i) / (G - 1)    baseline "loo"   (RLOO)
 *
 * and s the standard deviation of the group's rewards (scale "group") or
 * of every reward of the batch (scale "batch"), with the sample (n - 1)
 * convention of torch.std, which TRL and veRL use, or the population (n)
 * one on request.
 *
 *   GRPO      mean, group     Shao et al. 2024, DeepSeekMath, sec. 4.1.2
 *                             (arXiv:2402.03300)
 *   Dr. GRPO  mean, none      Liu et al. 2025, "Understanding R1-Zero-Like
 *                             Training: A Critical Perspective"
 *                             (arXiv:2503.20783)
 *   RLOO      loo,  none      Ahmadian et al. 2024, "Back to Basics:
 *                             Revisiting REINFORCE Style Optimization"
 *                             (arXiv:2402.14740)
 *   batch std mean, batch     Liu et al. 2025, "Tricks or Traps? A Deep
 *                             Dive into RL for LLM Reasoning" (Lite PPO);
 *                             TRL's scale_rewards="batch"
 *
 * Reward shaping before the advantage (each an extra reward term):
 *
 *   overlong  R = 0                        L <= Lmax - Lc
 *             R = ((Lmax - Lc) - L) / Lc   Lmax - Lc < L <= Lmax
 *             R = -1                       L > Lmax, or finish "length"
 *             times a factor (DAPO's soft overlong punishment, Yu et al.
 *             2025, arXiv:2503.14476, eq. 13; L the completion's tokens)
 *   kl        R = -coef sum_t k(logprobs_t, ref_logprobs_t), k1/k2/k3 of
 *             train.h: the KL penalty folded into the reward, as veRL's
 *             use_kl_in_reward and OpenRLHF's
 *
 * Per-reward normalization (GDPO, Liu et al. 2026, "GDPO: Group
 * reward-Decoupled Normalization Policy Optimization for Multi-reward RL
 * Optimization", arXiv:2601.05242, eq. 4-6): each component r^k of the
 * sample (every number of its "rewards" object, then the shaping terms)
 * gets its own group advantage A_i^k (eq. 4), S_i = sum_k A_i^k (eq. 5),
 * and A_i = (S_i - mean(S)) / (std(S) + eps) over every sample of the
 * batch (eq. 6); a component that is uniform in the group adds 0 instead
 * of its constant drowning the others' scale.
 *
 * Invariant: a group whose rewards are all exactly equal (G = 1 included;
 * with per-reward: every component) gets A_i = 0 exactly, in every
 * variant: it carries no learning signal, and 0/0 never happens.  Hence
 * eps = 0 is allowed.
 *
 *     struct adv_opts o = ADV_OPTS_INIT;
 *     double r[4] = {1, 0, 0, 1}, a[4];
 *     int uniform = adv_compute(a, r, 4, &o, 0);   (a = +-0.866, ...)
 *
 * Everything but adv_run() needs only jansson and util.h.
 */
#ifndef POSTTRAIN_ADV_H
#define POSTTRAIN_ADV_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

enum adv_baseline {
    ADV_BASELINE_MEAN, /* b_i = mean(r) */
    ADV_BASELINE_LOO,  /* b_i = mean of the other G - 1 rewards */
};

enum adv_scale {
    ADV_SCALE_GROUP, /* divide by the group's std + eps */
    ADV_SCALE_BATCH, /* divide by the batch's std + eps */
    ADV_SCALE_NONE,  /* no division */
};

struct adv_opts {
    enum adv_baseline baseline;
    enum adv_scale scale;
    int population; /* 1: std divides by n, 0: by n - 1 */
    double eps;
};

/* GRPO as TRL's GRPOTrainer computes it (its default epsilon too). */
#define ADV_OPTS_INIT { ADV_BASELINE_MEAN, ADV_SCALE_GROUP, 0, 1e-4 }

/*
 * Running count, mean and sum of squared deviations (M2) of a set of
 * rewards, merged group by group with Chan et al.'s pairwise update, so
 * a batch's std needs no second look at its rewards and loses no
 * precision to sum-of-squares cancellation.
 */
struct adv_moments {
    double n, mean, m2;
};
#define ADV_MOMENTS_INIT { 0, 0, 0 }

/* Adds the n rewards r (borrowed) to m. */
void adv_moments_add(struct adv_moments *m, const double *r, size_t n);
/*
 * Standard deviation: sqrt(M2 / (n - 1)), or sqrt(M2 / n) with
 * population; 0 when there are fewer than 2 values (or none).
 */
double adv_moments_std(const struct adv_moments *m, int population);

/* 1 if the n rewards are all equal (n <= 1 included), else 0. */
int adv_uniform(const double *r, size_t n);

/*
 * Writes the n advantages of the rewards r to a (both borrowed; they may
 * not overlap).  batch_std is s for ADV_SCALE_BATCH, unused otherwise.
 * Returns 1 if the group is uniform (then every a_i is 0), else 0.
 */
int adv_compute(double *a, const double *r, size_t n, const struct adv_opts *o,
                double batch_std);

/* ---- advantage(1) ---- */

struct tool;

/* DAPO's overlong term of a completion of L tokens (see above; lc > 0). */
double adv_overlong(long L, long lmax, long lc, int truncated);

/*
 * sum_t k(a_t, b_t) over the sampler's log-probs a (logprobs, else
 * old_logprobs) and ref_logprobs b of rec, both read by
 * sample_get_logprobs (kind 1, 2, 3 for k1, k2, k3): 0 and *out, or -1
 * with *field (static) and the reason appended to why.
 */
int adv_kl_sum(const json_t *rec, int kind, double *out, const char **field,
               struct sbuf *why);

struct adv_run_opts {
    struct adv_opts adv;
    const char *key;   /* reward field or dotted path, "reward" */
    long group_size;   /* -G: every group must have this many; 0 = any */
    long batch;        /* ADV_SCALE_BATCH: groups per batch, 0 = all */
    int drop_uniform;  /* leave uniform groups out (DAPO dynamic sampling) */
    long overlong;     /* L_cache of the overlong term, 0 = none */
    long max_tokens;   /* its Lmax */
    double overlong_factor;
    double kl_coef;    /* KL folded into the reward, 0 = none */
    int kl_kind;       /* 1, 2, 3 */
    int per_reward;    /* GDPO: the components of "rewards" one by one */
    int mask_truncated;/* leave finish "length" samples out of the output */
    long min_policy;   /* refuse samples whose policy_step is below, -1 = any */
};

struct adv_counts {
    long groups, records;                 /* read and accepted */
    long uniform_groups, uniform_records; /* of those, uniform */
    long batches;                         /* ADV_SCALE_BATCH only */
    long truncated;                       /* left out by mask_truncated */
};

/*
 * Reads t's input group by group, adds "advantage" to every record and
 * writes it to t's output; uniform groups get 0, or are left out with
 * drop_uniform.  The shaping terms are written as rewards.overlong and
 * rewards.kl, added to "reward".  A group with a bad reward or the wrong size goes to t's
 * error policy whole.  With ADV_SCALE_BATCH, the groups of a batch are
 * spooled to an unlinked temporary file in $TMPDIR while their rewards'
 * moments are taken, then read back: memory stays one group whatever the
 * batch; so with per_reward, whose sums are normalized over the batch.
 * Fills c (zeroed first).  t must have been started.
 */
void adv_run(struct tool *t, const struct adv_run_opts *o, struct adv_counts *c);

#endif
