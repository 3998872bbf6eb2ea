/*
 * kern_bf16.c - the bf16 half of kern.h: fp32 <-> bf16 conversion, the
 * packed weight layout, and the matrix product out = in . W^T with bf16
 * W and fp32 accumulation in five kernel sets (portable C, AVX2,
 * AVX-512F, AVX512_BF16, AMX-BF16), all computing kern.h's one chain per
 * output element.
 *
 * Every set works the same way: the call's activations are rounded to
 * bf16 into scratch (rows of Kp, zero past K), then micro-kernels take a
 * block of rows times a few 16-column panels over all of k and leave a
 * res block the epilogue adds the bias to or accumulates into out.  The
 * lanes of a vector are output columns, never k, so no sum is ever split.
 */
#include "kern.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#include "cpu.h"
#include "util.h"

/* res blocks: up to RES_ROWS rows of RES_LD floats (4 panels) */
#define RES_ROWS 32
#define RES_LD 64
/* weight bytes a column chunk keeps in cache while every row block passes */
#define CHUNK_BYTES (256 * 1024)

/* ---- conversion ---- */

bf16
bf16_from_f32(float x)
{
    uint32_t u;

    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (bf16)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16)(u >> 16);
}

float
bf16_to_f32(bf16 h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;

    memcpy(&x, &u, sizeof x);
    return x;
}

static void
from_f32_c(bf16 *dst, const float *src, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        dst[i] = bf16_from_f32(src[i]);
}

static void
to_f32_c(float *dst, const bf16 *src, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        dst[i] = bf16_to_f32(src[i]);
}

#if HAVE_X86
#define T2 __attribute__((target("avx2,fma")))
#define T5 __attribute__((target("avx512f")))
#define TB __attribute__((target("avx512f,avx512bf16")))
#define TA __attribute__((target("avx512f,avx512bf16,amx-tile,amx-bf16")))

/* Eight fp32 bit patterns to bf16 ones in the low halves of 32-bit lanes. */
T2 static inline __m256i
round8(__m256i u)
{
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                     _mm256_set1_epi32(0x7f800000));
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));

    return _mm256_blendv_epi8(r, q, nan);
}

T2 static void
from_f32_avx2(bf16 *dst, const float *src, size_t n)
{
    size_t i = 0;

    for (; i + 16 <= n; i += 16) {
        __m256i a = round8(_mm256_loadu_si256((const __m256i *)(src + i)));
        __m256i b = round8(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
        _mm256_storeu_si256((__m256i *)(dst + i), p);
    }
    from_f32_c(dst + i, src + i, n - i);
}

T2 static void
to_f32_avx2(float *dst, const bf16 *src, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(w, 16));
    }
    to_f32_c(dst + i, src + i, n - i);
}

/* Sixteen fp32 bit patterns to bf16 ones in the low halves of 32-bit lanes. */
T5 static inline __m512i
round16(__m512i u)
{
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);

    return _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
}

T5 static void
from_f32_avx512(bf16 *dst, const float *src, size_t n)
{
    size_t i = 0;

    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtepi32_epi16(round16(_mm512_loadu_si512(src + i))));
    from_f32_c(dst + i, src + i, n - i);
}

T5 static void
to_f32_avx512(float *dst, const bf16 *src, size_t n)
{
    size_t i = 0;

    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_si512(dst + i, _mm512_slli_epi32(w, 16));
    }
    to_f32_c(dst + i, src + i, n - i);
}
#endif /* HAVE_X86 */

typedef void from_fn(bf16 *dst, const float *src, size_t n);
typedef void to_fn(float *dst, const bf16 *src, size_t n);

static from_fn *
best_from(void)
{
#if HAVE_X86
    const struct cpu_features *f = cpu_features();
    if (f->avx512f)
        return from_f32_avx512;
    if (f->avx2)
        return from_f32_avx2;
#endif
    return from_f32_c;
}

static to_fn *
best_to(void)
{
#if HAVE_X86
    const struct cpu_features *f = cpu_features();
    if (f->avx512f)
        return to_f32_avx512;
    if (f->avx2)
        return to_f32_avx2;
#endif
    return to_f32_c;
}

void
bf16_from_f32_n(bf16 *dst, const float *src, size_t n)
{
    best_from()(dst, src, n);
}

void
bf16_to_f32_n(float *dst, const bf16 *src, size_t n)
{
    best_to()(dst, src, n);
}

/* Whether the gathers' 32-bit indices reach 16 rows of stride ld. */
static int
vector_pack(size_t ld)
{
#if HAVE_X86
    return cpu_features()->avx512f && ld <= (size_t)INT32_MAX / 16;
#else
    (void)ld;
    return 0;
#endif
}

