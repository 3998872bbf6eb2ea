/*
 * test_sampler.c - the sampler's transforms and selector against a naive
 * reference (sort everything, renormalise in double), draw frequencies
 * against the exact distributions, greedy ties, the recorded
 * log-probability and the per-sample streams.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sampler.h"

/* ---- naive reference ---- */

struct ref_c {
    double z;
    int id;
};

static int
ref_cmp(const void *pa, const void *pb)
{
    const struct ref_c *a = pa, *b = pb;

    if (a->z != b->z)
        return a->z > b->z ? -1 : 1;
    return a->id - b->id;
}

static int
ref_idcmp(const void *pa, const void *pb)
{
    const struct ref_c *a = pa, *b = pb;

    return a->id - b->id;
}

/*
 * The token the chain picks for uniform u: sort all by z, cut by top-k,
 * then top-p (renormalised over what is left), then min-p, then the
 * inverse CDF over the kept tokens in id order.
 */
static int
ref_sample(const float *logits, int V, const struct sampler_config *c, double u)
{
    struct ref_c *a = malloc(sizeof(*a) * (size_t)V);
    int n = V, i, tok;
    double S, cum, zmax;

    for (i = 0; i < V; i++) {
        a[i].z = (double)(logits[i] * (1.0f / c->temperature));
        a[i].id = i;
    }
    qsort(a, (size_t)V, sizeof(*a), ref_cmp);
    if (c->top_k > 0 && c->top_k < n)
        n = c->top_k;
    if (c->top_p < 1.0f) {
        for (S = 0, i = 0; i < n; i++)
            S += exp(a[i].z - a[0].z);
        for (cum = 0, i = 0; i < n; i++) {
            cum += exp(a[i].z - a[0].z) / S;
            if (cum >= c->top_p)
                break;
        }
        n = i < n ? i + 1 : n;
    }
    if (c->min_p > 0.0f) {
        int m = 0;
        for (i = 0; i < n; i++)
            if (exp(a[i].z - a[0].z) >= c->min_p)
                a[m++] = a[i];
        n = m;
    }
    zmax = a[0].z;
    qsort(a, (size_t)n, sizeof(*a), ref_idcmp);
    for (S = 0, i = 0; i < n; i++)
        S += exp(a[i].z - zmax);
    for (cum = 0, i = 0; i < n; i++) {
        cum += exp(a[i].z - zmax);
        if (cum > u * S)
            break;
    }
    tok = a[i < n ? i : n - 1].id;
    free(a);
    return tok;
}

/* log softmax(logits / T)[tok] in double. */
static double
ref_logprob(const float *logits, int V, double T, int tok)
{
    double m = -INFINITY, s = 0;
    int i;

    for (i = 0; i < V; i++)
        m = fmax(m, logits[i] / T);
    for (i = 0; i < V; i++)
        s += exp(logits[i] / T - m);
    return logits[tok] / T - m - log(s);
}

/* Frequencies of n draws from a 3-token distribution. */
static void
freqs(const struct sampler_config *c, const float *logits, int n, double *f)
{
    struct sampler s;
    struct rng r;
    int i;

    sampler_init(&s, c, 3);
    sampler_rng(&r, 1, "freq", 4, 0);
    f[0] = f[1] = f[2] = 0;
    for (i = 0; i < n; i++)
        f[sampler_sample(&s, logits, &r, NULL)] += 1.0 / n;
    sampler_release(&s);
}

