/*
 * train.c - losses, aggregation weights and the optimizer step over a
 * global batch of packed rows.  See train.h for the formulas.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

#include "dist.h"
#include "lora.h"
#include "w16.h"
#include "util.h"

static const char *const agg_names[] = {
    "token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm",
};
static const char *const obj_names[] = {"ppo", "gspo", "gspo-token", "cispo"};
static const char *const kl_names[] = {"k3", "k1", "k2"};

static int
name_index(const char *s, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

int
train_objective_parse(const char *s, enum train_objective *out)
{
    int i = name_index(s, obj_names, ARRAY_LEN(obj_names));

    if (i >= 0)
        *out = (enum train_objective)i;
    return i < 0 ? -1 : 0;
}

int
train_kl_parse(const char *s, enum train_kl *out)
{
    int i = name_index(s, kl_names, ARRAY_LEN(kl_names));

    if (i >= 0)
        *out = (enum train_kl)i;
    return i < 0 ? -1 : 0;
}

void
train_config_default(struct train_config *c, enum train_mode mode)
{
    memset(c, 0, sizeof(*c));
    c->mode = mode;
    c->agg = mode == TRAIN_GRPO ? TRAIN_SEQ_MEAN_TOKEN_MEAN : TRAIN_TOKEN_MEAN;
    c->clip_low = 0.2f;
    c->clip_high = 0.28f;
    c->beta = 0.0f;
    c->is_level = TRAIN_IS_TOKEN;
    c->is_cap = 2.0f;
    c->temperature = 1.0f;
    c->micro_tokens = 4096;
}

int
train_agg_parse(const char *s, enum train_agg *out)
{
    int i = name_index(s, agg_names, ARRAY_LEN(agg_names));

    if (i >= 0)
        *out = (enum train_agg)i;
    return i < 0 ? -1 : 0;
}

const char *
train_agg_name(enum train_agg a)
{
    return agg_names[a];
}

void
train_schedule_span(struct optim_config *c, long start, long nsteps)
{
    long last = start + (nsteps > 0 ? nsteps - 1 : 0);

    c->total_steps = last > c->warmup_steps ? last : c->warmup_steps + 1;
}

/* ---- Losses ---- */

void
train_weights(const struct train_config *c, const struct pack_row *rows, size_t nrows,
              float *w)
{
    size_t r, s, t, off = 0, T = 0, S = 0, maxn = 0;
    double C;

    /* first pass: the counts of the whole batch */
    for (r = 0; r < nrows; r++) {
        const struct pack_row *row = &rows[r];
        for (s = 0, t = 0; s < row->nseg; s++) {
            size_t n = 0, e = t + (size_t)row->seg[s];
            for (; t < e; t++)
                n += row->mask[t];
            T += n;
            S += n > 0;
            maxn = n > maxn ? n : maxn;
        }
    }
    C = c->norm_len > 0 ? c->norm_len : (double)maxn;
    for (r = 0; r < nrows; r++) {
        const struct pack_row *row = &rows[r];
        for (s = 0, t = 0; s < row->nseg; s++) {
            size_t n = 0, e = t + (size_t)row->seg[s], t0 = t;
            double ws;
            for (; t < e; t++)
                n += row->mask[t];
            if (n == 0) {
                for (t = t0; t < e; t++)
                    w[off + t] = 0.0f;
                continue;
            }
            switch (c->agg) {
            case TRAIN_TOKEN_MEAN: ws = 1.0 / (double)T; break;
            case TRAIN_SEQ_MEAN_TOKEN_MEAN: ws = 1.0 / ((double)S * (double)n); break;
            default: ws = 1.0 / ((double)S * C); break;
            }
            for (t = t0; t < e; t++)
                w[off + t] = row->mask[t] ? (float)ws : 0.0f;
        }
        off += row->n;
    }
}

double
train_kl_value(enum train_kl kind, double logp, double ref, double *dk)
{
    double d = logp - ref, e;

    switch (kind) {
    case TRAIN_KL_K1:
        *dk = 1.0;
        return d;
    case TRAIN_KL_K2:
        *dk = d;
        return 0.5 * d * d;
    default:
        /* e^(ref - logp) - (ref - logp) - 1; d/dlogp = 1 - e^(ref - logp) */
        e = exp(-d);
        *dk = 1.0 - e;
        return e + d - 1.0;
    }
}