#if HAVE_X86
/* The gather offsets of 16 rows of stride ld (vector_pack(ld) holds). */
T5 static inline __m512i
rows16(size_t ld)
{
    return _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)ld));
}

/* Sixteen rows at a time: each column's 16 values by one gather. */
T5 static size_t
from_f32_t_avx512(bf16 *dst, size_t ldd, const float *src, size_t lds, size_t rows, int c0,
                  int c1)
{
    __m512i idx = rows16(lds);
    size_t r;
    int c;

    for (r = 0; r + 16 <= rows; r += 16)
        for (c = c0; c < c1; c++) {
            __m512i u = _mm512_castps_si512(
                _mm512_i32gather_ps(idx, src + r * lds + (size_t)c, 4));
            _mm256_storeu_si256((__m256i *)(dst + (size_t)c * ldd + r),
                                _mm512_cvtepi32_epi16(round16(u)));
        }
    return r;
}
#endif

void
bf16_from_f32_t(bf16 *dst, size_t ldd, const float *src, size_t lds, size_t rows, int c0,
                int c1)
{
    size_t r = 0;
    int c;

#if HAVE_X86
    if (vector_pack(lds))
        r = from_f32_t_avx512(dst, ldd, src, lds, rows, c0, c1);
#endif
    for (; r < rows; r++)
        for (c = c0; c < c1; c++)
            dst[(size_t)c * ldd + r] = bf16_from_f32(src[r * lds + (size_t)c]);
}

/* ---- packed weights ---- */

void
bf16w_alloc(struct bf16w *w, int O, int K)
{
    size_t n;

    if (O < 1 || K < 1)
        die("bf16w: bad shape %d x %d", O, K);
    w->O = O;
    w->K = K;
    w->Kp = (K + 31) & ~31;
    n = (size_t)((O + KERN16_PANEL - 1) / KERN16_PANEL) * KERN16_PANEL * (size_t)w->Kp;
    w->p = xaligned(64, n * sizeof(bf16));
    memset(w->p, 0, n * sizeof(bf16));
}

void
bf16w_free(struct bf16w *w)
{
    free(w->p);
    w->p = NULL;
}

static size_t
w_index(const struct bf16w *w, int o, int k)
{
    size_t j = (size_t)(o / KERN16_PANEL), p = (size_t)(k / 2);

    return ((j * (size_t)(w->Kp / 2) + p) * KERN16_PANEL + (size_t)(o % KERN16_PANEL)) * 2 +
           (size_t)(k & 1);
}

static void
pack_check(const struct bf16w *w, int o0, int o1)
{
    if (o0 < 0 || o1 > w->O || o0 > o1 || o0 % KERN16_PANEL ||
        (o1 % KERN16_PANEL && o1 != w->O))
        die("bf16w: bad row range [%d, %d) of %d", o0, o1, w->O);
}

/*
 * Row o's K bf16 values row (K rounded up to even, the odd tail zero) into
 * its place: its pair p is the 32-bit word at panel o / 16, pair p, slot
 * o % 16, so the row's pairs go out at a stride of one panel row.
 */
/* Panel j of w: Kp / 2 pair lines of 2 * KERN16_PANEL values. */
static bf16 *
panel(const struct bf16w *w, int j)
{
    return w->p + (size_t)j * (size_t)(w->Kp / 2) * 2 * KERN16_PANEL;
}

static void
pack_row(struct bf16w *w, int o, const bf16 *row)
{
    bf16 *base = panel(w, o / KERN16_PANEL) + (size_t)(o % KERN16_PANEL) * 2;
    int p, np = (w->K + 1) / 2;

    for (p = 0; p < np; p++)
        memcpy(base + (size_t)p * 2 * KERN16_PANEL, row + 2 * p, 2 * sizeof(bf16));
}

#if HAVE_X86
/* Sixteen lanes of bf16 pairs: word n = bf16(a[n]) | bf16(b[n]) << 16. */
T5 static inline __m512i
pair16(__m512i a, __m512i b)
{
    return _mm512_or_si512(round16(a), _mm512_slli_epi32(round16(b), 16));
}

/* Pairs [0, np) of a panel from its 16 rows of W (stride ldw), by gathers. */
T5 static void
pack_panel_avx512(bf16 *dst, const float *W, size_t ldw, int np)
{
    __m512i idx = rows16(ldw);
    int p;

    for (p = 0; p < np; p++) {
        const float *w = W + 2 * (size_t)p;
        _mm512_storeu_si512(dst + (size_t)p * 2 * KERN16_PANEL,
                            pair16(_mm512_castps_si512(_mm512_i32gather_ps(idx, w, 4)),
                                   _mm512_castps_si512(_mm512_i32gather_ps(idx, w + 1, 4))));
    }
}

