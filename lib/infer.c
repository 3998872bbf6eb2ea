/*
 * infer.c - the KV-cache forward of infer.h: matrix-product, dot and
 * axpy kernels (portable C, AVX2+FMA, AVX-512), a small thread pool with
 * spin-then-futex barriers, the prefix and sequence caches, and the
 * layer loop over a step's rows.
 *
 * Not here: sampling (sampler.c), scheduling and text (gen.c).
 */
#include "infer.h"

#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#include "util.h"

/* ============================== Kernels ============================== */

/*
 * out[r * ldo + o] = dot(in[r * ldi ...], W[o * IC ...]) (+ bias[o]), or
 * out += dot when acc, for r in [0, R) and o in [o0, o1).  Each element is
 * computed the same way wherever it falls in the blocking, which is what
 * makes a row's result independent of the batch and of the threads.
 */
typedef void mm_fn(float *out, size_t ldo, const float *in, size_t ldi, const float *W,
                   int R, int IC, int o0, int o1, const float *bias, int acc);
/* sum a[i] b[i] over n */
typedef float dot_fn(const float *a, const float *b, int n);
/* y += a x over n */
typedef void axpy_fn(float *y, float a, const float *x, int n);

struct kernels {
    enum infer_kernel id;
    mm_fn *mm;
    dot_fn *dot;
    axpy_fn *axpy;
};

static inline void
put(float *p, float v, const float *bias, int o, int acc)
{
    if (acc)
        *p += v;
    else
        *p = bias ? v + bias[o] : v;
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
axpy_c(float *y, float a, const float *x, int n)
{
    int k;

    for (k = 0; k < n; k++)
        y[k] += a * x[k];
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

T2 static inline float
hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Loads k..k+8 of p, or the n - k < 8 left with zeros after them. */
T2 static inline __m256
load8(const float *p, int k, int n)
{
    static const int idx[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

    if (k + 8 <= n)
        return _mm256_loadu_ps(p + k);
    return _mm256_maskload_ps(p + k, _mm256_loadu_si256((const __m256i *)(idx + 8 - (n - k))));
}

T2 static float
dot_avx2(const float *a, const float *b, int n)
{
    __m256 c = _mm256_setzero_ps();
    int k;

    for (k = 0; k < n; k += 8)
        c = _mm256_fmadd_ps(load8(a, k, n), load8(b, k, n), c);
    return hsum256(c);
}

T2 static void
axpy_avx2(float *y, float a, const float *x, int n)
{
    __m256 va = _mm256_set1_ps(a);
    int k;

    for (k = 0; k + 8 <= n; k += 8)
        _mm256_storeu_ps(y + k, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + k),
                                                _mm256_loadu_ps(y + k)));
    for (; k < n; k++)
        y[k] = fmaf(a, x[k], y[k]);
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
            for (i = 0; i < no; i++)
                for (j = 0; j < 2; j++)
                    put(out + (size_t)(r + j) * ldo + o + i, hsum256(c[i][j]), bias, o + i,
                        acc);
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
            for (i = 0; i < no; i++)
                put(out + (size_t)r * ldo + o + i, hsum256(c[i]), bias, o + i, acc);
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

T5 static float
dot_avx512(const float *a, const float *b, int n)
{
    __m512 c = _mm512_setzero_ps();
    int k;

    for (k = 0; k < n; k += 16)
        c = _mm512_fmadd_ps(load16(a, k, n), load16(b, k, n), c);
    return _mm512_reduce_add_ps(c);
}

T5 static void
axpy_avx512(float *y, float a, const float *x, int n)
{
    __m512 va = _mm512_set1_ps(a);
    int k;

    for (k = 0; k < n; k += 16) {
        __mmask16 m = k + 16 <= n ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1);
        __m512 vy = _mm512_maskz_loadu_ps(m, y + k);
        _mm512_mask_storeu_ps(y + k, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + k), vy));
    }
}

