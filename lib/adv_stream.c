/*
 * adv_stream.c - advantage(1)'s loop: groups in, records with
 * "advantage" out, in memory bounded by one group.  The arithmetic is in
 * adv.c; see adv.h.
 */
#include "adv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "sample.h"
#include "tool.h"

/* Components of --per-reward past the "rewards" object's: the shaping. */
enum { MAX_COMP = 64 };

/*
 * Per-group scratch, reused across groups: r the reward of each sample
 * (shaping included), ov and kl its shaping terms, c its components
 * (n x nc, --per-reward), a the advantages.
 */
struct scratch {
    double *r, *a, *ov, *kl, *c, *ca, *col;
    size_t cap, nc;
    const char *keys[MAX_COMP];
    struct sbuf why;            /* a reason that is not static text */
};

static void
scratch_fit(struct scratch *s, size_t n)
{
    if (n <= s->cap)
        return;
    s->cap = n;
    s->r = xrealloc(s->r, xmul(n, sizeof(double)));
    s->a = xrealloc(s->a, xmul(n, sizeof(double)));
    s->ov = xrealloc(s->ov, xmul(n, sizeof(double)));
    s->kl = xrealloc(s->kl, xmul(n, sizeof(double)));
    s->c = xrealloc(s->c, xmul(xmul(n, MAX_COMP + 2), sizeof(double)));
    s->ca = xrealloc(s->ca, xmul(n, sizeof(double)));
    s->col = xrealloc(s->col, xmul(n, sizeof(double)));
}

static void
scratch_free(struct scratch *s)
{
    free(s->r);
    free(s->a);
    free(s->ov);
    free(s->kl);
    free(s->c);
    free(s->ca);
    free(s->col);
    sbuf_release(&s->why);
}

static int
truncated(const json_t *rec)
{
    const char *f = json_string_value(json_object_get(rec, "finish"));

    return f && strcmp(f, "length") == 0;
}

/*
 * The reward of sample i of a group and its terms into s (i = 0 fixes
 * the --per-reward components for the group); 0, or -1 with *field and
 * *why (static, or borrowed from rec or s until the next call).
 */
static int
record_terms(const struct adv_run_opts *o, const json_t *rec, size_t i, struct scratch *s,
             const char **field, const char **why)
{
    const json_t *v;
    double r;
    size_t k, nc = 0;

    *field = o->key;
    if (sample_reward(rec, o->key, &r, why))
        return -1;
    if (o->min_policy >= 0) {
        *field = "policy_step";
        v = json_object_get(rec, "policy_step");
        if (!json_is_integer(v)) {
            *why = v ? "not an integer" : "missing (gen writes it)";
            return -1;
        }
        if (json_integer_value(v) < o->min_policy) {
            *why = "older than --min-policy-step allows (a stale sample)";
            return -1;
        }
    }
    if (o->mask_truncated || o->overlong) {
        *field = "finish";
        v = json_object_get(rec, "finish");
        if (!json_is_string(v)) {
            *why = v ? "not a string" : "missing";
            return -1;
        }
    }
    s->ov[i] = s->kl[i] = 0.0;
    if (o->overlong) {
        *field = "completion_ids";
        v = json_object_get(rec, "completion_ids");
        if (!json_is_array(v)) {
            *why = v ? "not an array" : "missing (the overlong term counts tokens)";
            return -1;
        }
        s->ov[i] = o->overlong_factor * adv_overlong((long)json_array_size(v), o->max_tokens,
                                                     o->overlong, truncated(rec));
    }
    if (o->kl_coef > 0) {
        double kl;
        sbuf_reset(&s->why);
        if (adv_kl_sum(rec, o->kl_kind, &kl, field, &s->why)) {
            *why = sbuf_str(&s->why);
            return -1;
        }
        s->kl[i] = -o->kl_coef * kl;
    }
    s->r[i] = r + s->ov[i] + s->kl[i];
    if (!o->per_reward)
        return 0;
    *field = "rewards";
    v = json_object_get(rec, "rewards");
    if (!json_is_object(v)) {
        *why = v ? "not an object" : "missing (--per-reward normalizes its components)";
        return -1;
    }
    if (i == 0) {
        const char *key;
        const json_t *x;
        s->nc = 0;
        json_object_foreach((json_t *)v, key, x) {
            if (s->nc == MAX_COMP) {
                *why = "more than 64 components";
                return -1;
            }
            s->keys[s->nc++] = key;
        }
    }
    if (json_object_size(v) != s->nc) {
        *why = "not the same components as the group's first sample";
        return -1;
    }
    for (k = 0; k < s->nc; k++) {
        v = json_object_get(json_object_get(rec, "rewards"), s->keys[k]);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            *why = v ? "a component is not a finite number"
                     : "not the same components as the group's first sample";
            return -1;
        }
        s->c[i * (MAX_COMP + 2) + nc++] = json_number_value(v);
    }
    if (o->overlong)
        s->c[i * (MAX_COMP + 2) + nc++] = s->ov[i];
    if (o->kl_coef > 0)
        s->c[i * (MAX_COMP + 2) + nc++] = s->kl[i];
    return 0;
}

