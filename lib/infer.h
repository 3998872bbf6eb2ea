/*
 * infer.h - inference with a KV cache on a struct model's weights: prefill
 * a prompt once into a prefix cache that many sequences share, then
 * decode many sequences together, one token each per step.
 *
 * What it is: the forward pass of model.c, the same operations of
 * block.h (each layer defined once there), run over cache spans instead
 * of a packed batch: every matrix product runs over all rows of a step at
 * once, so the weights are read from memory once per step whatever the
 * batch.  What
 * it is not: a sampler (sampler.h) or a scheduler (gen.h decides which
 * sequences run together).
 *
 * Batch invariance: each row's results are a function of that row's
 * token, position and cache alone, bit for bit, whatever the other rows
 * of the step, their number, or the thread count (kern.h), and they equal
 * model_forward()'s for the same tokens: a completion token's log-prob
 * is the same float in gen, logp and update.
 *
 * Caches: a prefix holds the keys and values of a prompt (layer-major:
 * (n_layers, cap, KVD) for k and for v); a sequence holds those of its
 * own tokens and borrows a prefix, whose cache its attention reads
 * first.  The G samples of a prompt thus share one prompt cache.
 * Capacities grow by doubling; the buffers are kept for reuse.
 *
 *     struct infer *inf = infer_new(m, 32, 2);
 *     struct infer_prefix p;  infer_prefix_init(&p, inf);
 *     infer_prefill(inf, &p, ids, n, first_logits);       (V floats)
 *     struct infer_seq s[8], *sp[8];  infer_seq_init(&s[i], inf, &p) ...
 *     for (;;) { const float *lg = infer_decode(inf, sp, toks, 8); ... }
 *     infer_seq_release(&s[i]); infer_prefix_release(&p); infer_free(inf);
 *
 * Threading: a forward runs on the program's pool (pool.h; infer_new()
 * sizes it to nthreads) as one task per thread.  A forward is a chain of
 * phases cut into chunks that threads take from atomic counters, so
 * threads wait for chunks, never for each other: on a busy machine a
 * descheduled thread delays the rest by at most the chunk it holds.
 * OpenBLAS is not called during a forward.  A struct infer serves one
 * caller thread at a time.
 */
#ifndef POSTTRAIN_INFER_H
#define POSTTRAIN_INFER_H

#include <stddef.h>

#include "kern.h"
#include "model.h"

/* Rows one prefill forward processes at least (prompts go in chunks). */
#define INFER_PREFILL_CHUNK 64


struct infer;

/* A prompt's keys and values, shared by the sequences that continue it. */
struct infer_prefix {
    int len, cap;           /* tokens cached, room */
    float *k, *v;           /* (n_layers, cap, KVD) each, owned; MLA: v NULL, k the
                               latent and rope key (KVD = kv_lora_rank + rope) */
    int layers, kvd;
};

/* One sequence: a prefix (borrowed, may be NULL) plus its own tokens. */
struct infer_seq {
    const struct infer_prefix *prefix;
    int len, cap;
    float *k, *v;           /* (n_layers, cap, KVD) each, owned */
    int layers, kvd;
};

/*
 * New inference state for m (borrowed: it must outlive the result; only
 * its weights, config and adapter are read; an adapter, m->lora, is
 * attached before this call).  max_rows: most sequences decoded in
 * one step.  nthreads >= 1.  kernel: INFER_KERNEL_AUTO, or one to force
 * (dies if the CPU lacks it).  Result is new.
 */
struct infer *infer_new(const struct model *m, int max_rows, int nthreads,
                        enum infer_kernel kernel);
/* Stops the workers and frees; NULL is allowed. */
void infer_free(struct infer *inf);
/* The kernel in use and its name ("avx512", "avx2", "c"). */
enum infer_kernel infer_kernel_of(const struct infer *inf);
const char *infer_kernel_name(enum infer_kernel k);

void infer_prefix_init(struct infer_prefix *p, const struct infer *inf);
/* Forgets the tokens, keeps the buffers. */
void infer_prefix_reset(struct infer_prefix *p);
void infer_prefix_release(struct infer_prefix *p);

/* Starts s as the continuation of prefix p (borrowed; may be NULL). */
void infer_seq_init(struct infer_seq *s, const struct infer *inf,
                    const struct infer_prefix *p);
/* Restarts s on another prefix, keeping its buffers. */
void infer_seq_reset(struct infer_seq *s, const struct infer_prefix *p);
void infer_seq_release(struct infer_seq *s);

/*
 * Appends n >= 1 tokens to prefix p (at positions p->len, ...): their
 * keys and values go into p's cache.  logits (vocab floats, or NULL)
 * receives the logits after the last of them.  Dies when the positions
 * pass the model's max_position_embeddings.
 */
void infer_prefill(struct infer *inf, struct infer_prefix *p, const int *ids, int n,
                   float *logits);

/*
 * One step for n <= max_rows sequences (distinct): tokens[i] goes into
 * seqs[i] at position prefix len + own len.  Returns the (n, vocab)
 * logits, borrowed until the next call.
 */
const float *infer_decode(struct infer *inf, struct infer_seq *const *seqs,
                          const int *tokens, int n);

/*
 * The experts row r of the last forward (infer_decode()'s row r, or
 * infer_prefill()'s last chunk; r < 0: its last row) chose in each
 * sparse layer: model_route_width() ints into out, sparse layer by sparse
 * layer, top_k each, best first (model.h's routes).  Returns the count.
 */
int infer_routes(const struct infer *inf, int r, int *out);

/*
 * The matrix product of the chosen kernel, exposed for its tests:
 * out (R, OC) = in (R, IC) W^T (W (OC, IC)), or += when accumulate.
 */
void infer_matmul(enum infer_kernel k, float *out, const float *in, const float *W, int R,
                  int IC, int OC, int accumulate);

#endif