T5 static void
mm_avx512(float *out, size_t ldo, const float *in, size_t ldi, const float *W, int R, int IC,
          int o0, int o1, const float *bias, int acc)
{
    int o, r, k, i, j;

    for (o = o0; o < o1; o += 4) {
        int no = PT_MIN(4, o1 - o);
        const float *w[4];
        for (i = 0; i < 4; i++)
            w[i] = W + (size_t)(o + (i < no ? i : 0)) * IC;
        for (r = 0; r + 4 <= R; r += 4) {
            const float *x[4];
            __m512 c[4][4];
#pragma GCC unroll 4
            for (j = 0; j < 4; j++)
                x[j] = in + (size_t)(r + j) * ldi;
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
#pragma GCC unroll 4
                for (j = 0; j < 4; j++)
                    c[i][j] = _mm512_setzero_ps();
            for (k = 0; k < IC; k += 16) {
                __m512 a[4];
#pragma GCC unroll 4
                for (j = 0; j < 4; j++)
                    a[j] = load16(x[j], k, IC);
#pragma GCC unroll 4
                for (i = 0; i < 4; i++) {
                    __m512 b = load16(w[i], k, IC);
#pragma GCC unroll 4
                    for (j = 0; j < 4; j++)
                        c[i][j] = _mm512_fmadd_ps(a[j], b, c[i][j]);
                }
            }
            for (i = 0; i < no; i++)
                for (j = 0; j < 4; j++)
                    put(out + (size_t)(r + j) * ldo + o + i, _mm512_reduce_add_ps(c[i][j]),
                        bias, o + i, acc);
        }
        for (; r < R; r++) {
            const float *x0 = in + (size_t)r * ldi;
            __m512 c[4];
#pragma GCC unroll 4
            for (i = 0; i < 4; i++)
                c[i] = _mm512_setzero_ps();
            for (k = 0; k < IC; k += 16) {
                __m512 a0 = load16(x0, k, IC);
#pragma GCC unroll 4
                for (i = 0; i < 4; i++)
                    c[i] = _mm512_fmadd_ps(a0, load16(w[i], k, IC), c[i]);
            }
            for (i = 0; i < no; i++)
                put(out + (size_t)r * ldo + o + i, _mm512_reduce_add_ps(c[i]), bias, o + i,
                    acc);
        }
    }
}
#endif /* HAVE_X86 */

static int
cpu_has(enum infer_kernel k)
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