/*
 * -min(x A, clip(x) A) as a function of the ratio x: the value, and in
 * *gx its derivative in x (-A, or 0 where the clipped term is the
 * smaller one: the ratio left the trust region in the direction the
 * advantage pushes it); *clip -1 / 1 for the bound that did it, else 0.
 */
static double
clipped(const struct train_config *c, double x, double A, double *gx, int *clip)
{
    double lo = 1.0 - c->clip_low, hi = 1.0 + c->clip_high;
    double xc = x < lo ? lo : x > hi ? hi : x;
    double u = x * A, v = xc * A;

    if (v < u) {
        *gx = 0.0;
        *clip = x < lo ? -1 : 1;
        return -v;
    }
    *gx = -A;
    *clip = 0;
    return -u;
}

double
train_grpo_token(const struct train_config *c, float logp, float old, const float *ref,
                 float adv, float *dlogp, int *clip, double *kl)
{
    double r = exp((double)logp - (double)old), gx, dk, l;

    /* d(-r A)/dlogp = -r A */
    l = clipped(c, r, adv, &gx, clip);
    gx *= r;
    *kl = 0.0;
    if (ref) {
        *kl = train_kl_value(c->kl, logp, *ref, &dk);
        l += c->beta * *kl;
        gx += c->beta * dk;
    }
    *dlogp = (float)gx;
    return l;
}

void
train_is_weights(const struct train_config *c, const struct pack_row *rows, size_t nrows,
                 const float *old, const float *b, float *isw, struct train_stats *st)
{
    size_t r, s, t, off = 0;

    for (r = 0; r < nrows; r++) {
        const struct pack_row *row = &rows[r];
        for (s = 0, t = 0; s < row->nseg; s++) {
            size_t e = t + (size_t)row->seg[s], t0 = t;
            double sum = 0.0, rho;
            for (; t < e; t++)
                if (row->mask[t])
                    sum += (double)old[off + t] - (double)b[off + t];
            for (t = t0; t < e; t++) {
                size_t i = off + t;
                isw[i] = 1.0f;
                if (!row->mask[t] || c->is_level == TRAIN_IS_OFF)
                    continue;
                rho = exp(c->is_level == TRAIN_IS_SEQ ? sum
                                                      : (double)old[i] - (double)b[i]);
                if (rho > c->is_cap) {
                    isw[i] = c->is_mask ? 0.0f : c->is_cap;
                    st->is_capped++;
                } else
                    isw[i] = (float)rho;
                st->is_sum += isw[i];
                st->is_n++;
            }
        }
        off += row->n;
    }
}

/*
 * The grpo loss of one segment [t0, e) of a row at offset off in the
 * token-aligned arrays; see train.h.  Returns sum_t w_t l_t.
 */
