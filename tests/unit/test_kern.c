/*
 * test_kern.c - kern.h's fp32 attention: for every kernel set this CPU
 * runs, kern_attend_block against a double-precision softmax attention
 * computed here (within 1e-5), and a query's result bit for bit the same
 * whatever the other queries of its call (alone, with 1 to 3 others,
 * with fewer or more keys, heads of one row or rows of one head), over
 * one span or two, head sizes that are and are not a multiple of the
 * vector width; the multi-query scores and sums against the one-query
 * ones bit for bit.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kern.h"
#include "util.h"

#define NKEY 70
#define MAXHD 80

static uint64_t rng = 88172645463325252ull;

static float
unif(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static void
fill(float *p, size_t n, float s)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = unif() * s;
}

/* Key j of the two spans (span 0 for j < n0). */
static const float *
key_at(const float *const kb[2], const size_t ld[2], int n0, int j)
{
    return j < n0 ? kb[0] + (size_t)j * ld[0] : kb[1] + (size_t)(j - n0) * ld[1];
}

/* softmax(scale q.k) v over keys 0..n-1, in double. */
static void
ref_attend(double *o, double *lse, const float *q, const float *const kb[2],
           const float *const vb[2], const size_t ld[2], int n0, int n, int hd, float scale)
{
    double s[NKEY], m = -INFINITY, sum = 0.0;
    int j, d;

    for (j = 0; j < n; j++) {
        const float *k = key_at(kb, ld, n0, j);
        s[j] = 0.0;
        for (d = 0; d < hd; d++)
            s[j] += (double)q[d] * k[d];
        s[j] *= scale;
        m = s[j] > m ? s[j] : m;
    }
    for (d = 0; d < hd; d++)
        o[d] = 0.0;
    for (j = 0; j < n; j++) {
        const float *v = key_at(vb, ld, n0, j);
        double p = exp(s[j] - m);
        sum += p;
        for (d = 0; d < hd; d++)
            o[d] += p * v[d];
    }
    for (d = 0; d < hd; d++)
        o[d] /= sum;
    *lse = m + log(sum);
}

/* One query alone, into o1 and its lse. */
static void
alone(const struct kernels *K, float *o1, float *lse1, float *S, const float *q, int nk,
      const float *const kb[2], const float *const vb[2], const size_t ld[2], int n0, int hd)
{
    float *o[1] = {o1};
    const float *qq[1] = {q};

    kern_attend_block(K, 1, o, S, NKEY, qq, &nk, kb, vb, ld, n0, hd, 0.125f, lse1);
}

