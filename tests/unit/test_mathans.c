/*
 * test_mathans.c - the answer checker against a hand-written table
 * (tests/unit/mathans_cases.tsv), plus extraction and option checks.
 *
 * Table lines: EXPECTED <TAB> REFERENCE <TAB> COMPLETION [<TAB> OPTIONS]
 * EXPECTED is a reason name (correct, wrong, no_answer, unparsed_answer,
 * unparsed_reference); "<NL>" in the completion stands for a newline, and
 * a completion "=X" stands for "The answer is $\boxed{X}$.";
 * OPTIONS is a comma list of ordered, strict-eq, reduced, think, novec,
 * multiset, brackets, setrel, nocomma, places=N, rtol=X, pct=number,
 * pct=value, pct=either, order=LIST (methods joined by +).  '#' lines
 * are comments.
 *
 * With two arguments (REFERENCE COMPLETION) it prints the verdict instead,
 * for exploring by hand.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mathans.h"
#include "util.h"

static void
set_opts(struct mathans_opts *o, char *opts)
{
    char *tok, *save = NULL;

    mathans_opts_init(o);
    if (!opts)
        return;
    for (tok = strtok_r(opts, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "ordered"))
            o->flags |= MATHANS_ORDERED_LISTS;
        else if (!strcmp(tok, "strict-eq"))
            o->flags |= MATHANS_STRICT_EQUATIONS;
        else if (!strcmp(tok, "reduced"))
            o->flags |= MATHANS_REDUCED;
        else if (!strcmp(tok, "think"))
            o->flags |= MATHANS_SEARCH_THINK;
        else if (!strcmp(tok, "novec"))
            o->flags |= MATHANS_NO_VECTOR_TUPLE;
        else if (!strcmp(tok, "multiset"))
            o->flags |= MATHANS_MULTISET;
        else if (!strcmp(tok, "brackets"))
            o->flags |= MATHANS_TUPLE_BRACKETS;
        else if (!strcmp(tok, "setrel"))
            o->flags |= MATHANS_SET_RELATION;
        else if (!strcmp(tok, "nocomma"))
            o->flags |= MATHANS_NO_DECIMAL_COMMA;
        else if (!strncmp(tok, "places=", 7))
            o->places = atoi(tok + 7);
        else if (!strncmp(tok, "rtol=", 5)) {
            o->rtol = atof(tok + 5);
            o->places = -1;
        } else if (!strcmp(tok, "pct=number"))
            o->percent = MATHANS_PCT_NUMBER;
        else if (!strcmp(tok, "pct=value"))
            o->percent = MATHANS_PCT_VALUE;
        else if (!strcmp(tok, "pct=either"))
            o->percent = MATHANS_PCT_EITHER;
        else if (!strncmp(tok, "order=", 6)) {
            char *p;

            for (p = tok + 6; *p; p++)
                if (*p == '+')
                    *p = ',';
            CHECK(mathans_parse_order(o, tok + 6) == 0);
        } else {
            CHECK_MSG(0, "unknown option '%s'", tok);
        }
    }
}

/* "<NL>" -> newline, in place. */
static void
unescape(char *s)
{
    char *w = s;

    while (*s) {
        if (!strncmp(s, "<NL>", 4)) {
            *w++ = '\n';
            s += 4;
        } else {
            *w++ = *s++;
        }
    }
    *w = 0;
}

/* Cases of all tables where the checker said "correct" and the table did
   not: a false reward.  Must stay 0. */
static long false_correct;

