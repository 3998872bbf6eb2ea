/*
 * kern.c - the kernels of kern.h: portable C, AVX2+FMA and AVX-512
 * versions of the matrix product, attention scores and weighted sums,
 * and the attention row built on them.
 */
#include "kern.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#include "util.h"

static inline void
put(float *p, float v, const float *bias, int o, int acc)
{
    if (bias)
        v += bias[o];
    *p = acc ? *p + v : v;
}

/* ---- portable C: eight partial sums, then a fixed tree ---- */

static float
dot_c(const float *a, const float *b, int n)
{
    float s[8] = { 0 };
    int k = 0, j;

    for (; k + 8 <= n; k += 8)
        for (j = 0; j < 8; j++)
            s[j] += a[k + j] * b[k + j];
    for (j = 0; k < n; k++, j++)
        s[j] += a[k] * b[k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static void
scores_c(float *S, const float *q, const float *K, size_t ldk, int n, int hd, float scale)
{
    int j;

    for (j = 0; j < n; j++)
        S[j] = dot_c(q, K + (size_t)j * ldk, hd) * scale;
}

static void
wsum_c(float *o, const float *p, const float *V, size_t ldv, int n, int hd)
{
    int j, d;

    for (j = 0; j < n; j++)
        for (d = 0; d < hd; d++)
            o[d] += p[j] * V[(size_t)j * ldv + d];
}

static void
scoresq_c(float *S, size_t lds, const float *const *q, int nq, const float *K, size_t ldk,
          int n, int hd, float scale)
{
    int i;

    for (i = 0; i < nq; i++)
        scores_c(S + (size_t)i * lds, q[i], K, ldk, n, hd, scale);
}

static void
wsumq_c(float *const *o, const float *P, size_t ldp, int nq, const float *V, size_t ldv,
        int n, int hd)
{
    int i;

    for (i = 0; i < nq; i++)
        wsum_c(o[i], P + (size_t)i * ldp, V, ldv, n, hd);
}

static void
mm_c(float *out, size_t ldo, const float *in, size_t ldi, const float *W, int R, int IC,
     int o0, int o1, const float *bias, int acc)
{
    int o, r;

    for (o = o0; o < o1; o++) {
        const float *w = W + (size_t)o * IC;
        for (r = 0; r < R; r++)
            put(out + (size_t)r * ldo + o, dot_c(in + (size_t)r * ldi, w, IC), bias, o, acc);
    }
}

#if HAVE_X86
/* ---- AVX2 + FMA: 8 lanes, blocks of 4 weight rows x 2 input rows ---- */

#define T2 __attribute__((target("avx2,fma")))

/* Loads k..k+8 of p, or the n - k < 8 left with zeros after them. */
T2 static inline __m256
load8(const float *p, int k, int n)
{
    static const int idx[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

    if (k + 8 <= n)
        return _mm256_loadu_ps(p + k);
    return _mm256_maskload_ps(p + k, _mm256_loadu_si256((const __m256i *)(idx + 8 - (n - k))));
}

/* The sums of four vectors, as one 128-bit vector; a fixed tree for each. */
T2 static inline __m128
hsum4_256(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));

    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

T2 static void
scores_avx2(float *S, const float *q, const float *K, size_t ldk, int n, int hd, float scale)
{
    int j, k, i;

    for (j = 0; j < n; j += 4) {
        const float *kk[4];
        __m256 c[4];
        float r[4];
        for (i = 0; i < 4; i++) {
            kk[i] = K + (size_t)(j + i < n ? j + i : j) * ldk;
            c[i] = _mm256_setzero_ps();
        }
        for (k = 0; k < hd; k += 8) {
            __m256 a = load8(q, k, hd);
            for (i = 0; i < 4; i++)
                c[i] = _mm256_fmadd_ps(a, load8(kk[i], k, hd), c[i]);
        }
        _mm_storeu_ps(r, hsum4_256(c[0], c[1], c[2], c[3]));
        for (i = 0; i < 4 && j + i < n; i++)
            S[j + i] = r[i] * scale;
    }
}

T2 static void
wsum_avx2(float *o, const float *p, const float *V, size_t ldv, int n, int hd)
{
    int d, j, i;

    for (d = 0; d < hd; d += 32) {
        int w = PT_MIN(32, hd - d);
        __m256 c[4];
        for (i = 0; i < 4; i++)
            c[i] = i * 8 < w ? load8(o + d, i * 8, w) : _mm256_setzero_ps();
        for (j = 0; j < n; j++) {
            __m256 pj = _mm256_set1_ps(p[j]);
            const float *v = V + (size_t)j * ldv + d;
            for (i = 0; i < 4; i++)
                if (i * 8 < w)
                    c[i] = _mm256_fmadd_ps(pj, load8(v, i * 8, w), c[i]);
        }
        for (i = 0; i < 4 && i * 8 < w; i++) {
            float t[8];
            int e;
            _mm256_storeu_ps(t, c[i]);
            for (e = 0; e < 8 && i * 8 + e < w; e++)
                o[d + i * 8 + e] = t[e];
        }
    }
}

T2 static void
scoresq_avx2(float *S, size_t lds, const float *const *q, int nq, const float *K,
             size_t ldk, int n, int hd, float scale)
{
    int i;

    for (i = 0; i < nq; i++)
        scores_avx2(S + (size_t)i * lds, q[i], K, ldk, n, hd, scale);
}

T2 static void
wsumq_avx2(float *const *o, const float *P, size_t ldp, int nq, const float *V, size_t ldv,
           int n, int hd)
{
    int i;

    for (i = 0; i < nq; i++)
        wsum_avx2(o[i], P + (size_t)i * ldp, V, ldv, n, hd);
}

T2 static void
mm_avx2(float *out, size_t ldo, const float *in, size_t ldi, const float *W, int R, int IC,
        int o0, int o1, const float *bias, int acc)
{
    int o, r, k, i, j;

    for (o = o0; o < o1; o += 4) {
        int no = PT_MIN(4, o1 - o);
        const float *w[4];
        for (i = 0; i < 4; i++)
            w[i] = W + (size_t)(o + (i < no ? i : 0)) * IC;
        for (r = 0; r + 2 <= R; r += 2) {
            const float *x0 = in + (size_t)r * ldi, *x1 = x0 + ldi;
            __m256 c[4][2];
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
                c[i][0] = c[i][1] = _mm256_setzero_ps();
            for (k = 0; k < IC; k += 8) {
                __m256 a0 = load8(x0, k, IC), a1 = load8(x1, k, IC);
#pragma GCC unroll 4
                for (i = 0; i < 4; i++) {
                    __m256 b = load8(w[i], k, IC);
                    c[i][0] = _mm256_fmadd_ps(a0, b, c[i][0]);
                    c[i][1] = _mm256_fmadd_ps(a1, b, c[i][1]);
                }
            }
            for (j = 0; j < 2; j++) {
                float res[4];
                _mm_storeu_ps(res, hsum4_256(c[0][j], c[1][j], c[2][j], c[3][j]));
                for (i = 0; i < no; i++)
                    put(out + (size_t)(r + j) * ldo + o + i, res[i], bias, o + i, acc);
            }
        }
        for (; r < R; r++) {
            const float *x0 = in + (size_t)r * ldi;
            __m256 c[4];
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
                c[i] = _mm256_setzero_ps();
            for (k = 0; k < IC; k += 8) {
                __m256 a0 = load8(x0, k, IC);
#pragma GCC unroll 4
                for (i = 0; i < 4; i++)
                    c[i] = _mm256_fmadd_ps(a0, load8(w[i], k, IC), c[i]);
            }
            {
                float res[4];
                _mm_storeu_ps(res, hsum4_256(c[0], c[1], c[2], c[3]));
                for (i = 0; i < no; i++)
                    put(out + (size_t)r * ldo + o + i, res[i], bias, o + i, acc);
            }
        }
    }
}

/* ---- AVX-512: 16 lanes, blocks of 4 weight rows x 4 input rows ---- */

#define T5 __attribute__((target("avx512f")))

T5 static inline __m512
load16(const float *p, int k, int n)
{
    if (k + 16 <= n)
        return _mm512_loadu_ps(p + k);
    return _mm512_maskz_loadu_ps((__mmask16)((1u << (n - k)) - 1), p + k);
}

/* The sums of four vectors, as one 128-bit vector; a fixed tree for each. */
T5 static inline __m128
hsum4_512(__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
    __m256 s[4];
    __m512 a[4] = { a0, a1, a2, a3 };
    __m256 h;
    int i;

    for (i = 0; i < 4; i++) {
        __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[i]), 1));
        s[i] = _mm256_add_ps(_mm512_castps512_ps256(a[i]), hi);
    }
    h = _mm256_hadd_ps(_mm256_hadd_ps(s[0], s[1]), _mm256_hadd_ps(s[2], s[3]));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

