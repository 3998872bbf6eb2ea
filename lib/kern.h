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
 * out += that when acc, for r in [0, R) and o in [o0, o1).  Each element is
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
/*
 * The same for nq <= KERN_ATT_Q queries over the same keys: S[i * lds + j]
 * the score of q[i] and key j; o[i][d] += sum_j P[i * ldp + j] V[j][d].
 * Each element is computed exactly as scores_fn and wsum_fn compute it for
 * one query: the queries only share the loads of the keys and values.
 */
typedef void scoresq_fn(float *S, size_t lds, const float *const *q, int nq, const float *K,
                        size_t ldk, int n, int hd, float scale);
typedef void wsumq_fn(float *const *o, const float *P, size_t ldp, int nq, const float *V,
                      size_t ldv, int n, int hd);

#define KERN_ATT_Q 4    /* queries of one kern_attend_block call, at most */

struct kernels {
    enum infer_kernel id;
    mm_fn *mm;
    scores_fn *scores;
    wsum_fn *wsum;
    scoresq_fn *scoresq;
    wsumq_fn *wsumq;
};


/* The kernels of k (AUTO: the best the CPU has); dies if the CPU lacks k. */
struct kernels kernels_for(enum infer_kernel k);
/* Whether this CPU runs k. */
int kern_cpu_has(enum infer_kernel k);
const char *infer_kernel_name(enum infer_kernel k);

/*
 * The attention of nq <= KERN_ATT_Q query rows q[i] (hd floats) over
 * shared keys: key j is row j of span 0 (kb[0], values vb[0], row stride
 * ld[0]) for j < n0, and row j - n0 of span 1 after it; query i sees
 * keys 0 .. nk[i] - 1.  For each query: scores scale * q.k, softmax (the
 * maximum, expf, summed in key order), the weighted sum of the values in
 * key order, divided by the sum; o[i] (hd) is written and lse[i] gets
 * the log-sum-exp of the scores.  S holds nq * lds floats of scratch,
 * lds >= max nk.  Every query's result is the same float whatever the
 * other queries of the call: a row decoded alone equals the same row
 * computed in a block.
 */
void kern_attend_block(const struct kernels *K, int nq, float *const *o, float *S, size_t lds,
                       const float *const *q, const int *nk, const float *const kb[2],
                       const float *const vb[2], const size_t ld[2], int n0, int hd,
                       float scale, float *lse);

/*
 * ---- bf16 weights, fp32 accumulation (kern_bf16.c) ----
 *
 * A bf16 is the top half of an fp32 (uint16_t storage).  Conversion from
 * fp32 rounds to nearest, ties to even, on the bits: subnormals are kept
 * (rounded like any other value), overflow gives infinity, a NaN stays a
 * NaN with its sign and top payload bits and the quiet bit set.  The
 * conversions are the same bits in every kernel set (vectorized where the
 * CPU allows).
 *
 * The product out = in . W^T with W bf16 is defined for every kernel set
 * the same way, as one chain per output element:
 *
 *     acc = +0.0f;  for k = 0 .. K-1:  acc = fl(acc + a[k] * w[o][k])
 *     out = acc + bias[o]   (or out += acc when acc is set)
 *
 * where a[k] is the activation rounded to bf16 (fp32 activations are
 * rounded as above; bf16 ones used as they are) and each product is exact
 * (two 8-bit significands fit in fp32's 24).  No lanes over k, no tree:
 * each element is its own chain in k order.  So a row's output is bit-
 * identical whatever R, the row blocking, the column range and the
 * threads, and it is the same float in the portable C loop, AVX2 and
 * AVX-512F (bf16 widened in registers, one FMA per k) and AVX512_BF16
 * (vdpbf16ps with each pair's halves swapped so that the even k is added
 * first, as the SDM gives its order); test_kern_bf16 checks each against
 * the chain bit for bit.
 *
 * AMX (tdpbf16ps) is the exception: on the Xeons measured it does not add
 * in the SDM's order.  One pair of k is added as the pair's sum rounded
 * (acc + fl(p0 + p1)), and a tile's 16 pairs are summed in a way none of
 * the sequential orders and roundings tried gives.  So the AMX set is its
 * own arithmetic, within the same error bound (test_kern_bf16): it uses
 * tiles for every R (tiles of R rows under 16, so padding costs nothing),
 * a tile's column being one element's sum and k-tiles of 32 following
 * each other into the same accumulator tile, so a row's output is still
 * bit-identical whatever R, the blocking and the threads.  gen, logp and
 * update take the best set the CPU has (KERN16_AUTO), so on one machine
 * they agree bit for bit; samples drawn on an AMX machine and trained on
 * one without (or the reverse) differ within the bound, which update's
 * log-prob mismatch metrics show.
 * One exception: the bf16 instructions treat subnormal inputs and results
 * as zero (DAZ, FTZ) while the C, AVX2 and AVX-512F sets do not, so on
 * data whose products or partial sums fall below 2^-126 the hardware bf16
 * sets can differ from the others (never from themselves).
 */