static struct kernels
kernels_for(enum infer_kernel k)
{
    struct kernels K = { INFER_KERNEL_C, mm_c, dot_c, axpy_c };

    if (k == INFER_KERNEL_AUTO)
        k = cpu_has(INFER_KERNEL_AVX512) ? INFER_KERNEL_AVX512
            : cpu_has(INFER_KERNEL_AVX2) ? INFER_KERNEL_AVX2 : INFER_KERNEL_C;
    if (!cpu_has(k))
        die("infer: this CPU cannot run the %s kernel", infer_kernel_name(k));
#if HAVE_X86
    if (k == INFER_KERNEL_AVX2)
        K = (struct kernels){ k, mm_avx2, dot_avx2, axpy_avx2 };
    if (k == INFER_KERNEL_AVX512)
        K = (struct kernels){ k, mm_avx512, dot_avx512, axpy_avx512 };
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
infer_matmul(enum infer_kernel k, float *out, const float *in, const float *W, int R,
             int IC, int OC, int accumulate)
{
    struct kernels K = kernels_for(k);

    K.mm(out, (size_t)OC, in, (size_t)IC, W, R, IC, 0, OC, NULL, accumulate);
}

/* ============================== Thread pool ============================== */

/*
 * The calling thread is worker 0.  pool_run() has every worker call
 * fn(arg, tid) once; inside, pool_barrier() waits for all of them.
 * Waiting spins on the generation counter for a few microseconds (a
 * barrier inside a step is usually passed that fast), then sleeps on a
 * futex, so idle workers cost nothing between steps.
 */
struct pool {
    int n;
    pthread_t *th;
    _Atomic unsigned start, start_sleepers;
    _Atomic unsigned bar_gen, bar_sleepers;
    _Atomic int bar_count, quit;
    void (*fn)(void *, int);
    void *arg;
};

struct pool_arg {
    struct pool *p;
    int tid;
};

#define SPIN_ROUNDS 4000

static void
cpu_relax(void)
{
#if HAVE_X86
    _mm_pause();
#endif
}

static void
futex_wait(_Atomic unsigned *addr, unsigned old)
{
    syscall(SYS_futex, (unsigned *)addr, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
}

static void
futex_wake(_Atomic unsigned *addr)
{
    syscall(SYS_futex, (unsigned *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Returns once *addr != old. */
static void
wait_change(_Atomic unsigned *addr, unsigned old, _Atomic unsigned *sleepers)
{
    int i;

    for (i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load(addr) != old)
            return;
        cpu_relax();
    }
    while (atomic_load(addr) == old) {
        atomic_fetch_add(sleepers, 1);
        if (atomic_load(addr) == old)
            futex_wait(addr, old);
        atomic_fetch_sub(sleepers, 1);
    }
}

/* Bumps *addr and wakes whoever sleeps on it. */
static void
publish(_Atomic unsigned *addr, _Atomic unsigned *sleepers)
{
    atomic_fetch_add(addr, 1);
    if (atomic_load(sleepers) > 0)
        futex_wake(addr);
}

static void
pool_barrier(struct pool *p)
{
    unsigned g;

    if (p->n == 1)
        return;
    g = atomic_load(&p->bar_gen);
    if (atomic_fetch_add(&p->bar_count, 1) == p->n - 1) {
        atomic_store(&p->bar_count, 0);
        publish(&p->bar_gen, &p->bar_sleepers);
    } else {
        wait_change(&p->bar_gen, g, &p->bar_sleepers);
    }
}

static void *
pool_worker(void *a)
{
    struct pool_arg *pa = a;
    struct pool *p = pa->p;
    unsigned seen = 0;

    for (;;) {
        wait_change(&p->start, seen, &p->start_sleepers);
        seen = atomic_load(&p->start);
        if (atomic_load(&p->quit))
            break;
        p->fn(p->arg, pa->tid);
        pool_barrier(p);
    }
    free(pa);
    return NULL;
}

static struct pool *
pool_new(int n)
{
    struct pool *p = xcalloc(1, sizeof(*p));
    int i;

    p->n = n;
    p->th = xcalloc((size_t)n, sizeof(*p->th));
    for (i = 1; i < n; i++) {
        struct pool_arg *pa = xmalloc(sizeof(*pa));
        pa->p = p;
        pa->tid = i;
        if (pthread_create(&p->th[i], NULL, pool_worker, pa) != 0)
            die("infer: cannot start a thread");
    }
    return p;
}

static void
pool_run(struct pool *p, void (*fn)(void *, int), void *arg)
{
    p->fn = fn;
    p->arg = arg;
    if (p->n > 1)
        publish(&p->start, &p->start_sleepers);
    fn(arg, 0);
    pool_barrier(p);
}

static void
pool_free(struct pool *p)
{
    int i;

    if (!p)
        return;
    atomic_store(&p->quit, 1);
    if (p->n > 1)
        publish(&p->start, &p->start_sleepers);
    for (i = 1; i < p->n; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    free(p);
}

/* ============================== Caches ============================== */

/* Grows a layer-major (layers, cap, kvd) cache pair to hold need tokens. */
static void
cache_reserve(float **k, float **v, int *cap, int len, int need, int layers, int kvd)
{
    int ncap = *cap > 0 ? *cap : 16, l, i;
    float *nk, *nv;

    if (need <= *cap)
        return;
    while (ncap < need)
        ncap *= 2;
    nk = xmalloc(xmul(xmul((size_t)layers, (size_t)ncap), (size_t)kvd * sizeof(float)));
    nv = xmalloc(xmul(xmul((size_t)layers, (size_t)ncap), (size_t)kvd * sizeof(float)));
    for (l = 0; l < layers; l++) {
        float *src[2] = { *k, *v }, *dst[2] = { nk, nv };
        for (i = 0; i < 2; i++)
            if (len > 0)
                memcpy(dst[i] + (size_t)l * ncap * kvd, src[i] + (size_t)l * *cap * kvd,
                       (size_t)len * kvd * sizeof(float));
    }
    free(*k);
    free(*v);
    *k = nk;
    *v = nv;
    *cap = ncap;
}

/* ============================== State ============================== */

/*
 * One row of a forward: its token and position, where its key and value
 * go (layer 0; the next layer is wstride floats on), and the two spans of
 * cache its attention reads in order (keys 0..n0-1 of span 0, then of
 * span 1), each with its layer stride.  The row's own key is the last.
 */
struct row {
    int tok, pos;
    float *kw, *vw;
    size_t wstride;
    const float *k0, *v0, *k1, *v1;
    size_t s0, s1;
    int n0, n1;
};

struct infer {
    const struct model *m;
    struct kernels K;
    struct pool *pool;
    int nthreads, max_rows, cap_rows;
    int C, H, V, nh, nkv, hd, QD, KVD, QKV, L, maxpos;
    /* the current forward */
    struct row *rows;       /* (cap_rows) */
    int nrows;
    int fused;              /* rows are distinct sequences: RoPE + cache write inside attention */
    int *logit_rows;        /* (cap_rows) rows whose logits are wanted */
    int nlogit;
    /* activations */
    float *x;               /* (cap_rows, C) residual stream */
    float *ln;              /* (nthreads, cap_rows, C) each thread's normed copy */
    float *qkv;             /* (cap_rows, QKV) */
    float *att;             /* (cap_rows, QD) */
    float *gu;              /* (cap_rows, 2H) */
    float *h;               /* (cap_rows, H) */
    float *lnf;             /* (cap_rows, C) final norm of the logit rows */
    float *logits;          /* (cap_rows, V) */
    float *scores;          /* (nthreads, grp, maxpos) attention scratch */
    float *cos_t, *sin_t;   /* (maxpos, hd/2) */
};

struct infer *
infer_new(const struct model *m, int max_rows, int nthreads, enum infer_kernel kernel)
{
    struct infer *inf = xcalloc(1, sizeof(*inf));
    const struct model_config *c = &m->cfg;
    size_t R;

    if (c->arch != MODEL_CAUSAL_LM)
        die("infer: the model has no language-model head");
    if (max_rows < 1 || nthreads < 1)
        die("infer: max_rows and nthreads must be positive");
    inf->m = m;
    inf->K = kernels_for(kernel);
    inf->nthreads = nthreads;
    inf->max_rows = max_rows;
    inf->cap_rows = PT_MAX(max_rows, INFER_PREFILL_CHUNK);
    inf->C = c->dim;
    inf->H = c->hidden_dim;
    inf->V = c->vocab_size;
    inf->nh = c->n_heads;
    inf->nkv = c->n_kv_heads;
    inf->hd = c->head_dim;
    inf->QD = c->n_heads * c->head_dim;
    inf->KVD = c->n_kv_heads * c->head_dim;
    inf->QKV = inf->QD + 2 * inf->KVD;
    inf->L = c->n_layers;
    inf->maxpos = c->max_pos;
    R = (size_t)inf->cap_rows;
    inf->rows = xcalloc(R, sizeof(*inf->rows));
    inf->logit_rows = xcalloc(R, sizeof(int));
    inf->x = xmalloc(xmul(R * inf->C, sizeof(float)));
    inf->ln = xmalloc(xmul(xmul((size_t)nthreads, R * inf->C), sizeof(float)));
    inf->qkv = xmalloc(xmul(R * inf->QKV, sizeof(float)));
    inf->att = xmalloc(xmul(R * inf->QD, sizeof(float)));
    inf->gu = xmalloc(xmul(R * 2 * (size_t)inf->H, sizeof(float)));
    inf->h = xmalloc(xmul(R * inf->H, sizeof(float)));
    inf->lnf = xmalloc(xmul(R * inf->C, sizeof(float)));
    inf->logits = xmalloc(xmul(R, xmul((size_t)inf->V, sizeof(float))));
    inf->scores = xmalloc(xmul(xmul((size_t)nthreads, (size_t)(inf->nh / inf->nkv)),
                               xmul((size_t)inf->maxpos, sizeof(float))));
    inf->cos_t = xmalloc(xmul((size_t)inf->maxpos * (inf->hd / 2), sizeof(float)));
    inf->sin_t = xmalloc(xmul((size_t)inf->maxpos * (inf->hd / 2), sizeof(float)));
    rope_tables(inf->cos_t, inf->sin_t, inf->maxpos, inf->hd, c->rope_theta);
    inf->pool = pool_new(nthreads);
    return inf;
}

void
infer_free(struct infer *inf)
{
    if (!inf)
        return;
    pool_free(inf->pool);
    free(inf->rows);
    free(inf->logit_rows);
    free(inf->x);
    free(inf->ln);
    free(inf->qkv);
    free(inf->att);
    free(inf->gu);
    free(inf->h);
    free(inf->lnf);
    free(inf->logits);
    free(inf->scores);
    free(inf->cos_t);
    free(inf->sin_t);
    free(inf);
}

enum infer_kernel
infer_kernel_of(const struct infer *inf)
{
    return inf->K.id;
}

void
infer_prefix_init(struct infer_prefix *p, const struct infer *inf)
{
    memset(p, 0, sizeof(*p));
    p->layers = inf->L;
    p->kvd = inf->KVD;
}

void
infer_prefix_reset(struct infer_prefix *p)
{
    p->len = 0;
}

void
infer_prefix_release(struct infer_prefix *p)
{
    free(p->k);
    free(p->v);
    p->k = p->v = NULL;
    p->len = p->cap = 0;
}

void
infer_seq_init(struct infer_seq *s, const struct infer *inf, const struct infer_prefix *p)
{
    memset(s, 0, sizeof(*s));
    s->layers = inf->L;
    s->kvd = inf->KVD;
    s->prefix = p;
}

void
infer_seq_reset(struct infer_seq *s, const struct infer_prefix *p)
{
    s->prefix = p;
    s->len = 0;
}

void
infer_seq_release(struct infer_seq *s)
{
    free(s->k);
    free(s->v);
    s->k = s->v = NULL;
    s->len = s->cap = 0;
    s->prefix = NULL;
}

/* ============================== Forward ============================== */

/* [*a, *b): this thread's share of n items, in blocks of align. */
static void
share(int n, int align, int tid, int nt, int *a, int *b)
{
    int per = (n + nt - 1) / nt;

    per = (per + align - 1) / align * align;
    *a = PT_MIN(n, tid * per);
    *b = PT_MIN(n, *a + per);
}

/* RoPE on the row's query heads and key head of group g, cache write. */
static void
rope_and_store(struct infer *inf, int l, int r, int g0, int g1)
{
    const struct row *rw = &inf->rows[r];
    float *q = inf->qkv + (size_t)r * inf->QKV;
    int grp = inf->nh / inf->nkv, hd = inf->hd;
    size_t lo = (size_t)l * rw->wstride;

    rope_forward(q + (size_t)g0 * grp * hd, &rw->pos, inf->cos_t, inf->sin_t, 1, inf->QKV,
                 (g1 - g0) * grp, hd);
    rope_forward(q + inf->QD + (size_t)g0 * hd, &rw->pos, inf->cos_t, inf->sin_t, 1,
                 inf->QKV, g1 - g0, hd);
    memcpy(rw->kw + lo + (size_t)g0 * hd, q + inf->QD + (size_t)g0 * hd,
           (size_t)(g1 - g0) * hd * sizeof(float));
    memcpy(rw->vw + lo + (size_t)g0 * hd, q + inf->QD + inf->KVD + (size_t)g0 * hd,
           (size_t)(g1 - g0) * hd * sizeof(float));
}

/*
 * Attention of row r's query heads of kv group g over its cache spans:
 * scores q.k / sqrt(hd), softmax, the weighted sum of values.
 */
static void
attend(struct infer *inf, int l, int r, int g, float *S)
{
    const struct row *rw = &inf->rows[r];
    int grp = inf->nh / inf->nkv, hd = inf->hd, KVD = inf->KVD, n = rw->n0 + rw->n1;
    int i, j;
    float scale = 1.0f / sqrtf((float)hd);
    const float *kb[2], *vb[2];
    int nb[2] = { rw->n0, rw->n1 };

    kb[0] = rw->k0 ? rw->k0 + (size_t)l * rw->s0 + (size_t)g * hd : NULL;
    vb[0] = rw->v0 ? rw->v0 + (size_t)l * rw->s0 + (size_t)g * hd : NULL;
    kb[1] = rw->k1 ? rw->k1 + (size_t)l * rw->s1 + (size_t)g * hd : NULL;
    vb[1] = rw->v1 ? rw->v1 + (size_t)l * rw->s1 + (size_t)g * hd : NULL;
    for (i = 0; i < grp; i++) {
        int h = g * grp + i, b, t = 0;
        const float *q = inf->qkv + (size_t)r * inf->QKV + (size_t)h * hd;
        float *Si = S + (size_t)i * n, m = -INFINITY, sum = 0.0f, inv;
        float *o = inf->att + (size_t)r * inf->QD + (size_t)h * hd;
        for (b = 0; b < 2; b++)
            for (j = 0; j < nb[b]; j++, t++) {
                Si[t] = inf->K.dot(q, kb[b] + (size_t)j * KVD, hd) * scale;
                m = Si[t] > m ? Si[t] : m;
            }
        for (t = 0; t < n; t++) {
            Si[t] = expf(Si[t] - m);
            sum += Si[t];
        }
        memset(o, 0, (size_t)hd * sizeof(float));
        for (b = 0, t = 0; b < 2; b++)
            for (j = 0; j < nb[b]; j++, t++)
                inf->K.axpy(o, Si[t], vb[b] + (size_t)j * KVD, hd);
        inv = 1.0f / sum;
        for (j = 0; j < hd; j++)
            o[j] *= inv;
    }
}

/* Every row's RMSNorm of x into this thread's private buffer. */
static float *
norm_rows(struct infer *inf, int tid, const float *w)
{
    float *ln = inf->ln + (size_t)tid * inf->cap_rows * inf->C;

    rmsnorm_forward(ln, NULL, inf->x, w, (size_t)inf->nrows, inf->C, inf->m->cfg.norm_eps);
    return ln;
}

/* The layer loop, run by every thread of the pool with its share. */
static void
forward_worker(void *arg, int tid)
{
    struct infer *inf = arg;
    const struct model *m = inf->m;
    struct pool *p = inf->pool;
    int nt = inf->nthreads, R = inf->nrows, C = inf->C, H = inf->H, l, a, b, u;
    int grp = inf->nh / inf->nkv;
    float *S = inf->scores + (size_t)tid * grp * inf->maxpos;

    for (l = 0; l < inf->L; l++) {
        const struct model_layer *w = &m->w.layers[l];
        float *ln = norm_rows(inf, tid, w->attn_norm);
        const float *bias = w->bq;

        /* q, k, v of every row: one product with the fused (QKV, C) matrix */
        share(inf->QKV, 16, tid, nt, &a, &b);
        inf->K.mm(inf->qkv, (size_t)inf->QKV, ln, (size_t)C, w->wq, R, C, a, b, bias, 0);
        pool_barrier(p);
        if (!inf->fused) {
            share(R, 1, tid, nt, &a, &b);
            for (u = a; u < b; u++)
                rope_and_store(inf, l, u, 0, inf->nkv);
            pool_barrier(p);
        }
        share(R * inf->nkv, 1, tid, nt, &a, &b);
        for (u = a; u < b; u++) {
            if (inf->fused)
                rope_and_store(inf, l, u / inf->nkv, u % inf->nkv, u % inf->nkv + 1);
            attend(inf, l, u / inf->nkv, u % inf->nkv, S);
        }
        pool_barrier(p);
        /* x += att Wo^T */
        share(C, 16, tid, nt, &a, &b);
        inf->K.mm(inf->x, (size_t)C, inf->att, (size_t)inf->QD, w->wo, R, inf->QD, a, b,
                  NULL, 1);
        pool_barrier(p);
        /* h = silu(ln Wg^T) * (ln Wu^T), this thread's columns of both */
        ln = norm_rows(inf, tid, w->mlp_norm);
        share(H, 16, tid, nt, &a, &b);
        inf->K.mm(inf->gu, (size_t)2 * H, ln, (size_t)C, w->w_gate, R, C, a, b, NULL, 0);
        inf->K.mm(inf->gu + H, (size_t)2 * H, ln, (size_t)C, w->w_up, R, C, a, b, NULL, 0);
        for (u = 0; u < R; u++) {
            const float *g = inf->gu + (size_t)u * 2 * H, *up = g + H;
            float *hh = inf->h + (size_t)u * H;
            int i;
            for (i = a; i < b; i++)
                hh[i] = g[i] / (1.0f + expf(-g[i])) * up[i];
        }
        pool_barrier(p);
        /* x += h Wd^T */
        share(C, 16, tid, nt, &a, &b);
        inf->K.mm(inf->x, (size_t)C, inf->h, (size_t)H, w->w_down, R, H, a, b, NULL, 1);
        pool_barrier(p);
    }
    if (inf->nlogit == 0)
        return;
    /* the final norm of the wanted rows, then their logits */
    share(inf->nlogit, 1, tid, nt, &a, &b);
    for (u = a; u < b; u++)
        rmsnorm_forward(inf->lnf + (size_t)u * C, NULL,
                        inf->x + (size_t)inf->logit_rows[u] * C, m->w.norm, 1, C,
                        m->cfg.norm_eps);
    pool_barrier(p);
    share(inf->V, 16, tid, nt, &a, &b);
    inf->K.mm(inf->logits, (size_t)inf->V, inf->lnf, (size_t)C, m->w.lm_head, inf->nlogit,
              C, a, b, NULL, 0);
}

/* Embeds the rows' tokens and runs the layers. */
static void
forward(struct infer *inf)
{
    int r, C = inf->C;

    for (r = 0; r < inf->nrows; r++) {
        int t = inf->rows[r].tok;
        if (t < 0 || t >= inf->V)
            die("infer: token id %d out of range [0, %d)", t, inf->V);
        memcpy(inf->x + (size_t)r * C, inf->m->w.embed + (size_t)t * C,
               (size_t)C * sizeof(float));
    }
    pool_run(inf->pool, forward_worker, inf);
}

void
infer_prefill(struct infer *inf, struct infer_prefix *p, const int *ids, int n,
              float *logits)
{
    int done = 0;

    if (n < 1)
        die("infer: nothing to prefill");
    if (p->len + n > inf->maxpos)
        die("infer: %d tokens pass the context of %d", p->len + n, inf->maxpos);
    cache_reserve(&p->k, &p->v, &p->cap, p->len, p->len + n, inf->L, inf->KVD);
    while (done < n) {
        int cn = PT_MIN(n - done, inf->cap_rows), r;
        for (r = 0; r < cn; r++) {
            struct row *rw = &inf->rows[r];
            int pos = p->len + r;
            memset(rw, 0, sizeof(*rw));
            rw->tok = ids[done + r];
            rw->pos = pos;
            rw->kw = p->k + (size_t)pos * inf->KVD;
            rw->vw = p->v + (size_t)pos * inf->KVD;
            rw->wstride = (size_t)p->cap * inf->KVD;
            rw->k0 = p->k;
            rw->v0 = p->v;
            rw->s0 = rw->wstride;
            rw->n0 = pos + 1;
        }
        inf->nrows = cn;
        inf->fused = 0;
        inf->nlogit = 0;
        if (done + cn == n && logits) {
            inf->logit_rows[0] = cn - 1;
            inf->nlogit = 1;
        }
        forward(inf);
        p->len += cn;
        done += cn;
    }
    if (logits)
        memcpy(logits, inf->logits, (size_t)inf->V * sizeof(float));
}

const float *
infer_decode(struct infer *inf, struct infer_seq *const *seqs, const int *tokens, int n)
{
    int r;

    if (n < 1 || n > inf->max_rows)
        die("infer: %d rows in a step of at most %d", n, inf->max_rows);
    for (r = 0; r < n; r++) {
        struct infer_seq *s = seqs[r];
        const struct infer_prefix *p = s->prefix;
        struct row *rw = &inf->rows[r];
        int plen = p ? p->len : 0, pos = plen + s->len;
        if (pos >= inf->maxpos)
            die("infer: position %d passes the context of %d", pos, inf->maxpos);
        cache_reserve(&s->k, &s->v, &s->cap, s->len, s->len + 1, inf->L, inf->KVD);
        memset(rw, 0, sizeof(*rw));
        rw->tok = tokens[r];
        rw->pos = pos;
        rw->kw = s->k + (size_t)s->len * inf->KVD;
        rw->vw = s->v + (size_t)s->len * inf->KVD;
        rw->wstride = (size_t)s->cap * inf->KVD;
        if (p && plen > 0) {
            rw->k0 = p->k;
            rw->v0 = p->v;
            rw->s0 = (size_t)p->cap * inf->KVD;
            rw->n0 = plen;
        }
        rw->k1 = s->k;
        rw->v1 = s->v;
        rw->s1 = rw->wstride;
        rw->n1 = s->len + 1;
        inf->logit_rows[r] = r;
    }
    inf->nrows = n;
    inf->fused = 1;
    inf->nlogit = n;
    forward(inf);
    for (r = 0; r < n; r++)
        seqs[r]->len++;
    return inf->logits;
}