T5 static void
scores_avx512(float *S, const float *q, const float *K, size_t ldk, int n, int hd,
              float scale)
{
    int j, k, i;

    for (j = 0; j < n; j += 4) {
        const float *kk[4];
        __m512 c[4];
        float r[4];
#pragma GCC unroll 4
        for (i = 0; i < 4; i++) {
            kk[i] = K + (size_t)(j + i < n ? j + i : j) * ldk;
            c[i] = _mm512_setzero_ps();
        }
        for (k = 0; k < hd; k += 16) {
            __m512 a = load16(q, k, hd);
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
                c[i] = _mm512_fmadd_ps(a, load16(kk[i], k, hd), c[i]);
        }
        _mm_storeu_ps(r, hsum4_512(c[0], c[1], c[2], c[3]));
        for (i = 0; i < 4 && j + i < n; i++)
            S[j + i] = r[i] * scale;
    }
}

T5 static void
wsum_avx512(float *o, const float *p, const float *V, size_t ldv, int n, int hd)
{
    int d, j, i;

    for (d = 0; d < hd; d += 64) {
        int w = PT_MIN(64, hd - d);
        __mmask16 m[4];
        __m512 c[4];
#pragma GCC unroll 4
        for (i = 0; i < 4; i++) {
            int left = w - i * 16;
            m[i] = left >= 16 ? (__mmask16)0xffff
                 : left > 0 ? (__mmask16)((1u << left) - 1) : (__mmask16)0;
            c[i] = _mm512_maskz_loadu_ps(m[i], o + d + i * 16);
        }
        for (j = 0; j < n; j++) {
            __m512 pj = _mm512_set1_ps(p[j]);
            const float *v = V + (size_t)j * ldv + d;
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
                c[i] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m[i], v + i * 16), c[i]);
        }
