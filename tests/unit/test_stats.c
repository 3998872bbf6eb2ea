/*
 * test_stats.c - the pass@k estimator and percentiles against values
 * computed by hand, \boxed{} extraction, dotted paths, and a small stream
 * whose summary was worked out on paper.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sample.h"
#include "stats.h"

/* The last add()'s field and reason. */
static const char *efield;
static struct sbuf ewhy;

/* stats_add, its reason kept in efield and ewhy. */
static int
add(struct stats *s, json_t *r)
{
    sbuf_reset(&ewhy);
    efield = NULL;
    return stats_add(s, r, &efield, &ewhy);
}

/* 1 - C(n-c,k)/C(n,k) straight from the binomials (small n only). */
static double
binom(long n, long k)
{
    double r = 1;
    long i;

    if (k < 0 || k > n)
        return 0;
    for (i = 1; i <= k; i++)
        r = r * (double)(n - k + i) / (double)i;
    return r;
}

static void
test_pass_at_k(void)
{
    long n, c, k;

    /* n=5, c=2: k=1 -> 2/5; k=2 -> 1 - C(3,2)/C(5,2) = 1 - 3/10. */
    CHECK_NEAR(stats_pass_at_k(5, 2, 1), 0.4, 1e-12);
    CHECK_NEAR(stats_pass_at_k(5, 2, 2), 0.7, 1e-12);
    /* k=3: 1 - C(3,3)/C(5,3) = 1 - 1/10; k=4: n-c < k -> 1. */
    CHECK_NEAR(stats_pass_at_k(5, 2, 3), 0.9, 1e-12);
    CHECK_NEAR(stats_pass_at_k(5, 2, 4), 1.0, 0);
    CHECK_NEAR(stats_pass_at_k(5, 0, 3), 0.0, 1e-12);
    CHECK_NEAR(stats_pass_at_k(5, 5, 1), 1.0, 0);
    /* n=10, c=3, k=5: 1 - C(7,5)/C(10,5) = 1 - 21/252 = 11/12. */
    CHECK_NEAR(stats_pass_at_k(10, 3, 5), 11.0 / 12.0, 1e-12);
    for (n = 1; n <= 20; n++)
        for (c = 0; c <= n; c++)
            for (k = 1; k <= n; k++)
                CHECK_REL(stats_pass_at_k(n, c, k),
                          1.0 - binom(n - c, k) / binom(n, k), 1e-10, 1e-12);
    /* Large n: the product form stays finite where C(n,k) overflows. */
    CHECK_NEAR(stats_pass_at_k(2000, 1, 1), 1.0 / 2000, 1e-15);
    CHECK(stats_pass_at_k(2000, 10, 500) > 0.9);
    CHECK(stats_pass_at_k(2000, 10, 500) < 1.0);
}

static void
test_percentile(void)
{
    double a[] = { 1, 2, 3, 4, 10 };
    double one[] = { 7 };

    /* position p/100*(n-1): p50 -> index 2; p90 -> 3.6 -> 4 + .6*6. */
    CHECK_NEAR(stats_percentile(a, 5, 50), 3.0, 1e-12);
    CHECK_NEAR(stats_percentile(a, 5, 90), 7.6, 1e-12);
    CHECK_NEAR(stats_percentile(a, 5, 0), 1.0, 0);
    CHECK_NEAR(stats_percentile(a, 5, 100), 10.0, 0);
    CHECK_NEAR(stats_percentile(a, 5, 25), 2.0, 1e-12);
    CHECK_NEAR(stats_percentile(a, 4, 50), 2.5, 1e-12);
    CHECK_NEAR(stats_percentile(one, 1, 99), 7.0, 0);
}

static void
test_boxed(void)
{
    const char *p;
    size_t n;

    p = stats_last_boxed("a \\boxed{1} then \\boxed{\\frac{1}{2}} end", &n);
    CHECK(p && n == 11 && memcmp(p, "\\frac{1}{2}", 11) == 0);
    p = stats_last_boxed("\\boxed {42}", &n);
    CHECK(p && n == 2 && memcmp(p, "42", 2) == 0);
    p = stats_last_boxed("\\fbox{x} and \\boxed{y", &n);
    CHECK(p && n == 1 && *p == 'x');
    CHECK(stats_last_boxed("no box here", &n) == NULL);
    p = stats_last_boxed("\\boxed{a\\}b}", &n);
    CHECK(p && n == 4);
}