static double
grpo_segment(const struct train_config *c, const struct pack_row *row, size_t off,
             size_t t0, size_t e, float A_s, const float *w, const float *logp,
             const float *old, const float *isw, const float *ent, float *dlogp,
             float *dent, struct train_stats *st)
{
    size_t t, n = 0;
    double loss = 0.0, sum = 0.0, x = 0.0, gsum = 0.0;

    for (t = t0; t < e; t++) {
        if (row->mask[t]) {
            sum += (double)logp[off + t] - (double)old[off + t];
            n++;
        }
    }
    if (c->obj == TRAIN_OBJ_GSPO || c->obj == TRAIN_OBJ_GSPO_TOKEN)
        x = exp(sum / (double)(n ? n : 1));
    for (t = t0; t < e; t++) {
        size_t i = off + t;
        double A = A_s, r, l, g, gx, kl = 0.0, dk, wi = isw ? isw[i] : 1.0;
        int clip = 0;
        if (!row->mask[t]) {
            dlogp[i] = 0.0f;
            if (dent)
                dent[i] = 0.0f;
            continue;
        }
        if (c->distill > 0)
            A += c->distill * ((double)row->ref[t] - (double)old[i]);
        r = exp((double)logp[i] - (double)old[i]);
        switch (c->obj) {
        case TRAIN_OBJ_GSPO:
        case TRAIN_OBJ_GSPO_TOKEN:
            l = wi * clipped(c, x, A, &gx, &clip);
            g = wi * gx;
            /* gspo: the gradient through s is spread over the segment */
            if (c->obj == TRAIN_OBJ_GSPO) {
                gsum += (double)w[i] * g;
                g = 0.0;
            } else
                g *= x;
            r = x;
            break;
        case TRAIN_OBJ_CISPO: {
            double lo = 1.0 - c->clip_low, hi = 1.0 + c->clip_high;
            double rc = r < lo ? lo : r > hi ? hi : r;
            clip = r < lo ? -1 : r > hi ? 1 : 0;
            l = -wi * rc * A * (double)logp[i];
            g = -wi * rc * A;
            break;
        }
        default:
            l = wi * clipped(c, r, A, &gx, &clip);
            g = wi * gx * r;
            break;
        }
        if (row->ref) {
            kl = train_kl_value(c->kl, logp[i], row->ref[t], &dk);
            l += c->beta * kl;
            g += c->beta * dk;
        }
        if (ent && c->ent_coef != 0) {
            l -= c->ent_coef * (double)ent[i];
            if (dent)
                dent[i] = (float)(-(double)w[i] * c->ent_coef);
        } else if (dent)
            dent[i] = 0.0f;
        loss += (double)w[i] * l;
        dlogp[i] = (float)((double)w[i] * g);
        st->ratio_sum += r;
        st->ratio_max = r > st->ratio_max ? r : st->ratio_max;
        st->kl_sum += kl;
        st->clip_low += clip < 0;
        st->clip_high += clip > 0;
        st->targets++;
    }
    if (c->obj == TRAIN_OBJ_GSPO) {
        /* d/dlogp_t sum_u w_u l_u = sum_u w_u dl_u/ds * ds/dlogp_t, ds/dlogp_t = s/n */
        for (t = t0; t < e; t++)
            if (row->mask[t])
                dlogp[off + t] = (float)((double)dlogp[off + t] + gsum * x / (double)n);
    }
    return loss;
}

double
train_token_loss(const struct train_config *c, const struct pack_row *rows, size_t nrows,
                 const float *w, const float *logp, const float *old, const float *isw,
                 const float *ent, float *dlogp, float *dent, struct train_stats *st)
{
    size_t r, s, t, off = 0;
    double loss = 0.0;

    for (r = 0; r < nrows; r++) {
        const struct pack_row *row = &rows[r];
        for (s = 0, t = 0; s < row->nseg; s++) {
            size_t e = t + (size_t)row->seg[s];
            float A = row->adv ? row->adv[s] : 0.0f;
            if (c->mode == TRAIN_GRPO) {
                loss += grpo_segment(c, row, off, t, e, A, w, logp, old, isw, ent, dlogp,
                                     dent, st);
                t = e;
                continue;
            }
            for (; t < e; t++) {
                size_t i = off + t;
                if (dent)
                    dent[i] = 0.0f;
                if (!row->mask[t]) {
                    dlogp[i] = 0.0f;
                    continue;
                }
                loss += (double)w[i] * -(double)logp[i];
                dlogp[i] = -w[i];
                st->targets++;
            }
        }
        off += row->n;
    }
    return loss;
}

/* log(1 + e^x) without overflow. */
static double
softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

double
train_pair_loss(const struct train_config *c, const struct pack_row *rows, size_t nrows,
                const float *scores, double wpair, float *dscores, struct train_stats *st)
{
    size_t r, s, off = 0;
    double loss = 0.0;

    for (r = 0; r < nrows; r++) {
        const struct pack_row *row = &rows[r];
        for (s = 0; s + 1 < row->nseg; s += 2) {
            double m = c->margin + (row->margin ? row->margin[s] : 0.0f);
            double d = (double)scores[off + s] - scores[off + s + 1] - m;
            /* -log sigmoid(d) = softplus(-d); d/dd = -sigmoid(-d) */
            double sg = 1.0 / (1.0 + exp(d));
            loss += wpair * softplus(-d);
            dscores[off + s] = (float)(-wpair * sg);
            dscores[off + s + 1] = (float)(wpair * sg);
            st->pairs++;
            st->correct += scores[off + s] > scores[off + s + 1];
            st->score_diff_sum += (double)scores[off + s] - scores[off + s + 1];
        }
        off += row->nseg;
    }
    return loss;
}

/* ---- The step ---- */

void
trainer_init(struct trainer *tr, const struct train_config *c, struct model *m,
             struct optim *o)
{
    memset(tr, 0, sizeof(*tr));
    tr->cfg = *c;
    if (tr->cfg.micro_tokens < 1)
        tr->cfg.micro_tokens = 1;
    tr->m = m;
    tr->o = o;
}