#pragma GCC unroll 4
        for (i = 0; i < 4; i++)
            _mm512_mask_storeu_ps(o + d + i * 16, m[i], c[i]);
    }
}

/*
 * NQ queries x 4 keys a block: the loads of each key row shared by the
 * queries, each score's lanes and tree those of scores_avx512.
 */
T5 static inline __attribute__((always_inline)) void
scoresq_n(float *S, size_t lds, const float *const *q, const int NQ, const float *K,
          size_t ldk, int n, int hd, float scale)
{
    int j, k, i, t;

    for (j = 0; j < n; j += 4) {
        const float *kk[4];
        __m512 c[KERN_ATT_Q][4], b[4];
        float r[4];
#pragma GCC unroll 4
        for (t = 0; t < 4; t++)
            kk[t] = K + (size_t)(j + t < n ? j + t : j) * ldk;
#pragma GCC unroll 4
        for (i = 0; i < NQ; i++)
#pragma GCC unroll 4
            for (t = 0; t < 4; t++)
                c[i][t] = _mm512_setzero_ps();
        for (k = 0; k < hd; k += 16) {
#pragma GCC unroll 4
            for (t = 0; t < 4; t++)
                b[t] = load16(kk[t], k, hd);
#pragma GCC unroll 4
            for (i = 0; i < NQ; i++) {
                __m512 a = load16(q[i], k, hd);
#pragma GCC unroll 4
                for (t = 0; t < 4; t++)
                    c[i][t] = _mm512_fmadd_ps(a, b[t], c[i][t]);
            }
        }
#pragma GCC unroll 4
        for (i = 0; i < NQ; i++) {
            _mm_storeu_ps(r, hsum4_512(c[i][0], c[i][1], c[i][2], c[i][3]));
            for (t = 0; t < 4 && j + t < n; t++)
                S[(size_t)i * lds + j + t] = r[t] * scale;
        }
    }
}

