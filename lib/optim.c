/*
 * optim.c - AdamW, clipping and schedules of optim.h.
 */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

double
optim_grad_norm(const float *g, size_t n)
{
    double s = 0.0;
    size_t i;

    for (i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return sqrt(s);
}

/* p -= lr wd p;  m, v moments;  p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) */
static void
adamw_range(struct optim *o, float *p, const float *g, size_t a, size_t b, float lr, float wd,
            float gs, float bc1, float bc2s)
{
    float b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.eps, step = lr / bc1;
    float decay = 1.0f - lr * wd;
    float *m = o->m, *v = o->v;
    size_t i;

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

double
optim_step(struct optim *o, float *params, const float *grads, float grad_scale)
{
    double norm = optim_grad_norm(grads, o->n) * fabs(grad_scale);
    float lr = (float)optim_lr(&o->cfg, o->step), gs = grad_scale;
    float bc1, bc2s;
    size_t pos = 0, r;
    long t;

    if (o->cfg.grad_clip > 0 && norm > o->cfg.grad_clip)
        gs = (float)(grad_scale * (o->cfg.grad_clip / (norm + 1e-6)));
    t = ++o->step;
    bc1 = (float)(1.0 - pow(o->cfg.beta1, (double)t));
    bc2s = (float)sqrt(1.0 - pow(o->cfg.beta2, (double)t));
    if (o->nnd)
        qsort(o->nodecay, o->nnd, sizeof(*o->nodecay), cmp_range);
    for (r = 0; r < o->nnd; r++) {
        size_t a = o->nodecay[r][0], b = a + o->nodecay[r][1];
        if (a > pos)
            adamw_range(o, params, grads, pos, a, lr, o->cfg.weight_decay, gs, bc1, bc2s);
        if (b > pos)
            adamw_range(o, params, grads, PT_MAX(a, pos), b, lr, 0.0f, gs, bc1, bc2s);
        pos = PT_MAX(pos, b);
    }
    if (pos < o->n)
        adamw_range(o, params, grads, pos, o->n, lr, o->cfg.weight_decay, gs, bc1, bc2s);
    return norm;
}
