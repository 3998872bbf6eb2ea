/*
 * adv_stream.c - advantage(1)'s loop: groups in, records with
 * "advantage" out, in memory bounded by one group.  The arithmetic is in
 * adv.c; see adv.h.
 */
#include "adv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tool.h"

/* Per-group scratch, reused across groups. */
struct scratch {
    double *r, *a;
    size_t cap;
};

static void
scratch_fit(struct scratch *s, size_t n)
{
    if (n <= s->cap)
        return;
    s->cap = n;
    s->r = xrealloc(s->r, xmul(n, sizeof(double)));
    s->a = xrealloc(s->a, xmul(n, sizeof(double)));
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
    const char *why = NULL;
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
        if (adv_reward(g->recs[i], o->key, &s->r[i], &why))
            bad = i;
    if (bad == g->n)
        return 1;
    tool_reject_at(t, g->files[bad], g->lines[bad], g->recs[bad], o->key, "%s", why);
    for (i = 0; i < g->n; i++)
        if (i != bad)
            tool_reject_at(t, g->files[i], g->lines[i], g->recs[i], NULL,
                           "group '%s' has a bad record at %s:%ld", g->id,
                           g->files[bad], g->lines[bad]);
    return 0;
}

static void
emit(struct tool *t, json_t **recs, const double *a, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        json_object_set_new(recs[i], "advantage", json_real(a[i]));
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
    if (adv_uniform(s->r, g->n)) {
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
            adv_compute(s.a, s.r, g.n, &o->adv, 0);
            emit(t, g.recs, s.a, g.n);
        }
        tool_progress(t, "%ld groups", c->groups);
    }
    group_release(&g);
    free(s.r);
    free(s.a);
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

/* Reads the batch back and writes it with advantages over batch std s. */
static void
spool_replay(struct tool *t, const struct adv_run_opts *o, struct spool *sp, double std,
             struct scratch *s)
{
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
            if (adv_reward(recs[i], o->key, &s->r[i], NULL))
                die("spool: a reward does not read back");
        }
        adv_compute(s->a, s->r, n, &o->adv, std);
        emit(t, recs, s->a, n);
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
                adv_moments_add(&m, s.r, g.n);
                spool_add(&sp, &g);
            }
            tool_progress(t, "%ld groups", c->groups);
        }
        if (sp.n == 0)
            continue;
        spool_replay(t, o, &sp, adv_moments_std(&m, o->adv.population), &s);
        c->batches++;
    }
    spool_close(&sp);
    group_release(&g);
    free(s.r);
    free(s.a);
}

void
adv_run(struct tool *t, const struct adv_run_opts *o, struct adv_counts *c)
{
    struct group_reader *gr = group_reader_new(t, "group");

    memset(c, 0, sizeof(*c));
    if (o->adv.scale == ADV_SCALE_BATCH)
        run_batch(t, o, c, gr);
    else
        run_group(t, o, c, gr);
    group_reader_free(gr);
}