/* Pairs [0, np) of panel j of the transposed pack from rows 2p, 2p + 1 of S. */
T5 static void
tpack_panel_avx512(bf16 *dst, const float *S, size_t ld, int j, int np)
{
    int p;

    for (p = 0; p < np; p++) {
        const float *a = S + 2 * (size_t)p * ld + (size_t)j * KERN16_PANEL;
        _mm512_storeu_si512(dst + (size_t)p * 2 * KERN16_PANEL,
                            pair16(_mm512_loadu_si512(a), _mm512_loadu_si512(a + ld)));
    }
}
#endif

void
bf16w_pack_f32(struct bf16w *w, const float *W, size_t ldw, int o0, int o1)
{
    bf16 *row = xcalloc((size_t)w->K + 1, sizeof(bf16));
    int o = o0;

    pack_check(w, o0, o1);
#if HAVE_X86
    /* whole panels: the full pairs by gathers, an odd k's last pair below */
    if (vector_pack(ldw))
        for (; o + KERN16_PANEL <= o1; o += KERN16_PANEL) {
            int k = w->K - 1, n;
            bf16 *base = panel(w, o / KERN16_PANEL);
            pack_panel_avx512(base, W + (size_t)o * ldw, ldw, w->K / 2);
            if (w->K % 2)
                for (n = 0; n < KERN16_PANEL; n++) {
                    bf16 *d = base + (size_t)(k / 2) * 2 * KERN16_PANEL + 2 * (size_t)n;
                    d[0] = bf16_from_f32(W[(size_t)(o + n) * ldw + (size_t)k]);
                    d[1] = 0;
                }
        }
#endif
    for (; o < o1; o++) {
        bf16_from_f32_n(row, W + (size_t)o * ldw, (size_t)w->K);
        pack_row(w, o, row);
    }
    free(row);
}

void
bf16w_pack_f32_t(struct bf16w *w, const float *S, size_t ld, int j0, int j1)
{
    int np = w->Kp / 2, j, p, n, h;

    for (j = j0; j < j1; j++) {
        int cols = PT_MIN(KERN16_PANEL, w->O - j * KERN16_PANEL);
        bf16 *out = panel(w, j);
        p = 0;
#if HAVE_X86
        if (cols == KERN16_PANEL && vector_pack(ld)) {
            tpack_panel_avx512(out, S, ld, j, w->K / 2);
            p = w->K / 2;
        }
#endif
        for (; p < np && 2 * p < w->K; p++)
            for (h = 0; h < 2; h++)
                for (n = 0; n < cols; n++)
                    out[((size_t)p * KERN16_PANEL + n) * 2 + h] =
                        2 * p + h < w->K
                            ? bf16_from_f32(S[(size_t)(2 * p + h) * ld + (size_t)j * KERN16_PANEL + (size_t)n])
                            : 0;
    }
}

void
bf16w_pack_bf16(struct bf16w *w, const bf16 *W, size_t ldw, int o0, int o1)
{
    bf16 *row = xcalloc((size_t)w->K + 1, sizeof(bf16));
    int o;

    pack_check(w, o0, o1);
    for (o = o0; o < o1; o++) {
        memcpy(row, W + (size_t)o * ldw, (size_t)w->K * sizeof(bf16));
        pack_row(w, o, row);
    }
    free(row);
}

bf16
bf16w_at(const struct bf16w *w, int o, int k)
{
    return w->p[w_index(w, o, k)];
}

/* ---- activations: rounded to bf16 into scratch ---- */

struct src {
    const float *f; /* fp32 rows, or */
    const bf16 *b;  /* bf16 rows */
    size_t ld;
};

/*
 * Each thread's scratch for its calls' prepared activations, slot by
 * slot: grown as needed, kept for the thread's next call (a product's
 * rows are rounded on every call, and a block of megabytes allocated and
 * freed each time would be zeroed again by the kernel each time), freed
 * when the thread ends.
 */
enum { SCR_BF16, SCR_F32, SCR_N };
struct scratch {
    void *p[SCR_N];
    size_t n[SCR_N];
};
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void
scratch_free(void *v)
{
    struct scratch *s = v;
    int i;

    for (i = 0; i < SCR_N; i++)
        free(s->p[i]);
    free(s);
}

static void
scratch_init(void)
{
    if (pthread_key_create(&scratch_key, scratch_free))
        die("bf16: no thread key for the kernels' scratch");
}

