/*
 * stats - summaries of a record stream (counts, reward, accuracy, pass@k,
 * maj@k, completion lengths, finish reasons) as a table or JSON, and
 * PNG plots of training metrics with --plot.  The numbers are computed in
 * lib/stats; this is options and the loop.  See stats(1).
 */
#include <getopt.h>
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
    "\n"
    "  -j, --json            one JSON object instead of the table\n"
    "  -k, --k LIST          k values of pass@k and maj@k, e.g. 1,8\n"
    "                        (default: 1, 2, 4, ... up to the largest group)\n"
    "  -t, --threshold X     a record is correct when reward >= X (default 1)\n"
    "      --reward KEY      the reward field, a dotted path (default reward)\n"
    "      --answer-key KEY  the extracted answer for maj@k (default\n"
    "                        math.extracted, else the last \\boxed{})\n"
    "      --plot DIR        read metrics records and draw DIR/METRIC.png\n"
    "                        per metric against step, with gnuplot\n"
    "Common options:\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_REWARD = TOOL_OPT_FIRST_FREE,
    OPT_ANSWER_KEY,
    OPT_PLOT,
};

static const struct option longopts[] = {
    TOOL_LONGOPTS,
    {"json", no_argument, NULL, 'j'},
    {"k", required_argument, NULL, 'k'},
    {"threshold", required_argument, NULL, 't'},
    {"reward", required_argument, NULL, OPT_REWARD},
    {"answer-key", required_argument, NULL, OPT_ANSWER_KEY},
    {"plot", required_argument, NULL, OPT_PLOT},
    {NULL, 0, NULL, 0},
};

/* "1,8,64": ascending, distinct, each in [1, 1024]; 0 or -1. */
static int
parse_ks(const char *s, struct stats_opts *o)
{
    char buf[256], *tok, *save = NULL;
    long k;

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
    struct sbuf sb = SBUF_INIT;
    const char *plot_dir = NULL;
    json_t *r;
    int c, json = 0;

    tool_init(&t, "stats", usage_text);
    stats_opts_init(&o);
    while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS "jk:t:", longopts,
                            NULL)) != -1) {
        if (tool_opt(&t, c, optarg))
            continue;
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'k':
            if (parse_ks(optarg, &o))
                tool_usage_error(&t, "-k: '%s' is not an ascending list of "
                                 "at most 16 integers in [1, 1024]", optarg);
            break;
        case 't':
            if (parse_double(optarg, -1e300, 1e300, &o.threshold))
                tool_usage_error(&t, "--threshold: '%s' is not a number",
                                 optarg);
            break;
        case OPT_REWARD:
            o.reward_key = optarg;
            break;
        case OPT_ANSWER_KEY:
            o.answer_key = optarg;
            break;
        case OPT_PLOT:
            plot_dir = optarg;
            break;
        default:
            tool_usage(&t);
        }
    }
    if (plot_dir)
        return run_plot(&t, argc - optind, argv + optind, plot_dir);

    tool_start(&t, argc - optind, argv + optind);
    s = stats_new(&o);
    while ((r = tool_next(&t)) != NULL) {
        if (stats_add(s, r) < 0)
            tool_reject(&t, r, stats_error_field(s), "%s", stats_error(s));
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
    stats_free(s);
    return tool_finish(&t);
}
