/*
 * stats - summaries of a record stream (counts, reward, accuracy, pass@k,
 * maj@k, completion lengths, finish reasons) as a table or JSON, and
 * PNG plots of training metrics with --plot.  The numbers are computed in
 * lib/stats; this is options and the loop.  See stats(1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "tool.h"

static const char usage_text[] =
    "usage: stats [-j] [-k LIST] [-t X] [--reward KEY] [--answer-key KEY]"
    " [--plot DIR] [options] [FILE ...]\n"
    "Summaries of records, overall and per domain: counts, reward, accuracy,\n"
    "pass@k, maj@k, completion lengths, finish reasons.\n"
    "\n";

/* "1,8,64": ascending, distinct, each in [1, 1024]; 0 or -1. */
static int
parse_ks(void *ctx, const char *s, struct sbuf *why)
{
    struct stats_opts *o = ctx;

    char buf[256], *tok, *save = NULL;
    long k;

    (void)why;
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    o->nk = 0;
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (o->nk == STATS_MAX_K || parse_long(tok, 1, 1024, &k)
            || (o->nk > 0 && k <= o->ks[o->nk - 1]))
            return -1;
        o->ks[o->nk++] = (int)k;
    }
    return o->nk > 0 ? 0 : -1;
}

static int
run_plot(struct tool *t, int argc, char **argv, const char *dir)
{
    struct plot *p = plot_new();
    json_t *r;
    size_t n;

    tool_start_noout(t, argc, argv);
    while ((r = tool_next(t)) != NULL) {
        plot_add(p, r);
        json_decref(r);
    }
    n = plot_write(p, dir);
    if (!t->quiet)
        warnx_("%zu plots in '%s'", n, dir);
    plot_free(p);
    return tool_finish(t);
}

int
main(int argc, char **argv)
{
    struct tool t;
    struct stats_opts o;
    struct stats *s;
    struct sbuf sb = SBUF_INIT, why = SBUF_INIT;
    const char *plot_dir = NULL;
    json_t *r;
    int argi, json = 0;

    tool_init(&t, "stats", usage_text);
    stats_opts_init(&o);
    {
        const struct opt opts[] = {
            OPT_BOOL('j', "json", &json, "one JSON object instead of the table"),
            OPT_CALL('k', "k", &o, "LIST", parse_ks,
                     "an ascending list of at most 16 integers in [1, 1024]",
                     "k values of pass@k and maj@k, e.g. 1,8\n"
                     "(default: 1, 2, 4, ... up to the largest group)"),
            OPT_DOUBLE('t', "threshold", &o.threshold, "X", -INFINITY, INFINITY,
                       "a record is correct when reward >= X (default 1)"),
            OPT_STRING(0, "reward", &o.reward_key, "KEY",
                       "the reward field, a dotted path (default reward)"),
            OPT_STRING(0, "answer-key", &o.answer_key, "KEY",
                       "the extracted answer for maj@k (default\n"
                       "math.extracted, else the last \\boxed{})"),
            OPT_STRING(0, "plot", &plot_dir, "DIR",
                       "read metrics records and draw DIR/METRIC.png\n"
                       "per metric against step, with gnuplot"),
            OPT_END(),
        };
        argi = tool_parse(&t, opts, argc, argv);
    }
    if (plot_dir)
        return run_plot(&t, argc - argi, argv + argi, plot_dir);

    tool_start(&t, argc - argi, argv + argi);
    s = stats_new(&o);
    while ((r = tool_next(&t)) != NULL) {
        const char *field;

        sbuf_reset(&why);
        if (stats_add(s, r, &field, &why) < 0)
            tool_reject(&t, r, field, "%s", sbuf_str(&why));
        json_decref(r);
        tool_progress(&t, "%ld records", t.nread);
    }
    stats_finish(s);
    if (json) {
        r = stats_json(s);
        rout_write(t.out, r);
        json_decref(r);
    } else {
        stats_table(s, &sb);
        rout_raw(t.out, sb.buf, sb.len);
    }
    sbuf_release(&sb);
    sbuf_release(&why);
    stats_free(s);
    return tool_finish(&t);
}