static void *
scratch(int slot, size_t n)
{
    struct scratch *s;

    pthread_once(&scratch_once, scratch_init);
    s = pthread_getspecific(scratch_key);
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        if (pthread_setspecific(scratch_key, s))
            die("bf16: cannot keep the kernels' scratch");
    }
    if (n > s->n[slot]) {
        free(s->p[slot]);
        s->p[slot] = xaligned(64, n);
        s->n[slot] = n;
    }
    return s->p[slot];
}

/* What a set does to each prepared row while it is in cache (or nothing) */
typedef void row_fn(uint32_t *pairs, size_t n);

/* Rows [0, R) of s as bf16, Kp each (zero past K), each then passed to
   row (Kp / 2 pairs), then zero rows to Rp (thread scratch). */
static bf16 *
prep_bf16(const struct src *s, int R, int Rp, int K, int Kp, from_fn *from, row_fn *row)
{
    bf16 *x = scratch(SCR_BF16, (size_t)Rp * (size_t)Kp * sizeof(bf16));
    int r;

    for (r = 0; r < R; r++) {
        bf16 *d = x + (size_t)r * (size_t)Kp;
        if (s->f)
            from(d, s->f + (size_t)r * s->ld, (size_t)K);
        else
            memcpy(d, s->b + (size_t)r * s->ld, (size_t)K * sizeof(bf16));
        memset(d + K, 0, (size_t)(Kp - K) * sizeof(bf16));
        if (row)
            row((uint32_t *)(void *)d, (size_t)Kp / 2);
    }
    memset(x + (size_t)R * (size_t)Kp, 0, (size_t)(Rp - R) * (size_t)Kp * sizeof(bf16));
    return x;
}

/* The columns of panels [j, j + n) inside [o0, o1) of res rows [0, rb) into out rows r... */
static void
emit(float *out, size_t ldo, const float *res, int r, int rb, int R, int j, int n, int o0,
     int o1, const float *bias, int acc)
{
    int c0 = PT_MAX(o0, j * KERN16_PANEL), c1 = PT_MIN(o1, (j + n) * KERN16_PANEL), i, c;
    int base = j * KERN16_PANEL;

    for (i = 0; i < rb && r + i < R; i++) {
        float *restrict d = out + (size_t)(r + i) * ldo;
        const float *restrict s = res + i * RES_LD;
        if (acc)
            for (c = c0; c < c1; c++)
                d[c] += s[c - base];
        else if (bias)
            for (c = c0; c < c1; c++)
                d[c] = s[c - base] + bias[c];
        else
            memcpy(d + c0, s + (c0 - base), (size_t)(c1 - c0) * sizeof(float));
    }
}

/*
 * A micro-kernel: rb rows of prepared activations x (row stride xs of its
 * element type) times np panels from pw (panel stride ps), over npairs
 * pairs of k, into res[i * ld + j * 16 + n] for row i, panel j, column n,
 * or added to what res holds there (acc).
 */
typedef void ukr_fn(float *res, size_t ld, int acc, const void *x, size_t xs, const bf16 *pw,
                    size_t ps, int npairs);

/* A set's micro-kernels: rb x np, rb x 1, 1 x np1, 1 x 1. */
struct ukset {
    int rb, np, np1;
    ukr_fn *big, *big1, *one, *one1;
};

/* Row blocks through the micro-kernels, column chunk by column chunk. */
static void
drive(const struct ukset *u, float *out, size_t ldo, const char *x, size_t xs, size_t esz,
      const struct bf16w *W, int R, int o0, int o1, const float *bias, int acc)
{
    float res[4 * RES_LD];
    size_t ps = (size_t)W->Kp * KERN16_PANEL;
    int p0 = o0 / KERN16_PANEL, p1 = (o1 + KERN16_PANEL - 1) / KERN16_PANEL;
    int npc = PT_MAX(4, (int)(CHUNK_BYTES / ((size_t)W->Kp * KERN16_PANEL * 2)) & ~3);
    int npairs = W->Kp / 2, c0, c1, r, rb, j, n;

    for (c0 = p0; c0 < p1; c0 += npc) {
        c1 = PT_MIN(p1, c0 + npc);
        for (r = 0; r < R; r += rb) {
            const char *xr = x + (size_t)r * xs * esz;
            rb = R - r >= u->rb ? u->rb : 1;
            for (j = c0; j < c1; j += n) {
                const bf16 *pw = W->p + (size_t)j * ps;
                ukr_fn *k;
                int inside;
                if (rb == u->rb) {
                    n = c1 - j >= u->np ? u->np : 1;
                    k = n == u->np ? u->big : u->big1;
                } else {
                    n = c1 - j >= u->np1 ? u->np1 : 1;
                    k = n == u->np1 ? u->one : u->one1;
                }
                /* whole panels inside [o0, o1), no bias: straight into out */
                inside = !bias && j * KERN16_PANEL >= o0 && (j + n) * KERN16_PANEL <= o1;
                if (inside) {
                    k(out + (size_t)r * ldo + (size_t)j * KERN16_PANEL, ldo, acc, xr, xs, pw, ps,
                      npairs);
                } else {
                    k(res, RES_LD, 0, xr, xs, pw, ps, npairs);
                    emit(out, ldo, res, r, rb, R, j, n, o0, o1, bias, acc);
                }
            }
        }
    }
}

