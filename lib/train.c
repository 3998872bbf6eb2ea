/*
 * train.c - losses, aggregation weights and the optimizer step over a
 * global batch of packed rows.  See train.h for the formulas.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

#include "dist.h"
#include "util.h"

static const char *const agg_names[] = {
    "token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm",
};

void
train_config_default(struct train_config *c, enum train_mode mode)
{
    memset(c, 0, sizeof(*c));
    c->mode = mode;
    c->agg = mode == TRAIN_GRPO ? TRAIN_SEQ_MEAN_TOKEN_MEAN : TRAIN_TOKEN_MEAN;
    c->clip_low = 0.2f;
    c->clip_high = 0.28f;
    c->beta = 0.0f;
    c->temperature = 1.0f;
    c->micro_tokens = 4096;
}

int
train_agg_parse(const char *s, enum train_agg *out)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(agg_names); i++) {
        if (strcmp(s, agg_names[i]) == 0) {
            *out = (enum train_agg)i;
            return 0;
        }
    }
    return -1;
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
train_grpo_token(const struct train_config *c, float logp, float old, const float *ref,
                 float adv, float *dlogp, int *clip, double *kl)
{
    double r = exp((double)logp - (double)old), A = adv;
    double lo = 1.0 - c->clip_low, hi = 1.0 + c->clip_high;
    double rc = r < lo ? lo : r > hi ? hi : r;
    double u = r * A, v = rc * A, l, g;

    /*
     * -min(u, v): where the clipped term is the smaller one the gradient
     * is zero (the ratio left the trust region in the direction the
     * advantage pushes it).  d(-r A)/dlogp = -r A.
     */
    if (v < u) {
        l = -v;
        g = 0.0;
        *clip = r < lo ? -1 : 1;
    } else {
        l = -u;
        g = -u;
        *clip = 0;
    }
    *kl = 0.0;
    if (ref) {
        double d = (double)*ref - (double)logp, e = exp(d);
        *kl = e - d - 1.0;
        l += c->beta * *kl;
        /* d/dlogp (e^d - d - 1) with d = ref - logp: -e^d + 1 */
        g += c->beta * (1.0 - e);
    }
    *dlogp = (float)g;
    return l;
}

double
train_token_loss(const struct train_config *c, const struct pack_row *rows, size_t nrows,
                 const float *w, const float *logp, const float *old, float *dlogp,
                 struct train_stats *st)
{
    size_t r, s, t, off = 0;
    double loss = 0.0;

    for (r = 0; r < nrows; r++) {
        const struct pack_row *row = &rows[r];
        for (s = 0, t = 0; s < row->nseg; s++) {
            size_t e = t + (size_t)row->seg[s];
            float A = row->adv ? row->adv[s] : 0.0f;
            for (; t < e; t++) {
                size_t i = off + t;
                double l;
                float g;
                if (!row->mask[t]) {
                    dlogp[i] = 0.0f;
                    continue;
                }
                if (c->mode == TRAIN_GRPO) {
                    int clip;
                    double kl;
                    const float *ref = row->ref ? &row->ref[t] : NULL;
                    l = train_grpo_token(c, logp[i], old[i], ref, A, &g, &clip, &kl);
                    st->ratio_sum += exp((double)logp[i] - (double)old[i]);
                    st->kl_sum += kl;
                    st->clip_low += clip < 0;
                    st->clip_high += clip > 0;
                } else {
                    l = -(double)logp[i];
                    g = -1.0f;
                }
                loss += (double)w[i] * l;
                dlogp[i] = w[i] * g;
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
    free(tr->logp);
    free(tr->ent);
    free(tr->dlogp);
    free(tr->tlogp);
    free(tr->tdlogp);
    free(tr->told);
    free(tr->scores);
    free(tr->dscores);
    free(tr->w);
    free(tr->sub);
    free(tr->subw);
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
    size_t r, ntok = 0, nseg = 0;

    for (r = 0; r < n; r++) {
        ntok += rows[r].n;
        nseg += rows[r].nseg;
    }
    grow(tr, ntok, nseg);
    ntok = nseg = 0;
    for (r = 0; r < n; r++) {
        memcpy(tr->ids + ntok, rows[r].ids, rows[r].n * sizeof(int));
        memcpy(tr->mask + ntok, rows[r].mask, rows[r].n);
        memcpy(tr->seg + nseg, rows[r].seg, rows[r].nseg * sizeof(int));
        ntok += rows[r].n;
        nseg += rows[r].nseg;
    }
    b->ntok = ntok;
    b->ids = tr->ids;
    b->targets = tr->targets;
    b->nseg = nseg;
    b->seg_len = tr->seg;
    if (tr->m->cfg.arch == MODEL_SEQ_CLS) {
        for (r = 0; r < ntok; r++)
            tr->targets[r] = -1;
    } else
        model_batch_shift_targets(b, tr->mask, tr->targets);
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
 * = log p(ids[t]) where ids[t] is a target), entropies of the same
 * predictions summed into st.
 */
static void
forward_tokens(struct trainer *tr, const struct model_batch *b, int flags,
               struct train_stats *st)
{
    size_t t;

    model_forward(tr->m, b, tr->cfg.temperature, tr->logp,
                  tr->cfg.mode == TRAIN_GRPO ? tr->ent : NULL, NULL, flags);
    for (t = 0; t < b->ntok; t++)
        tr->tlogp[t] = 0.0f;
    for (t = 0; t + 1 < b->ntok; t++) {
        if (b->targets[t] >= 0) {
            tr->tlogp[t + 1] = tr->logp[t];
            if (st && tr->cfg.mode == TRAIN_GRPO)
                st->entropy_sum += tr->ent[t];
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
            st->mismatch_sum += d;
            st->mismatch_max = d > st->mismatch_max ? d : st->mismatch_max;
            st->mismatch_ndiff += logp[t] != row->old[t];
            st->mismatch_n++;
        }
    }
}

static double
micro_step(struct trainer *tr, struct pack_row *rows, size_t n, const float *w, int iter,
           double wpair, struct train_stats *st)
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
                if (!row->old)
                    row->old = xmalloc(xmul(row->n, sizeof(float)));
                memcpy(row->old, tr->tlogp + off, row->n * sizeof(float));
            }
            memcpy(tr->told + off, row->old, row->n * sizeof(float));
        }
    }
    loss = train_token_loss(&tr->cfg, rows, n, w, tr->tlogp, tr->told, tr->tdlogp, st);
    for (t = 0; t < b.ntok; t++)
        tr->dlogp[t] = b.targets[t] >= 0 ? tr->tdlogp[t + 1] : 0.0f;
    model_backward(tr->m, &b, tr->dlogp, NULL, NULL);
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
enum { STAT_ND = 6, STAT_NU = 10 };

