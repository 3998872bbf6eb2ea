/*
 * sampler.c - the transform chain and selector of sampler.h.
 *
 * The whole-vocabulary path (no truncation) never sorts: one pass for the
 * maximum, one for exp and the sum, one cumulative scan for the draw.
 * Truncation works on a candidate array: top-k by quickselect then a sort
 * of the K kept, top-p after the filter of llama2.c (tokens with
 * p < (1 - P) / (n - 1) can never be in the nucleus, since all of them
 * together weigh less than 1 - P), so only a few candidates are sorted.
 */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
sampler_config_check(const struct sampler_config *c, const char **why)
{
    const char *w = NULL;

    if (!(c->temperature >= 0.0f) || !isfinite(c->temperature))
        w = "temperature must be a finite number >= 0";
    else if (c->top_k < 0)
        w = "top-k must be >= 0";
    else if (!(c->top_p > 0.0f && c->top_p <= 1.0f))
        w = "top-p must be in (0, 1]";
    else if (!(c->min_p >= 0.0f && c->min_p <= 1.0f))
        w = "min-p must be in [0, 1]";
    if (w && why)
        *why = w;
    return w ? -1 : 0;
}

void
sampler_init(struct sampler *s, const struct sampler_config *cfg, int vocab)
{
    const char *why;

    if (sampler_config_check(cfg, &why))
        die("sampler: %s", why);
    if (vocab <= 0)
        die("sampler: vocabulary size must be positive");
    s->cfg = *cfg;
    s->vocab = vocab;
    s->cand = xmalloc(xmul((size_t)vocab, sizeof(*s->cand)));
    s->prob = xmalloc(xmul((size_t)vocab, sizeof(*s->prob)));
}

void
sampler_release(struct sampler *s)
{
    free(s->cand);
    free(s->prob);
    s->cand = NULL;
    s->prob = NULL;
}

/*
 * The stream of sample k: hash the prompt id under a key made of the seed
 * and k, then expand with splitmix64 (rng_seed), so streams of different
 * (seed, id, k) are unrelated.
 */
void
sampler_rng(struct rng *r, uint64_t seed, const char *id, size_t idlen, uint64_t k)
{
    uint64_t key[2] = { seed, k };
    uint64_t h = hash64(key, sizeof(key), 0x7053616d706c6572ULL);

    rng_seed(r, hash64(id, idlen, h));
}

/* ---- candidate order: larger value first, then lower id ---- */

static int
cand_before(const struct sampler_cand *a, const struct sampler_cand *b)
{
    return a->v > b->v || (a->v == b->v && a->id < b->id);
}

static int
cand_cmp(const void *pa, const void *pb)
{
    const struct sampler_cand *a = pa, *b = pb;

    if (cand_before(a, b))
        return -1;
    return cand_before(b, a) ? 1 : 0;
}

static void
cand_swap(struct sampler_cand *a, struct sampler_cand *b)
{
    struct sampler_cand t = *a;

    *a = *b;
    *b = t;
}

/*
 * Quickselect (Hoare, CACM 1961): reorders c[0..n) so that its first k
 * entries are the k first in candidate order (in no particular order).
 * Median-of-three pivots; the order is total, so the result is unique.
 */
static void
cand_select(struct sampler_cand *c, size_t n, size_t k)
{
    size_t lo = 0, hi = n; /* the k-th lies in [lo, hi) */

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2, i, store;
        struct sampler_cand pivot;

        if (cand_before(&c[mid], &c[lo]))
            cand_swap(&c[mid], &c[lo]);
        if (cand_before(&c[hi - 1], &c[lo]))
            cand_swap(&c[hi - 1], &c[lo]);
        if (cand_before(&c[hi - 1], &c[mid]))
            cand_swap(&c[hi - 1], &c[mid]);
        pivot = c[mid];
        cand_swap(&c[mid], &c[hi - 1]);
        store = lo;
        for (i = lo; i < hi - 1; i++)
            if (cand_before(&c[i], &pivot))
                cand_swap(&c[i], &c[store++]);
        cand_swap(&c[store], &c[hi - 1]);
        /* c[lo..store) before pivot, c[store] pivot, the rest after */
        if (store == k - 1 || store == k)
            return;
        if (store > k)
            hi = store;
        else
            lo = store + 1;
    }
}

/* ---- transforms on the candidate set c[0..n) (values: z = logit / T) ---- */

/* top-k: the k best, sorted.  Returns the new count. */
static size_t
apply_top_k(struct sampler_cand *c, size_t n, int k)
{
    if (k <= 0 || (size_t)k >= n) {
        qsort(c, n, sizeof(*c), cand_cmp);
        return n;
    }
    cand_select(c, n, (size_t)k);
    qsort(c, (size_t)k, sizeof(*c), cand_cmp);
    return (size_t)k;
}