/* 1 if the group carries no signal: its rewards, or every component, uniform. */
static int
group_uniform(const struct adv_run_opts *o, const struct scratch *s, size_t n)
{
    size_t k, i, nc = s->nc + (o->overlong > 0) + (o->kl_coef > 0);

    if (!o->per_reward)
        return adv_uniform(s->r, n);
    for (k = 0; k < nc; k++) {
        for (i = 1; i < n; i++)
            if (s->c[i * (MAX_COMP + 2) + k] != s->c[k])
                return 0;
    }
    return 1;
}

/* The advantages of the group into s->a (see adv.h). */
static void
group_advantages(const struct adv_run_opts *o, struct scratch *s, size_t n, double std)
{
    size_t k, i, nc = s->nc + (o->overlong > 0) + (o->kl_coef > 0);

    if (!o->per_reward) {
        adv_compute(s->a, s->r, n, &o->adv, std);
        return;
    }
    for (i = 0; i < n; i++)
        s->a[i] = 0.0;
    for (k = 0; k < nc; k++) {
        for (i = 0; i < n; i++)
            s->col[i] = s->c[i * (MAX_COMP + 2) + k];
        adv_compute(s->ca, s->col, n, &o->adv, std);
        for (i = 0; i < n; i++)
            s->a[i] += s->ca[i];
    }
}

/*
 * Checks g (its size, every reward) and fills s->r.  On a bad group,
 * every record of it goes to the error policy, the culprit first with
 * its own reason, and 0 is returned.
 */
static int
group_check(struct tool *t, const struct adv_run_opts *o, const struct group *g,
            struct scratch *s)
{
    const char *why = NULL, *field = NULL;
    size_t i, bad = g->n;

    scratch_fit(s, g->n);
    if (o->group_size > 0 && g->n != (size_t)o->group_size) {
        for (i = 0; i < g->n; i++)
            tool_reject_at(t, g->files[i], g->lines[i], g->recs[i], "group",
                           "group '%s' has %zu samples, expected %ld", g->id, g->n,
                           o->group_size);
        return 0;
    }
    for (i = 0; i < g->n && bad == g->n; i++)
        if (record_terms(o, g->recs[i], i, s, &field, &why))
            bad = i;
    if (bad == g->n)
        return 1;
    tool_reject_at(t, g->files[bad], g->lines[bad], g->recs[bad], field, "%s", why);
    for (i = 0; i < g->n; i++)
        if (i != bad)
            tool_reject_at(t, g->files[i], g->lines[i], g->recs[i], NULL,
                           "group '%s' has a bad record at %s:%ld", g->id,
                           g->files[bad], g->lines[bad]);
    return 0;
}

/* Sets a reward term: rewards.NAME = x, reward += x. */
static void
add_term(json_t *rec, const char *name, double x)
{
    json_t *rw = json_object_get(rec, "rewards"), *r = json_object_get(rec, "reward");

    if (!json_is_object(rw)) {
        rw = json_object();
        json_object_set_new(rec, "rewards", rw);
    }
    json_object_set_new(rw, name, json_real(x));
    json_object_set_new(rec, "reward", json_real((json_is_number(r) ? json_number_value(r)
                                                  : 0.0) + x));
}

