/*
 * test_kern_bf16.c - kern.h's bf16 half: fp32 -> bf16 rounding against a
 * nearest-value search done in double (and hand-checked edge cases), each
 * set's vectorized conversions against the scalar ones, the packed layout,
 * and every kernel set this CPU runs against two references computed here:
 * kern.h's chain (activation and weight rounded, k in order, one float
 * accumulator) bit for bit (every set but AMX, whose tile sums are its
 * own: kern.h), and the double-precision product of the unrounded fp32
 * operands within the bf16 bound stated below (every set).  Then bit-
 * identity of a row whatever R, the row offset and the column range, and
 * the bias and accumulate forms against the products alone.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kern.h"
#include "util.h"

static uint32_t
bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float
from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* The bf16 nearest x: of the two bf16 around x, the closer in double; ties to the even one. */
static uint16_t
ref_round(float x)
{
    uint32_t u = bits(x), lo = u & 0xffff0000u, hi = lo + 0x10000u;
    double dx, dl, dh;

    if (isnan(x))
        return (uint16_t)((u >> 16) | 0x40);
    if (isinf(x) || u == lo)
        return (uint16_t)(u >> 16);
    dx = fabs((double)x);
    dl = fabs((double)from_bits(lo));
    /* past the largest bf16 the next value up is 2^128 (infinity) */
    dh = (hi & 0x7fffffffu) == 0x7f800000u ? ldexp(1.0, 128) : fabs((double)from_bits(hi));
    if (dx - dl < dh - dx)
        return (uint16_t)(lo >> 16);
    if (dx - dl > dh - dx)
        return (uint16_t)(hi >> 16);
    return (uint16_t)(((lo >> 16) & 1) ? hi >> 16 : lo >> 16);
}

static const enum kern16 sets[] = { KERN16_C, KERN16_AVX2, KERN16_AVX512, KERN16_AVX512BF16,
                                    KERN16_AMX };

static void
test_convert(void)
{
    static const uint32_t edge[][2] = {
        { 0x00000000, 0x0000 }, { 0x80000000, 0x8000 }, { 0x3f800000, 0x3f80 },
        { 0x3f808000, 0x3f80 }, /* tie, even below */
        { 0x3f818000, 0x3f82 }, /* tie, odd below: up */
        { 0x3f808001, 0x3f81 }, { 0x3f807fff, 0x3f80 }, { 0xbf818000, 0xbf82 },
        { 0x7f800000, 0x7f80 }, { 0xff800000, 0xff80 },
        { 0x7f7fffff, 0x7f80 }, /* FLT_MAX rounds to infinity */
        { 0x7f7f7fff, 0x7f7f }, { 0xff7fffff, 0xff80 },
        { 0x00000001, 0x0000 }, /* subnormals kept and rounded */
        { 0x00008000, 0x0000 }, { 0x00018000, 0x0002 }, { 0x00008001, 0x0001 },
        { 0x007fffff, 0x0080 }, /* largest subnormal up to the smallest normal */
        { 0x807fffff, 0x8080 },
        { 0x7fc00000, 0x7fc0 }, { 0x7f800001, 0x7fc0 }, /* signalling NaN: quiet, not inf */
        { 0x7f80ffff, 0x7fc0 }, { 0xffa12345, 0xffe1 }, { 0x7fffffff, 0x7fff },
    };
    enum { N = 4099 };
    float *src = malloc(N * sizeof(float)), *back = malloc(N * sizeof(float));
    bf16 *ref = malloc(N * sizeof(bf16)), *got = malloc(N * sizeof(bf16));
    struct rng r;
    size_t i, si;
    uint32_t h;

    for (i = 0; i < ARRAY_LEN(edge); i++) {
        CHECK_MSG(bf16_from_f32(from_bits(edge[i][0])) == edge[i][1], "%08x -> %04x, want %04x",
                  edge[i][0], bf16_from_f32(from_bits(edge[i][0])), edge[i][1]);
        CHECK(ref_round(from_bits(edge[i][0])) == edge[i][1]);
    }
    /* every bf16 widens exactly, and every non-signalling one rounds back to itself */
    for (h = 0; h < 65536; h++) {
        float x = bf16_to_f32((bf16)h);
        CHECK_MSG(bits(x) == h << 16, "%04x", h);
        if (!isnan(x) || (h & 0x40))
            CHECK_MSG(bf16_from_f32(x) == h, "%04x", h);
    }
    /* random bit patterns, random floats near ties, the edge cases at every tail offset */
    rng_seed(&r, 11);
    for (i = 0; i < N; i++) {
        uint32_t u = (uint32_t)rng_u64(&r);
        if (i % 3 == 1)
            u = (u & 0xffff0000u) | 0x8000u | (uint32_t)(rng_below(&r, 2));
        if (i % 3 == 2)
            u = bits((float)rng_normal(&r));
        if (i % 97 < ARRAY_LEN(edge))
            u = edge[i % 97][0];
        src[i] = from_bits(u);
        ref[i] = ref_round(src[i]);
    }
    for (i = 0; i < N; i++)
        CHECK_MSG(bf16_from_f32(src[i]) == ref[i], "%08x: %04x, want %04x", bits(src[i]),
                  bf16_from_f32(src[i]), ref[i]);
    for (si = 0; si < ARRAY_LEN(sets); si++) {
        struct kernels16 K;
        size_t off, n;
        if (!kern16_cpu_has(sets[si]))
            continue;
        K = kernels16_for(sets[si]);
        for (off = 0; off < 3; off++)
            for (n = 0; n + off <= N; n += n < 40 ? 1 : 1013) {
                memset(got, 0xaa, N * sizeof(bf16));
                K.from_f32(got, src + off, n);
                CHECK_MSG(!memcmp(got, ref + off, n * sizeof(bf16)), "%s from n %zu",
                          kern16_name(sets[si]), n);
                CHECK(n == N - off || got[n] == 0xaaaa);
                K.to_f32(back, got, n);
                for (i = 0; i < n; i++)
                    CHECK_MSG(bits(back[i]) == (uint32_t)got[i] << 16, "%s to %zu",
                              kern16_name(sets[si]), i);
            }
    }
    bf16_from_f32_n(got, src, N);
    CHECK(!memcmp(got, ref, N * sizeof(bf16)));
    free(src), free(back), free(ref), free(got);
}