/*
 * top-p over c[0..n): probabilities p_i = exp(z_i - zmax) / S renormalised
 * over the set; keeps the shortest prefix (in candidate order) whose mass
 * reaches p.  *sorted says whether c is already in candidate order; it is
 * on return.  Returns the new count.
 */
static size_t
apply_top_p(struct sampler_cand *c, size_t n, float p, int *sorted)
{
    float zmax = -INFINITY;
    double S = 0.0, cum = 0.0;
    size_t i, m;

    for (i = 0; i < n; i++)
        zmax = c[i].v > zmax ? c[i].v : zmax;
    for (i = 0; i < n; i++)
        S += expf(c[i].v - zmax);
    if (!*sorted) {
        if (n > 1) {
            double thr = (1.0 - p) / (double)(n - 1) * S;
            for (i = 0, m = 0; i < n; i++)
                if (expf(c[i].v - zmax) >= thr)
                    c[m++] = c[i];
            /* m >= 1 unless rounding lost the maximum: then keep all */
            if (m > 0)
                n = m;
        }
        qsort(c, n, sizeof(*c), cand_cmp);
        *sorted = 1;
    }
    for (i = 0; i < n; i++) {
        cum += expf(c[i].v - zmax) / S;
        if (cum >= p)
            return i + 1;
    }
    return n;
}

/* min-p: keeps p_i >= minp * p_max, i.e. exp(z_i - zmax) >= minp. */
static size_t
apply_min_p(struct sampler_cand *c, size_t n, float minp)
{
    float zmax = -INFINITY;
    size_t i, m = 0;

    for (i = 0; i < n; i++)
        zmax = c[i].v > zmax ? c[i].v : zmax;
    for (i = 0; i < n; i++)
        if (expf(c[i].v - zmax) >= minp)
            c[m++] = c[i];
    return m;
}

static int
id_cmp(const void *pa, const void *pb)
{
    const struct sampler_cand *a = pa, *b = pb;

    return (a->id > b->id) - (a->id < b->id);
}

/*
 * The selector: inverse CDF over c[0..n) at u in [0, 1), walking the kept
 * tokens in id order (as the untruncated path does), so the token a given
 * u selects does not depend on how the kept set was found.
 */
static int
draw(struct sampler_cand *c, size_t n, double u)
{
    float zmax = -INFINITY;
    double S = 0.0, cum = 0.0, target;
    size_t i;

    qsort(c, n, sizeof(*c), id_cmp);
    for (i = 0; i < n; i++)
        zmax = c[i].v > zmax ? c[i].v : zmax;
    for (i = 0; i < n; i++)
        S += expf(c[i].v - zmax);
    target = u * S;
    for (i = 0; i < n; i++) {
        cum += expf(c[i].v - zmax);
        if (cum > target)
            return c[i].id;
    }
    return c[n - 1].id; /* u * S rounded up to S */
}

int
sampler_sample(struct sampler *s, const float *logits, struct rng *r, float *logprob)
{
    const struct sampler_config *cfg = &s->cfg;
    int V = s->vocab, greedy = cfg->temperature == 0.0f, k, tok = 0;
    float inv = greedy ? 1.0f : 1.0f / cfg->temperature, m = -INFINITY, lse;
    float *p = s->prob;
    double sum = 0.0;

    /*
     * z = logits * (1/T), as model_forward's logprob_row computes it, so
     * the recorded log-probability matches the training forward's.
     */
    for (k = 0; k < V; k++) {
        float z = logits[k] * inv;
        if (z > m) {
            m = z;
            tok = k;
        }
    }
    if (greedy && !logprob)
        return tok;   /* the argmax needs no probabilities */
    for (k = 0; k < V; k++) {
        p[k] = expf(logits[k] * inv - m);
        sum += p[k];
    }
    lse = m + (float)log(sum);

    if (!greedy) {
        double u = rng_double(r);
        int trunc = (cfg->top_k > 0 && cfg->top_k < V) || cfg->top_p < 1.0f ||
                    cfg->min_p > 0.0f;
        if (!trunc) {
            double target = u * sum, cum = 0.0;
            int last = 0;
            for (k = 0; k < V; k++) {
                if (p[k] > 0.0f)
                    last = k;
                cum += p[k];
                if (cum > target)
                    break;
            }
            tok = k < V ? k : last;
        } else {
            struct sampler_cand *c = s->cand;
            size_t n = (size_t)V;
            int sorted = 0;
            for (k = 0; k < V; k++) {
                c[k].v = logits[k] * inv;
                c[k].id = k;
            }
            if (cfg->top_k > 0 && cfg->top_k < V) {
                n = apply_top_k(c, n, cfg->top_k);
                sorted = 1;
            }
            if (cfg->top_p < 1.0f)
                n = apply_top_p(c, n, cfg->top_p, &sorted);
            if (cfg->min_p > 0.0f)
                n = apply_min_p(c, n, cfg->min_p);
            tok = draw(c, n, u);
        }
    }
    if (logprob)
        *logprob = logits[tok] * inv - lse;
    return tok;
}