static void
emit(struct tool *t, const struct adv_run_opts *o, json_t **recs, const struct scratch *s,
     size_t n, struct adv_counts *c)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (o->overlong)
            add_term(recs[i], "overlong", s->ov[i]);
        if (o->kl_coef > 0)
            add_term(recs[i], "kl", s->kl[i]);
        json_object_set_new(recs[i], "advantage", json_real(s->a[i]));
        /* DAPO's overlong filtering: counted in the group, out of the loss */
        if (o->mask_truncated && truncated(recs[i])) {
            c->truncated++;
            continue;
        }
        tool_write(t, recs[i]);
    }
}

/* Counts g; returns 1 if it is to be written. */
static int
count(struct adv_counts *c, const struct adv_run_opts *o, const struct group *g,
      const struct scratch *s)
{
    c->groups++;
    c->records += (long)g->n;
    if (group_uniform(o, s, g->n)) {
        c->uniform_groups++;
        c->uniform_records += (long)g->n;
        return !o->drop_uniform;
    }
    return 1;
}

/* ---- group scale: one pass ---- */

static void
run_group(struct tool *t, const struct adv_run_opts *o, struct adv_counts *c,
          struct group_reader *gr)
{
    struct group g = { 0 };
    struct scratch s = { 0 };

    while (group_next(gr, &g)) {
        if (!group_check(t, o, &g, &s))
            continue;
        if (count(c, o, &g, &s)) {
            group_advantages(o, &s, g.n, 0);
            emit(t, o, g.recs, &s, g.n, c);
        }
        tool_progress(t, "%ld groups", c->groups);
    }
    group_release(&g);
    scratch_free(&s);
}

/* ---- batch scale: spool a batch, then read it back ---- */

/*
 * The spool: an unlinked temporary file in $TMPDIR holding one batch's
 * records as JSONL, and the size of each of its groups.  Numbers are
 * written in the shortest form that reads back to the same double, so
 * the second pass sees exactly the rewards the first one did.
 */
struct spool {
    FILE *f;
    size_t *sizes;
    size_t n, cap;
    struct sbuf line;
};

static void
spool_open(struct spool *sp)
{
    const char *dir = getenv("TMPDIR");
    struct sbuf path = SBUF_INIT;
    int fd;

    memset(sp, 0, sizeof(*sp));
    sbuf_addf(&path, "%s/advantage.XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path.buf);
    if (fd < 0)
        die_errno("cannot create a spool file in '%s'", dir && *dir ? dir : "/tmp");
    unlink(path.buf);
    sp->f = fdopen(fd, "w+");
    if (!sp->f)
        die_errno("spool");
    sbuf_release(&path);
}

static void
spool_reset(struct spool *sp)
{
    rewind(sp->f);
    if (ftruncate(fileno(sp->f), 0) != 0)
        die_errno("spool: truncate");
    sp->n = 0;
}

static void
spool_add(struct spool *sp, const struct group *g)
{
    size_t i;

    for (i = 0; i < g->n; i++) {
        sbuf_reset(&sp->line);
        json_emit(&sp->line, g->recs[i]);
        sbuf_addc(&sp->line, '\n');
        if (fwrite(sp->line.buf, 1, sp->line.len, sp->f) != sp->line.len)
            die_errno("spool: write");
    }
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? 2 * sp->cap : 64;
        sp->sizes = xrealloc(sp->sizes, xmul(sp->cap, sizeof(*sp->sizes)));
    }
    sp->sizes[sp->n++] = g->n;
}

static void
spool_close(struct spool *sp)
{
    fclose(sp->f);
    free(sp->sizes);
    sbuf_release(&sp->line);
}

