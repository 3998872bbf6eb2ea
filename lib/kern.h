/*
 * kern.h - the forward pass's arithmetic kernels, shared by the training
 * forward (model.c) and the KV-cache forward (infer.c) so both compute
 * every value the same way: matrix products, attention scores and
 * weighted sums, and one attention row built from them.
 *
 * Batch invariance: every output element is one dot product accumulated
 * in a fixed order (vector lanes over the input dimension, then a fixed
 * reduction tree), wherever it falls in the blocking and whatever the
 * other rows of the call; callers split output rows and columns between
 * threads, never a sum.  So a token's result is the same float whether
 * it is decoded alone, in a batch, prefilled, or trained on in a packed
 * batch.  The set is chosen once per process from the CPU (AVX-512,
 * AVX2+FMA, or portable C): results are reproducible on one kind of
 * machine, not across kinds.
 */
#ifndef POSTTRAIN_KERN_H
#define POSTTRAIN_KERN_H

#include <stddef.h>

enum infer_kernel {
    INFER_KERNEL_AUTO = 0,  /* the best the CPU supports */
    INFER_KERNEL_C,         /* portable C */
    INFER_KERNEL_AVX2,      /* AVX2 + FMA */
    INFER_KERNEL_AVX512,    /* AVX-512F */
};

/*
 * out[r * ldo + o] = dot(in[r * ldi ...], W[o * IC ...]) (+ bias[o]), or
 * out += dot when acc, for r in [0, R) and o in [o0, o1).  Each element is
 * computed the same way wherever it falls in the blocking, which is what
 * makes a row's result independent of the batch and of the threads.
 */
typedef void mm_fn(float *out, size_t ldo, const float *in, size_t ldi, const float *W,
                   int R, int IC, int o0, int o1, const float *bias, int acc);
/*
 * Attention scores S[j] = scale * dot(q, K[j * ldk ...]) over hd, j < n:
 * each score summed in the same order whatever n and j.
 */
typedef void scores_fn(float *S, const float *q, const float *K, size_t ldk, int n, int hd,
                       float scale);
/*
 * o[d] += sum_j p[j] V[j * ldv + d], d < hd, j < n: for each d one chain
 * of additions in j order, so two calls over consecutive spans equal one.
 */
typedef void wsum_fn(float *o, const float *p, const float *V, size_t ldv, int n, int hd);

struct kernels {
    enum infer_kernel id;
    mm_fn *mm;
    scores_fn *scores;
    wsum_fn *wsum;
};


/* The kernels of k (AUTO: the best the CPU has); dies if the CPU lacks k. */
struct kernels kernels_for(enum infer_kernel k);
/* Whether this CPU runs k. */
int kern_cpu_has(enum infer_kernel k);
const char *infer_kernel_name(enum infer_kernel k);

/*
 * One query row's attention: scores scale * q.k over the keys of up to
 * two spans (nb[i] keys of kb[i], row stride ld[i], then the next span),
 * softmax (expf, summed in key order), the weighted sum of the values
 * vb[i] in key order, divided by the sum.  o (hd) is written; S holds
 * nb[0] + nb[1] floats of scratch.  Returns log-sum-exp of the scores.
 */
float kern_attend_row(const struct kernels *K, float *o, float *S, const float *q,
                      const float *const kb[2], const float *const vb[2], const size_t ld[2],
                      const int nb[2], int hd, float scale);

#endif
