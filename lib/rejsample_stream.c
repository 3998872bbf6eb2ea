/*
 * rejsample_stream.c - rejsample(1)'s loop: scored groups in, the SFT
 * records of their best samples out, in memory bounded by one group.
 * The selection is in rejsample.c; see rejsample.h.
 */
#include "rejsample.h"

#include <stdlib.h>
#include <string.h>

#include "adv.h"
#include "sample.h"
#include "think.h"
#include "tool.h"

/* Per-group scratch, reused across groups. */
struct scratch {
    struct rejsample_cand *cand;
    double *reward, *format;
    struct sbuf *strip;  /* the stripped response of each sample */
    size_t cap;
};

static void
scratch_fit(struct scratch *s, size_t n)
{
    size_t i;

    if (n <= s->cap)
        return;
    s->cand = xrealloc(s->cand, xmul(n, sizeof(*s->cand)));
    s->reward = xrealloc(s->reward, xmul(n, sizeof(double)));
    s->format = xrealloc(s->format, xmul(n, sizeof(double)));
    s->strip = xrealloc(s->strip, xmul(n, sizeof(*s->strip)));
    for (i = s->cap; i < n; i++)
        s->strip[i] = (struct sbuf)SBUF_INIT;
    s->cap = n;
}

static void
scratch_release(struct scratch *s)
{
    size_t i;

    for (i = 0; i < s->cap; i++)
        sbuf_release(&s->strip[i]);
    free(s->cand);
    free(s->reward);
    free(s->format);
    free(s->strip);
}

#define FORMAT_KEY "rewards.format"

/*
 * Checks every record of g (reward, completion, format reward) and fills
 * s->reward and s->format.  On a bad record the whole group goes to the
 * error policy, the culprit first with its own reason; returns 0.
 */
static int
group_check(struct tool *t, const struct rejsample_opts *o, const struct group *g,
            struct scratch *s)
{
    const char *why = NULL, *field = NULL, *str;
    size_t i, bad = g->n;

    scratch_fit(s, g->n);
    for (i = 0; i < g->n && bad == g->n; i++) {
        if (sample_reward(g->recs[i], o->key, &s->reward[i], &why))
            field = o->key;
        else if (rec_get_str(g->recs[i], "completion", &str, &why))
            field = "completion";
        else if (o->require_format
                 && sample_reward(g->recs[i], FORMAT_KEY, &s->format[i], &why))
            field = FORMAT_KEY;
        if (field)
            bad = i;
    }
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

/* The candidates of g, in s->cand; returns how many. */
static size_t
candidates(const struct rejsample_opts *o, const struct group *g, struct scratch *s,
           struct rejsample_counts *c)
{
    json_t *comp;
    const char *text, *resp;
    size_t i, len, resp_len, n = 0;
    struct rejsample_cand *cd;

    for (i = 0; i < g->n; i++) {
        if (o->has_min && !(s->reward[i] >= o->min_reward)) {
            c->below_min++;
            continue;
        }
        if (o->require_format && s->format[i] != 1) {
            c->unformatted++;
            continue;
        }
        comp = json_object_get(g->recs[i], "completion");
        text = json_string_value(comp);
        len = json_string_length(comp);
        resp = text;
        resp_len = len;
        if (o->strip_think) {
            struct think_block b;

            think_parse(text, len, &b);
            if (b.nopen > 0 && b.nclose == 0) {
                /* Generation stopped inside the block: no answer yet. */
                c->no_answer++;
                continue;
            }
            sbuf_reset(&s->strip[i]);
            think_answer(text, len, &b, &s->strip[i]);
            resp = s->strip[i].buf;
            resp_len = s->strip[i].len;
        }
        if (resp_len == 0) {
            c->no_answer++;
            continue;
        }
        cd = &s->cand[n++];
        cd->reward = s->reward[i];
        cd->length = rejsample_utf8_len(text, len);
        cd->index = i;
        cd->resp = resp;
        cd->resp_len = resp_len;
        cd->hash = hash64(resp, resp_len, 0);
    }
    return n;
}

void
rejsample_run(struct tool *t, const struct rejsample_opts *o,
              struct rejsample_counts *c)
{
    struct group_reader *gr = group_reader_new(t, "group");
    struct group g = { 0 };
    struct scratch s = { 0 };
    size_t n, k, j;
    json_t *r;

    memset(c, 0, sizeof(*c));
    while (group_next(gr, &g)) {
        if (!group_check(t, o, &g, &s))
            continue;
        c->groups++;
        c->samples += (long)g.n;
        n = candidates(o, &g, &s, c);
        k = rejsample_select(s.cand, n, o->best, &c->duplicates);
        if (k == 0)
            c->empty_groups++;
        for (j = 0; j < k; j++) {
            r = rejsample_record(g.recs[s.cand[j].index], s.cand[j].resp,
                                 s.cand[j].resp_len, o->best > 1);
            tool_write(t, r);
            json_decref(r);
            c->kept++;
        }
        tool_progress(t, "%ld groups, %ld kept", c->groups, c->kept);
    }
    group_release(&g);
    scratch_release(&s);
    group_reader_free(gr);
}