static int
run_table(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0, ncases = 0;
    int cats[5] = {0};
    struct sbuf comp = SBUF_INIT;

    if (!f) {
        perror(path);
        return -1;
    }
    while ((n = getline(&line, &cap, f)) != -1) {
        char *cols[4] = {0}, *p = line;
        int nc = 0, want = -1, i;
        struct mathans_opts o;
        struct mathans *m;
        struct mathans_result r;

        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = 0;
        if (n == 0 || line[0] == '#')
            continue;
        while (nc < 4) {
            char *tab = strchr(p, '\t');

            cols[nc++] = p;
            if (!tab)
                break;
            *tab = 0;
            p = tab + 1;
        }
        CHECK_MSG(nc >= 3, "%s:%ld: need 3 or 4 columns", path, lineno);
        if (nc < 3)
            continue;
        for (i = 0; i < 5; i++)
            if (!strcmp(cols[0], mathans_reason_name((enum mathans_reason)i)))
                want = i;
        CHECK_MSG(want >= 0, "%s:%ld: bad expectation '%s'", path, lineno,
                  cols[0]);
        unescape(cols[1]);
        unescape(cols[2]);
        set_opts(&o, cols[3]);
        m = mathans_new(&o);
        sbuf_reset(&comp);
        if (cols[2][0] == '=')
            sbuf_addf(&comp, "The answer is $\\boxed{%s}$.", cols[2] + 1);
        else
            sbuf_adds(&comp, cols[2]);
        mathans_check(m, cols[1], sbuf_str(&comp), &r);
        if (r.reason == MATHANS_CORRECT && want != MATHANS_CORRECT)
            false_correct++;
        CHECK_MSG((int)r.reason == want,
                  "%s:%ld: ref '%s' completion '%s': got %s "
                  "(extracted '%s'), want %s",
                  path, lineno, cols[1], cols[2], mathans_reason_name(r.reason),
                  r.extracted ? r.extracted : "(none)", cols[0]);
        mathans_free(m);
        ncases++;
        if (want >= 0)
            cats[want]++;
    }
    free(line);
    sbuf_release(&comp);
    fclose(f);
    fprintf(stderr, "%ld table cases (%d correct, %d wrong, %d no_answer, "
            "%d unparsed_answer, %d unparsed_reference)\n", ncases, cats[0],
            cats[1], cats[2], cats[3], cats[4]);
    return (int)ncases;
}

static void
test_extract(void)
{
    struct mathans_opts o;
    struct mathans *m;
    const char *out;

    mathans_opts_init(&o);
    m = mathans_new(&o);
    CHECK(
        mathans_extract(m, "so \\boxed{\\frac{1}{2}} and then \\boxed{3}", &out)
        == MATHANS_M_BOXED);
    CHECK_STREQ(out, "3");
    CHECK(mathans_extract(m, "\\boxed{\\{1, 2\\}}", &out) == MATHANS_M_BOXED);
    CHECK_STREQ(out, "\\{1, 2\\}");
    CHECK(mathans_extract(m, "\\fbox{x^{2}} end", &out) == MATHANS_M_BOXED);
    CHECK_STREQ(out, "x^{2}");
    /* an unbalanced last box: the last complete one counts */
    CHECK(mathans_extract(m, "\\boxed{4} then \\boxed{5", &out)
          == MATHANS_M_BOXED);
    CHECK_STREQ(out, "4");
    CHECK(mathans_extract(m, "The final answer is $42$. I hope it is correct.",
                          &out)
          == MATHANS_M_FINAL);
    CHECK_STREQ(out, "42");
    CHECK(mathans_extract(m, "Answer: 7 apples\nthanks", &out)
          == MATHANS_M_ANSWER);
    CHECK_STREQ(out, "7");
    CHECK(mathans_extract(m, "so 3+4=7\n#### 7", &out) == MATHANS_M_HASH);
    CHECK_STREQ(out, "7");
    CHECK(mathans_extract(m, "it costs 1,250 dollars.", &out)
          == MATHANS_M_NUMBER);
    CHECK_STREQ(out, "1,250");
    CHECK(mathans_extract(m, "no digits here", &out) == MATHANS_M_NONE);
    CHECK(out == NULL);
    CHECK(mathans_extract(m, "<think>\\boxed{1}</think>no box, 9 left", &out)
          == MATHANS_M_NUMBER);
    CHECK_STREQ(out, "9");
    CHECK_STREQ(mathans_reference(m, "6 * 3 = <<6*3=18>>18\n#### 1,080"),
                "1,080");
    CHECK_STREQ(mathans_reference(m, "so $\\boxed{\\frac{\\pi}{2}}$."),
                "\\frac{\\pi}{2}");
    CHECK_STREQ(mathans_reference(m, "  $5$ "), "5");
    mathans_free(m);

    mathans_opts_init(&o);
    CHECK(mathans_parse_order(&o, "number,boxed") == 0);
    CHECK(o.order[0] == MATHANS_M_NUMBER && o.order[1] == MATHANS_M_BOXED
          && o.order[2] == MATHANS_M_NONE);
    CHECK(mathans_parse_order(&o, "boxed,boxed") == -1);
    CHECK(mathans_parse_order(&o, "boxed,nope") == -1);
    CHECK(mathans_parse_order(&o, "") == -1);
    m = mathans_new(&o);
    CHECK(mathans_extract(m, "\\boxed{3} is 4", &out) == MATHANS_M_NUMBER);
    CHECK_STREQ(out, "4");
    mathans_free(m);
    CHECK_STREQ(mathans_reason_name(MATHANS_UNPARSED_REFERENCE),
                "unparsed_reference");
    CHECK_STREQ(mathans_method_name(MATHANS_M_HASH), "hash");
}