void
trainer_release(struct trainer *tr)
{
    free(tr->ids);
    free(tr->targets);
    free(tr->seg);
    free(tr->mask);
    free(tr->routes);
    free(tr->logp);
    free(tr->ent);
    free(tr->dlogp);
    free(tr->tlogp);
    free(tr->tdlogp);
    free(tr->told);
    free(tr->scores);
    free(tr->dscores);
    free(tr->tent);
    free(tr->tdent);
    free(tr->dent);
    free(tr->isw);
    free(tr->w);
    free(tr->sub);
    free(tr->subw);
    free(tr->load0);
    memset(tr, 0, sizeof(*tr));
}

static void
grow(struct trainer *tr, size_t ntok, size_t nseg)
{
    if (ntok > tr->cap_tok) {
        size_t n = ntok;
        tr->ids = xrealloc(tr->ids, xmul(n, sizeof(int)));
        tr->targets = xrealloc(tr->targets, xmul(n, sizeof(int)));
        tr->mask = xrealloc(tr->mask, n);
        tr->logp = xrealloc(tr->logp, xmul(n, sizeof(float)));
        tr->ent = xrealloc(tr->ent, xmul(n, sizeof(float)));
        tr->dlogp = xrealloc(tr->dlogp, xmul(n, sizeof(float)));
        tr->tlogp = xrealloc(tr->tlogp, xmul(n, sizeof(float)));
        tr->tdlogp = xrealloc(tr->tdlogp, xmul(n, sizeof(float)));
        tr->told = xrealloc(tr->told, xmul(n, sizeof(float)));
        tr->tent = xrealloc(tr->tent, xmul(n, sizeof(float)));
        tr->tdent = xrealloc(tr->tdent, xmul(n, sizeof(float)));
        tr->dent = xrealloc(tr->dent, xmul(n, sizeof(float)));
        tr->cap_tok = n;
    }
    if (nseg > tr->cap_seg) {
        tr->seg = xrealloc(tr->seg, xmul(nseg, sizeof(int)));
        tr->scores = xrealloc(tr->scores, xmul(nseg, sizeof(float)));
        tr->dscores = xrealloc(tr->dscores, xmul(nseg, sizeof(float)));
        tr->cap_seg = nseg;
    }
}

/* Lays rows [0, n) end to end into the scratch batch. */
static void
make_batch(struct trainer *tr, const struct pack_row *rows, size_t n, struct model_batch *b)
{
    size_t r, ntok = 0, nseg = 0, W = (size_t)model_route_width(&tr->m->cfg), i;
    int replay = 0;

    for (r = 0; r < n; r++) {
        ntok += rows[r].n;
        nseg += rows[r].nseg;
        replay |= rows[r].routes != NULL;
    }
    grow(tr, ntok, nseg);
    if (replay && ntok * W > tr->cap_routes) {
        tr->cap_routes = ntok * W;
        tr->routes = xrealloc(tr->routes, xmul(tr->cap_routes, sizeof(int)));
    }
    ntok = nseg = 0;
    for (r = 0; r < n; r++) {
        memcpy(tr->ids + ntok, rows[r].ids, rows[r].n * sizeof(int));
        memcpy(tr->mask + ntok, rows[r].mask, rows[r].n);
        memcpy(tr->seg + nseg, rows[r].seg, rows[r].nseg * sizeof(int));
        if (replay && rows[r].routes)
            memcpy(tr->routes + ntok * W, rows[r].routes, rows[r].n * W * sizeof(int));
        else if (replay)
            for (i = 0; i < rows[r].n * W; i++)
                tr->routes[ntok * W + i] = -1;
        ntok += rows[r].n;
        nseg += rows[r].nseg;
    }
    b->ntok = ntok;
    b->ids = tr->ids;
    b->targets = tr->targets;
    b->nseg = nseg;
    b->seg_len = tr->seg;
    b->routes = replay ? tr->routes : NULL;
    if (tr->m->cfg.arch == MODEL_SEQ_CLS) {
        for (r = 0; r < ntok; r++)
            tr->targets[r] = -1;
    } else
        model_batch_shift_targets(b, tr->mask, tr->targets);
}

