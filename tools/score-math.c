/*
 * score-math - the rule-based math reward: the final answer of each
 * completion against the record's reference answer, 1 or 0.
 *
 * Adds rewards.math, updates reward (the sum of rewards.*), and records
 * the decision in "math": {"extracted", "method", "reference", "reason"}.
 * Records of other domains pass through unchanged; a record without a
 * domain is scored unless --domain is given (sample.h's domain rule).  The rules live in lib/mathans; see score-math(1).
 */
#include <getopt.h>
#include <string.h>

#include "mathans.h"
#include "sample.h"
#include "tool.h"
#include "util.h"

static const char usage[] =
    "usage: score-math [--domain NAME] [--weight W] [--extract LIST]\n"
    "                  [--rtol X] [--points N] [--seed N]\n"
    "                  [--percent number|value|either] [--ordered-lists]\n"
    "                  [--strict-equations] [--reduced] [--search-think]\n"
    "                  [--no-vector-tuple] [--reject-unparsed]\n"
    "                  [options] [FILE...]\n"
    "Scores the final answer of each completion against the answer.\n"
    "      --domain NAME     score records of this domain (default math)\n"
    "      --weight W        reward of a correct answer (default 1)\n"
    "      --extract LIST    extraction order\n"
    "                        (default boxed,final,answer,hash,number)\n"
    "      --rtol X          tolerance for decimals (default 1e-6)\n"
    "      --points N        points for expressions (default 5)\n"
    "      --seed N          seed of the points (default 0)\n"
    "      --percent MODE    10% is 10 (number, default), 0.1 (value),\n"
    "                        or either\n"
    "      --ordered-lists   a bare list \"1, 2\" must match in order\n"
    "      --strict-equations  answers \"x = 3\", \"6*7 = 42\" do not\n"
    "                        match the references 3, 42\n"
    "      --reduced         fractions must be in lowest terms\n"
    "      --search-think    also search inside <think>...</think>\n"
    "      --no-vector-tuple a column vector does not match a tuple\n"
    "      --reject-unparsed an unparseable reference is a bad record\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_DOMAIN = TOOL_OPT_FIRST_FREE, OPT_WEIGHT, OPT_EXTRACT, OPT_RTOL,
    OPT_POINTS, OPT_SEED, OPT_PERCENT, OPT_ORDERED, OPT_STRICT_EQ,
    OPT_REDUCED, OPT_THINK, OPT_NOVEC, OPT_REJECT_UNPARSED,
};

static const struct option opts[] = {
    TOOL_LONGOPTS,
    {"domain", required_argument, NULL, OPT_DOMAIN},
    {"weight", required_argument, NULL, OPT_WEIGHT},
    {"extract", required_argument, NULL, OPT_EXTRACT},
    {"rtol", required_argument, NULL, OPT_RTOL},
    {"points", required_argument, NULL, OPT_POINTS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"percent", required_argument, NULL, OPT_PERCENT},
    {"ordered-lists", no_argument, NULL, OPT_ORDERED},
    {"strict-equations", no_argument, NULL, OPT_STRICT_EQ},
    {"reduced", no_argument, NULL, OPT_REDUCED},
    {"search-think", no_argument, NULL, OPT_THINK},
    {"no-vector-tuple", no_argument, NULL, OPT_NOVEC},
    {"reject-unparsed", no_argument, NULL, OPT_REJECT_UNPARSED},
    {NULL, 0, NULL, 0},
};