/*
 * The sums reduce as sums; the largest mismatch as one slot per process
 * (the others zero), whose sum is every process's value.
 */
static void
stats_reduce(struct trainer *tr, struct train_stats *st)
{
    size_t np = (size_t)dist_size(), nd = STAT_ND + np, i;
    double *d = xcalloc(nd, sizeof(double));
    uint64_t u[STAT_NU] = {st->rows, st->segments, st->tokens, st->targets, st->clip_low,
                           st->clip_high, st->mismatch_n, st->pairs, st->correct,
                           st->mismatch_ndiff};

    d[0] = st->loss;
    d[1] = st->ratio_sum;
    d[2] = st->kl_sum;
    d[3] = st->entropy_sum;
    d[4] = st->mismatch_sum;
    d[5] = st->score_diff_sum;
    d[STAT_ND + (size_t)dist_rank()] = st->mismatch_max;
    tr->reduce(tr->reduce_ctx, tr->m->grads, tr->m->nparams, d, nd, u, STAT_NU);
    st->mismatch_max = 0.0;
    for (i = 0; i < np; i++)
        st->mismatch_max = PT_MAX(st->mismatch_max, d[STAT_ND + i]);
    st->mismatch_ndiff = (size_t)u[9];
    st->loss = d[0];
    st->ratio_sum = d[1];
    st->kl_sum = d[2];
    st->entropy_sum = d[3];
    st->mismatch_sum = d[4];
    st->score_diff_sum = d[5];
    st->rows = (size_t)u[0];
    st->segments = (size_t)u[1];
    st->tokens = (size_t)u[2];
    st->targets = (size_t)u[3];
    st->clip_low = (size_t)u[4];
    st->clip_high = (size_t)u[5];
    st->mismatch_n = (size_t)u[6];
    st->pairs = (size_t)u[7];
    st->correct = (size_t)u[8];
    free(d);
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
    model_zero_grad(tr->m);
    for (i = 0, off = 0; i < nsub; i = j) {
        j = micro_end(tr, sub, nsub, i);
        st->loss += micro_step(tr, sub + i, j - i, w ? w + off : NULL, iter, wpair, st);
        for (r = i; r < j; r++)
            off += sub[r].n;
    }
    /* old log-probs recomputed at the first pass belong to the rows */
    if (mine)
        for (r = 0, k = 0; r < nrows; r++)
            if (mine[r])
                rows[r] = sub[k++];
    if (tr->reduce)
        stats_reduce(tr, st);
    st->lr = optim_lr(&tr->o->cfg, tr->o->step);
    st->grad_norm = optim_step(tr->o, tr->m->params, tr->m->grads, 1.0f);
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
