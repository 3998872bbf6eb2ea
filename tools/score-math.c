/*
 * score-math - the rule-based math reward: the final answer of each
 * completion against the record's reference answer, 1 or 0.
 *
 * Adds rewards.math, updates reward (the sum of rewards.*), and records
 * the decision in "math": {"extracted", "method", "reference", "reason"}.
 * Records of other domains pass through unchanged; a record without a
 * domain is scored unless --domain is given (sample.h's domain rule).  The rules live in lib/mathans; see score-math(1).
 */
#include <string.h>

#include "mathans.h"
#include "sample.h"
#include "score.h"
#include "tool.h"
#include "util.h"

static const char usage[] =
    "usage: score-math [--domain NAME] [--weight W] [--extract LIST]\n"
    "                  [--places N | --rtol X] [--points N] [--seed N]\n"
    "                  [--percent value|number|either] [--ordered-lists]\n"
    "                  [--multiset] [--tuple-brackets] [--set-relation]\n"
    "                  [--no-decimal-comma] [--strict-equations]\n"
    "                  [--reduced] [--search-think]\n"
    "                  [--no-vector-tuple] [--reject-unparsed]\n"
    "                  [options] [FILE...]\n"
    "Scores the final answer of each completion against the answer.\n";

struct smath {
    struct mathans *m;
    double weight;          /* reward of a correct answer */
    int reject_unparsed;    /* a reference that cannot be parsed is a bad record */
    long counts[5];         /* by enum mathans_reason */
};

/* --extract LIST */
static int
parse_extract(void *value, const char *arg, struct sbuf *why)
{
    (void)why;
    return mathans_parse_order(value, arg) ? -1 : 0;
}

/* in the order the man page and the messages give them */
static const struct opt_choice percents[] = {
    {"number", MATHANS_PCT_NUMBER}, {"value", MATHANS_PCT_VALUE},
    {"either", MATHANS_PCT_EITHER}, {NULL, 0}};

/* score.h callback: the answer checked against the reference, under "math". */
static int
score(void *ctx, json_t *rec, const char *comp, double *reward, const char **field,
      struct sbuf *why)
{
    struct smath *sm = ctx;
    struct mathans_result res;
    const char *ans, *w;
    char num[40];
    json_t *info, *av;

    av = json_object_get(rec, "answer");
    if (json_is_number(av)) {
        /* "answer": 42, as many data sets have it */
        mathans_number_text(json_number_value(av), num, sizeof(num));
        ans = num;
    } else if (rec_get_str(rec, "answer", &ans, &w)) {
        *field = "answer";
        sbuf_adds(why, av ? "not a string or a number" : w);
        return -1;
    }
    /* lengths, not NUL terminators: a NUL is never a silent cut */
    mathans_check_len(sm->m, ans, json_is_string(av) ? json_string_length(av) : strlen(ans),
                      comp, json_string_length(json_object_get(rec, "completion")), &res);
    if (res.reason == MATHANS_UNPARSED_REFERENCE && sm->reject_unparsed) {
        *field = "answer";
        sbuf_addf(why, "the reference '%s' cannot be parsed", res.reference);
        return -1;
    }
    sm->counts[res.reason]++;
    info = json_object();
    json_object_set_new(info, "extracted",
                        res.extracted ? json_stringn(res.extracted, res.extracted_len)
                                      : json_null());
    json_object_set_new(info, "method", json_string(mathans_method_name(res.method)));
    json_object_set_new(info, "reference", json_stringn(res.reference, res.reference_len));
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
    const char *domain = NULL;
    int argi, places_given = 0, rtol_given = 0, percent;

    mathans_opts_init(&mo);
    percent = (int)mo.percent;
    memset(&sm, 0, sizeof(sm));
    sm.weight = 1;
    tool_init(&t, "score-math", usage);
    {
        const struct opt opts[] = {
            OPT_STRING(0, "domain", &domain, "NAME",
                       "score records of this domain (default math)"),
            OPT_DOUBLE(0, "weight", &sm.weight, "W", -1e9, 1e9,
                       "reward of a correct answer (default 1)"),
            OPT_CALL(0, "extract", &mo, "LIST", parse_extract,
                     "a list of boxed, final, answer, hash, last, latex, number, letter",
                     "extraction order of boxed, final, answer,\n"
                     "hash, last, latex, number, letter\n"
                     "(default boxed,final,answer,hash,last)"),
            {.type = OPT_T_INT, .long_name = "places", .value = &mo.places, .argname = "N",
             .min = 0, .max = 15, .given = &places_given,
             .help = "decimals agree rounded to N places (default 6)"},
            {.type = OPT_T_DOUBLE, .long_name = "rtol", .value = &mo.rtol, .argname = "X",
             .fmin = 0, .fmax = 1, .given = &rtol_given,
             .help = "decimals agree within relative X instead"},
            OPT_INT(0, "points", &mo.npoints, "N", 1, 64, "points for expressions (default 5)"),
            OPT_U64(0, "seed", &mo.seed, "N", 0, "seed of the points (default 0)"),
            OPT_CHOICE(0, "percent", &percent, "MODE", percents,
                       "10% is 0.1 (value, default), 10 (number),\n"
                       "or either"),
            OPT_BIT(0, "ordered-lists", &mo.flags, MATHANS_ORDERED_LISTS,
                    "a bare list \"1, 2\" must match in order"),
            OPT_BIT(0, "multiset", &mo.flags, MATHANS_MULTISET,
                    "repeated elements count: \"1, 1, 2\" is not \"1, 2\""),
            OPT_BIT(0, "tuple-brackets", &mo.flags, MATHANS_TUPLE_BRACKETS,
                    "a bare \"1, 2\" does not match the pair (1, 2)"),
            OPT_BIT(0, "set-relation", &mo.flags, MATHANS_SET_RELATION,
                    "an interval also matches \"1 < x < 2\""),
            OPT_BIT(0, "no-decimal-comma", &mo.flags, MATHANS_NO_DECIMAL_COMMA,
                    "\"2,74\" in text is not 2.74"),
            OPT_BIT(0, "strict-equations", &mo.flags, MATHANS_STRICT_EQUATIONS,
                    "answers \"x = 3\", \"6*7 = 42\" do not\n"
                    "match the references 3, 42"),
            OPT_BIT(0, "reduced", &mo.flags, MATHANS_REDUCED,
                    "fractions must be in lowest terms"),
            OPT_BIT(0, "search-think", &mo.flags, MATHANS_SEARCH_THINK,
                    "also search inside <think>...</think>"),
            OPT_BIT(0, "no-vector-tuple", &mo.flags, MATHANS_NO_VECTOR_TUPLE,
                    "a column vector does not match a tuple"),
            OPT_BOOL(0, "reject-unparsed", &sm.reject_unparsed,
                     "an unparseable reference is a bad record"),
            OPT_END(),
        };
        argi = tool_parse(&t, opts, argc, argv);
    }
    mo.percent = (enum mathans_percent)percent;
    if (places_given && rtol_given)
        tool_usage_error(&t, "give --places or --rtol, not both");
    if (rtol_given)
        mo.places = -1;
    if (domain) {
        dname[0] = domain;
        sc.domains.untagged = 0;
    }
    sm.m = mathans_new(&mo);
    tool_start(&t, argc - argi, argv + argi);
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