int
main(int argc, char **argv)
{
    struct tool t;
    struct mathans_opts mo;
    struct mathans *m;
    const char *dname[1] = {"math"};
    /* math and untagged records; --domain NAME: that domain alone */
    struct sample_domains dom = {dname, 1, NULL, 0, 1};
    const char *dwhy;
    double weight = 1;
    int c, reject_unparsed = 0;
    long counts[5] = {0}, passed = 0;
    json_t *r;

    util_setprog(argv[0]);
    mathans_opts_init(&mo);
    tool_init(&t, "score-math", usage);
    while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS, opts, NULL)) != -1) {
        long n;

        if (tool_opt(&t, c, optarg))
            continue;
        switch (c) {
        case OPT_DOMAIN:
            dname[0] = optarg;
            dom.untagged = 0;
            break;
        case OPT_WEIGHT:
            if (parse_double(optarg, -1e9, 1e9, &weight))
                tool_usage_error(
                    &t, "--weight: '%s' is not a number in [-1e9, 1e9]",
                    optarg);
            break;
        case OPT_EXTRACT:
            if (mathans_parse_order(&mo, optarg))
                tool_usage_error(
                    &t,
                    "--extract: '%s' is not a list of boxed, final, "
                    "answer, hash, number",
                    optarg);
            break;
        case OPT_RTOL:
            if (parse_double(optarg, 0, 1, &mo.rtol))
                tool_usage_error(&t, "--rtol: '%s' is not a number in [0, 1]",
                                 optarg);
            break;
        case OPT_POINTS:
            if (parse_long(optarg, 1, 64, &n))
                tool_usage_error(
                    &t, "--points: '%s' is not an integer in [1, 64]", optarg);
            mo.npoints = (int)n;
            break;
        case OPT_SEED:
            if (parse_u64(optarg, &mo.seed))
                tool_usage_error(&t, "--seed: '%s' is not an unsigned integer",
                                 optarg);
            break;
        case OPT_PERCENT:
            if (!strcmp(optarg, "number"))
                mo.percent = MATHANS_PCT_NUMBER;
            else if (!strcmp(optarg, "value"))
                mo.percent = MATHANS_PCT_VALUE;
            else if (!strcmp(optarg, "either"))
                mo.percent = MATHANS_PCT_EITHER;
            else
                tool_usage_error(
                    &t, "--percent: '%s' is not number, value or either",
                    optarg);
            break;
        case OPT_ORDERED: mo.flags |= MATHANS_ORDERED_LISTS; break;
        case OPT_STRICT_EQ: mo.flags |= MATHANS_STRICT_EQUATIONS; break;
        case OPT_REDUCED: mo.flags |= MATHANS_REDUCED; break;
        case OPT_THINK: mo.flags |= MATHANS_SEARCH_THINK; break;
        case OPT_NOVEC: mo.flags |= MATHANS_NO_VECTOR_TUPLE; break;
        case OPT_REJECT_UNPARSED: reject_unparsed = 1; break;
        default: tool_usage(&t);
        }
    }
    m = mathans_new(&mo);
    tool_start(&t, argc - optind, argv + optind);
    while ((r = tool_next(&t)) != NULL) {
        const char *ans, *comp, *why;
        struct mathans_result res;
        json_t *info;
        int in = sample_domain_match(&dom, r, &dwhy);

        if (in <= 0) {
            if (in < 0) {
                tool_reject(&t, r, "domain", "%s", dwhy);
            } else {
                tool_write(&t, r);
                passed++;
            }
            json_decref(r);
            continue;
        }
        if (rec_check_rewards(r, &why)) {
            tool_reject(&t, r, "rewards", "%s", why);
            json_decref(r);
            continue;
        }
        if (rec_get_str(r, "answer", &ans, &why)) {
            tool_reject(&t, r, "answer", "%s", why);
            json_decref(r);
            continue;
        }
        if (rec_get_str(r, "completion", &comp, &why)) {
            tool_reject(&t, r, "completion", "%s", why);
            json_decref(r);
            continue;
        }
        mathans_check(m, ans, comp, &res);
        if (res.reason == MATHANS_UNPARSED_REFERENCE && reject_unparsed) {
            tool_reject(&t, r, "answer", "the reference '%s' cannot be parsed",
                        res.reference);
            json_decref(r);
            continue;
        }
        counts[res.reason]++;
        info = json_object();
        json_object_set_new(info, "extracted",
                            res.extracted ? json_string(res.extracted)
                                          : json_null());
        json_object_set_new(info, "method",
                            json_string(mathans_method_name(res.method)));
        json_object_set_new(info, "reference", json_string(res.reference));
        json_object_set_new(info, "reason",
                            json_string(mathans_reason_name(res.reason)));
        json_object_set_new(r, "math", info);
        rec_set_reward(r, "math", res.reason == MATHANS_CORRECT ? weight : 0);
        tool_write(&t, r);
        json_decref(r);
        tool_progress(&t, "%ld records, %ld correct", t.nread,
                      counts[MATHANS_CORRECT]);
    }
    mathans_free(m);
    if (!t.quiet && counts[MATHANS_UNPARSED_REFERENCE] > 0)
        warnx_("%ld reference%s could not be parsed (reason "
               "unparsed_reference, reward 0)",
               counts[MATHANS_UNPARSED_REFERENCE],
               counts[MATHANS_UNPARSED_REFERENCE] == 1 ? "" : "s");
    if (!t.quiet && (t.tty || t.progress))
        warnx_("%ld scored: %ld correct, %ld wrong, %ld no_answer, %ld "
               "unparsed_answer, "
               "%ld unparsed_reference; %ld passed through",
               counts[0] + counts[1] + counts[2] + counts[3] + counts[4],
               counts[0], counts[1], counts[2], counts[3], counts[4], passed);
    return tool_finish(&t);
}