T5 static void
scoresq_avx512(float *S, size_t lds, const float *const *q, int nq, const float *K,
               size_t ldk, int n, int hd, float scale)
{
    for (; nq >= 4; nq -= 4, q += 4, S += 4 * lds)
        scoresq_n(S, lds, q, 4, K, ldk, n, hd, scale);
    if (nq == 3)
        scoresq_n(S, lds, q, 3, K, ldk, n, hd, scale);
    else if (nq == 2)
        scoresq_n(S, lds, q, 2, K, ldk, n, hd, scale);
    else if (nq == 1)
        scoresq_n(S, lds, q, 1, K, ldk, n, hd, scale);
}

/* NQ queries' weighted sums, 64 columns a pass: wsum_avx512's chains. */
T5 static inline __attribute__((always_inline)) void
wsumq_n(float *const *o, const float *P, size_t ldp, const int NQ, const float *V,
        size_t ldv, int n, int hd)
{
    int d, j, i, t;

    for (d = 0; d < hd; d += 64) {
        int w = PT_MIN(64, hd - d);
        __mmask16 m[4];
        __m512 c[KERN_ATT_Q][4], v[4];
#pragma GCC unroll 4
        for (t = 0; t < 4; t++) {
            int left = w - t * 16;
            m[t] = left >= 16 ? (__mmask16)0xffff
                 : left > 0 ? (__mmask16)((1u << left) - 1) : (__mmask16)0;
        }
#pragma GCC unroll 4
        for (i = 0; i < NQ; i++)
#pragma GCC unroll 4
            for (t = 0; t < 4; t++)
                c[i][t] = _mm512_maskz_loadu_ps(m[t], o[i] + d + t * 16);
        for (j = 0; j < n; j++) {
            const float *vr = V + (size_t)j * ldv + d;
#pragma GCC unroll 4
            for (t = 0; t < 4; t++)
                v[t] = _mm512_maskz_loadu_ps(m[t], vr + t * 16);
#pragma GCC unroll 4
            for (i = 0; i < NQ; i++) {
                __m512 pj = _mm512_set1_ps(P[(size_t)i * ldp + j]);
#pragma GCC unroll 4
                for (t = 0; t < 4; t++)
                    c[i][t] = _mm512_fmadd_ps(pj, v[t], c[i][t]);
            }
        }
#pragma GCC unroll 4
        for (i = 0; i < NQ; i++)
#pragma GCC unroll 4
            for (t = 0; t < 4; t++)
                _mm512_mask_storeu_ps(o[i] + d + t * 16, m[t], c[i][t]);
    }
}

T5 static void
wsumq_avx512(float *const *o, const float *P, size_t ldp, int nq, const float *V, size_t ldv,
             int n, int hd)
{
    for (; nq >= 4; nq -= 4, o += 4, P += 4 * ldp)
        wsumq_n(o, P, ldp, 4, V, ldv, n, hd);
    if (nq == 3)
        wsumq_n(o, P, ldp, 3, V, ldv, n, hd);
    else if (nq == 2)
        wsumq_n(o, P, ldp, 2, V, ldv, n, hd);
    else if (nq == 1)
        wsumq_n(o, P, ldp, 1, V, ldv, n, hd);
}

