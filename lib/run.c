/*
 * run.c - an update run's plan, position, saved state, optimizer
 * settings, row checks and report lines.  See run.h.
 */
#include "run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "json.h"

/* ---- The plan ---- */

static uint64_t
row_hash(const struct pack_row *w, uint64_t h)
{
    h = hash64(w->ids, w->n * sizeof(int), h);
    h = hash64(w->mask, w->n, h);
    h = hash64(w->seg, w->nseg * sizeof(int), h);
    if (w->adv)
        h = hash64(w->adv, w->nseg * sizeof(float), h);
    if (w->old)
        h = hash64(w->old, w->n * sizeof(float), h);
    if (w->ref)
        h = hash64(w->ref, w->n * sizeof(float), h);
    if (w->routes)
        h = hash64(w->routes, w->nroutes * sizeof(int), h);
    return h;
}

void
run_plan_init(struct run_plan *p)
{
    size_t i;
    long e;

    p->data = 0x9e3779b97f4a7c15ULL;
    for (i = 0; i < p->nrows; i++)
        p->data = row_hash(&p->rows[i], p->data);
    /* the bytes of each field, as saved runs have them */
    p->plan = hash64(&p->batch, sizeof(p->batch), p->seed);
    p->plan = hash64(&p->batch_tokens, sizeof(p->batch_tokens), p->plan);
    p->plan = hash64(&p->epochs, sizeof(p->epochs), p->plan);
    p->plan = hash64(&p->mu, sizeof(p->mu), p->plan);
    p->plan = hash64(&p->shuffle, sizeof(p->shuffle), p->plan);
    p->order = xmalloc(xmul(p->nrows ? p->nrows : 1, sizeof(size_t)));
    p->start = xmalloc(xmul(p->nrows + 1, sizeof(size_t)));
    p->total = 0;
    for (e = 0; e < p->epochs; e++)
        p->total += (long)run_plan_epoch(p, e) * p->mu;
}