/* ---- portable C: one row, one panel; x is rows of bf16-valued floats ---- */

static void
ukr_c(float *res, size_t ld, int acc_, const void *xv, size_t xs, const bf16 *pw, size_t ps,
      int npairs)
{
    const float *x = xv;
    float acc[KERN16_PANEL] = { 0 };
    int p, n;

    (void)xs, (void)ps, (void)ld;
    for (p = 0; p < npairs; p++) {
        const bf16 *w = pw + (size_t)p * 2 * KERN16_PANEL;
        for (n = 0; n < KERN16_PANEL; n++) {
            acc[n] += x[2 * p] * bf16_to_f32(w[2 * n]);
            acc[n] += x[2 * p + 1] * bf16_to_f32(w[2 * n + 1]);
        }
    }
    for (n = 0; n < KERN16_PANEL; n++)
        res[n] = acc_ ? res[n] + acc[n] : acc[n];
}

static const struct ukset uk_c = { 1, 1, 1, ukr_c, ukr_c, ukr_c, ukr_c };

/* fp32 rows (bf16-valued) for the sets that widen in registers */
static void
mm_widen(const struct ukset *u, from_fn *from, to_fn *to, float *out, size_t ldo,
         const struct src *s, const struct bf16w *W, int R, int o0, int o1, const float *bias,
         int acc)
{
    bf16 *xb;
    float *xf;

    if (R < 1 || o0 >= o1)
        return;
    xb = prep_bf16(s, R, R, W->K, W->Kp, from, NULL);
    xf = scratch(SCR_F32, (size_t)R * (size_t)W->Kp * sizeof(float));
    to(xf, xb, (size_t)R * (size_t)W->Kp);
    drive(u, out, ldo, (const char *)xf, (size_t)W->Kp, sizeof(float), W, R, o0, o1, bias,
          acc);
}

#if HAVE_X86
/* ---- AVX2 + FMA: a panel is two vectors of 8 columns; even k = pair << 16, odd = pair & ~0xffff ---- */

T2 static inline __attribute__((always_inline)) void
ukr_avx2_body(float *res, size_t ld, int acc, const float *x, size_t xs, const bf16 *pw,
              size_t ps, int npairs, int rb, int np)
{
    __m256 c[4][4][2];
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    int p, i, j;

#pragma GCC unroll 4
    for (i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (j = 0; j < np; j++)
            c[i][j][0] = c[i][j][1] = _mm256_setzero_ps();
    for (p = 0; p < npairs; p++) {
#pragma GCC unroll 4
        for (j = 0; j < np; j++) {
            const bf16 *w = pw + (size_t)j * ps + (size_t)p * 2 * KERN16_PANEL;
            __m256i v0 = _mm256_loadu_si256((const __m256i *)w);
            __m256i v1 = _mm256_loadu_si256((const __m256i *)(w + 16));
            __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(v0, 16));
            __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(v1, 16));
            __m256 d0 = _mm256_castsi256_ps(_mm256_and_si256(v0, hi));
            __m256 d1 = _mm256_castsi256_ps(_mm256_and_si256(v1, hi));
#pragma GCC unroll 4
            for (i = 0; i < rb; i++) {
                __m256 ae = _mm256_broadcast_ss(x + (size_t)i * xs + 2 * p);
                __m256 ao = _mm256_broadcast_ss(x + (size_t)i * xs + 2 * p + 1);
                c[i][j][0] = _mm256_fmadd_ps(ae, e0, c[i][j][0]);
                c[i][j][1] = _mm256_fmadd_ps(ae, e1, c[i][j][1]);
                c[i][j][0] = _mm256_fmadd_ps(ao, d0, c[i][j][0]);
                c[i][j][1] = _mm256_fmadd_ps(ao, d1, c[i][j][1]);
            }
        }
    }
