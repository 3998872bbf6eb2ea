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

int
main(int argc, char **argv)
{
    struct tool t;
    struct format_opts to;
    const char *dname[1];
    /* every record; --domain NAME: that domain alone */
    struct sample_domains dom = {dname, 0, NULL, 0, 1};
    double weight = 1;
    long ok = 0, scored = 0;
    int c;
    json_t *r;

    util_setprog(argv[0]);
    format_opts_init(&to);
    tool_init(&t, "score-format", usage);
    while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS, opts, NULL)) != -1) {
        if (tool_opt(&t, c, optarg))
            continue;
        switch (c) {
        case OPT_DOMAIN:
            dname[0] = optarg;
            dom.n = 1;
            dom.untagged = 0;
            break;
        case OPT_WEIGHT:
            if (parse_double(optarg, -1e9, 1e9, &weight))
                tool_usage_error(
                    &t, "--weight: '%s' is not a number in [-1e9, 1e9]",
                    optarg);
            break;
        case OPT_TAG:
            if (!good_tag(optarg))
                tool_usage_error(&t, "--tag: '%s' is not a tag name", optarg);
            to.tag = optarg;
            break;
        case OPT_ANSWER_TAG:
            if (!good_tag(optarg))
                tool_usage_error(&t, "--answer-tag: '%s' is not a tag name",
                                 optarg);
            to.answer_tag = optarg;
            break;
        case OPT_BOXED: to.boxed = 1; break;
        case OPT_OPEN: to.open_in_prompt = 1; break;
        default: tool_usage(&t);
        }
    }
    tool_start(&t, argc - optind, argv + optind);
    while ((r = tool_next(&t)) != NULL) {
        const char *comp, *why;
        enum format_reason reason;
        json_t *info;

        switch (sample_domain_match(&dom, r, &why)) {
        case -1:
            tool_reject(&t, r, "domain", "%s", why);
            json_decref(r);
            continue;
        case 0:
            tool_write(&t, r);
            json_decref(r);
            continue;
        }
        if (rec_check_rewards(r, &why)) {
            tool_reject(&t, r, "rewards", "%s", why);
            json_decref(r);
            continue;
        }
        if (rec_get_str(r, "completion", &comp, &why)) {
            tool_reject(&t, r, "completion", "%s", why);
            json_decref(r);
            continue;
        }
        reason = format_check(&to, comp, NULL);
        info = json_object();
        json_object_set_new(info, "reason",
                            json_string(format_reason_name(reason)));
        json_object_set_new(r, "format", info);
        rec_set_reward(r, "format", reason == FORMAT_OK ? weight : 0);
        scored++;
        ok += reason == FORMAT_OK;
        tool_write(&t, r);
        json_decref(r);
        tool_progress(&t, "%ld records, %ld well-formed", t.nread, ok);
    }
    if (!t.quiet && (t.tty || t.progress))
        warnx_("%ld scored, %ld well-formed", scored, ok);
    return tool_finish(&t);
}