T5 static void
mm_avx512(float *out, size_t ldo, const float *in, size_t ldi, const float *W, int R, int IC,
          int o0, int o1, const float *bias, int acc)
{
    int o, r, k, i, j, kf = IC & ~15;
    __mmask16 tm = (__mmask16)((1u << (IC & 15)) - 1);

    for (o = o0; o < o1; o += 4) {
        int no = PT_MIN(4, o1 - o);
        const float *w[4];
        float res[4][4];
        for (i = 0; i < 4; i++)
            w[i] = W + (size_t)(o + (i < no ? i : 0)) * IC;
        for (r = 0; r + 4 <= R; r += 4) {
            const float *x[4];
            __m512 c[4][4], a[4], b;
#pragma GCC unroll 4
            for (j = 0; j < 4; j++)
                x[j] = in + (size_t)(r + j) * ldi;
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
#pragma GCC unroll 4
                for (j = 0; j < 4; j++)
                    c[i][j] = _mm512_setzero_ps();
            for (k = 0; k < kf; k += 16) {
#pragma GCC unroll 4
                for (j = 0; j < 4; j++)
                    a[j] = _mm512_loadu_ps(x[j] + k);
#pragma GCC unroll 4
                for (i = 0; i < 4; i++) {
                    b = _mm512_loadu_ps(w[i] + k);
#pragma GCC unroll 4
                    for (j = 0; j < 4; j++)
                        c[i][j] = _mm512_fmadd_ps(a[j], b, c[i][j]);
                }
            }
            if (tm) {
#pragma GCC unroll 4
                for (j = 0; j < 4; j++)
                    a[j] = _mm512_maskz_loadu_ps(tm, x[j] + k);
#pragma GCC unroll 4
                for (i = 0; i < 4; i++) {
                    b = _mm512_maskz_loadu_ps(tm, w[i] + k);
#pragma GCC unroll 4
                    for (j = 0; j < 4; j++)
                        c[i][j] = _mm512_fmadd_ps(a[j], b, c[i][j]);
                }
            }
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
                _mm_storeu_ps(res[i], hsum4_512(c[i][0], c[i][1], c[i][2], c[i][3]));
            for (i = 0; i < no; i++)
                for (j = 0; j < 4; j++)
                    put(out + (size_t)(r + j) * ldo + o + i, res[i][j], bias, o + i, acc);
        }
        for (; r < R; r++) {
            const float *x0 = in + (size_t)r * ldi;
            __m512 c[4], a0;
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
                c[i] = _mm512_setzero_ps();
            for (k = 0; k < kf; k += 16) {
                a0 = _mm512_loadu_ps(x0 + k);
#pragma GCC unroll 4
                for (i = 0; i < 4; i++)
                    c[i] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(w[i] + k), c[i]);
            }
            if (tm) {
                a0 = _mm512_maskz_loadu_ps(tm, x0 + k);
#pragma GCC unroll 4
                for (i = 0; i < 4; i++)
                    c[i] = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(tm, w[i] + k), c[i]);
            }
            _mm_storeu_ps(res[0], hsum4_512(c[0], c[1], c[2], c[3]));
            for (i = 0; i < no; i++)
                put(out + (size_t)r * ldo + o + i, res[0][i], bias, o + i, acc);
        }
    }
}
#endif /* HAVE_X86 */

