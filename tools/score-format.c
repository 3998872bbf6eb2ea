/*
 * score-format - R1's format reward: 1 when the completion is one
 * <think>...</think> block followed by a non-empty answer, else 0.
 *
 * Adds rewards.format, updates reward (the sum of rewards.*), and records
 * why in "format": {"reason"}.  Every record is scored unless --domain
 * narrows it (sample.h's domain rule); others pass through unchanged.
 * The check lives in lib/format, on lib/think's splitter; see
 * score-format(1).
 */
#include <getopt.h>
#include <string.h>

#include "format.h"
#include "sample.h"
#include "score.h"
#include "tool.h"
#include "util.h"

static const char usage[] =
    "usage: score-format [--domain NAME] [--weight W] [--tag NAME]\n"
    "                    [--answer-tag NAME] [--boxed] [--open-in-prompt]\n"
    "                    [options] [FILE...]\n"
    "Scores the format: <think>...</think>, then an answer.\n"
    "      --domain NAME     score only this domain (default: all)\n"
    "      --weight W        reward of a well-formed completion (default 1)\n"
    "      --tag NAME        the reasoning tag (default think)\n"
    "      --answer-tag NAME the answer must be one <NAME>...</NAME>\n"
    "      --boxed           the answer must hold \\boxed{}\n"
    "      --open-in-prompt  the opening tag is in the prompt\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_DOMAIN = TOOL_OPT_FIRST_FREE, OPT_WEIGHT, OPT_TAG, OPT_ANSWER_TAG,
    OPT_BOXED, OPT_OPEN,
};

static const struct option opts[] = {
    TOOL_LONGOPTS,
    {"domain", required_argument, NULL, OPT_DOMAIN},
    {"weight", required_argument, NULL, OPT_WEIGHT},
    {"tag", required_argument, NULL, OPT_TAG},
    {"answer-tag", required_argument, NULL, OPT_ANSWER_TAG},
    {"boxed", no_argument, NULL, OPT_BOXED},
    {"open-in-prompt", no_argument, NULL, OPT_OPEN},
    {NULL, 0, NULL, 0},
};

/* A tag name: 1 to 32 of [A-Za-z0-9_-]. */
static int
good_tag(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 32
           && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_-")
                  == n;
}

struct fmt {
    struct format_opts o;
    double weight;          /* reward of a well-formed completion */
};

/* score.h callback: the format check, its reason under "format". */
static int
score(void *ctx, json_t *rec, const char *comp, double *reward, const char **field,
      struct sbuf *why)
{
    const struct fmt *fo = ctx;
    enum format_reason reason = format_check(&fo->o, comp, NULL);
    json_t *info = json_object();

    (void)field;
    (void)why;
    json_object_set_new(info, "reason", json_string(format_reason_name(reason)));
    json_object_set_new(rec, "format", info);
    *reward = reason == FORMAT_OK ? fo->weight : 0;
    return reason == FORMAT_OK;
}

int
main(int argc, char **argv)
{
    struct tool t;
    struct fmt fo;
    struct format_opts *to = &fo.o;
    const char *dname[1];
    /* every record; --domain NAME: that domain alone */
    struct scorer sc = {"format", {dname, 0, NULL, 0, 1}, "well-formed", score, &fo};
    struct score_counts c;
    int ch;

    util_setprog(argv[0]);
    format_opts_init(to);
    fo.weight = 1;
    tool_init(&t, "score-format", usage);
    while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS, opts, NULL)) != -1) {
        if (tool_opt(&t, ch, optarg))
            continue;
        switch (ch) {
        case OPT_DOMAIN:
            dname[0] = optarg;
            sc.domains.n = 1;
            sc.domains.untagged = 0;
            break;
        case OPT_WEIGHT:
            if (parse_double(optarg, -1e9, 1e9, &fo.weight))
                tool_usage_error(
                    &t, "--weight: '%s' is not a number in [-1e9, 1e9]",
                    optarg);
            break;
        case OPT_TAG:
            if (!good_tag(optarg))
                tool_usage_error(&t, "--tag: '%s' is not a tag name", optarg);
            to->tag = optarg;
            break;
        case OPT_ANSWER_TAG:
            if (!good_tag(optarg))
                tool_usage_error(&t, "--answer-tag: '%s' is not a tag name",
                                 optarg);
            to->answer_tag = optarg;
            break;
        case OPT_BOXED: to->boxed = 1; break;
        case OPT_OPEN: to->open_in_prompt = 1; break;
        default: tool_usage(&t);
        }
    }
    tool_start(&t, argc - optind, argv + optind);
    score_run(&t, &sc, &c);
    if (!t.quiet && (t.tty || t.progress))
        warnx_("%ld scored, %ld well-formed", c.scored, c.hits);
    return tool_finish(&t);
}