#pragma GCC unroll 4
    for (i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (j = 0; j < np; j++) {
            float *d = res + i * ld + j * 16;
            if (acc) {
                c[i][j][0] = _mm256_add_ps(_mm256_loadu_ps(d), c[i][j][0]);
                c[i][j][1] = _mm256_add_ps(_mm256_loadu_ps(d + 8), c[i][j][1]);
            }
            _mm256_storeu_ps(d, c[i][j][0]);
            _mm256_storeu_ps(d + 8, c[i][j][1]);
        }
}

#define UKR(name, body, T, xt, rb, np)                                                   \
    T static void name(float *res, size_t ld, int acc, const void *x, size_t xs,         \
                       const bf16 *pw, size_t ps, int npairs)                            \
    {                                                                                    \
        body(res, ld, acc, (const xt *)x, xs, pw, ps, npairs, rb, np);                   \
    }

UKR(ukr_avx2_41, ukr_avx2_body, T2, float, 4, 1)
UKR(ukr_avx2_14, ukr_avx2_body, T2, float, 1, 4)
UKR(ukr_avx2_11, ukr_avx2_body, T2, float, 1, 1)
static const struct ukset uk_avx2 = { 4, 1, 4, ukr_avx2_41, ukr_avx2_41, ukr_avx2_14,
                                      ukr_avx2_11 };

/* ---- AVX-512F: a panel is one vector of 16 columns ---- */

/* A result vector into d, or added to d (the sum emit() would form) */
T5 static inline __attribute__((always_inline)) void
store16(float *d, __m512 c, int acc)
{
    _mm512_storeu_ps(d, acc ? _mm512_add_ps(_mm512_loadu_ps(d), c) : c);
}

T5 static inline __attribute__((always_inline)) void
ukr_avx512_body(float *res, size_t ld, int acc, const float *x, size_t xs, const bf16 *pw,
                size_t ps, int npairs, int rb, int np)
{
    __m512 c[4][4];
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    int p, i, j;

#pragma GCC unroll 4
    for (i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (j = 0; j < np; j++)
            c[i][j] = _mm512_setzero_ps();
    for (p = 0; p < npairs; p++) {
#pragma GCC unroll 4
        for (j = 0; j < np; j++) {
            __m512i v = _mm512_loadu_si512(pw + (size_t)j * ps + (size_t)p * 2 * KERN16_PANEL);
            __m512 e = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
            __m512 d = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
#pragma GCC unroll 4
            for (i = 0; i < rb; i++) {
                c[i][j] = _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)i * xs + 2 * p]), e, c[i][j]);
                c[i][j] =
                    _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)i * xs + 2 * p + 1]), d, c[i][j]);
            }
        }
    }
#pragma GCC unroll 4
    for (i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (j = 0; j < np; j++)
            store16(res + i * ld + j * 16, c[i][j], acc);
}

UKR(ukr_avx512_42, ukr_avx512_body, T5, float, 4, 2)
UKR(ukr_avx512_41, ukr_avx512_body, T5, float, 4, 1)
UKR(ukr_avx512_14, ukr_avx512_body, T5, float, 1, 4)
UKR(ukr_avx512_11, ukr_avx512_body, T5, float, 1, 1)
static const struct ukset uk_avx512 = { 4, 2, 4, ukr_avx512_42, ukr_avx512_41, ukr_avx512_14,
                                        ukr_avx512_11 };

/*
 * ---- AVX512_BF16: vdpbf16ps adds a pair's odd product, then its even
 * one (SDM order); the weight pairs are rotated by 16 bits and the
 * activation pairs stored swapped, so the even k goes first ----
 */