/* Inputs that must not crash or hang; any verdict is fine. */
static void
test_odd(void)
{
    static const char *const odd[] = {
        "",
        "\\",
        "{",
        "}",
        "\\frac",
        "\\frac{",
        "\\sqrt[",
        "\\begin{pmatrix}",
        "\\begin{pmatrix} 1 & 2 \\\\ 3 \\end{pmatrix}",
        "\\left(",
        "((((((((((",
        "\\text{",
        "1,",
        ",",
        "^^^^",
        "x^",
        "\\boxed{",
        "$$$$",
        "\\pm\\pm\\pm\\pm\\pm",
        "1e999999",
        "10^{10^{10^{10}}}",
        "0^{-1}",
        "\\frac{0}{0}",
        "\\sqrt{-1}",
        "170!",
        "171!",
        "(-1)!",
        "\\log_0 1",
        "\\binom{1000}{3}",
        "\xff\xfe",
        "\\{\\}",
        "[1,2)",
        "(1]",
        "|1",
        "1 \\cup",
        "a=b=c=d",
        "x<y>z",
        "\\begin{array}{cc} 1 & 2 \\end{array}",
        "\\begin{cases} 1 \\end{cases}",
    };
    char big[8000];
    struct mathans_opts o;
    struct mathans *m;
    size_t i;

    mathans_opts_init(&o);
    m = mathans_new(&o);
    for (i = 0; i < ARRAY_LEN(odd); i++) {
        (void)mathans_equiv(m, odd[i], "1");
        (void)mathans_equiv(m, "1", odd[i]);
        (void)mathans_equiv(m, odd[i], odd[i]);
    }
    memset(big, '(', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    CHECK(mathans_equiv(m, big, "1") == MATHANS_UNPARSED_REFERENCE);
    memset(big, '(', 3000);
    big[3000] = 0;
    CHECK(mathans_equiv(m, "1", big) == MATHANS_UNPARSED_ANSWER);
    for (i = 0; i + 2 < 3000; i += 2) {
        big[i] = '1';
        big[i + 1] = '+';
    }
    big[i] = '1';
    big[i + 1] = 0;
    CHECK(mathans_equiv(m, "1", big) != MATHANS_CORRECT);
    mathans_free(m);
}

int
main(int argc, char **argv)
{
    const char *top = getenv("TOP");
    char path[4096];
    int n;

    if (argc == 3) {
        struct mathans_opts o;
        struct mathans *m;
        struct mathans_result r;

        mathans_opts_init(&o);
        m = mathans_new(&o);
        mathans_check(m, argv[1], argv[2], &r);
        printf("%s (%s: '%s', reference '%s')\n", mathans_reason_name(r.reason),
               mathans_method_name(r.method), r.extracted ? r.extracted : "",
               r.reference);
        mathans_free(m);
        return 0;
    }
    test_extract();
    test_odd();
    snprintf(path, sizeof(path), "%s/tests/unit/mathans_cases.tsv",
             top ? top : ".");
    n = run_table(path);
    CHECK_MSG(n >= 300, "the table has %d cases, want at least 300", n);
    snprintf(path, sizeof(path), "%s/tests/unit/mathans_forms.tsv",
             top ? top : ".");
    n = run_table(path);
    CHECK_MSG(n >= 200, "the forms table has %d cases, want at least 200", n);
    fprintf(stderr, "false correct over all tables: %ld\n", false_correct);
    CHECK_MSG(false_correct == 0, "%ld false \"correct\" verdicts",
              false_correct);
    return check_done();
}
