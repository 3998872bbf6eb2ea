/*
 * optim.c - AdamW, clipping and schedules of optim.h.
 */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

void
optim_config_default(struct optim_config *c)
{
    memset(c, 0, sizeof(*c));
    c->lr = 5e-6f;
    c->min_lr = 1e-6f;
    c->beta1 = 0.9f;
    c->beta2 = 0.95f;
    c->eps = 1e-8f;
    c->weight_decay = 0.1f;
    c->grad_clip = 1.0f;
    c->schedule = OPTIM_COSINE;
    c->warmup_steps = 0;
    c->total_steps = 1000;
}

const char *
optim_schedule_name(enum optim_schedule s)
{
    return s == OPTIM_COSINE ? "cosine" : "constant";
}

int
optim_schedule_parse(const char *s, enum optim_schedule *out)
{
    if (strcmp(s, "cosine") == 0)
        *out = OPTIM_COSINE;
    else if (strcmp(s, "constant") == 0)
        *out = OPTIM_CONSTANT;
    else
        return -1;
    return 0;
}

struct optim *
optim_new(const struct optim_config *c, size_t n)
{
    struct optim *o = xcalloc(1, sizeof(*o));

    o->cfg = *c;
    o->n = n;
    o->m = xcalloc(n ? n : 1, sizeof(float));
    o->v = xcalloc(n ? n : 1, sizeof(float));
    rng_seed(&o->rng, 0);
    return o;
}

void
optim_free(struct optim *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    free(o->nodecay);
    free(o);
}

void
optim_no_decay(struct optim *o, size_t off, size_t n)
{
    o->nodecay = xrealloc(o->nodecay, xmul(o->nnd + 1, sizeof(*o->nodecay)));
    o->nodecay[o->nnd][0] = off;
    o->nodecay[o->nnd][1] = n;
    o->nnd++;
}

/*
 * Warmup: lr (step + 1) / warmup, so the first step already moves.
 * Cosine: min + (lr - min) (1 + cos(pi p)) / 2 with p the fraction of
 * the decay steps done, clamped to [0, 1].
 */
double
optim_lr(const struct optim_config *c, long step)
{
    double p;

    if (step < c->warmup_steps)
        return (double)c->lr * (double)(step + 1) / (double)c->warmup_steps;
    if (c->schedule == OPTIM_CONSTANT)
        return c->lr;
    if (c->total_steps <= c->warmup_steps)
        return c->min_lr;
    p = (double)(step - c->warmup_steps) / (double)(c->total_steps - c->warmup_steps);
    p = p < 0 ? 0 : p > 1 ? 1 : p;
    return c->min_lr + ((double)c->lr - c->min_lr) * 0.5 * (1.0 + cos(M_PI * p));
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default"), \
                           optimize("O3", "no-trapping-math")))
#else
#define HOT
#endif

/* Fixed-size chunks, so sums and updates do not depend on the thread count. */
#define CHUNK ((size_t)1 << 15)

struct norm_job {
    const float *g;
    size_t n;
    double *part;
};

/* Eight running sums a chunk, element i into sum i % 8 (vector lanes), then
   added in order: the same bits whatever the thread count. */
static HOT void
norm_task(void *ctx, int task, int tid)
{
    const struct norm_job *j = ctx;
    size_t i, lo = (size_t)task * CHUNK, hi = PT_MIN(j->n, lo + CHUNK), k;
    const float *restrict g = j->g;
    double s[8] = { 0 }, t = 0.0;

    (void)tid;
    for (i = lo; i + 8 <= hi; i += 8)
        for (k = 0; k < 8; k++)
            s[k] += (double)g[i + k] * g[i + k];
    for (; i < hi; i++)
        s[i % 8] += (double)g[i] * g[i];
    for (k = 0; k < 8; k++)
        t += s[k];
    j->part[task] = t;
}

double
optim_grad_norm(const float *g, size_t n)
{
    int nt = (int)((n + CHUNK - 1) / CHUNK), t;
    double *part = xcalloc((size_t)nt + 1, sizeof(double)), s = 0.0;
    struct norm_job j = {g, n, part};

    pool_run(norm_task, &j, nt);
    for (t = 0; t < nt; t++)
        s += part[t];
    free(part);
    return sqrt(s);
}

/* p -= lr wd p;  m, v moments;  p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) */
static HOT void
adamw_range(struct optim *o, float *restrict p, const float *restrict g, size_t a, size_t b,
            float lr, float wd, float gs, float bc1, float bc2s)
{
    float b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.eps, step = lr / bc1;
    float decay = 1.0f - lr * wd;
    float *restrict m = o->m, *restrict v = o->v;
    size_t i;

    /* restrict: vectorized, each lane the scalar loop's operations and bits */
    for (i = a; i < b; i++) {
        float gi = g[i] * gs;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] = p[i] * decay - step * m[i] / (sqrtf(v[i]) / bc2s + eps);
    }
}

static int
cmp_range(const void *a, const void *b)
{
    const size_t *x = a, *y = b;

    return x[0] < y[0] ? -1 : x[0] > y[0];
}

struct adam_job {
    struct optim *o;
    float *p;
    const float *g;
    float lr, gs, bc1, bc2s;
};

/* One chunk: decayed stretches between the (sorted) no-decay ranges. */
static void
adam_task(void *ctx, int task, int tid)
{
    const struct adam_job *j = ctx;
    struct optim *o = j->o;
    size_t lo = (size_t)task * CHUNK, hi = PT_MIN(o->n, lo + CHUNK), pos = lo, r;
    float wd = o->cfg.weight_decay;

    (void)tid;
    for (r = 0; r < o->nnd && pos < hi; r++) {
        size_t a = PT_MAX(o->nodecay[r][0], pos), b = PT_MIN(o->nodecay[r][0] + o->nodecay[r][1], hi);
        if (b <= a)
            continue;
        adamw_range(o, j->p, j->g, pos, a, j->lr, wd, j->gs, j->bc1, j->bc2s);
        adamw_range(o, j->p, j->g, a, b, j->lr, 0.0f, j->gs, j->bc1, j->bc2s);
        pos = b;
    }
    adamw_range(o, j->p, j->g, pos, hi, j->lr, wd, j->gs, j->bc1, j->bc2s);
}

double
optim_step(struct optim *o, float *params, const float *grads, float grad_scale)
{
    double norm = optim_grad_norm(grads, o->n) * fabs(grad_scale);
    struct adam_job j = {o, params, grads, (float)optim_lr(&o->cfg, o->step), grad_scale, 0, 0};
    long t;

    if (o->cfg.grad_clip > 0 && norm > o->cfg.grad_clip)
        j.gs = (float)(grad_scale * (o->cfg.grad_clip / (norm + 1e-6)));
    t = ++o->step;
    j.bc1 = (float)(1.0 - pow(o->cfg.beta1, (double)t));
    j.bc2s = (float)sqrt(1.0 - pow(o->cfg.beta2, (double)t));
    if (o->nnd)
        qsort(o->nodecay, o->nnd, sizeof(*o->nodecay), cmp_range);
    pool_run(adam_task, &j, (int)((o->n + CHUNK - 1) / CHUNK));
    return norm;
}