#include <stdint.h>

typedef uint16_t bf16;

bf16 bf16_from_f32(float x);
float bf16_to_f32(bf16 h);
/* dst[i] = bf16_from_f32(src[i]) / bf16_to_f32(src[i]) for i < n. */
void bf16_from_f32_n(bf16 *dst, const float *src, size_t n);
void bf16_to_f32_n(float *dst, const bf16 *src, size_t n);
/*
 * Rounds and transposes columns [c0, c1) of the fp32 rows src (rows x
 * lds): dst[c * ldd + r] = bf16(src[r * lds + c]) for r < rows.  The same
 * bits as bf16_from_f32 element by element.
 */
void bf16_from_f32_t(bf16 *dst, size_t ldd, const float *src, size_t lds, size_t rows,
                     int c0, int c1);

/*
 * An O x K bf16 weight matrix packed for the kernels: panels of
 * KERN16_PANEL output rows, each panel Kp / 2 pairs of k (Kp = K rounded
 * up to 32), each pair the panel's 16 rows' (w[o][2p], w[o][2p + 1]):
 * element ((j * Kp / 2 + p) * 16 + n) * 2 + h is w[16 j + n][2 p + h],
 * zero past O and K.  64-byte aligned.  This is AMX's B-tile layout; the
 * other sets read it the same way.
 */
#define KERN16_PANEL 16
struct bf16w {
    bf16 *p;
    int O, K, Kp;
};

/* A zeroed packed matrix; free with bf16w_free. */
void bf16w_alloc(struct bf16w *w, int O, int K);
void bf16w_free(struct bf16w *w);
/*
 * Packs rows [o0, o1) of W (row o at W + o * ldw, K values), fp32
 * (rounded) or bf16 (as stored); o0 and o1 multiples of KERN16_PANEL or
 * o1 = O, so threads may pack disjoint ranges.
 */
void bf16w_pack_f32(struct bf16w *w, const float *W, size_t ldw, int o0, int o1);
/*
 * Packs panels [j0, j1) of w (O x K) from the transpose of the fp32 rows
 * S (K x O, stride ld): w[o][k] = bf16(S[k][o]).
 */
void bf16w_pack_f32_t(struct bf16w *w, const float *S, size_t ld, int j0, int j1);
void bf16w_pack_bf16(struct bf16w *w, const bf16 *W, size_t ldw, int o0, int o1);
/* w[o][k] */
bf16 bf16w_at(const struct bf16w *w, int o, int k);

enum kern16 {
    KERN16_AUTO = 0,   /* the best the CPU supports */
    KERN16_C,          /* portable C */
    KERN16_AVX2,       /* AVX2 + FMA, bf16 widened in registers */
    KERN16_AVX512,     /* AVX-512F, bf16 widened in registers */
    KERN16_AVX512BF16, /* AVX512_BF16 vdpbf16ps */
    KERN16_AMX,        /* AMX-BF16 tiles, for every R */
};

/*
 * out[r * ldo + o] = chain(in row r, W row o) (+ bias[o]), or += when acc,
 * for r < R and o in [o0, o1); in is fp32 (mm16, rounded to bf16 in the
 * kernel) or bf16 (mm16b), row r at in + r * ldi, W->K values.  A call
 * allocates scratch for its R rows' activations; callers that multiply
 * the same activations by several matrices may convert them once
 * (bf16_from_f32_n) and call mm16b.
 */
typedef void mm16_fn(float *out, size_t ldo, const float *in, size_t ldi,
                     const struct bf16w *W, int R, int o0, int o1, const float *bias, int acc);
typedef void mm16b_fn(float *out, size_t ldo, const bf16 *in, size_t ldi,
                      const struct bf16w *W, int R, int o0, int o1, const float *bias, int acc);

struct kernels16 {
    enum kern16 id;
    mm16_fn *mm;
    mm16b_fn *mmb;
    /* the conversions this set uses (same bits in every set) */
    void (*from_f32)(bf16 *dst, const float *src, size_t n);
    void (*to_f32)(float *dst, const bf16 *src, size_t n);
};

/* The kernels of k (AUTO: the best the CPU has); dies if the CPU lacks k. */
struct kernels16 kernels16_for(enum kern16 k);
/* Whether this CPU runs k (for AMX: also asks Linux for the tile state). */
int kern16_cpu_has(enum kern16 k);
const char *kern16_name(enum kern16 k);

#endif