static void
test_config(void)
{
    struct sampler_config c = SAMPLER_CONFIG_INIT;
    const char *why = NULL;

    CHECK(sampler_config_check(&c, &why) == 0);
    c.temperature = -1;
    CHECK(sampler_config_check(&c, &why) == -1 && strstr(why, "temperature"));
    c.temperature = NAN;
    CHECK(sampler_config_check(&c, &why) == -1);
    c = (struct sampler_config)SAMPLER_CONFIG_INIT;
    c.top_p = 0;
    CHECK(sampler_config_check(&c, &why) == -1 && strstr(why, "top-p"));
    c.top_p = 1.5f;
    CHECK(sampler_config_check(&c, &why) == -1);
    c = (struct sampler_config)SAMPLER_CONFIG_INIT;
    c.min_p = 1.5f;
    CHECK(sampler_config_check(&c, &why) == -1 && strstr(why, "min-p"));
    c = (struct sampler_config)SAMPLER_CONFIG_INIT;
    c.top_k = -1;
    CHECK(sampler_config_check(&c, &why) == -1 && strstr(why, "top-k"));
}

static void
test_greedy(void)
{
    struct sampler_config c = SAMPLER_CONFIG_INIT;
    struct sampler s;
    float lg[5] = { 0.5f, 2.0f, -1.0f, 2.0f, 1.0f }, copy[5], lp;
    int tok;

    c.temperature = 0;
    c.top_k = 1; /* irrelevant when greedy */
    sampler_init(&s, &c, 5);
    memcpy(copy, lg, sizeof(lg));
    tok = sampler_sample(&s, lg, NULL, &lp);
    CHECK(tok == 1); /* the lower id of the tie */
    CHECK_NEAR(lp, ref_logprob(lg, 5, 1.0, 1), 1e-6);
    CHECK(memcmp(copy, lg, sizeof(lg)) == 0);
    sampler_release(&s);
}

static void
test_frequencies(void)
{
    struct sampler_config c = SAMPLER_CONFIG_INIT;
    float lg[3] = { logf(0.5f), logf(0.3f), logf(0.2f) };
    double f[3], tol = 0.01;
    int n = 50000;

    /* plain */
    freqs(&c, lg, n, f);
    CHECK_NEAR(f[0], 0.5, tol);
    CHECK_NEAR(f[1], 0.3, tol);
    CHECK_NEAR(f[2], 0.2, tol);
    /* T = 0.5: p^2 / sum p^2 = .25/.38, .09/.38, .04/.38 */
    c.temperature = 0.5f;
    freqs(&c, lg, n, f);
    CHECK_NEAR(f[0], 0.25 / 0.38, tol);
    CHECK_NEAR(f[1], 0.09 / 0.38, tol);
    CHECK_NEAR(f[2], 0.04 / 0.38, tol);
    /* top-k 2: .5/.8, .3/.8 */
    c = (struct sampler_config)SAMPLER_CONFIG_INIT;
    c.top_k = 2;
    freqs(&c, lg, n, f);
    CHECK_NEAR(f[0], 0.625, tol);
    CHECK_NEAR(f[1], 0.375, tol);
    CHECK(f[2] == 0);
    /* top-p 0.7: {0, 1} (0.5 < 0.7 <= 0.8) */
    c = (struct sampler_config)SAMPLER_CONFIG_INIT;
    c.top_p = 0.7f;
    freqs(&c, lg, n, f);
    CHECK_NEAR(f[0], 0.625, tol);
    CHECK(f[2] == 0);
    /* top-p 0.45: {0} */
    c.top_p = 0.45f;
    freqs(&c, lg, n, f);
    CHECK(f[1] == 0 && f[2] == 0);
    /* min-p 0.5: p >= 0.25: {0, 1}; 0.7: p >= 0.35: {0} */
    c = (struct sampler_config)SAMPLER_CONFIG_INIT;
    c.min_p = 0.5f;
    freqs(&c, lg, n, f);
    CHECK_NEAR(f[0], 0.625, tol);
    CHECK(f[2] == 0);
    c.min_p = 0.7f;
    freqs(&c, lg, n, f);
    CHECK(f[1] == 0 && f[2] == 0);
    /* top-k 2 then top-p 0.6 over the renormalised {.625, .375}: {0} */
    c = (struct sampler_config)SAMPLER_CONFIG_INIT;
    c.top_k = 2;
    c.top_p = 0.6f;
    freqs(&c, lg, n, f);
    CHECK(f[1] == 0 && f[2] == 0);
}

