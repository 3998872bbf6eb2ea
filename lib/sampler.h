/*
 * sampler.h - next-token selection for gen: a chain of logit transforms
 * (temperature, top-k, top-p, min-p) ending in one selector (greedy or a
 * draw from the kept distribution), with the random state kept outside,
 * one stream per sample.
 *
 * The chain, in this order (HF transformers' and vLLM's order):
 *
 *   temperature T   z = logits / T.  No-op value 1.  T = 0 selects greedy
 *                   decoding: the argmax (lowest id among equal logits), no
 *                   random number drawn, the other transforms irrelevant.
 *   top-k K         keep the K largest z.  No-op value 0 (all).
 *   top-p P         keep the smallest set of most probable tokens whose
 *                   probability, renormalised over what is still kept,
 *                   reaches P (at least one token).  No-op value 1.
 *   min-p M         keep tokens with p >= M * p_max.  No-op value 0.
 *   selector        T > 0: one uniform draw u in [0, 1) from the sample's
 *                   stream; walking the kept tokens in id order, the
 *                   first where the cumulative probability (renormalised
 *                   over the kept set) exceeds u.
 *
 * Ties are broken by token id (lower first), so the result is a function
 * of (logits, configuration, random state) alone.
 *
 * The recorded log-probability is log softmax(logits / T)[token] over the
 * whole vocabulary, before top-k, top-p and min-p (T = 1 when greedy).
 * Truncation changes which tokens can be drawn, not the recorded value:
 * that is the quantity update recomputes for GRPO's importance ratio
 * (model_forward at the same temperature over the full vocabulary), so
 * the ratio is exactly 1 for an unchanged policy.  With truncation the
 * true draw probability is higher (renormalised over the kept set); the
 * recorded value is the policy's, not the truncated sampler's.
 *
 * Reproducibility: sampler_rng() derives a sample's stream from (seed,
 * prompt id, k) only, and each generated token consumes exactly one
 * number from it (none when greedy), so a sample does not depend on
 * batch size, threads or the other prompts of the input.
 *
 *     struct sampler_config sc = SAMPLER_CONFIG_INIT;
 *     sc.temperature = 0.7f; sc.top_p = 0.95f;
 *     struct sampler s;
 *     sampler_init(&s, &sc, vocab);
 *     struct rng r;
 *     sampler_rng(&r, seed, id, strlen(id), k);
 *     float lp;
 *     int tok = sampler_sample(&s, logits, &r, &lp);
 *     sampler_release(&s);
 *
 * A struct sampler owns a scratch array of vocab candidates and serves one
 * thread at a time; use one per thread.
 */
#ifndef POSTTRAIN_SAMPLER_H
#define POSTTRAIN_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct sampler_config {
    float temperature;  /* > 0, or 0 for greedy; no-op 1 */
    int top_k;          /* >= 0; no-op 0 */
    float top_p;        /* (0, 1]; no-op 1 */
    float min_p;        /* [0, 1]; no-op 0 */
};
#define SAMPLER_CONFIG_INIT { 1.0f, 0, 1.0f, 0.0f }

/* One candidate token: its id and scaled logit or probability. */
struct sampler_cand {
    float v;
    int id;
};

struct sampler {
    struct sampler_config cfg;
    int vocab;
    struct sampler_cand *cand;  /* (vocab) scratch, owned */
    float *prob;                /* (vocab) scratch, owned */
};

/* 0 if every field is in range, else -1 with a static reason in *why. */
int sampler_config_check(const struct sampler_config *c, const char **why);

/* Copies cfg (checked: dies if out of range); allocates the scratch. */
void sampler_init(struct sampler *s, const struct sampler_config *cfg, int vocab);
/* Frees the scratch; s may be initialised again. */
void sampler_release(struct sampler *s);

/*
 * Seeds r with the stream of sample k of the prompt whose id is the idlen
 * bytes at id, under the run's seed.
 */
void sampler_rng(struct rng *r, uint64_t seed, const char *id, size_t idlen, uint64_t k);

/*
 * The next token from one row of vocab logits (not modified).  *logprob
 * (if not NULL) receives the token's log softmax(logits / T) over the whole
 * vocabulary (T = 1 when greedy).  r may be NULL when greedy.
 */
int sampler_sample(struct sampler *s, const float *logits, struct rng *r, float *logprob);

#endif