/*
 * GDPO's last step (arXiv:2601.05242, eq. 6): the summed per-reward
 * advantages of a group, centred and scaled by those of the whole batch
 * (m).  A group uniform in every component keeps its exact 0s: it has no
 * signal, and the batch mean it would lose is 0 up to rounding (every
 * group's advantages sum to 0 with either baseline).
 */
static void
batch_normalize(const struct adv_run_opts *o, struct scratch *s, size_t n,
                const struct adv_moments *m)
{
    double d = adv_moments_std(m, o->adv.population) + o->adv.eps;
    size_t i;

    if (group_uniform(o, s, n))
        return;
    for (i = 0; i < n; i++) {
        s->a[i] -= m->mean;
        if (d > 0)
            s->a[i] /= d;
    }
}

/*
 * Reads the batch back and writes it with advantages: over the batch
 * std of the rewards in m (--scale batch), or normalized by the batch
 * moments m of the summed advantages (--per-reward).
 */
static void
spool_replay(struct tool *t, const struct adv_run_opts *o, struct spool *sp,
             const struct adv_moments *m, struct scratch *s, struct adv_counts *c)
{
    double std = adv_moments_std(m, o->adv.population);
    const char *field, *why;
    json_t **recs = NULL;
    size_t j, i, cap = 0, lcap = 0;
    char *line = NULL;
    ssize_t len;
    struct sbuf err = SBUF_INIT;

    if (fflush(sp->f) != 0 || ferror(sp->f))
        die_errno("spool: write");
    rewind(sp->f);
    for (j = 0; j < sp->n; j++) {
        size_t n = sp->sizes[j];
        if (n > cap) {
            cap = n;
            recs = xrealloc(recs, xmul(cap, sizeof(*recs)));
        }
        scratch_fit(s, n);
        for (i = 0; i < n; i++) {
            len = getline(&line, &lcap, sp->f);
            if (len <= 0)
                die_errno("spool: read");
            if (line[len - 1] == '\n')
                len--;
            recs[i] = json_parse(line, (size_t)len, &err);
            if (!recs[i])
                die("spool: a record does not read back: %s", sbuf_str(&err));
            /* It was checked before it was spooled. */
            if (record_terms(o, recs[i], i, s, &field, &why))
                die("spool: a reward does not read back");
        }
        group_advantages(o, s, n, std);
        if (o->per_reward)
            batch_normalize(o, s, n, m);
        emit(t, o, recs, s, n, c);
        for (i = 0; i < n; i++)
            json_decref(recs[i]);
    }
    free(line);
    free(recs);
    sbuf_release(&err);
}

static void
run_batch(struct tool *t, const struct adv_run_opts *o, struct adv_counts *c,
          struct group_reader *gr)
{
    struct group g = { 0 };
    struct scratch s = { 0 };
    struct spool sp;
    struct adv_moments m;
    int more = 1;

    spool_open(&sp);
    while (more) {
        spool_reset(&sp);
        m = (struct adv_moments)ADV_MOMENTS_INIT;
        while (o->batch == 0 || sp.n < (size_t)o->batch) {
            if (!group_next(gr, &g)) {
                more = 0;
                break;
            }
            if (!group_check(t, o, &g, &s))
                continue;
            if (count(c, o, &g, &s)) {
                if (o->per_reward) {
                    group_advantages(o, &s, g.n, 0);
                    adv_moments_add(&m, s.a, g.n);
                } else
                    adv_moments_add(&m, s.r, g.n);
                spool_add(&sp, &g);
            }
            tool_progress(t, "%ld groups", c->groups);
        }
        if (sp.n == 0)
            continue;
        spool_replay(t, o, &sp, &m, &s, c);
        c->batches++;
    }
    spool_close(&sp);
    group_release(&g);
    scratch_free(&s);
}

void
adv_run(struct tool *t, const struct adv_run_opts *o, struct adv_counts *c)
{
    struct group_reader *gr = group_reader_new(t, "group");

    memset(c, 0, sizeof(*c));
    if (o->adv.scale == ADV_SCALE_BATCH || o->per_reward)
        run_batch(t, o, c, gr);
    else
        run_group(t, o, c, gr);
    group_reader_free(gr);
}
