/*
 * gen.h - sampling G completions per prompt with continuous batching:
 * the scheduler between prompt ids in and finished samples out, on top
 * of infer.h (KV-cache forward), sampler.h (token selection) and tok.h
 * (text).
 *
 * How a run goes: up to `batch` sequences decode together, one token
 * each per forward.  When a slot frees up it takes the next sample of
 * the oldest prompt that has one left, or else the next prompt from the
 * caller, which is prefilled once: its cache and its last logits are
 * shared by its G samples, each drawing its first token from those
 * logits with its own random stream.  A sample ends at a stop token of
 * the chat format (finish "stop"; the token is kept in ids and logprobs,
 * not in the text), at a stop string (finish "stop"; the text ends with
 * the stop string), or after max_tokens tokens or at the end of the
 * context (finish "length").  Prompts are handed back whole (all G
 * samples, k order) and in the order they came, whatever order their
 * samples finished in; at most 4 * batch prompts are in flight.
 *
 * Reproducibility: a sample depends only on the model, its prompt ids,
 * its prompt id string, k, the seed and the sampler settings (see
 * infer.h and sampler.h), never on batch, threads or other prompts.
 *
 *     static int next(void *ctx, struct gen_prompt *p) { ... return 1; }
 *     static void emit(void *ctx, const struct gen_prompt *p,
 *                      const struct gen_sample *s, int G) { ... }
 *     struct gen *g = gen_new(m, tok, chat, &cfg);
 *     gen_run(g, next, emit, ctx);
 *     gen_free(g);
 */
#ifndef POSTTRAIN_GEN_H
#define POSTTRAIN_GEN_H

#include <stdint.h>

#include "chat.h"
#include "infer.h"
#include "model.h"
#include "sampler.h"
#include "tok.h"

struct gen_prompt;

struct gen_config {
    int G;                          /* samples per prompt, >= 1 */
    struct sampler_config sampler;
    int max_tokens;                 /* per sample, >= 1 */
    uint64_t seed;
    const char *const *stops;       /* stop strings (borrowed), nstops of them */
    int nstops;
    int batch;                      /* sequences decoded together, >= 1 */
    int threads;                    /* >= 1 */
    enum infer_kernel kernel;       /* INFER_KERNEL_AUTO */
    int unordered;                  /* emit each prompt as soon as it is done
                                       (serve), not in the order they came */
    int routes;                     /* keep each token's experts (gen_sample) */
    /* Called after each token of every sample (NULL: never), from
       gen_run's thread, with the sample's text so far (stop string cut). */
    void (*on_token)(void *ctx, const struct gen_prompt *p, int k, int id,
                     float logprob, const float *logits, const char *text,
                     size_t len);
};

/*
 * Settings of one prompt instead of the gen_config's (serve: one request
 * each).  G at most the gen_config's G.  *cancel (when not NULL) may be
 * set by any thread: the prompt's samples end at the next step with
 * finish "cancel" and it is emitted as soon as the running ones stop.
 */
struct gen_opts {
    int G;
    struct sampler_config sampler;
    int max_tokens;
    uint64_t seed;
    const char *const *stops;
    int nstops;
    const volatile int *cancel;
};

/* A prompt, as the caller's next() fills it. */
struct gen_prompt {
    void *user;                     /* the caller's, handed back by emit() */
    const char *id;                 /* names the random streams; borrowed until emit() */
    size_t idlen;
    const int *ids;                 /* n >= 1 ids, n < max_pos; copied by gen */
    int n;
    const struct gen_opts *opts;    /* NULL: the gen_config's; borrowed until emit() */
};

/* One finished sample, as emit() sees it (borrowed for the call). */
struct gen_sample {
    int k;
    const char *finish;             /* "stop", "length" (or "cancel") */
    const int *ids;                 /* completion ids */
    const float *logprobs;          /* one per id */
    /* with gen_config.routes, (n, model_route_width()): the experts of the
       forward whose logits gave each id (model.h's routes), else NULL */
    const int *routes;
    int n;
    const char *text;               /* completion text, NUL-terminated */
    size_t len;
};

/*
 * Returns 1 with *p filled, 0 at the end of the input, or -1 when there
 * is no prompt now (gen decodes what it has and asks again next step).
 */
typedef int gen_next_fn(void *ctx, struct gen_prompt *p);
/* Receives a prompt (ids: gen's copy) and its G samples, k = 0..G-1
   (G: the prompt's opts->G when it has opts). */
typedef void gen_emit_fn(void *ctx, const struct gen_prompt *p, const struct gen_sample *s,
                         int G);

struct gen_stats {
    long prompts;                   /* emitted */
    long samples;
    long tokens;                    /* generated */
    long prompt_tokens;             /* prefilled */
    double seconds;                 /* since gen_run started */
};

/*
 * New generator on model m, tokenizer t and chat format c (all borrowed;
 * they must outlive it; c gives the stop tokens).  cfg is copied; dies
 * when a field is out of range.  Sizes lib/pool to cfg->threads (pool.h).
 */
struct gen *gen_new(const struct model *m, const struct tok *t, const struct chat *c,
                    const struct gen_config *cfg);
/* Runs until next() returns 0 and every prompt has been emitted. */
void gen_run(struct gen *g, gen_next_fn *next, gen_emit_fn *emit, void *ctx);
/* Counters so far (callable from emit()). */
void gen_get_stats(const struct gen *g, struct gen_stats *st);
/* The inference kernel in use ("avx512", ...). */
const char *gen_kernel_name(const struct gen *g);
void gen_free(struct gen *g);

#endif