TB static inline __attribute__((always_inline)) void
ukr_bf_body(float *res, size_t ld, int acc, const uint32_t *x, size_t xs, const bf16 *pw,
            size_t ps, int npairs, int rb, int np)
{
    __m512 c[4][4];
    int p, i, j;

#pragma GCC unroll 4
    for (i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (j = 0; j < np; j++)
            c[i][j] = _mm512_setzero_ps();
    for (p = 0; p < npairs; p++) {
        __m512i w[4];
#pragma GCC unroll 4
        for (j = 0; j < np; j++)
            w[j] = _mm512_rol_epi32(
                _mm512_loadu_si512(pw + (size_t)j * ps + (size_t)p * 2 * KERN16_PANEL), 16);
#pragma GCC unroll 4
        for (i = 0; i < rb; i++) {
            __m512i a = _mm512_set1_epi32((int)x[(size_t)i * xs + (size_t)p]);
#pragma GCC unroll 4
            for (j = 0; j < np; j++)
                c[i][j] = _mm512_dpbf16_ps(c[i][j], (__m512bh)w[j], (__m512bh)a);
        }
    }
#pragma GCC unroll 4
    for (i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (j = 0; j < np; j++)
            store16(res + i * ld + j * 16, c[i][j], acc);
}

UKR(ukr_bf_44, ukr_bf_body, TB, uint32_t, 4, 4)
UKR(ukr_bf_41, ukr_bf_body, TB, uint32_t, 4, 1)
UKR(ukr_bf_14, ukr_bf_body, TB, uint32_t, 1, 4)
UKR(ukr_bf_11, ukr_bf_body, TB, uint32_t, 1, 1)
static const struct ukset uk_bf = { 4, 4, 4, ukr_bf_44, ukr_bf_41, ukr_bf_14, ukr_bf_11 };

TB static void
swap_pairs(uint32_t *xp, size_t n)
{
    size_t i;

    for (i = 0; i < n; i += 16)
        _mm512_storeu_si512(xp + i, _mm512_rol_epi32(_mm512_loadu_si512(xp + i), 16));
}

static void
mm_dpbf16(float *out, size_t ldo, const struct src *s, const struct bf16w *W, int R, int o0,
          int o1, const float *bias, int acc)
{
    size_t np = (size_t)W->Kp / 2;
    uint32_t *xp;

    if (R < 1 || o0 >= o1)
        return;
    /* each row's pairs swapped as it is made: (xb[2i] << 16 | xb[2i+1]) is
       the little-endian word rotated by 16; np is a multiple of 16 (Kp of 32) */
    xp = (uint32_t *)(void *)prep_bf16(s, R, R, W->K, W->Kp, from_f32_avx512, swap_pairs);
    drive(&uk_bf, out, ldo, (const char *)xp, np, sizeof(uint32_t), W, R, o0, o1, bias, acc);
}

/*
 * ---- AMX: C tiles 0-3 (2 x 2 blocks of 16 rows x 16 columns), A tiles
 * 4-5 (16 rows x 32 k), B tiles 6-7 (16 pairs x 16 columns: one panel's
 * k-tile, contiguous) ----
 */

struct tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

TA static void
amx_block(float *res, const bf16 *a, size_t lda, const bf16 *b, size_t ps, int nt, int two_r,
          int two_c)
{
    int t;

    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (t = 0; t < nt; t++) {
        const bf16 *at = a + (size_t)t * 32, *bt = b + (size_t)t * 16 * 2 * KERN16_PANEL;
        _tile_loadd(4, at, lda * sizeof(bf16));
        _tile_loadd(6, bt, 64);
        _tile_dpbf16ps(0, 4, 6);
        if (two_c) {
            _tile_loadd(7, bt + ps, 64);
            _tile_dpbf16ps(1, 4, 7);
        }
        if (two_r) {
            _tile_loadd(5, at + 16 * lda, lda * sizeof(bf16));
            _tile_dpbf16ps(2, 5, 6);
            if (two_c)
                _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, res, RES_LD * sizeof(float));
    _tile_stored(1, res + 16, RES_LD * sizeof(float));
    _tile_stored(2, res + 16 * RES_LD, RES_LD * sizeof(float));
    _tile_stored(3, res + 16 * RES_LD + 16, RES_LD * sizeof(float));
    __asm__ volatile("" ::: "memory");
}

TA static void
mm_amx(float *out, size_t ldo, const struct src *s, const struct bf16w *W, int R, int o0,
       int o1, const float *bias, int acc)
{
    float *res;
    struct tilecfg cfg;
    size_t ps = (size_t)W->Kp * KERN16_PANEL, lda = (size_t)W->Kp;
    /* fewer than 16 rows: tiles of R rows (nothing computed for padding);
       else row blocks of 16, the last padded with zero rows */
    int Rp = R < 16 ? R : (R + 15) & ~15;
    int p0 = o0 / KERN16_PANEL, p1 = (o1 + KERN16_PANEL - 1) / KERN16_PANEL;
    int npc = PT_MAX(2, (int)(CHUNK_BYTES / (ps * 2)) & ~1), nt = W->Kp / 32;
    int c0, c1, r, j, t, two_r, two_c;
    bf16 *xb;

    if (R < 1 || o0 >= o1)
        return;
    res = xmalloc(sizeof(float) * RES_ROWS * RES_LD);
    xb = prep_bf16(s, R, Rp, W->K, W->Kp, from_f32_avx512, NULL);
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = t < 6 ? (uint8_t)PT_MIN(Rp, 16) : 16; /* C and A tiles: the rows */
    }
    /* the tile intrinsics are asm without a memory clobber: order them here */
    __asm__ volatile("" ::: "memory");
    _tile_loadconfig(&cfg);
    for (c0 = p0; c0 < p1; c0 += npc) {
        c1 = PT_MIN(p1, c0 + npc);
        for (r = 0; r < Rp; r += 32) {
            two_r = r + 16 < Rp;
            for (j = c0; j < c1; j += 2) {
                two_c = j + 1 < c1;
                amx_block(res, xb + (size_t)r * lda, lda, W->p + (size_t)j * ps, ps, nt, two_r,
                          two_c);
                emit(out, ldo, res, r, 32, R, j, 1 + two_c, o0, o1, bias, acc);
            }
        }
    }
    _tile_release();
    free(res);
}
#endif /* HAVE_X86 */

/* ---- the sets ---- */

/* A set's two entry points, fp32 and bf16 activations, around core(..., out, ldo, &src, ...). */
#define ENTRIES(name, core, ...)                                                               \
    static void mm16_##name(float *out, size_t ldo, const float *in, size_t ldi,              \
                            const struct bf16w *W, int R, int o0, int o1, const float *bias,  \
                            int acc)                                                          \
    {                                                                                         \
        struct src s = { in, NULL, ldi };                                                     \
        core(__VA_ARGS__ out, ldo, &s, W, R, o0, o1, bias, acc);                              \
    }                                                                                         \
    static void mm16b_##name(float *out, size_t ldo, const bf16 *in, size_t ldi,              \
                             const struct bf16w *W, int R, int o0, int o1, const float *bias, \
                             int acc)                                                         \
    {                                                                                         \
        struct src s = { NULL, in, ldi };                                                     \
        core(__VA_ARGS__ out, ldo, &s, W, R, o0, o1, bias, acc);                              \
    }