static void
test_set(enum infer_kernel id)
{
    struct kernels K = kernels_for(id);
    static const int hds[] = {16, 64, 80, 7, 33};
    float *S = xmalloc(KERN_ATT_Q * NKEY * sizeof(float));
    float *ks = xmalloc((size_t)NKEY * 2 * MAXHD * sizeof(float));
    float *qs = xmalloc((size_t)KERN_ATT_Q * MAXHD * sizeof(float));
    size_t t;

    fill(ks, (size_t)NKEY * 2 * MAXHD, 1.0f);
    fill(qs, (size_t)KERN_ATT_Q * MAXHD, 2.0f);
    for (t = 0; t < sizeof(hds) / sizeof(hds[0]); t++) {
        int hd = hds[t], two, nq, i, d, bad = 0, far = 0;
        for (two = 0; two < 2; two++) {
            /* keys and values interleaved as in a q/k/v row; span 1 after 40 keys */
            const size_t ld[2] = {2 * MAXHD, 2 * MAXHD};
            const float *kb[2] = {ks, ks + 40 * ld[0]};
            const float *vb[2] = {ks + MAXHD, ks + 40 * ld[0] + MAXHD};
            int n0 = two ? 25 : INT_MAX;
            for (nq = 1; nq <= KERN_ATT_Q; nq++) {
                float out[KERN_ATT_Q][MAXHD], one[MAXHD], lse[KERN_ATT_Q], lse1;
                float *o[KERN_ATT_Q];
                const float *q[KERN_ATT_Q];
                int nk[KERN_ATT_Q];
                for (i = 0; i < nq; i++) {
                    o[i] = out[i];
                    q[i] = qs + (size_t)i * MAXHD;
                    /* causal rows (n, n+1, ...), or heads of one row (same n) */
                    nk[i] = (two ? 30 : 1) + (nq % 2 ? i * 7 : 0) + (t == 3 ? 0 : i);
                }
                kern_attend_block(&K, nq, o, S, NKEY, q, nk, kb, vb, ld, n0, hd, 0.125f,
                                  lse);
                for (i = 0; i < nq; i++) {
                    double ro[MAXHD], rl;
                    alone(&K, one, &lse1, S, q[i], nk[i], kb, vb, ld, n0, hd);
                    bad += memcmp(one, out[i], (size_t)hd * sizeof(float)) != 0 ||
                           memcmp(&lse1, &lse[i], sizeof(float)) != 0;
                    ref_attend(ro, &rl, q[i], kb, vb, ld, n0, nk[i], hd, 0.125f);
                    for (d = 0; d < hd; d++)
                        far += fabs(ro[d] - out[i][d]) > 1e-5;
                    far += fabs(rl - lse[i]) > 1e-5;
                }
            }
        }
        CHECK_MSG(bad == 0, "%s hd %d: %d queries differ from the same query alone",
                  infer_kernel_name(K.id), hd, bad);
        CHECK_MSG(far == 0, "%s hd %d: %d values off the double reference",
                  infer_kernel_name(K.id), hd, far);

        /* scoresq / wsumq against scores / wsum, query by query */
        {
            float Sq[KERN_ATT_Q * NKEY], S1[NKEY], start[KERN_ATT_Q][MAXHD];
            float oq[KERN_ATT_Q][MAXHD], o1[MAXHD];
            float *o[KERN_ATT_Q];
            const float *q[KERN_ATT_Q];
            int diff = 0;
            for (i = 0; i < KERN_ATT_Q; i++) {
                o[i] = oq[i];
                q[i] = qs + (size_t)i * MAXHD;
                fill(start[i], MAXHD, 1.0f);
                memcpy(oq[i], start[i], sizeof(oq[i]));
            }
            K.scoresq(Sq, NKEY, q, 3, ks, 2 * MAXHD, NKEY - 3, hd, 0.5f);
            fill(Sq + 3 * NKEY, NKEY, 1.0f);
            K.wsumq(o, Sq, NKEY, KERN_ATT_Q, ks + MAXHD, 2 * MAXHD, NKEY - 5, hd);
            for (i = 0; i < KERN_ATT_Q; i++) {
                if (i < 3) {
                    K.scores(S1, q[i], ks, 2 * MAXHD, NKEY - 3, hd, 0.5f);
                    diff += memcmp(S1, Sq + i * NKEY, (NKEY - 3) * sizeof(float)) != 0;
                }
                memcpy(o1, start[i], sizeof(o1));
                K.wsum(o1, Sq + i * NKEY, ks + MAXHD, 2 * MAXHD, NKEY - 5, hd);
                diff += memcmp(o1, oq[i], (size_t)hd * sizeof(float)) != 0;
            }
            CHECK_MSG(diff == 0, "%s hd %d: scoresq/wsumq differ from scores/wsum",
                      infer_kernel_name(K.id), hd);
        }
    }
    free(S);
    free(ks);
    free(qs);
}

int
main(void)
{
    test_set(INFER_KERNEL_C);
    if (kern_cpu_has(INFER_KERNEL_AVX2))
        test_set(INFER_KERNEL_AVX2);
    if (kern_cpu_has(INFER_KERNEL_AVX512))
        test_set(INFER_KERNEL_AVX512);
    return check_done();
}
