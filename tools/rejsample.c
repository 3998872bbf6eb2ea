/*
 * rejsample - rejection sampling: keeps the best samples of each scored
 * group as SFT records.  Options and the loop only; the work is
 * lib/rejsample.c and lib/rejsample_stream.c.
 */
#include <math.h>
#include <string.h>

#include "rejsample.h"
#include "tool.h"

static const char usage_text[] =
    "usage: rejsample [--best K] [--min-reward R] [--require-format] [--think keep|strip]\n"
    "                 [--key FIELD] [options] [FILE ...]\n"
    "Keeps the best samples of each scored group as SFT records (prompt, response).\n"
    "\n";

static const struct opt_choice thinks[] = {{"keep", 0}, {"strip", 1}, {NULL, 0}};

int
main(int argc, char **argv)
{
    struct tool t;
    struct rejsample_opts o = { "reward", 1, 0, 0, 0, 0 };
    struct rejsample_counts c;
    long best = 1;
    int argi;

    tool_init(&t, "rejsample", usage_text);
    {
        const struct opt opts[] = {
            OPT_LONG(0, "best", &best, "K", 1, 1L << 20,
                     "keep up to K distinct samples per group (default 1)"),
            {.type = OPT_T_DOUBLE, .long_name = "min-reward", .value = &o.min_reward,
             .argname = "R", .fmin = -INFINITY, .fmax = INFINITY, .given = &o.has_min,
             .help = "keep only samples with reward >= R"},
            OPT_BOOL(0, "require-format", &o.require_format,
                     "keep only samples with rewards.format = 1"),
            OPT_CHOICE(0, "think", &o.strip_think, "MODE", thinks,
                       "keep the <think> block in the response, or strip it"),
            TOOL_OPT_KEY(&o.key),
            OPT_END(),
        };
        argi = tool_parse(&t, opts, argc, argv);
    }
    o.best = (size_t)best;
    tool_start(&t, argc - argi, argv + argi);
    rejsample_run(&t, &o, &c);
    if (!t.quiet)
        warnx_("%ld groups, %ld samples; kept %ld (%ld groups with none); passed over: "
               "%ld below --min-reward, %ld without the format reward, %ld without an "
               "answer, %ld duplicates",
               c.groups, c.samples, c.kept, c.empty_groups, c.below_min, c.unformatted,
               c.no_answer, c.duplicates);
    return tool_finish(&t);
}
