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
#include "score.h"
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

struct smath {
    struct mathans *m;
    double weight;          /* reward of a correct answer */
    int reject_unparsed;    /* a reference that cannot be parsed is a bad record */
    long counts[5];         /* by enum mathans_reason */
};

/* score.h callback: the answer checked against the reference, under "math". */
static int
score(void *ctx, json_t *rec, const char *comp, double *reward, const char **field,
      struct sbuf *why)
{
    struct smath *sm = ctx;
    struct mathans_result res;
    const char *ans, *w;
    json_t *info;

    if (rec_get_str(rec, "answer", &ans, &w)) {
        *field = "answer";
        sbuf_adds(why, w);
        return -1;
    }
    mathans_check(sm->m, ans, comp, &res);
    if (res.reason == MATHANS_UNPARSED_REFERENCE && sm->reject_unparsed) {
        *field = "answer";
        sbuf_addf(why, "the reference '%s' cannot be parsed", res.reference);
        return -1;
    }
    sm->counts[res.reason]++;
    info = json_object();
    json_object_set_new(info, "extracted",
                        res.extracted ? json_string(res.extracted) : json_null());
    json_object_set_new(info, "method", json_string(mathans_method_name(res.method)));
    json_object_set_new(info, "reference", json_string(res.reference));
    json_object_set_new(info, "reason", json_string(mathans_reason_name(res.reason)));
    json_object_set_new(rec, "math", info);
    *reward = res.reason == MATHANS_CORRECT ? sm->weight : 0;
    return res.reason == MATHANS_CORRECT;
}

int
main(int argc, char **argv)
{
    struct tool t;
    struct mathans_opts mo;
    struct smath sm;
    const char *dname[1] = {"math"};
    /* math and untagged records; --domain NAME: that domain alone */
    struct scorer sc = {"math", {dname, 1, NULL, 0, 1}, "correct", score, &sm};
    struct score_counts c;
    const long *counts;
    int ch;

    util_setprog(argv[0]);
    mathans_opts_init(&mo);
    memset(&sm, 0, sizeof(sm));
    sm.weight = 1;
    tool_init(&t, "score-math", usage);
    while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS, opts, NULL)) != -1) {
        long n;

        if (tool_opt(&t, ch, optarg))
            continue;
        switch (ch) {
        case OPT_DOMAIN:
            dname[0] = optarg;
            sc.domains.untagged = 0;
            break;
        case OPT_WEIGHT:
            if (parse_double(optarg, -1e9, 1e9, &sm.weight))
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
        case OPT_REJECT_UNPARSED: sm.reject_unparsed = 1; break;
        default: tool_usage(&t);
        }
    }
    sm.m = mathans_new(&mo);
    tool_start(&t, argc - optind, argv + optind);
    score_run(&t, &sc, &c);
    mathans_free(sm.m);
    counts = sm.counts;
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
               counts[0], counts[1], counts[2], counts[3], counts[4], c.passed);
    return tool_finish(&t);
}