/* A problem: fp32 activations and weights, and the references. */
struct prob {
    int R, K, O;
    float *in, *W, *bias;
    bf16 *inb, *Wb;
    float *chain;   /* kern.h's chain, computed here; R x O */
    double *exact;  /* sum of fp32 products in double */
    double *absum;  /* sum of |products| in double */
};

static void
prob_make(struct prob *p, int R, int K, int O, uint64_t seed)
{
    struct rng r;
    int i, o, k;

    p->R = R, p->K = K, p->O = O;
    p->in = malloc(sizeof(float) * (size_t)(R * K));
    p->W = malloc(sizeof(float) * (size_t)(O * K));
    p->bias = malloc(sizeof(float) * (size_t)O);
    p->inb = malloc(sizeof(bf16) * (size_t)(R * K));
    p->Wb = malloc(sizeof(bf16) * (size_t)(O * K));
    p->chain = malloc(sizeof(float) * (size_t)(R * O));
    p->exact = malloc(sizeof(double) * (size_t)(R * O));
    p->absum = malloc(sizeof(double) * (size_t)(R * O));
    rng_seed(&r, seed);
    for (i = 0; i < R * K; i++) {
        p->in[i] = (float)rng_normal(&r) * 2.0f;
        p->inb[i] = ref_round(p->in[i]);
    }
    for (i = 0; i < O * K; i++) {
        p->W[i] = (float)rng_normal(&r) * 0.05f;
        p->Wb[i] = ref_round(p->W[i]);
    }
    for (o = 0; o < O; o++)
        p->bias[o] = (float)rng_normal(&r);
    for (i = 0; i < R; i++)
        for (o = 0; o < O; o++) {
            float acc = 0.0f;
            double e = 0, a = 0;
            for (k = 0; k < K; k++) {
                float x = bf16_to_f32(p->inb[i * K + k]), w = bf16_to_f32(p->Wb[o * K + k]);
                acc += x * w; /* exact product: one rounding per step */
                e += (double)p->in[i * K + k] * p->W[o * K + k];
                a += fabs((double)p->in[i * K + k] * p->W[o * K + k]);
            }
            p->chain[i * O + o] = acc;
            p->exact[i * O + o] = e;
            p->absum[i * O + o] = a;
        }
}

