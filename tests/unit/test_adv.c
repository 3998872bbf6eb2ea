/*
 * test_adv.c - advantages of every variant against values worked out by
 * hand (below each case), the batch moments, and the reward look-up.
 */
#include <math.h>

#include "adv.h"
#include "check.h"

#define TOL 1e-12

static void
check_vec(const double *got, const double *want, size_t n, int line)
{
    size_t i;

    for (i = 0; i < n; i++)
        CHECK_MSG(fabs(got[i] - want[i]) <= TOL, "line %d: a[%zu] = %.17g, want %.17g",
                  line, i, got[i], want[i]);
}

static struct adv_opts
opts(enum adv_baseline b, enum adv_scale s, int population, double eps)
{
    struct adv_opts o = ADV_OPTS_INIT;

    o.baseline = b;
    o.scale = s;
    o.population = population;
    o.eps = eps;
    return o;
}

/*
 * r = 2 4 4 4 5 5 7 9: sum 40, mean 5, r - mean = -3 -1 -1 -1 0 0 2 4,
 * M2 = 9+1+1+1+0+0+4+16 = 32; population std sqrt(32/8) = 2, sample std
 * sqrt(32/7) = 2.1380899352993950.
 */
static const double R8[8] = { 2, 4, 4, 4, 5, 5, 7, 9 };

static void
test_grpo(void)
{
    struct adv_opts o;
    double a[8];
    /* (r - 5) / 2 */
    const double pop[8] = { -1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2 };
    /* (r - 5) * sqrt(7/32), sqrt(7/32) = 0.46770717334674270 */
    const double k = 0.46770717334674270;
    const double smp[8] = { -3 * k, -k, -k, -k, 0, 0, 2 * k, 4 * k };
    /* (r - 5) / (2.1380899352993950 + 1e-4) */
    const double d = 2.1380899352993950 + 1e-4;
    const double dflt[8] = { -3 / d, -1 / d, -1 / d, -1 / d, 0, 0, 2 / d, 4 / d };

    o = opts(ADV_BASELINE_MEAN, ADV_SCALE_GROUP, 1, 0);
    CHECK(adv_compute(a, R8, 8, &o, 0) == 0);
    check_vec(a, pop, 8, __LINE__);
    o = opts(ADV_BASELINE_MEAN, ADV_SCALE_GROUP, 0, 0);
    CHECK(adv_compute(a, R8, 8, &o, 0) == 0);
    check_vec(a, smp, 8, __LINE__);
    o = (struct adv_opts)ADV_OPTS_INIT;
    CHECK(adv_compute(a, R8, 8, &o, 0) == 0);
    check_vec(a, dflt, 8, __LINE__);
    /* population std with eps 0.5: (r - 5) / 2.5 */
    {
        const double want[8] = { -1.2, -0.4, -0.4, -0.4, 0, 0, 0.8, 1.6 };
        o = opts(ADV_BASELINE_MEAN, ADV_SCALE_GROUP, 1, 0.5);
        adv_compute(a, R8, 8, &o, 0);
        check_vec(a, want, 8, __LINE__);
    }
    /* r = 1 0 0 1: mean 0.5, sample std sqrt(1/3) = 0.57735026918962576 */
    {
        const double r[4] = { 1, 0, 0, 1 };
        const double s = 0.5 / 0.57735026918962576;
        const double want[4] = { s, -s, -s, s };
        o = opts(ADV_BASELINE_MEAN, ADV_SCALE_GROUP, 0, 0);
        adv_compute(a, r, 4, &o, 0);
        check_vec(a, want, 4, __LINE__);
    }
}

static void
test_drgrpo(void)
{
    struct adv_opts o = opts(ADV_BASELINE_MEAN, ADV_SCALE_NONE, 0, 1e-4);
    double a[8];
    const double want[8] = { -3, -1, -1, -1, 0, 0, 2, 4 };
    /* r = 0.25 1 0: mean 0.41666..., r - mean */
    const double r3[3] = { 0.25, 1, 0 };
    const double want3[3] = { 0.25 - 1.25 / 3, 1 - 1.25 / 3, -1.25 / 3 };

    CHECK(adv_compute(a, R8, 8, &o, 0) == 0);
    check_vec(a, want, 8, __LINE__);
    adv_compute(a, r3, 3, &o, 0);
    check_vec(a, want3, 3, __LINE__);
}

static void
test_rloo(void)
{
    struct adv_opts o = opts(ADV_BASELINE_LOO, ADV_SCALE_NONE, 0, 0);
    double a[8];
    /*
     * b_i = (40 - r_i) / 7, A_i = r_i - b_i = (8 r_i - 40) / 7:
     * -24/7 -8/7 -8/7 -8/7 0 0 16/7 32/7
     */
    const double want[8] = { -24.0 / 7, -8.0 / 7, -8.0 / 7, -8.0 / 7, 0, 0,
                             16.0 / 7, 32.0 / 7 };
    /* The same divided by the population std 2: 4/7 (r - 5). */
    const double want_pop[8] = { -12.0 / 7, -4.0 / 7, -4.0 / 7, -4.0 / 7, 0, 0,
                                 8.0 / 7, 16.0 / 7 };
    /* G = 2, r = 1 0: b = 0 1, A = 1 -1. */
    const double r2[2] = { 1, 0 }, want2[2] = { 1, -1 };

    CHECK(adv_compute(a, R8, 8, &o, 0) == 0);
    check_vec(a, want, 8, __LINE__);
    o = opts(ADV_BASELINE_LOO, ADV_SCALE_GROUP, 1, 0);
    adv_compute(a, R8, 8, &o, 0);
    check_vec(a, want_pop, 8, __LINE__);
    o = opts(ADV_BASELINE_LOO, ADV_SCALE_NONE, 0, 0);
    adv_compute(a, r2, 2, &o, 0);
    check_vec(a, want2, 2, __LINE__);
}