/* What the optimizer steps: the adapter's parameters, or the model's. */
static float *
train_params(const struct trainer *tr)
{
    return tr->m->lora ? tr->m->lora->params : tr->m->params;
}

static float *
train_grads(const struct trainer *tr)
{
    return tr->m->lora ? tr->m->lora->grads : tr->m->grads;
}

static size_t
train_nparams(const struct trainer *tr)
{
    return tr->m->lora ? tr->m->lora->nparams : tr->m->nparams;
}

/* The end of the micro-batch starting at row i. */
static size_t
micro_end(const struct trainer *tr, const struct pack_row *rows, size_t nrows, size_t i)
{
    size_t j = i, tok = 0;

    while (j < nrows && (j == i || tok + rows[j].n <= tr->cfg.micro_tokens))
        tok += rows[j++].n;
    return j;
}

/*
 * Forward over a micro-batch: token-aligned log-probs in tlogp (tlogp[t]
 * = log p(ids[t]) where ids[t] is a target), the entropies of the same
 * predictions in tent (grpo), summed into st.
 */
static void
forward_tokens(struct trainer *tr, const struct model_batch *b, int flags,
               struct train_stats *st)
{
    size_t t;

    model_forward(tr->m, b, tr->cfg.temperature, tr->logp,
                  tr->cfg.mode == TRAIN_GRPO ? tr->ent : NULL, NULL, flags);
    for (t = 0; t < b->ntok; t++)
        tr->tlogp[t] = tr->tent[t] = 0.0f;
    for (t = 0; t + 1 < b->ntok; t++) {
        if (b->targets[t] >= 0) {
            tr->tlogp[t + 1] = tr->logp[t];
            if (tr->cfg.mode == TRAIN_GRPO) {
                tr->tent[t + 1] = tr->ent[t];
                if (st)
                    st->entropy_sum += tr->ent[t];
            }
        }
    }
}

/* The records' old log-probs of row against logp (token-aligned), into st. */
static void
mismatch(const struct pack_row *row, const float *logp, struct train_stats *st)
{
    size_t t;

    for (t = 0; t < row->n; t++) {
        if (row->mask[t]) {
            double d = fabs((double)logp[t] - row->old[t]);
            double x = (double)logp[t] - row->old[t];
            st->mismatch_sum += d;
            /* k3 of KL(sampler || trainer) under the sampler's tokens */
            st->mismatch_kl_sum += exp(x) - x - 1.0;
            st->mismatch_max = d > st->mismatch_max ? d : st->mismatch_max;
            st->mismatch_ndiff += logp[t] != row->old[t];
            st->mismatch_n++;
        }
    }
}

static double
micro_step(struct trainer *tr, struct pack_row *rows, size_t n, const float *w, float *isw,
           int iter, double wpair, struct train_stats *st)
{
    struct model_batch b;
    size_t r, t, off;
    double loss;

    make_batch(tr, rows, n, &b);
    st->rows += n;
    st->segments += b.nseg;
    st->tokens += b.ntok;
    if (tr->cfg.mode == TRAIN_RM) {
        model_forward(tr->m, &b, 1.0f, NULL, NULL, tr->scores, 0);
        loss = train_pair_loss(&tr->cfg, rows, n, tr->scores, wpair, tr->dscores, st);
        model_backward(tr->m, &b, NULL, NULL, tr->dscores);
        return loss;
    }
    forward_tokens(tr, &b, 0, st);
    if (tr->cfg.mode == TRAIN_GRPO) {
        for (r = 0, off = 0; r < n; off += rows[r].n, r++) {
            struct pack_row *row = &rows[r];
            if (iter == 0 && row->old)
                mismatch(row, tr->tlogp + off, st);
            if (iter == 0 && (tr->cfg.recompute_old || !row->old)) {
                if (!row->old) {
                    row->old = xmalloc(xmul(row->n, sizeof(float)));
                    memcpy(row->old, tr->tlogp + off, row->n * sizeof(float));
                }
                /* the sampler's log-probs weigh the tokens, then give way */
                if (isw)
                    train_is_weights(&tr->cfg, row, 1, tr->tlogp + off, row->old,
                                     isw + off, st);
                memcpy(row->old, tr->tlogp + off, row->n * sizeof(float));
            }
            memcpy(tr->told + off, row->old, row->n * sizeof(float));
        }
    }
    loss = train_token_loss(&tr->cfg, rows, n, w, tr->tlogp, tr->told, isw,
                            tr->cfg.mode == TRAIN_GRPO ? tr->tent : NULL, tr->tdlogp,
                            tr->cfg.ent_coef != 0 ? tr->tdent : NULL, st);
    for (t = 0; t < b.ntok; t++) {
        tr->dlogp[t] = b.targets[t] >= 0 ? tr->tdlogp[t + 1] : 0.0f;
        tr->dent[t] = b.targets[t] >= 0 && tr->cfg.ent_coef != 0 ? tr->tdent[t + 1] : 0.0f;
    }
    model_backward(tr->m, &b, tr->dlogp, tr->cfg.ent_coef != 0 ? tr->dent : NULL, NULL);
    return loss;
}