/*
 * Two math groups of 3 and one code group of 2:
 *   g1: rewards 1 0 1, answers 5 7 5        c=2 n=3
 *   g2: rewards 0 0 1, answers 3 3 4        c=1 n=3
 *   g3: rewards 1 1 (code, no answers)      c=2 n=2
 * accuracy 5/8; math 3/6.  pass@1 per group = c/n: (2/3 + 1/3 + 1)/3 = 2/3.
 * pass@2: g1 1 - C(1,2)/C(3,2) = 1; g2 1 - C(2,2)/C(3,2) = 2/3; g3 1
 *   -> (1 + 2/3 + 1)/3 = 8/9.
 * maj@k only for the groups with a reference answer (g1, g2):
 * maj@1: first sample correct? g1 1, g2 0 -> 1/2.
 * maj@2: g1 answers 5,7 tie -> 5 (first), correct; g2 3,3 -> 3, wrong
 *   -> 1/2.  maj@3: g1 5 wins, correct; g2 3 wins, wrong -> 1/2.
 */
static const char *stream[] = {
    "{\"group\":\"g1\",\"domain\":\"math\",\"answer\":\"5\",\"reward\":1,\"completion\":\"\\\\boxed{5}\",\"finish\":\"stop\"}",
    "{\"group\":\"g1\",\"domain\":\"math\",\"answer\":\"5\",\"reward\":0,\"completion\":\"\\\\boxed{7}\",\"finish\":\"stop\"}",
    "{\"group\":\"g1\",\"domain\":\"math\",\"answer\":\"5\",\"reward\":1,\"completion\":\"\\\\boxed{ 5 }\",\"finish\":\"length\"}",
    "{\"group\":\"g2\",\"domain\":\"math\",\"answer\":\"4\",\"reward\":0,\"math\":{\"extracted\":\"3\"}}",
    "{\"group\":\"g2\",\"domain\":\"math\",\"answer\":\"4\",\"reward\":0,\"math\":{\"extracted\":\"3\"}}",
    "{\"group\":\"g2\",\"domain\":\"math\",\"answer\":\"4\",\"reward\":1,\"math\":{\"extracted\":\"4\"}}",
    "{\"group\":\"g3\",\"domain\":\"code\",\"reward\":1,\"completion_ids\":[1,2,3]}",
    "{\"group\":\"g3\",\"domain\":\"code\",\"reward\":1,\"completion_ids\":[1]}",
};

static void
test_stream(void)
{
    struct stats_opts o;
    struct stats *s;
    json_t *j, *r, *d;
    size_t i;
    struct sbuf sb = SBUF_INIT;

    stats_opts_init(&o);
    s = stats_new(&o);
    for (i = 0; i < ARRAY_LEN(stream); i++) {
        r = json_loads(stream[i], 0, NULL);
        CHECK(r != NULL);
        CHECK(add(s, r) == 0);
        json_decref(r);
    }
    /* g1 again after g3: split. */
    r = json_loads("{\"group\":\"g1\",\"reward\":1}", 0, NULL);
    CHECK(add(s, r) == -1);
    CHECK(strstr(sbuf_str(&ewhy), "'g1' is split") != NULL);
    json_decref(r);
    stats_finish(s);
    j = stats_json(s);
    CHECK(json_integer_value(json_object_get(j, "records")) == 8);
    CHECK(json_integer_value(json_object_get(j, "groups")) == 3);
    CHECK_NEAR(json_real_value(json_object_get(j, "accuracy")), 5.0 / 8, 1e-12);
    CHECK_NEAR(json_real_value(json_object_get(j, "reward_mean")), 5.0 / 8, 1e-12);
    CHECK_NEAR(json_real_value(sample_field(j, "pass@k.1")), 2.0 / 3, 1e-12);
    CHECK_NEAR(json_real_value(sample_field(j, "pass@k.2")), 8.0 / 9, 1e-12);
    CHECK_NEAR(json_real_value(sample_field(j, "maj@k.1")), 0.5, 1e-12);
    CHECK_NEAR(json_real_value(sample_field(j, "maj@k.2")), 0.5, 1e-12);
    /* k=4 is larger than every group: not shown. */
    CHECK(sample_field(j, "pass@k.4") == NULL);
    d = sample_field(j, "domains");
    CHECK(json_object_size(d) == 2);
    r = json_object_get(d, "math");
    CHECK_NEAR(json_real_value(json_object_get(r, "accuracy")), 0.5, 1e-12);
    CHECK(json_integer_value(sample_field(r, "finish.stop")) == 2);
    CHECK(json_integer_value(sample_field(r, "finish.length")) == 1);
    /* completions \boxed{5}, \boxed{7}, \boxed{ 5 }: 9, 9, 11 chars. */
    CHECK_NEAR(json_real_value(sample_field(r, "chars.mean")), 29.0 / 3, 1e-12);
    CHECK_NEAR(json_real_value(sample_field(r, "chars.p90")), 10.6, 1e-12);
    r = json_object_get(d, "code");
    CHECK_NEAR(json_real_value(sample_field(r, "tokens.mean")), 2.0, 1e-12);
    CHECK_NEAR(json_real_value(sample_field(r, "tokens.p50")), 2.0, 1e-12);
    CHECK(json_is_null(sample_field(r, "maj@k.2")));
    json_decref(j);
    stats_table(s, &sb);
    CHECK(strstr(sbuf_str(&sb), "pass@2") != NULL);
    sbuf_release(&sb);
    stats_free(s);
}