/*
 * A batch of three groups: {0, 1}, {0, 0, 0, 1}, {1, 1}.  All eight
 * rewards: four 0 and four 1, mean 0.5, M2 = 8 * 0.25 = 2; population
 * std sqrt(2/8) = 0.5, sample std sqrt(2/7) = 0.53452248382484879.
 * Advantages: (r - group mean) / batch std.
 */
static void
test_batch(void)
{
    const double g1[2] = { 0, 1 }, g2[4] = { 0, 0, 0, 1 }, g3[2] = { 1, 1 };
    struct adv_moments m = ADV_MOMENTS_INIT;
    struct adv_opts o = opts(ADV_BASELINE_MEAN, ADV_SCALE_BATCH, 1, 0);
    double a[4], s;

    adv_moments_add(&m, g1, 2);
    adv_moments_add(&m, g2, 4);
    adv_moments_add(&m, g3, 2);
    CHECK_NEAR(m.n, 8, 0);
    CHECK_NEAR(m.mean, 0.5, TOL);
    CHECK_NEAR(m.m2, 2, TOL);
    CHECK_NEAR(adv_moments_std(&m, 1), 0.5, TOL);
    CHECK_NEAR(adv_moments_std(&m, 0), 0.53452248382484879, TOL);

    s = adv_moments_std(&m, 1);
    {
        /* mean 0.5: -0.5/0.5, 0.5/0.5 */
        const double want[2] = { -1, 1 };
        CHECK(adv_compute(a, g1, 2, &o, s) == 0);
        check_vec(a, want, 2, __LINE__);
    }
    {
        /* mean 0.25: -0.25/0.5 three times, 0.75/0.5 */
        const double want[4] = { -0.5, -0.5, -0.5, 1.5 };
        CHECK(adv_compute(a, g2, 4, &o, s) == 0);
        check_vec(a, want, 4, __LINE__);
    }
    {
        const double want[2] = { 0, 0 };
        CHECK(adv_compute(a, g3, 2, &o, s) == 1);
        check_vec(a, want, 2, __LINE__);
    }
    /* Sample std and eps 1e-4: 0.75 / (0.53452248382484879 + 1e-4). */
    o = opts(ADV_BASELINE_MEAN, ADV_SCALE_BATCH, 0, 1e-4);
    adv_compute(a, g2, 4, &o, adv_moments_std(&m, 0));
    CHECK_NEAR(a[3], 0.75 / (0.53452248382484879 + 1e-4), TOL);
    CHECK_NEAR(a[0], -0.25 / (0.53452248382484879 + 1e-4), TOL);
}

static void
test_moments(void)
{
    struct adv_moments m = ADV_MOMENTS_INIT;
    double big[8];
    size_t i;

    CHECK(adv_moments_std(&m, 0) == 0);
    adv_moments_add(&m, R8, 0);
    CHECK(m.n == 0);
    adv_moments_add(&m, R8, 1);
    CHECK(adv_moments_std(&m, 0) == 0 && adv_moments_std(&m, 1) == 0);
    /* 2 | 4 4 4 | 5 5 7 9 merged = R8 at once. */
    adv_moments_add(&m, R8 + 1, 3);
    adv_moments_add(&m, R8 + 4, 4);
    CHECK_NEAR(m.mean, 5, TOL);
    CHECK_NEAR(m.m2, 32, 1e-12);
    CHECK_NEAR(adv_moments_std(&m, 1), 2, TOL);
    /* A large offset loses nothing: population std still 2. */
    for (i = 0; i < 8; i++)
        big[i] = 1e9 + R8[i];
    m = (struct adv_moments)ADV_MOMENTS_INIT;
    adv_moments_add(&m, big, 4);
    adv_moments_add(&m, big + 4, 4);
    CHECK_NEAR(adv_moments_std(&m, 1), 2, 1e-6);
}

/* G = 1 and all-equal groups: 0 in every variant, even with eps 0. */
static void
test_uniform(void)
{
    const double one[1] = { 3 }, eq[3] = { 0.7, 0.7, 0.7 };
    const enum adv_baseline bl[2] = { ADV_BASELINE_MEAN, ADV_BASELINE_LOO };
    const enum adv_scale sc[3] = { ADV_SCALE_GROUP, ADV_SCALE_BATCH, ADV_SCALE_NONE };
    struct adv_opts o;
    double a[3];
    int i, j, p;

    for (i = 0; i < 2; i++)
        for (j = 0; j < 3; j++)
            for (p = 0; p < 2; p++) {
                o = opts(bl[i], sc[j], p, 0);
                a[0] = 99;
                CHECK(adv_compute(a, one, 1, &o, 0) == 1);
                CHECK(a[0] == 0 && !signbit(a[0]));
                a[0] = a[1] = a[2] = 99;
                CHECK(adv_compute(a, eq, 3, &o, 0) == 1);
                CHECK(a[0] == 0 && a[1] == 0 && a[2] == 0);
            }
    CHECK(adv_uniform(one, 0) == 1);
    CHECK(adv_uniform(one, 1) == 1);
    CHECK(adv_uniform(eq, 3) == 1);
    CHECK(adv_uniform(R8, 3) == 0);
    CHECK(adv_uniform(R8 + 1, 3) == 1);
}

int
main(void)
{
    test_grpo();
    test_drgrpo();
    test_rloo();
    test_batch();
    test_moments();
    test_uniform();
    return check_done();
}