static size_t
count_pairs(const struct pack_row *rows, size_t nrows)
{
    size_t r, p = 0;

    for (r = 0; r < nrows; r++)
        p += rows[r].nseg / 2;
    return p;
}

void
trainer_set_reduce(struct trainer *tr, train_reduce_fn fn, void *ctx)
{
    tr->reduce = fn;
    tr->reduce_ctx = ctx;
}

/* The stats that add up over shares, as doubles and counts. */
enum { STAT_ND = 9, STAT_NU = 12 };

/*
 * The sums reduce as sums; the largest mismatch and ratio as one slot
 * per process each (the others zero), whose sum is every process's value.
 */
static void
stats_reduce(struct trainer *tr, struct train_stats *st)
{
    size_t np = (size_t)dist_size(), nd = STAT_ND + 2 * np, i;
    double *d = xcalloc(nd, sizeof(double));
    size_t nload = tr->load0 ? (size_t)tr->m->cfg.n_layers * tr->m->cfg.moe.n_experts : 0;
    uint64_t *u = xcalloc(STAT_NU + nload, sizeof(uint64_t));
    uint64_t u0[STAT_NU] = {st->rows, st->segments, st->tokens, st->targets, st->clip_low,
                            st->clip_high, st->mismatch_n, st->pairs, st->correct,
                            st->mismatch_ndiff, st->is_capped, st->is_n};

    memcpy(u, u0, sizeof(u0));
    /* this step's expert load of the share, summed into everyone's counters */
    for (i = 0; i < nload; i++)
        u[STAT_NU + i] = tr->m->expert_load[i] - tr->load0[i];
    d[8] = st->moe_aux_loss;

    d[0] = st->loss;
    d[1] = st->ratio_sum;
    d[2] = st->kl_sum;
    d[3] = st->entropy_sum;
    d[4] = st->mismatch_sum;
    d[5] = st->score_diff_sum;
    d[6] = st->is_sum;
    d[7] = st->mismatch_kl_sum;
    d[STAT_ND + (size_t)dist_rank()] = st->mismatch_max;
    d[STAT_ND + np + (size_t)dist_rank()] = st->ratio_max;
    tr->reduce(tr->reduce_ctx, train_grads(tr), train_nparams(tr), d, nd, u, STAT_NU + nload);
    for (i = 0; i < nload; i++)
        tr->m->expert_load[i] = tr->load0[i] + u[STAT_NU + i];
    st->moe_aux_loss = d[8];
    st->mismatch_max = st->ratio_max = 0.0;
    for (i = 0; i < np; i++) {
        st->mismatch_max = PT_MAX(st->mismatch_max, d[STAT_ND + i]);
        st->ratio_max = PT_MAX(st->ratio_max, d[STAT_ND + np + i]);
    }
    st->mismatch_ndiff = (size_t)u[9];
    st->loss = d[0];
    st->ratio_sum = d[1];
    st->kl_sum = d[2];
    st->entropy_sum = d[3];
    st->mismatch_sum = d[4];
    st->score_diff_sum = d[5];
    st->is_sum = d[6];
    st->mismatch_kl_sum = d[7];
    st->rows = (size_t)u[0];
    st->segments = (size_t)u[1];
    st->tokens = (size_t)u[2];
    st->targets = (size_t)u[3];
    st->clip_low = (size_t)u[4];
    st->clip_high = (size_t)u[5];
    st->mismatch_n = (size_t)u[6];
    st->pairs = (size_t)u[7];
    st->correct = (size_t)u[8];
    st->is_capped = (size_t)u[10];
    st->is_n = (size_t)u[11];
    free(u);
    free(d);
}

