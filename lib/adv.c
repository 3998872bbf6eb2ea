/*
 * adv.c - the arithmetic of group-relative advantages and the reward
 * look-up.  No I/O here: the stream driver is adv_stream.c.  See adv.h
 * for the formulas and their sources.
 */
#include "adv.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sample.h"
#include "util.h"

void
adv_moments_add(struct adv_moments *m, const double *r, size_t n)
{
    double nb = (double)n, mb = 0, m2b = 0, d, tot;
    size_t i;

    if (n == 0)
        return;
    /* The group's own moments in two passes (it is in memory)... */
    for (i = 0; i < n; i++)
        mb += r[i];
    mb /= nb;
    for (i = 0; i < n; i++)
        m2b += (r[i] - mb) * (r[i] - mb);
    /*
     * ...merged into the running ones: Chan, Golub and LeVeque, "Updating
     * formulae and a pairwise algorithm for computing sample variances"
     * (1979).  M2 = M2a + M2b + d^2 na nb / n, with d the difference of
     * the means.
     */
    tot = m->n + nb;
    d = mb - m->mean;
    m->mean += d * nb / tot;
    m->m2 += m2b + d * d * (m->n * nb / tot);
    m->n = tot;
}

double
adv_moments_std(const struct adv_moments *m, int population)
{
    if (m->n < 2)
        return 0;
    return sqrt(m->m2 / (population ? m->n : m->n - 1));
}

int
adv_uniform(const double *r, size_t n)
{
    size_t i;

    for (i = 1; i < n; i++)
        if (r[i] != r[0])
            return 0;
    return 1;
}

int
adv_compute(double *a, const double *r, size_t n, const struct adv_opts *o,
            double batch_std)
{
    struct adv_moments m = ADV_MOMENTS_INIT;
    double sum = 0, mean, s = 0, b;
    size_t i;

    if (adv_uniform(r, n)) {
        for (i = 0; i < n; i++)
            a[i] = 0;
        return 1;
    }
    /* Not uniform, so n >= 2 and the group's std is > 0. */
    for (i = 0; i < n; i++)
        sum += r[i];
    mean = sum / (double)n;
    if (o->scale == ADV_SCALE_GROUP) {
        adv_moments_add(&m, r, n);
        s = adv_moments_std(&m, o->population);
    } else if (o->scale == ADV_SCALE_BATCH) {
        s = batch_std;
    }
    assert(o->scale == ADV_SCALE_NONE || s + o->eps > 0);
    for (i = 0; i < n; i++) {
        /* RLOO: the mean of the other G - 1 rewards. */
        b = o->baseline == ADV_BASELINE_LOO ? (sum - r[i]) / (double)(n - 1)
                                            : mean;
        a[i] = r[i] - b;
        if (o->scale != ADV_SCALE_NONE)
            a[i] /= s + o->eps;
    }
    return 0;
}

double
adv_overlong(long L, long lmax, long lc, int truncated)
{
    if (truncated || L > lmax)
        return -1.0;
    if (L <= lmax - lc)
        return 0.0;
    return (double)((lmax - lc) - L) / (double)lc;
}

int
adv_kl_sum(const json_t *rec, int kind, double *out, const char **field, struct sbuf *why)
{
    const json_t *a, *b;
    size_t i, n;
    double sum = 0.0;

    *field = json_object_get(rec, "logprobs") ? "logprobs" : "old_logprobs";
    if (!json_object_get(rec, *field)) {
        sbuf_adds(why, "missing (the KL in the reward needs the sampler's)");
        return -1;
    }
    if (sample_get_logprobs(rec, *field, SIZE_MAX, NULL, &a, why) < 0)
        return -1;
    n = json_array_size(a);
    *field = "ref_logprobs";
    if (!json_object_get(rec, "ref_logprobs")) {
        sbuf_adds(why, "missing (the KL in the reward needs logp -m REF first)");
        return -1;
    }
    if (sample_get_logprobs(rec, "ref_logprobs", n, "log-probs of the sampler", &b, why) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        double d = json_number_value(json_array_get(a, i))
                   - json_number_value(json_array_get(b, i));
        sum += kind == 1 ? d : kind == 2 ? 0.5 * d * d : exp(-d) + d - 1.0;
    }
    if (!isfinite(sum)) {
        sbuf_adds(why, "the KL is not finite");
        return -1;
    }
    *out = sum;
    return 0;
}