static void
prob_free(struct prob *p)
{
    free(p->in), free(p->W), free(p->bias), free(p->inb), free(p->Wb);
    free(p->chain), free(p->exact), free(p->absum);
}

/* One call of set K on rows [r0, r1) and columns [o0, o1); fp32 or bf16 activations. */
static void
call(const struct kernels16 *K, const struct prob *p, const struct bf16w *w, float *out,
     int r0, int r1, int o0, int o1, const float *bias, int acc, int bfin)
{
    if (bfin)
        K->mmb(out + (size_t)r0 * p->O, (size_t)p->O, p->inb + (size_t)r0 * p->K,
               (size_t)p->K, w, r1 - r0, o0, o1, bias, acc);
    else
        K->mm(out + (size_t)r0 * p->O, (size_t)p->O, p->in + (size_t)r0 * p->K, (size_t)p->K,
              w, r1 - r0, o0, o1, bias, acc);
}

static void
test_mm(void)
{
    /* R, K, O: odd K, K not a multiple of 32, O not a multiple of 16, both sides of 16 rows */
    static const int shapes[][3] = { { 1, 1, 1 },    { 1, 37, 13 },  { 3, 64, 33 },
                                     { 5, 31, 17 },  { 16, 96, 32 }, { 17, 100, 40 },
                                     { 40, 65, 70 }, { 9, 1024, 48 }, { 33, 256, 100 } };
    size_t hi, si;
    int ran[ARRAY_LEN(sets)] = { 0 };

    for (hi = 0; hi < ARRAY_LEN(shapes); hi++) {
        struct prob p;
        struct bf16w w, w2;
        int R = shapes[hi][0], K = shapes[hi][1], O = shapes[hi][2], i, o, k;
        size_t n = (size_t)R * (size_t)O;
        float *all = malloc(n * sizeof(float)), *part = malloc(n * sizeof(float));
        float *base = malloc(n * sizeof(float));

        prob_make(&p, R, K, O, 100 + hi);
        bf16w_alloc(&w, O, K);
        bf16w_pack_f32(&w, p.W, (size_t)K, 0, O);
        /* the layout: every element where kern.h says, the same from bf16 rows, packed in parts */
        bf16w_alloc(&w2, O, K);
        for (o = 0; o < O; o += 16)
            bf16w_pack_bf16(&w2, p.Wb, (size_t)K, o, PT_MIN(O, o + 16));
        CHECK(w.Kp % 32 == 0 && w.Kp >= K && w.Kp < K + 32);
        CHECK(!memcmp(w.p, w2.p, sizeof(bf16) * (size_t)((O + 15) / 16 * 16) * (size_t)w.Kp));
        {   /* the same bytes from W's transpose (rows of stride O + 3), panel by panel */
            size_t ld = (size_t)O + 3;
            float *S = calloc((size_t)K * ld, sizeof(float));
            struct bf16w w3;
            int j;
            for (o = 0; o < O; o++)
                for (k = 0; k < K; k++)
                    S[(size_t)k * ld + (size_t)o] = p.W[o * K + k];
            bf16w_alloc(&w3, O, K);
            for (j = 0; j < (O + 15) / 16; j++)
                bf16w_pack_f32_t(&w3, S, ld, j, j + 1);
            CHECK(!memcmp(w.p, w3.p,
                          sizeof(bf16) * (size_t)((O + 15) / 16 * 16) * (size_t)w3.Kp));
            bf16w_free(&w3);
            free(S);
        }
        for (o = 0; o < O; o++)
            for (k = 0; k < K; k++)
                CHECK(bf16w_at(&w, o, k) == p.Wb[o * K + k] &&
                      w.p[((o / 16 * (w.Kp / 2) + k / 2) * 16 + o % 16) * 2 + k % 2] ==
                          p.Wb[o * K + k]);
        for (si = 0; si < ARRAY_LEN(sets); si++) {
            struct kernels16 Kn;
            int bfin, md = 0, mt = 0;
            if (!kern16_cpu_has(sets[si]))
                continue;
            Kn = kernels16_for(sets[si]);
            ran[si] = 1;
            for (bfin = 0; bfin < 2; bfin++) {
                /* the products alone: kern.h's chain bit for bit, but for AMX,
                   whose sums are its own (kern.h) */
                call(&Kn, &p, &w, base, 0, R, 0, O, NULL, 0, bfin);
                if (sets[si] != KERN16_AMX)
                    md += memcmp(base, p.chain, n * sizeof(float)) != 0;
                /* with bias: the products' bits plus the bias */
                call(&Kn, &p, &w, all, 0, R, 0, O, p.bias, 0, bfin);
                for (i = 0; i < R; i++)
                    for (o = 0; o < O; o++) {
                        float want = base[i * O + o] + p.bias[o];
                        double got = all[i * O + o] - p.bias[o];
                        /* bf16 rounding of both operands: each product within 2^-8
                           relative, then K fp32 additions */
                        double tol = (ldexp(1, -8) + K * ldexp(1, -24)) * p.absum[i * O + o] +
                                     ldexp(fabs(p.bias[o]) + fabs(got), -23);
                        md += bits(all[i * O + o]) != bits(want);
                        mt += !(fabs(got - p.exact[i * O + o]) <= tol);
                    }
                /* each row alone, and odd row offsets: the same bits */
                for (i = 0; i < R; i++)
                    call(&Kn, &p, &w, part, i, i + 1, 0, O, p.bias, 0, bfin);
                md += memcmp(part, all, n * sizeof(float)) != 0;
                memset(part, 0, n * sizeof(float));
                call(&Kn, &p, &w, part, 0, R / 3, 0, O, p.bias, 0, bfin);
                call(&Kn, &p, &w, part, R / 3, R, 0, O, p.bias, 0, bfin);
                md += memcmp(part, all, n * sizeof(float)) != 0;
                /* column ranges cutting panels anywhere */
                memset(part, 0, n * sizeof(float));
                for (o = 0; o < O; o += 7)
                    call(&Kn, &p, &w, part, 0, R, o, PT_MIN(O, o + 7), p.bias, 0, bfin);
                md += memcmp(part, all, n * sizeof(float)) != 0;
                /* acc adds the chain to what out holds; no bias then */
                for (i = 0; i < R * O; i++)
                    part[i] = p.bias[i % O];
                call(&Kn, &p, &w, part, 0, R, 0, O, NULL, 1, bfin);
                for (i = 0; i < R * O; i++)
                    md += bits(part[i]) != bits(p.bias[i % O] + base[i]);
                call(&Kn, &p, &w, part, 0, R, 0, O, NULL, 0, bfin);
                md += memcmp(part, base, n * sizeof(float)) != 0;
            }
            CHECK_MSG(md == 0, "%s shape %zu: %d results off the set's own bits",
                      kern16_name(sets[si]), hi, md);
            CHECK_MSG(mt == 0, "%s shape %zu: %d results outside the bf16 bound",
                      kern16_name(sets[si]), hi, mt);
        }
        bf16w_free(&w);
        bf16w_free(&w2);
        prob_free(&p);
        free(all), free(part), free(base);
    }
    for (si = 0; si < ARRAY_LEN(sets); si++)
        fprintf(stderr, "test_kern_bf16: %s kernels %s\n", kern16_name(sets[si]),
                ran[si] ? "tested" : "not on this CPU, skipped");
    CHECK(ran[0] && kernels16_for(KERN16_AUTO).id != KERN16_AUTO);
}

/* The bound above is not loose enough to pass anything: a wrong chain fails it. */
static void
test_bound_bites(void)
{
    struct prob p;
    double worst = 0;
    int i;

    prob_make(&p, 4, 512, 8, 7);
    for (i = 0; i < 32; i++) {
        double e = fabs(p.chain[i] - p.exact[i]) / p.absum[i];
        worst = e > worst ? e : worst;
        /* the fp32 sum of unrounded products is far inside the bound */
        CHECK(fabs(p.chain[i] - p.exact[i]) <= ldexp(1, -8) * p.absum[i]);
    }
    /* rounding to bf16 makes a difference the tolerance must allow, and no more than 2^-8 */
    CHECK(worst > ldexp(1, -14) && worst < ldexp(1, -8));
    prob_free(&p);
}

int
main(void)
{
    test_convert();
    test_mm();
    test_bound_bites();
    return check_done();
}