/*
 * Auxiliary-loss-free balancing (train.h): each sparse layer's selection
 * bias moves by gamma toward equal load, sign(mean - load_i) compared in
 * integers (sum - E load_i) so ties move nothing.
 */
static void
balance_bias(struct trainer *tr)
{
    struct model *m = tr->m;
    int E = m->cfg.moe.n_experts, l, e;
    float g = tr->cfg.moe_bias_speed;

    for (l = 0; l < m->cfg.n_layers; l++) {
        const uint64_t *ld = m->expert_load + (size_t)l * E, *l0 = tr->load0 + (size_t)l * E;
        float *b = m->w.layers[l].router_bias;
        int64_t sum = 0;
        if (!b)
            continue;
        for (e = 0; e < E; e++)
            sum += (int64_t)(ld[e] - l0[e]);
        for (e = 0; e < E; e++) {
            int64_t d = sum - (int64_t)E * (int64_t)(ld[e] - l0[e]);
            b[e] += d > 0 ? g : d < 0 ? -g : 0.0f;
        }
    }
}

/* The mismatch and importance-weight counts of st into dst. */
static void
mismatch_copy(struct train_stats *dst, const struct train_stats *st)
{
    dst->mismatch_sum = st->mismatch_sum;
    dst->mismatch_max = st->mismatch_max;
    dst->mismatch_n = st->mismatch_n;
    dst->mismatch_ndiff = st->mismatch_ndiff;
    dst->mismatch_kl_sum = st->mismatch_kl_sum;
    dst->is_sum = st->is_sum;
    dst->is_capped = st->is_capped;
    dst->is_n = st->is_n;
}

/*
 * The rows of the share laid out together with their weights (tr->sub,
 * tr->subw); returns their number.
 */
static size_t
gather_share(struct trainer *tr, struct pack_row *rows, size_t nrows,
             const unsigned char *mine)
{
    size_t r, k = 0, ntok = 0, off, o;

    for (r = 0; r < nrows; r++)
        if (mine[r])
            ntok += rows[r].n;
    if (nrows > tr->cap_sub) {
        tr->sub = xrealloc(tr->sub, xmul(nrows, sizeof(*tr->sub)));
        tr->cap_sub = nrows;
    }
    if (tr->w && ntok > tr->cap_subw) {
        tr->subw = xrealloc(tr->subw, xmul(ntok, sizeof(float)));
        tr->cap_subw = ntok;
    }
    for (r = 0, off = 0, o = 0; r < nrows; off += rows[r].n, r++) {
        if (!mine[r])
            continue;
        tr->sub[k++] = rows[r];
        if (tr->w) {
            memcpy(tr->subw + o, tr->w + off, rows[r].n * sizeof(float));
            o += rows[r].n;
        }
    }
    return k;
}