/* The row order of epoch e: a Fisher-Yates shuffle seeded by (seed, e). */
static void
epoch_order(const struct run_plan *p, long e, size_t *order)
{
    struct rng g;
    size_t i;

    for (i = 0; i < p->nrows; i++)
        order[i] = i;
    if (!p->shuffle)
        return;
    rng_seed(&g, p->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(e + 1)));
    for (i = p->nrows; i > 1; i--) {
        size_t j = (size_t)rng_below(&g, i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

size_t
run_plan_epoch(struct run_plan *p, long e)
{
    size_t i = 0, nb = 0, tok;

    epoch_order(p, e, p->order);
    while (i < p->nrows) {
        p->start[nb++] = i;
        if (p->batch_tokens > 0) {
            tok = 0;
            do
                tok += p->rows[p->order[i++]].n;
            while (i < p->nrows && tok < (size_t)p->batch_tokens);
        } else if (p->batch > 0)
            i = i + (size_t)p->batch < p->nrows ? i + (size_t)p->batch : p->nrows;
        else
            i = p->nrows;
    }
    p->start[nb] = p->nrows;
    p->nbatches = nb;
    return nb;
}

void
run_plan_after(const struct run_plan *p, long e, long b, struct run_pos *at)
{
    int last = b + 1 >= (long)p->nbatches;

    at->epoch = last ? e + 1 : e;
    at->batch = last ? 0 : b + 1;
}

void
run_plan_release(struct run_plan *p)
{
    free(p->order);
    free(p->start);
    p->order = p->start = NULL;
}

/* ---- The saved state ---- */

json_t *
run_state_json(const struct run_plan *p, const struct run_pos *at)
{
    char h[24], q[24];

    snprintf(h, sizeof(h), "%016llx", (unsigned long long)p->data);
    snprintf(q, sizeof(q), "%016llx", (unsigned long long)p->plan);
    return json_pack("{s:{s:s, s:I, s:I, s:I, s:s, s:s}}", "run", "mode",
                     p->mode == TRAIN_SFT ? "sft" : p->mode == TRAIN_GRPO ? "grpo" : "rm",
                     "epoch", (json_int_t)at->epoch, "batch", (json_int_t)at->batch, "steps",
                     (json_int_t)at->steps, "data", h, "plan", q);
}

int
run_resume(const struct run_plan *p, const char *dir, struct run_pos *at, struct sbuf *err)
{
    char *path = ckpt_path_join(dir, CKPT_TRAINER_STATE), h[24], q[24];
    json_t *js, *run;
    const char *dh, *ph;
    int rc = -1;

    js = ckpt_read_state(dir, err);
    if (!js) {
        sbuf_adds(err, " (--resume needs the checkpoint's trainer state)");
        goto out;
    }
    run = json_object_get(js, "run");
    if (!json_is_object(run)
        || !json_is_integer(json_object_get(run, "epoch"))
        || !json_is_integer(json_object_get(run, "batch"))
        || !json_is_integer(json_object_get(run, "steps"))
        || !json_is_string(json_object_get(run, "data"))
        || !json_is_string(json_object_get(run, "plan"))) {
        sbuf_addf(err, "%s: field 'run': missing or incomplete (not saved by update)", path);
        goto out;
    }
    snprintf(h, sizeof(h), "%016llx", (unsigned long long)p->data);
    snprintf(q, sizeof(q), "%016llx", (unsigned long long)p->plan);
    dh = json_string_value(json_object_get(run, "data"));
    ph = json_string_value(json_object_get(run, "plan"));
    if (strcmp(dh, h) != 0) {
        sbuf_addf(err, "%s: the run was on other packed records (data %s, these are %s)",
                  path, dh, h);
        goto out;
    }
    if (strcmp(ph, q) != 0) {
        sbuf_addf(err, "%s: the run had other batch, epoch, shuffle or --mu options", path);
        goto out;
    }
    at->epoch = (long)json_integer_value(json_object_get(run, "epoch"));
    at->batch = (long)json_integer_value(json_object_get(run, "batch"));
    at->steps = (long)json_integer_value(json_object_get(run, "steps"));
    rc = 0;
out:
    json_decref(js);
    free(path);
    return rc;
}

/* ---- Optimizer settings ---- */

void
run_optset_init(struct run_optset *s)
{
    s->lr = s->min_lr = s->wd = s->b1 = s->b2 = s->clip = NAN;
    s->warmup = s->total = -1;
    s->schedule = -1;
}

void
run_optset_apply(const struct run_optset *s, struct optim_config *c)
{
    if (!isnan(s->lr))
        c->lr = (float)s->lr;
    if (!isnan(s->min_lr))
        c->min_lr = (float)s->min_lr;
    if (!isnan(s->wd))
        c->weight_decay = (float)s->wd;
    if (!isnan(s->b1))
        c->beta1 = (float)s->b1;
    if (!isnan(s->b2))
        c->beta2 = (float)s->b2;
    if (!isnan(s->clip))
        c->grad_clip = (float)s->clip;
    if (s->warmup >= 0)
        c->warmup_steps = s->warmup;
    if (s->schedule >= 0)
        c->schedule = (enum optim_schedule)s->schedule;
    if (s->total >= 0)
        c->total_steps = s->total;
}

void
run_mode_defaults(enum train_mode mode, struct optim_config *c)
{
    optim_config_default(c);
    if (mode == TRAIN_GRPO) {
        c->lr = 1e-6f;
        c->min_lr = 1e-6f;
        c->schedule = OPTIM_CONSTANT;
    } else if (mode == TRAIN_RM) {
        c->lr = 1e-5f;
        c->min_lr = 1e-6f;
    }
}

/* ---- Rows ---- */

int
run_row_check(const struct train_config *c, int old_records, const struct model_config *m,
              const struct pack_row *w, const char **field, struct sbuf *why)
{
    size_t i;

    for (i = 0; i < w->n; i++) {
        if (w->ids[i] >= m->vocab_size) {
            *field = "ids";
            sbuf_addf(why, "element %zu is %d, outside the vocabulary of %d", i, w->ids[i],
                      m->vocab_size);
            return -1;
        }
    }
    for (i = 0; i < w->nseg; i++) {
        if (w->seg[i] > m->max_pos) {
            *field = "segments";
            sbuf_addf(why, "element %zu is %d tokens, more than the model's %d positions", i,
                      w->seg[i], m->max_pos);
            return -1;
        }
    }
    if (c->mode == TRAIN_GRPO && c->distill > 0 && !w->ref) {
        *field = "ref_logprobs";
        sbuf_adds(why, "missing (--distill needs the teacher's: logp -m TEACHER before pack)");
        return -1;
    }
    if (c->mode == TRAIN_GRPO && !w->adv && c->distill == 0) {
        *field = "advantage";
        sbuf_adds(why, "missing (--grpo needs an advantage per segment)");
        return -1;
    }
    if (c->mode == TRAIN_GRPO && c->beta > 0 && !w->ref) {
        *field = "ref_logprobs";
        sbuf_adds(why, "missing (--beta > 0 needs them: logp -m REF before pack)");
        return -1;
    }
    if (c->mode == TRAIN_GRPO && old_records && !w->old) {
        *field = "old_logprobs";
        sbuf_adds(why, "missing (--old records)");
        return -1;
    }
    if (c->mode == TRAIN_RM && !w->pair) {
        *field = "pair";
        sbuf_adds(why, "missing (--rm needs chosen/rejected pairs: pack preference records)");
        return -1;
    }
    return 0;
}

/* ---- Report lines ---- */

/*
 * The records' old log-probs against update's own first pass: mean and
 * largest |difference|, and the fraction of tokens whose floats differ.
 */
static void
mismatch_fields(json_t *js, const struct train_stats *st)
{
    double n = (double)st->mismatch_n;

    json_object_set_new(js, "logp_mismatch", json_real(st->mismatch_sum / n));
    json_object_set_new(js, "logp_mismatch_max", json_real(st->mismatch_max));
    json_object_set_new(js, "logp_mismatch_frac", json_real((double)st->mismatch_ndiff / n));
    json_object_set_new(js, "logp_mismatch_kl", json_real(st->mismatch_kl_sum / n));
}

/*
 * Sparse layers' expert load since the last line (over every rank's
 * share): each layer's share of the choices per expert, the busiest
 * expert's share times the expert count in the worst layer (1: balanced;
 * n_experts / top_k: collapsed onto top_k), and the least chosen
 * expert's share times the expert count in the worst layer (1: balanced;
 * 0: an expert no token chose).
 */
static void
expert_fields(json_t *js, struct model *m)
{
    const uint64_t *load = model_expert_load(m);
    const struct model_config *c = &m->cfg;
    json_t *all;
    double worst = 0.0, least = -1.0;
    int l, e, E = c->moe.n_experts;

    if (!load)
        return;
    all = json_array();
    for (l = 0; l < c->n_layers; l++) {
        const uint64_t *ld = load + (size_t)l * E;
        json_t *row;
        uint64_t tot = 0, mx = 0, mn = UINT64_MAX;
        if (!model_layer_moe(c, l))
            continue;
        for (e = 0; e < E; e++) {
            tot += ld[e];
            mx = ld[e] > mx ? ld[e] : mx;
            mn = ld[e] < mn ? ld[e] : mn;
        }
        if (tot && (least < 0 || (double)mn * E / (double)tot < least))
            least = (double)mn * E / (double)tot;
        row = json_array();
        for (e = 0; e < E; e++)
            json_array_append_new(row, json_real(tot ? (double)ld[e] / (double)tot : 0.0));
        json_array_append_new(all, row);
        if (tot && (double)mx * E / (double)tot > worst)
            worst = (double)mx * E / (double)tot;
    }
    json_object_set_new(js, "expert_load", all);
    json_object_set_new(js, "expert_load_max", json_real(worst));
    json_object_set_new(js, "expert_load_min", json_real(least < 0 ? 0.0 : least));
    model_expert_load_reset(m);
}

json_t *
run_metrics_json(const struct train_config *c, const struct optim *o, long epoch, int iter,
                 const struct train_stats *st, double secs, struct model *m)
{
    json_t *js = json_object();
    double nt = st->targets ? (double)st->targets : 1.0;

    json_object_set_new(js, "step", json_integer(o->step));
    json_object_set_new(js, "epoch", json_integer(epoch));
    if (c->mode == TRAIN_GRPO)
        json_object_set_new(js, "iter", json_integer(iter));
    json_object_set_new(js, "loss", json_real(st->loss));
    json_object_set_new(js, "lr", json_real(st->lr));
    json_object_set_new(js, "grad_norm", json_real(st->grad_norm));
    json_object_set_new(js, "rows", json_integer((json_int_t)st->rows));
    json_object_set_new(js, "segments", json_integer((json_int_t)st->segments));
    json_object_set_new(js, "tokens", json_integer((json_int_t)st->tokens));
    json_object_set_new(js, "targets", json_integer((json_int_t)st->targets));
    json_object_set_new(js, "tokens_per_s", json_real(secs > 0 ? (double)st->tokens / secs : 0));
    if (c->mode == TRAIN_GRPO) {
        json_object_set_new(js, "ratio", json_real(st->ratio_sum / nt));
        json_object_set_new(js, "ratio_max", json_real(st->ratio_max));
        json_object_set_new(js, "clip_frac",
                            json_real((double)(st->clip_low + st->clip_high) / nt));
        json_object_set_new(js, "clip_low", json_real((double)st->clip_low / nt));
        json_object_set_new(js, "clip_high", json_real((double)st->clip_high / nt));
        json_object_set_new(js, "kl", json_real(st->kl_sum / nt));
        json_object_set_new(js, "entropy", json_real(st->entropy_sum / nt));
        if (st->mismatch_n)
            mismatch_fields(js, st);
        if (st->is_n) {
            json_object_set_new(js, "is_weight", json_real(st->is_sum / (double)st->is_n));
            json_object_set_new(js, "is_capped",
                                json_real((double)st->is_capped / (double)st->is_n));
        }
    }
    if (c->mode == TRAIN_RM && st->pairs) {
        json_object_set_new(js, "pairs", json_integer((json_int_t)st->pairs));
        json_object_set_new(js, "accuracy", json_real((double)st->correct / (double)st->pairs));
        json_object_set_new(js, "score_diff", json_real(st->score_diff_sum / (double)st->pairs));
    }
    if (c->moe_seq_aux > 0)
        json_object_set_new(js, "moe_aux_loss", json_real(st->moe_aux_loss));
    if (m)
        expert_fields(js, m);
    return js;
}

json_t *
run_eval_json(enum train_mode mode, size_t nrows, const struct train_stats *st)
{
    json_t *js = json_object();

    json_object_set_new(js, "loss", json_real(st->loss));
    json_object_set_new(js, "rows", json_integer((json_int_t)nrows));
    json_object_set_new(js, "tokens", json_integer((json_int_t)st->tokens));
    if (mode == TRAIN_RM) {
        json_object_set_new(js, "pairs", json_integer((json_int_t)st->pairs));
        json_object_set_new(js, "accuracy", json_real(st->pairs ? (double)st->correct
                                                      / (double)st->pairs : 0.0));
    } else
        json_object_set_new(js, "targets", json_integer((json_int_t)st->targets));
    if (st->mismatch_n)
        mismatch_fields(js, st);
    return js;
}