ENTRIES(c, mm_widen, &uk_c, from_f32_c, to_f32_c, )
#if HAVE_X86
ENTRIES(avx2, mm_widen, &uk_avx2, from_f32_avx2, to_f32_avx2, )
ENTRIES(avx512, mm_widen, &uk_avx512, from_f32_avx512, to_f32_avx512, )
ENTRIES(bf, mm_dpbf16, )
ENTRIES(amx, mm_amx, )
#endif /* HAVE_X86 */

int
kern16_cpu_has(enum kern16 k)
{
    const struct cpu_features *f = cpu_features();

    switch (k) {
    case KERN16_C:
        return 1;
    case KERN16_AVX2:
        return HAVE_X86 && f->avx2 && f->fma;
    case KERN16_AVX512:
        return HAVE_X86 && f->avx512f;
    case KERN16_AVX512BF16:
        return HAVE_X86 && f->avx512f && f->avx512_bf16;
    case KERN16_AMX:
        return HAVE_X86 && f->avx512f && f->avx512_bf16 && cpu_amx_usable();
    case KERN16_AUTO:
        break;
    }
    return 0;
}

struct kernels16
kernels16_for(enum kern16 k)
{
    struct kernels16 K = { KERN16_C, mm16_c, mm16b_c, from_f32_c, to_f32_c };

    if (k == KERN16_AUTO) {
        for (k = KERN16_AMX; k > KERN16_C; k--)
            if (kern16_cpu_has(k))
                break;
    }
    if (!kern16_cpu_has(k))
        die("kern: this CPU cannot run the %s bf16 kernel", kern16_name(k));
#if HAVE_X86
    if (k == KERN16_AVX2)
        K = (struct kernels16){ k, mm16_avx2, mm16b_avx2, from_f32_avx2, to_f32_avx2 };
    if (k == KERN16_AVX512)
        K = (struct kernels16){ k, mm16_avx512, mm16b_avx512, from_f32_avx512, to_f32_avx512 };
    if (k == KERN16_AVX512BF16)
        K = (struct kernels16){ k, mm16_bf, mm16b_bf, from_f32_avx512, to_f32_avx512 };
    if (k == KERN16_AMX)
        K = (struct kernels16){ k, mm16_amx, mm16b_amx, from_f32_avx512, to_f32_avx512 };
#endif
    return K;
}

const char *
kern16_name(enum kern16 k)
{
    switch (k) {
    case KERN16_AUTO:
        return "auto";
    case KERN16_C:
        return "c";
    case KERN16_AVX2:
        return "avx2";
    case KERN16_AVX512:
        return "avx512";
    case KERN16_AVX512BF16:
        return "avx512bf16";
    case KERN16_AMX:
        return "amx";
    }
    return "?";
}