void
train_step_part(struct trainer *tr, struct pack_row *rows, size_t nrows,
                const unsigned char *mine, int iter, struct train_stats *st)
{
    size_t r, ntok = 0, i, j, off, nsub = nrows, k;
    double wpair = 0.0;
    struct pack_row *sub = rows;
    const float *w;
    float *isw;

    memset(st, 0, sizeof(*st));
    for (r = 0; r < nrows; r++)
        ntok += rows[r].n;
    if (tr->cfg.mode == TRAIN_RM) {
        size_t p = count_pairs(rows, nrows);
        wpair = p ? 1.0 / (double)p : 0.0;
    } else {
        if (ntok > tr->cap_w) {
            tr->w = xrealloc(tr->w, xmul(ntok, sizeof(float)));
            tr->cap_w = ntok;
        }
        train_weights(&tr->cfg, rows, nrows, tr->w);
    }
    w = tr->w;
    if (mine) {
        nsub = gather_share(tr, rows, nrows, mine);
        sub = tr->sub;
        w = tr->w ? tr->subw : NULL;
    }
    /* importance weights: computed at iter 0, kept for the batch's later iters */
    isw = NULL;
    if (tr->cfg.mode == TRAIN_GRPO && tr->cfg.recompute_old
        && tr->cfg.is_level != TRAIN_IS_OFF) {
        size_t nt = 0;
        for (r = 0; r < nsub; r++)
            nt += sub[r].n;
        if (iter == 0 && nt > tr->cap_isw) {
            tr->isw = xrealloc(tr->isw, xmul(nt, sizeof(float)));
            tr->cap_isw = nt;
        }
        if (iter == 0)
            for (r = 0; r < nt; r++)
                tr->isw[r] = 1.0f;
        isw = tr->isw;
    }
    if (tr->m->lora)
        lora_zero_grad(tr->m->lora);
    else
        model_zero_grad(tr->m);
    /* the balance loss per segment of the global batch; the load before the step */
    for (r = 0, k = 0; r < nrows; r++)
        k += rows[r].nseg;
    tr->m->moe_seq_aux = tr->cfg.moe_seq_aux > 0 && k ? tr->cfg.moe_seq_aux / (float)k : 0.0f;
    tr->m->moe_aux_loss = 0.0;
    if (tr->m->expert_load) {
        size_t nl = (size_t)tr->m->cfg.n_layers * tr->m->cfg.moe.n_experts;
        if (!tr->load0)
            tr->load0 = xmalloc(xmul(nl, sizeof(uint64_t)));
        memcpy(tr->load0, tr->m->expert_load, nl * sizeof(uint64_t));
    }
    for (i = 0, off = 0; i < nsub; i = j) {
        j = micro_end(tr, sub, nsub, i);
        if (tr->m->lora)   /* the dropout masks of this step and micro-batch */
            tr->m->lora->key = hash64(&i, sizeof(i),
                                      (uint64_t)tr->o->step * 1024 + (uint64_t)iter);
        st->loss += micro_step(tr, sub + i, j - i, w ? w + off : NULL, isw ? isw + off : NULL,
                               iter, wpair, st);
        for (r = i; r < j; r++)
            off += sub[r].n;
    }
    if (iter == 0)
        mismatch_copy(&tr->mm, st);
    else if (tr->cfg.mode == TRAIN_GRPO)
        mismatch_copy(st, &tr->mm);
    /* old log-probs recomputed at the first pass belong to the rows */
    if (mine)
        for (r = 0, k = 0; r < nrows; r++)
            if (mine[r])
                rows[r] = sub[k++];
    st->moe_aux_loss = tr->m->moe_aux_loss;
    tr->m->moe_seq_aux = 0.0f;
    if (tr->reduce)
        stats_reduce(tr, st);
    st->lr = optim_lr(&tr->o->cfg, tr->o->step);
    st->grad_norm = optim_step(tr->o, train_params(tr), train_grads(tr), 1.0f);
    if (tr->cfg.moe_bias_speed > 0 && tr->load0)
        balance_bias(tr);
    /* bf16 products (w16.h) read copies of the fp32 weights just stepped;
       an adapter's base is frozen, its copies stay */
    if (!tr->m->lora)
        model_w16_refresh(tr->m);
}

void
train_step(struct trainer *tr, struct pack_row *rows, size_t nrows, int iter,
           struct train_stats *st)
{
    train_step_part(tr, rows, nrows, NULL, iter, st);
}

double
train_eval(struct trainer *tr, struct pack_row *rows, size_t nrows, struct train_stats *st)
{
    struct train_stats local;
    struct model_batch b;
    size_t i, j, t;
    double loss = 0.0, n = 0.0;

    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    for (i = 0; i < nrows; i = j) {
        j = micro_end(tr, rows, nrows, i);
        make_batch(tr, rows + i, j - i, &b);
        st->rows += j - i;
        st->segments += b.nseg;
        st->tokens += b.ntok;
        if (tr->cfg.mode == TRAIN_RM) {
            model_forward(tr->m, &b, 1.0f, NULL, NULL, tr->scores, MODEL_FWD_NOGRAD);
            loss += train_pair_loss(&tr->cfg, rows + i, j - i, tr->scores, 1.0, tr->dscores, st);
            n = (double)st->pairs;
            continue;
        }
        forward_tokens(tr, &b, MODEL_FWD_NOGRAD, NULL);
        if (tr->cfg.mode == TRAIN_GRPO) {
            size_t r, off = 0;
            for (r = i; r < j; off += rows[r].n, r++)
                if (rows[r].old)
                    mismatch(&rows[r], tr->tlogp + off, st);
        }
        for (t = 0; t < b.ntok; t++) {
            if (b.targets[t] >= 0) {
                loss -= tr->logp[t];
                n += 1.0;
                st->targets++;
            }
        }
    }
    st->loss = n > 0 ? loss / n : 0.0;
    return st->loss;
}