/* The recorded log-probability ignores truncation. */
static void
test_logprob(void)
{
    struct sampler_config c = SAMPLER_CONFIG_INIT;
    float lg[3] = { logf(0.5f), logf(0.3f), logf(0.2f) }, lp;
    struct sampler s;
    struct rng r;
    int tok;

    c.temperature = 0.7f;
    c.top_k = 1;
    sampler_init(&s, &c, 3);
    sampler_rng(&r, 5, "x", 1, 0);
    tok = sampler_sample(&s, lg, &r, &lp);
    CHECK(tok == 0);
    CHECK_NEAR(lp, ref_logprob(lg, 3, 0.7, 0), 1e-6);
    CHECK(lp < -0.1f);
    sampler_release(&s);
}

/* Every path of the chain against the naive reference, same u. */
static void
test_against_reference(void)
{
    static const struct sampler_config cfgs[] = {
        { 1.0f, 0, 1.0f, 0.0f },   { 0.6f, 0, 1.0f, 0.0f },   { 1.0f, 40, 1.0f, 0.0f },
        { 1.3f, 0, 0.9f, 0.0f },   { 0.8f, 0, 0.5f, 0.0f },   { 1.0f, 0, 1.0f, 0.05f },
        { 0.9f, 50, 0.95f, 0.02f }, { 1.0f, 1, 1.0f, 0.0f },  { 1.0f, 3000, 0.99f, 0.0f },
    };
    int V = 2000, nt = 200, i, t, bad = 0, lpbad = 0;
    float *lg = malloc(sizeof(float) * (size_t)V);
    struct rng data;
    size_t ci;

    rng_seed(&data, 99);
    for (ci = 0; ci < ARRAY_LEN(cfgs); ci++) {
        struct sampler s;
        struct rng r;
        sampler_init(&s, &cfgs[ci], V);
        sampler_rng(&r, 7, "ref", 3, ci);
        for (t = 0; t < nt; t++) {
            struct rng peek;
            double u;
            float lp;
            int got, want;
            for (i = 0; i < V; i++)
                lg[i] = (float)(rng_normal(&data) * 3.0);
            if (t % 50 == 0)
                lg[7] = lg[8] = 9.0f; /* a tie at the top */
            peek = r;
            u = rng_double(&peek);
            got = sampler_sample(&s, lg, &r, &lp);
            want = ref_sample(lg, V, &cfgs[ci], u);
            bad += got != want;
            lpbad += fabs(lp - ref_logprob(lg, V, cfgs[ci].temperature, got)) > 1e-4;
            /* exactly one number consumed per token */
            CHECK(memcmp(&peek, &r, sizeof(r)) == 0);
        }
        CHECK_MSG(bad == 0, "config %zu: %d of %d draws differ", ci, bad, nt);
        CHECK_MSG(lpbad == 0, "config %zu: %d logprobs differ", ci, lpbad);
        bad = lpbad = 0;
        sampler_release(&s);
    }
    free(lg);
}

static void
test_streams(void)
{
    struct rng a, b;
    uint64_t x;

    sampler_rng(&a, 1, "p1", 2, 0);
    sampler_rng(&b, 1, "p1", 2, 0);
    x = rng_u64(&a);
    CHECK(x == rng_u64(&b));
    sampler_rng(&b, 1, "p1", 2, 1);
    CHECK(x != rng_u64(&b));
    sampler_rng(&b, 2, "p1", 2, 0);
    CHECK(x != rng_u64(&b));
    sampler_rng(&b, 1, "p2", 2, 0);
    CHECK(x != rng_u64(&b));
}

int
main(void)
{
    test_config();
    test_greedy();
    test_frequencies();
    test_logprob();
    test_against_reference();
    test_streams();
    return check_done();
}