/*
 * A scorer's null verdict stands: no vote, so maj@1 is 0 although the
 * completion's \boxed{} holds the right answer; without the key, the
 * \boxed{} votes.
 */
static void
test_null_extracted(void)
{
    static const char *recs[] = {
        "{\"group\":\"x\",\"answer\":\"4\",\"reward\":1,\"math\":{\"extracted\":null},\"completion\":\"\\\\boxed{4}\"}",
        "{\"group\":\"y\",\"answer\":\"4\",\"reward\":1,\"completion\":\"\\\\boxed{4}\"}",
    };
    struct stats_opts o;
    struct stats *s;
    json_t *r, *j;
    size_t i;

    stats_opts_init(&o);
    o.ks[0] = 1;
    o.nk = 1;
    s = stats_new(&o);
    for (i = 0; i < ARRAY_LEN(recs); i++) {
        r = json_loads(recs[i], 0, NULL);
        CHECK(r != NULL && add(s, r) == 0);
        json_decref(r);
    }
    stats_finish(s);
    j = stats_json(s);
    CHECK_NEAR(json_real_value(sample_field(j, "maj@k.1")), 0.5, 1e-12);
    CHECK_NEAR(json_real_value(sample_field(j, "pass@k.1")), 1.0, 1e-12);
    json_decref(j);
    stats_free(s);
}

/* completion_ids, when there, are token ids (sample.h) or the record is bad. */
static void
test_bad_ids(void)
{
    struct stats_opts o;
    struct stats *s;
    json_t *r;

    stats_opts_init(&o);
    s = stats_new(&o);
    r = json_loads("{\"completion_ids\": [1, \"x\"]}", 0, NULL);
    CHECK(add(s, r) == -1);
    CHECK_STREQ(efield, "completion_ids");
    CHECK_STREQ(sbuf_str(&ewhy), "element 1 is not a token id (an integer >= 0)");
    json_decref(r);
    r = json_loads("{\"completion_ids\": 3}", 0, NULL);
    CHECK(add(s, r) == -1);
    CHECK_STREQ(sbuf_str(&ewhy), "not an array");
    json_decref(r);
    r = json_loads("{\"completion_ids\": [4, 5]}", 0, NULL);
    CHECK(add(s, r) == 0);
    json_decref(r);
    stats_finish(s);
    r = stats_json(s);
    CHECK_NEAR(json_real_value(sample_field(r, "tokens.mean")), 2.0, 1e-12);
    CHECK(json_integer_value(json_object_get(r, "records")) == 1);
    json_decref(r);
    stats_free(s);
}

int
main(void)
{
    test_bad_ids();
    test_null_extracted();
    test_pass_at_k();
    test_percentile();
    test_boxed();
    test_stream();
    sbuf_release(&ewhy);
    return check_done();
}
