/*
 * rejsample - rejection sampling: keeps the best samples of each scored
 * group as SFT records.  Options and the loop only; the work is
 * lib/rejsample.c and lib/rejsample_stream.c.
 */
#include <getopt.h>
#include <string.h>

#include "rejsample.h"
#include "tool.h"

static const char usage_text[] =
    "usage: rejsample [--best K] [--min-reward R] [--require-format] [--think keep|strip]\n"
    "                 [--key FIELD] [options] [FILE ...]\n"
    "Keeps the best samples of each scored group as SFT records (prompt, response).\n"
    "\n"
    "      --best K          keep up to K distinct samples per group (default 1)\n"
    "      --min-reward R    keep only samples with reward >= R\n"
    "      --require-format  keep only samples with rewards.format = 1\n"
    "      --think MODE      keep the <think> block in the response, or strip it\n"
    "      --key FIELD       the reward field, or a dotted path (default reward)\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_BEST = TOOL_OPT_FIRST_FREE,
    OPT_MIN_REWARD,
    OPT_REQUIRE_FORMAT,
    OPT_THINK,
    OPT_KEY,
};

static const struct option longopts[] = {
    TOOL_LONGOPTS,
    { "best", required_argument, NULL, OPT_BEST },
    { "min-reward", required_argument, NULL, OPT_MIN_REWARD },
    { "require-format", no_argument, NULL, OPT_REQUIRE_FORMAT },
    { "think", required_argument, NULL, OPT_THINK },
    { "key", required_argument, NULL, OPT_KEY },
    { NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
    struct tool t;
    struct rejsample_opts o = { "reward", 1, 0, 0, 0, 0 };
    struct rejsample_counts c;
    long n;
    int ch;

    tool_init(&t, "rejsample", usage_text);
    while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS, longopts, NULL)) != -1) {
        if (tool_opt(&t, ch, optarg))
            continue;
        switch (ch) {
        case OPT_BEST:
            if (parse_long(optarg, 1, 1L << 20, &n))
                tool_usage_error(&t, "--best: '%s' is not an integer in [1, 1048576]", optarg);
            o.best = (size_t)n;
            break;
        case OPT_MIN_REWARD:
            if (parse_double(optarg, -1e300, 1e300, &o.min_reward))
                tool_usage_error(&t, "--min-reward: '%s' is not a finite number", optarg);
            o.has_min = 1;
            break;
        case OPT_REQUIRE_FORMAT:
            o.require_format = 1;
            break;
        case OPT_THINK:
            if (strcmp(optarg, "keep") == 0)
                o.strip_think = 0;
            else if (strcmp(optarg, "strip") == 0)
                o.strip_think = 1;
            else
                tool_usage_error(&t, "--think: '%s' is not keep or strip", optarg);
            break;
        case OPT_KEY:
            if (!*optarg)
                tool_usage_error(&t, "--key: empty field name");
            o.key = optarg;
            break;
        default:
            tool_usage(&t);
        }
    }
    tool_start(&t, argc - optind, argv + optind);
    rejsample_run(&t, &o, &c);
    if (!t.quiet)
        warnx_("%ld groups, %ld samples; kept %ld (%ld groups with none); passed over: "
               "%ld below --min-reward, %ld without the format reward, %ld without an "
               "answer, %ld duplicates",
               c.groups, c.samples, c.kept, c.empty_groups, c.below_min, c.unformatted,
               c.no_answer, c.duplicates);
    return tool_finish(&t);
}