int
kern_cpu_has(enum infer_kernel k)
{
#if HAVE_X86
    __builtin_cpu_init();
    if (k == INFER_KERNEL_AVX512)
        return __builtin_cpu_supports("avx512f");
    if (k == INFER_KERNEL_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return k == INFER_KERNEL_C;
}

struct kernels
kernels_for(enum infer_kernel k)
{
    struct kernels K = { INFER_KERNEL_C, mm_c, scores_c, wsum_c, scoresq_c, wsumq_c };

    if (k == INFER_KERNEL_AUTO)
        k = kern_cpu_has(INFER_KERNEL_AVX512) ? INFER_KERNEL_AVX512
            : kern_cpu_has(INFER_KERNEL_AVX2) ? INFER_KERNEL_AVX2 : INFER_KERNEL_C;
    if (!kern_cpu_has(k))
        die("kern: this CPU cannot run the %s kernel", infer_kernel_name(k));
#if HAVE_X86
    if (k == INFER_KERNEL_AVX2)
        K = (struct kernels){ k, mm_avx2, scores_avx2, wsum_avx2, scoresq_avx2, wsumq_avx2 };
    if (k == INFER_KERNEL_AVX512)
        K = (struct kernels){ k, mm_avx512, scores_avx512, wsum_avx512, scoresq_avx512,
                              wsumq_avx512 };
#endif
    return K;
}

const char *
infer_kernel_name(enum infer_kernel k)
{
    switch (k) {
    case INFER_KERNEL_AUTO:
        return "auto";
    case INFER_KERNEL_C:
        return "c";
    case INFER_KERNEL_AVX2:
        return "avx2";
    case INFER_KERNEL_AVX512:
        return "avx512";
    }
    return "?";
}

void
kern_attend_block(const struct kernels *K, int nq, float *const *o, float *S, size_t lds,
                  const float *const *q, const int *nk, const float *const kb[2],
                  const float *const vb[2], const size_t ld[2], int n0, int hd, float scale,
                  float *lse)
{
    float sum[KERN_ATT_Q];
    int nmax = 0, nmin = 0, i, j;

    if (nq < 1 || nq > KERN_ATT_Q)
        die("kern: %d queries in one attention block (1 to %d)", nq, KERN_ATT_Q);
    for (i = 0; i < nq; i++) {
        nmax = PT_MAX(nmax, nk[i]);
        nmin = i ? PT_MIN(nmin, nk[i]) : nk[i];
    }
    /* every query's scores over the keys any of them sees */
    if (PT_MIN(nmax, n0) > 0)
        K->scoresq(S, lds, q, nq, kb[0], ld[0], PT_MIN(nmax, n0), hd, scale);
    if (nmax > n0)
        K->scoresq(S + n0, lds, q, nq, kb[1], ld[1], nmax - n0, hd, scale);
    for (i = 0; i < nq; i++) {
        float *P = S + (size_t)i * lds, m = -INFINITY;
        sum[i] = 0.0f;
        for (j = 0; j < nk[i]; j++)
            m = P[j] > m ? P[j] : m;
        for (j = 0; j < nk[i]; j++) {
            P[j] = expf(P[j] - m);
            sum[i] += P[j];
        }
        lse[i] = m + logf(sum[i]);
        memset(o[i], 0, (size_t)hd * sizeof(float));
    }
    /* the keys all queries see, together; then each query's own last keys */
    if (PT_MIN(nmin, n0) > 0)
        K->wsumq(o, S, lds, nq, vb[0], ld[0], PT_MIN(nmin, n0), hd);
    if (nmin > n0)
        K->wsumq(o, S + n0, lds, nq, vb[1], ld[1], nmin - n0, hd);
    for (i = 0; i < nq; i++) {
        const float *P = S + (size_t)i * lds;
        float inv;
        if (nk[i] > nmin && nmin < n0) {
            int e = PT_MIN(nk[i], n0);
            K->wsum(o[i], P + nmin, vb[0] + (size_t)nmin * ld[0], ld[0], e - nmin, hd);
        }
        if (nk[i] > PT_MAX(nmin, n0)) {
            int s = PT_MAX(nmin, n0);
            K->wsum(o[i], P + s, vb[1] + (size_t)(s - n0) * ld[1], ld[1], nk[i] - s, hd);
        }
        inv = 1.0f / sum[i];
        for (j = 0; j < hd; j++)
            o[i][j] *= inv;
    }
}
