/*
 * test_tasks.c - generated answers and worked steps recomputed here with
 * independent code (128-bit arithmetic, a rational expression evaluator),
 * reproducibility by seed, the code tasks' tests and the chat pairs'
 * properties read back from their text, and the importers on hand-made
 * raw records.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tasks.h"

typedef __int128 i128;

static const char *
sfield(const json_t *r, const char *k)
{
    return json_string_value(json_object_get(r, k));
}

static int
ndigits(long long v)
{
    int n = 1;

    if (v < 0)
        v = -v;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Every line "X op Y = Z" of the think block is true; returns the count,
 * -1 on a false or malformed line.  *last gets the final Z. */
static int
check_steps(const char *resp, long long *last)
{
    const char *p = strstr(resp, "<think>\n"), *end = strstr(resp, "</think>");
    int n = 0;

    if (!p || !end)
        return -1;
    for (p += 8; p < end; p = strchr(p, '\n') + 1) {
        long long x, y, z;
        char op;
        i128 v;

        if (sscanf(p, "%lld %c %lld = %lld", &x, &op, &y, &z) != 4)
            return -1;
        v = op == '+' ? (i128)x + y : op == '-' ? (i128)x - y
            : op == '*' ? (i128)x * y : 0;
        if (op == '/') {
            if (y == 0 || x % y != 0)
                return -1;
            v = x / y;
        }
        if (v != z)
            return -1;
        *last = z;
        n++;
    }
    return n;
}

static void
test_arithmetic(void)
{
    struct tasks_gen g;
    long i;
    int seen[4] = { 0, 0, 0, 0 };

    tasks_gen_init(&g, TASKS_ARITHMETIC);
    g.seed = 42;
    g.with_response = 1;
    g.dmin = 1;
    g.dmax = 9;
    CHECK(tasks_gen_check(&g) == NULL);
    for (i = 0; i < 4000; i++) {
        json_t *r = tasks_generate(&g, i);
        long long a, b, last = 0;
        char op, want[64], boxed[128];
        i128 v = 0;

        CHECK(sscanf(sfield(r, "prompt"), "What is %lld %c %lld?", &a, &op, &b) == 3);
        switch (op) {
        case '+': v = (i128)a + b; seen[0]++; break;
        case '-': v = (i128)a - b; seen[1]++; CHECK(a >= b); break;
        case '*': v = (i128)a * b; seen[2]++; break;
        case '/':
            seen[3]++;
            CHECK(b != 0 && a % b == 0);
            v = b ? a / b : 0;
            CHECK(ndigits((long long)v) <= 9);
            break;
        default: CHECK(!"unknown op");
        }
        CHECK(ndigits(op == '/' ? b : a) <= 9);
        snprintf(want, sizeof(want), "%lld", (long long)v);
        CHECK_STREQ(sfield(r, "answer"), want);
        CHECK(check_steps(sfield(r, "response"), &last) >= 1);
        CHECK(last == (long long)v);
        snprintf(boxed, sizeof(boxed), "</think>\nThe answer is \\boxed{%s}.", want);
        CHECK(strstr(sfield(r, "response"), boxed) != NULL);
        CHECK_STREQ(sfield(r, "domain"), "math");
        json_decref(r);
    }
    CHECK(seen[0] > 800 && seen[1] > 800 && seen[2] > 800 && seen[3] > 800);

    /* Fixed digit counts, one op, negatives allowed. */
    g.dmin = g.dmax = 3;
    g.ops = "-";
    g.allow_negative = 1;
    g.with_response = 0;
    {
        int neg = 0;
        for (i = 0; i < 200; i++) {
            json_t *r = tasks_generate(&g, i);
            long long a, b;
            char op;

            CHECK(sscanf(sfield(r, "prompt"), "What is %lld %c %lld?", &a, &op, &b) == 3);
            CHECK(op == '-' && a >= 100 && a <= 999 && b >= 100 && b <= 999);
            neg += a < b;
            CHECK(json_object_get(r, "response") == NULL);
            json_decref(r);
        }
        CHECK(neg > 50);
    }
    g.ops = "+x";
    CHECK(tasks_gen_check(&g) != NULL);
    g.ops = "+";
    g.dmax = 10;
    CHECK(tasks_gen_check(&g) != NULL);
}

static void
test_reproducible(void)
{
    struct tasks_gen g;
    enum tasks_gen_kind k;
    json_t *a, *b;
    int differ = 0, i;

    for (k = TASKS_ARITHMETIC; k <= TASKS_WORD; k++) {
        tasks_gen_init(&g, k);
        g.seed = 7;
        g.with_response = 1;
        a = tasks_generate(&g, 123);
        b = tasks_generate(&g, 123);
        CHECK(json_equal(a, b));
        json_decref(b);
        g.seed = 8;
        for (i = 0; i < 5; i++) {
            b = tasks_generate(&g, 123 + i);
            differ += !json_equal(json_object_get(a, "prompt"),
                                  json_object_get(b, "prompt"));
            json_decref(b);
        }
        json_decref(a);
    }
    CHECK(differ >= 13);
}

/* ---- countdown: an exact rational evaluator, separate from tasks.c ---- */

struct q {
    long long n, d;
};

struct parser {
    const char *p;
    long long used[16];
    int nused, bad;
};

static long long
gcdll(long long a, long long b)
{
    if (a < 0)
        a = -a;
    if (b < 0)
        b = -b;
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a ? a : 1;
}

static struct q
qnorm(struct q x)
{
    long long g = gcdll(x.n, x.d);

    if (x.d < 0) {
        x.n = -x.n;
        x.d = -x.d;
    }
    x.n /= g;
    x.d /= g;
    return x;
}

static void
skip(struct parser *ps)
{
    while (*ps->p == ' ')
        ps->p++;
}

static struct q expr(struct parser *ps);

static struct q
atom(struct parser *ps)
{
    struct q v = { 0, 1 };

    skip(ps);
    if (*ps->p == '(') {
        ps->p++;
        v = expr(ps);
        skip(ps);
        if (*ps->p++ != ')')
            ps->bad = 1;
        return v;
    }
    if (*ps->p < '0' || *ps->p > '9') {
        ps->bad = 1;
        return v;
    }
    v.n = strtoll(ps->p, (char **)&ps->p, 10);
    if (ps->nused < 16)
        ps->used[ps->nused++] = v.n;
    return v;
}

static struct q
term(struct parser *ps)
{
    struct q v = atom(ps), w;
    char op;

    for (;;) {
        skip(ps);
        op = *ps->p;
        if (op != '*' && op != '/')
            return v;
        ps->p++;
        w = atom(ps);
        if (op == '*')
            v = qnorm((struct q){ v.n * w.n, v.d * w.d });
        else if (w.n == 0)
            ps->bad = 1;
        else
            v = qnorm((struct q){ v.n * w.d, v.d * w.n });
    }
}

static struct q
expr(struct parser *ps)
{
    struct q v = term(ps), w;
    char op;

    for (;;) {
        skip(ps);
        op = *ps->p;
        if (op != '+' && op != '-')
            return v;
        ps->p++;
        w = term(ps);
        v = qnorm((struct q){ op == '+' ? v.n * w.d + w.n * v.d
                                        : v.n * w.d - w.n * v.d, v.d * w.d });
    }
}

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;

    return (x > y) - (x < y);
}

static void
test_countdown(void)
{
    struct tasks_gen g;
    long i;

    tasks_gen_init(&g, TASKS_COUNTDOWN);
    g.seed = 3;
    g.with_response = 1;
    for (i = 0; i < 1500; i++) {
        json_t *r;
        const char *resp, *b;
        struct parser ps;
        struct q v;
        long long nums[16], last = 0;
        size_t j, n;
        char expr_s[256];

        g.nnumbers = 2 + (int)(i % 5);
        g.max_target = i % 2 ? 100 : 1000;
        r = tasks_generate(&g, i);
        resp = sfield(r, "response");
        b = strstr(resp, "\\boxed{");
        CHECK(b != NULL);
        if (!b) {
            json_decref(r);
            continue;
        }
        b += 7;
        n = strlen(b);
        CHECK(n >= 2 && strcmp(b + n - 2, "}.") == 0);
        snprintf(expr_s, sizeof(expr_s), "%.*s", (int)(n - 2), b);
        memset(&ps, 0, sizeof(ps));
        ps.p = expr_s;
        v = expr(&ps);
        skip(&ps);
        CHECK(!ps.bad && *ps.p == '\0');
        CHECK(v.d == 1);
        CHECK(v.n == json_integer_value(json_object_get(r, "target")));
        CHECK(v.n >= 1 && v.n <= g.max_target);
        CHECK(atoll(sfield(r, "answer")) == v.n);
        /* Every number exactly once. */
        n = json_array_size(json_object_get(r, "numbers"));
        CHECK(n == (size_t)g.nnumbers && (size_t)ps.nused == n);
        for (j = 0; j < n && j < 16; j++) {
            nums[j] = json_integer_value(json_array_get(json_object_get(r, "numbers"), j));
            CHECK(nums[j] >= 1 && nums[j] <= g.max_number);
        }
        qsort(nums, n, sizeof(nums[0]), cmp_ll);
        qsort(ps.used, (size_t)ps.nused, sizeof(nums[0]), cmp_ll);
        CHECK(memcmp(nums, ps.used, n * sizeof(nums[0])) == 0);
        CHECK(check_steps(resp, &last) == g.nnumbers - 1);
        CHECK(last == v.n);
        json_decref(r);
    }
}

static void
test_word(void)
{
    struct tasks_gen g;
    long i;

    tasks_gen_init(&g, TASKS_WORD);
    g.seed = 11;
    g.with_response = 1;
    g.smin = 1;
    g.smax = 6;
    for (i = 0; i < 1000; i++) {
        json_t *r = tasks_generate(&g, i);
        long long last = 0;
        const char *p;
        int sentences = 0;

        CHECK(check_steps(sfield(r, "response"), &last) >= 1);
        CHECK(atoll(sfield(r, "answer")) == last && last > 0);
        for (p = sfield(r, "prompt"); *p; p++)
            sentences += *p == '.' || *p == '?';
        /* the start, one sentence per step, the question */
        CHECK(sentences >= 3 && sentences <= 8);
        json_decref(r);
    }
}

/* The terms of "What is A + B + ...?", their count in *k. */
static long long
chain_sum(const char *prompt, int *k)
{
    const char *p = prompt + strlen("What is ");
    long long sum = 0;
    char *end;

    *k = 0;
    for (;;) {
        sum += strtoll(p, &end, 10);
        (*k)++;
        if (strncmp(end, " + ", 3) != 0)
            break;
        p = end + 3;
    }
    CHECK(strcmp(end, "?") == 0);
    return sum;
}

static void
test_chain(void)
{
    struct tasks_gen g;
    long i;
    int seen[13] = {0}, k;

    tasks_gen_init(&g, TASKS_CHAIN);
    CHECK(tasks_gen_check(&g) == NULL);
    g.seed = 5;
    g.with_response = 1;
    g.tmin = 2;
    g.tmax = 7;
    for (i = 0; i < 1000; i++) {
        json_t *r = tasks_generate(&g, i);
        long long last = 0, sum = chain_sum(sfield(r, "prompt"), &k);

        CHECK(k >= 2 && k <= 7);
        seen[k]++;
        /* one running-sum line per term after the first */
        CHECK(check_steps(sfield(r, "response"), &last) == k - 1);
        CHECK(last == sum && atoll(sfield(r, "answer")) == sum);
        json_decref(r);
    }
    for (k = 2; k <= 7; k++)
        CHECK(seen[k] > 100);
    g.tmin = 1;
    CHECK(tasks_gen_check(&g) != NULL);
    g.tmin = 2;
    g.tmax = TASKS_MAX_TERMS + 1;
    CHECK(tasks_gen_check(&g) != NULL);
}

/* The terms of a line "[= ]a + b + c" (or "Assistant: a + b + c") into
 * v; returns their number. */
static int
line_terms(const char *p, long long *v, int max)
{
    int n = 0, used;

    if (strncmp(p, "= ", 2) == 0)
        p += 2;
    else if (strncmp(p, "Assistant: ", 11) == 0)
        p += 11;
    while (n < max && sscanf(p, "%lld%n", &v[n], &used) == 1) {
        n++;
        p += used;
        if (strncmp(p, " + ", 3) != 0)
            break;
        p += 3;
    }
    return n;
}

/*
 * Every reduction line "= ..." of a document is the line above with its
 * first two terms added; returns the number of such lines, -1 when one is
 * not.
 */
static int
check_reduced(const char *t)
{
    const char *p, *line, *prev = NULL;
    int n = 0;

    for (line = t; *line; prev = line, line = p + 1) {
        long long a[16], b[16];
        int na, nb, i;

        p = strchr(line, '\n');
        if (strncmp(line, "= ", 2) == 0) {
            if (!prev)
                return -1;
            na = line_terms(prev, a, 16);
            nb = line_terms(line, b, 16);
            if (na < 2 || nb != na - 1 || b[0] != a[0] + a[1])
                return -1;
            for (i = 1; i < nb; i++)
                if (b[i] != a[i + 1])
                    return -1;
            n++;
        }
        if (!p)
            break;
    }
    return n;
}

/*
 * A question-and-answer page: every reduction line "= ..." is the line
 * above with its first two terms added; every tagged answer closes its
 * tag, and under an instruction line the tag is the one it names.
 * Returns 1 for a page, 0 for another document, -1 when a check fails.
 */
static int
check_dialog(const char *t)
{
    char told[16] = "", tag[16];
    const char *p, *line;

    if (strncmp(t, "Think inside <", 14) == 0) {
        if (sscanf(t + 14, "%15[a-z]>", told) != 1)
            return -1;
    } else if (strncmp(t, "User: ", 6) != 0)
        return 0;
    if (check_reduced(t) < 0)
        return -1;
    for (line = t; *line; line = p + 1) {
        p = strchr(line, '\n');
        if (strncmp(line, "Assistant: <", 12) == 0) {
            char close[24];

            if (sscanf(line + 12, "%15[a-z]>", tag) != 1)
                return -1;
            if (*told && strcmp(tag, told) != 0)
                return -1;
            snprintf(close, sizeof(close), "\n</%s>\n", tag);
            if (!strstr(line, close))
                return -1;
        } else if (*told && strncmp(line, "Assistant: ", 11) == 0)
            return -1;
        if (!p)
            break;
    }
    return 1;
}

/*
 * Corpus documents: text only, never a chat marker or a <think> tag; every
 * "X + Y = Z" in them is true; every boxed result is the sum of the
 * question before it; and the share of worked sums follows worked_pct.
 */
static void
test_corpus(void)
{
    struct tasks_gen g;
    long i;
    int pct, worked = 0, results = 0, tags = 0, dialogs = 0, d;

    for (pct = 0; pct <= 100; pct += 50) {
        tasks_gen_init(&g, TASKS_CORPUS);
        g.seed = 3;
        g.worked_pct = pct;
        CHECK(tasks_gen_check(&g) == NULL);
        worked = results = 0;
        for (i = 0; i < 2000; i++) {
            json_t *r = tasks_generate(&g, i);
            const char *t = sfield(r, "text"), *p;

            CHECK(t && *t);
            CHECK(json_object_get(r, "prompt") == NULL);
            CHECK(strstr(t, "<think>") == NULL && strstr(t, "</think>") == NULL
                  && strstr(t, "<|") == NULL);
            CHECK(strncmp(sfield(r, "id"), "corpus/3/", 9) == 0);
            for (p = t; (p = strstr(p, " = ")) != NULL; p += 3) {
                const char *q = p;
                long long x, y, z;
                /* back to the start of "X + Y = Z" (a two-term sum) */
                while (q > t && q[-1] != '\n' && q[-1] != ' ')
                    q--;
                if (q - t >= 3 && strncmp(q - 3, " + ", 3) == 0) {
                    q -= 3;
                    while (q > t && q[-1] != '\n' && q[-1] != ' ')
                        q--;
                }
                if (sscanf(q, "%lld + %lld = %lld", &x, &y, &z) == 3
                    && (q == t || q[-1] == '\n'))
                    CHECK(x + y == z);
            }
            for (p = t; (p = strstr(p, "What is ")) != NULL; p++) {
                char line[128];
                const char *e = strchr(p, '?'), *b;
                int k;
                long long sum;

                CHECK(e && (size_t)(e - p) < sizeof(line) - 2);
                memcpy(line, p, (size_t)(e - p) + 1);
                line[e - p + 1] = '\0';
                sum = chain_sum(line, &k);
                CHECK(k >= 4 && k <= 6);
                b = strstr(e, "\\boxed{");
                if (b && (!strstr(e, "What is ") || b < strstr(e, "What is "))) {
                    CHECK(atoll(b + 7) == sum);
                    /* worked: the running-sum lines sit between */
                    if (memchr(e, '=', (size_t)(b - e)))
                        worked++;
                    else
                        results++;
                } else {
                    CHECK(strstr(e, "Answer: ") == e + 2);
                    CHECK(atoll(e + 10) == sum);
                    results++;
                }
            }
            tags += strstr(t, "</") != NULL;
            d = check_dialog(t);
            CHECK(d >= 0);
            dialogs += d > 0;
            json_decref(r);
        }
        if (pct == 0)
            CHECK(worked == 0 && results > 500);
        else if (pct == 100)
            CHECK(results == 0 && worked > 500);
        else
            CHECK(worked > results / 2 && results > worked / 2);
    }
    CHECK(tags > 100);
    CHECK(dialogs > 1000);
}

/*
 * reduce: the worked problem pages reduce the sum a term a line (every
 * line checked) and write no running-sum line; the question-and-answer
 * pages, the lists of sums and the prose are as without it.
 */
static void
test_corpus_reduce(void)
{
    struct tasks_gen g, h;
    long i;
    int reduced = 0, same = 0;

    tasks_gen_init(&g, TASKS_CORPUS);
    g.seed = 3;
    g.worked_pct = 100;
    h = g;
    g.reduce = 1;
    CHECK(tasks_gen_check(&g) == NULL);
    for (i = 0; i < 2000; i++) {
        json_t *r = tasks_generate(&g, i), *s = tasks_generate(&h, i);
        const char *t = sfield(r, "text");
        int n = check_reduced(t);

        CHECK(n >= 0);
        if (strncmp(t, "Q: ", 3) == 0 || strncmp(t, "Question: ", 10) == 0
            || strncmp(t, "What is ", 8) == 0) {
            long long x, y, z;
            const char *p;

            reduced += n;
            for (p = t; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                CHECK(sscanf(p, "%lld + %lld = %lld", &x, &y, &z) != 3);
        } else if (strcmp(t, sfield(s, "text")) == 0)
            same++;
        json_decref(r);
        json_decref(s);
    }
    CHECK(reduced > 500);
    /* all but the tagged sums of markup documents (a problem inside) */
    CHECK(same > 1500);
}

static void
test_gsm8k_answer(void)
{
    struct sbuf sb = SBUF_INIT;

    CHECK(tasks_gsm8k_answer("a\nb\n#### 1,080", &sb) == 0);
    CHECK_STREQ(sbuf_str(&sb), "1080");
    CHECK(tasks_gsm8k_answer("x #### 3\n#### -5 ", &sb) == 0);
    CHECK_STREQ(sbuf_str(&sb), "-5");
    CHECK(tasks_gsm8k_answer("#### 2.50", &sb) == 0);
    CHECK_STREQ(sbuf_str(&sb), "2.50");
    CHECK(tasks_gsm8k_answer("no final line", &sb) == -1);
    CHECK(tasks_gsm8k_answer("#### twelve", &sb) == -1);
    CHECK(tasks_gsm8k_answer("#### 12abc", &sb) == -1);
    CHECK(tasks_gsm8k_answer("#### ", &sb) == -1);
    sbuf_release(&sb);
}

static json_t *
import(enum tasks_source src, const char *raw, const char *split, int *rc,
       const char **field, const char **why)
{
    struct tasks_import im;
    json_t *in = json_loads(raw, 0, NULL), *out = NULL;

    tasks_import_init(&im, src);
    im.id_prefix = "p/";
    im.split = split;
    CHECK(in != NULL);
    *rc = tasks_import_one(&im, in, 4, &out, field, why);
    json_decref(in);
    return out;
}

static void
test_importers(void)
{
    const char *field, *why;
    json_t *r;
    int rc;

    r = import(TASKS_GSM8K, "{\"question\":\"Q?\",\"answer\":\"3 * 4 = <<3*4=12>>12 eggs\\n#### 1,012\"}",
               NULL, &rc, &field, &why);
    CHECK(rc == 1);
    CHECK_STREQ(sfield(r, "id"), "p/4");
    CHECK_STREQ(sfield(r, "answer"), "1012");
    CHECK_STREQ(sfield(r, "response"), "3 * 4 = 12 eggs\nThe answer is \\boxed{1012}.");
    json_decref(r);
    r = import(TASKS_GSM8K, "{\"question\":\"Q?\"}", NULL, &rc, &field, &why);
    CHECK(rc == -1 && r == NULL);
    CHECK_STREQ(field, "answer");
    CHECK_STREQ(why, "missing");
    r = import(TASKS_GSM8K, "{\"question\":1,\"answer\":\"#### 1\"}", NULL, &rc, &field, &why);
    CHECK(rc == -1);
    CHECK_STREQ(field, "question");
    CHECK_STREQ(why, "not a string");

    r = import(TASKS_MATH, "{\"problem\":\"P\",\"solution\":\"S \\\\boxed{2}\",\"answer\":\"2\","
               "\"subject\":\"Algebra\",\"level\":\"Level 4\",\"unique_id\":\"test/algebra/9.json\"}",
               NULL, &rc, &field, &why);
    CHECK(rc == 1);
    CHECK_STREQ(sfield(r, "id"), "math/test/algebra/9");
    CHECK(json_integer_value(json_object_get(r, "level")) == 4);
    CHECK_STREQ(sfield(r, "subject"), "Algebra");
    CHECK_STREQ(sfield(r, "response"), "S \\boxed{2}");
    json_decref(r);
    r = import(TASKS_MATH, "{\"problem\":\"P\",\"solution\":\"S\",\"answer\":\"2\","
               "\"subject\":\"Algebra\",\"level\":\"Level ?\",\"unique_id\":\"u\"}",
               NULL, &rc, &field, &why);
    CHECK(rc == -1);
    CHECK_STREQ(field, "level");

    r = import(TASKS_HUMANEVAL, "{\"task_id\":\"HumanEval/1\",\"prompt\":\"def f(x):\\n\","
               "\"canonical_solution\":\"    return x\\n\",\"test\":\"def check(c):\\n    assert c(1) == 1\\n\","
               "\"entry_point\":\"f\"}", NULL, &rc, &field, &why);
    CHECK(rc == 1);
    CHECK_STREQ(sfield(r, "lang"), "python");
    CHECK_STREQ(sfield(r, "entry_point"), "f");
    CHECK_STREQ(sfield(r, "response"), "```python\ndef f(x):\n    return x\n```");
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(r, "tests"), 0), "assert")),
                "def check(c):\n    assert c(1) == 1\n\ncheck(f)\n");
    json_decref(r);
    r = import(TASKS_HUMANEVAL, "{\"task_id\":\"HumanEval/1\",\"prompt\":\"def f(x):\\n\","
               "\"canonical_solution\":\"\",\"test\":\"\"}", NULL, &rc, &field, &why);
    CHECK(rc == -1);
    CHECK_STREQ(field, "entry_point");

    r = import(TASKS_MBPP, "{\"task_id\":11,\"text\":\"Do it.\",\"code\":\"def g():\\r\\n\\treturn 1\\r\\n\","
               "\"test_list\":[\"assert g() == 1\",\"assert g() != 2\"],\"test_setup_code\":\"x = 1\\r\\ny = 2\"}",
               NULL, &rc, &field, &why);
    CHECK(rc == 1);
    CHECK_STREQ(sfield(r, "id"), "mbpp/11");
    CHECK_STREQ(sfield(r, "split"), "test");
    CHECK_STREQ(sfield(r, "prompt"), "Do it. Your code should pass this test:\n\nassert g() == 1");
    CHECK_STREQ(sfield(r, "response"), "```python\ndef g():\n\treturn 1\n```");
    CHECK(json_array_size(json_object_get(r, "tests")) == 2);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(r, "tests"), 1), "assert")),
                "x = 1\ny = 2\nassert g() != 2");
    json_decref(r);
    r = import(TASKS_MBPP, "{\"task_id\":11,\"text\":\"Do it.\",\"code\":\"c\",\"test_list\":[\"assert 1\"]}",
               "train", &rc, &field, &why);
    CHECK(rc == 0 && r == NULL);
    r = import(TASKS_MBPP, "{\"task_id\":11,\"text\":\"Do it.\",\"code\":\"c\",\"test_list\":[]}",
               NULL, &rc, &field, &why);
    CHECK(rc == -1);
    CHECK_STREQ(field, "test_list");
    CHECK_STREQ(tasks_mbpp_split(10), "prompt");
    CHECK_STREQ(tasks_mbpp_split(511), "validation");
    CHECK_STREQ(tasks_mbpp_split(974), "train");
    CHECK(tasks_mbpp_split(975) == NULL);
}

/*
 * Code tasks: the prompt's expression, read back here, gives every
 * assert's value; the inputs are distinct; the reference response
 * returns that expression; every operation of ops occurs.
 */
static void
test_code(void)
{
    struct tasks_gen g;
    long i;
    int seen[3] = {0, 0, 0}, j;

    tasks_gen_init(&g, TASKS_CODE);
    g.seed = 5;
    g.with_response = 1;
    CHECK(tasks_gen_check(&g) == NULL);
    for (i = 0; i < 300; i++) {
        json_t *r = tasks_generate(&g, i), *tests = json_object_get(r, "tests");
        long long k, x[3], y;
        char op, want[64];

        CHECK_STREQ(sfield(r, "domain"), "code");
        CHECK_STREQ(sfield(r, "lang"), "python");
        CHECK(sscanf(sfield(r, "prompt"), "Write a Python function f(x) that returns x %c %lld.",
                     &op, &k) == 2);
        CHECK(k >= 1 && k <= 9);
        CHECK(strchr("+-*", op) != NULL);
        seen[op == '+' ? 0 : op == '-' ? 1 : 2]++;
        CHECK(json_array_size(tests) == 3);
        for (j = 0; j < 3 && j < (int)json_array_size(tests); j++) {
            const char *a = sfield(json_array_get(tests, (size_t)j), "assert");

            CHECK(a && sscanf(a, "assert f(%lld) == %lld", &x[j], &y) == 2);
            CHECK(y == (op == '+' ? x[j] + k : op == '-' ? x[j] - k : x[j] * k));
            CHECK(x[j] >= 0 && x[j] <= 20);
        }
        CHECK(x[0] != x[1] && x[0] != x[2] && x[1] != x[2]);
        snprintf(want, sizeof(want), "```python\ndef f(x):\n    return x %c %lld\n```", op, k);
        CHECK_STREQ(sfield(r, "response"), want);
        json_decref(r);
    }
    CHECK(seen[0] > 50 && seen[1] > 50 && seen[2] > 50);
    g.ops = "+";
    for (i = 0; i < 20; i++) {
        json_t *r = tasks_generate(&g, i);
        CHECK(strstr(sfield(r, "prompt"), "returns x + ") != NULL);
        json_decref(r);
    }
    g.ops = "+/";
    CHECK(tasks_gen_check(&g) != NULL);
}

/* The topic a chat prompt asks about: its last word without the mark. */
static void
chat_topic(const char *prompt, char *out, size_t n)
{
    const char *sp = strrchr(prompt, ' ');
    size_t len = sp ? strlen(sp + 1) : 0;

    snprintf(out, n, "%.*s", len ? (int)len - 1 : 0, sp ? sp + 1 : "");
}

/*
 * Chat prompts and preference pairs: prefs record i asks what chat record
 * i asks; the chosen answer names the prompt's topic and ends politely;
 * the rejected one is either rude or about another topic, both kinds
 * occur, and it is never the chosen one.
 */
static void
test_chat(void)
{
    struct tasks_gen c, p;
    long i;
    int rude = 0, off = 0;

    tasks_gen_init(&c, TASKS_CHAT);
    tasks_gen_init(&p, TASKS_PREFS);
    c.seed = p.seed = 8;
    c.with_response = 1;
    CHECK(tasks_gen_check(&c) == NULL && tasks_gen_check(&p) == NULL);
    for (i = 0; i < 400; i++) {
        json_t *a = tasks_generate(&c, i), *b = tasks_generate(&p, i);
        const char *ch = sfield(b, "chosen"), *rj = sfield(b, "rejected");
        char topic[32], cap[48];

        CHECK_STREQ(sfield(a, "domain"), "chat");
        CHECK_STREQ(sfield(b, "domain"), "chat");
        CHECK_STREQ(sfield(a, "prompt"), sfield(b, "prompt"));
        CHECK_STREQ(sfield(a, "response"), ch);
        CHECK(json_object_get(b, "response") == NULL);
        chat_topic(sfield(a, "prompt"), topic, sizeof(topic));
        CHECK(strlen(topic) > 2);
        snprintf(cap, sizeof(cap), "%c%s are ", topic[0] - 'a' + 'A', topic + 1);
        CHECK(ch && strncmp(ch, cap, strlen(cap)) == 0);
        CHECK(ch && strlen(ch) > 21 && strcmp(ch + strlen(ch) - 21, "Thank you for asking!") == 0);
        CHECK(rj && strcmp(rj, ch) != 0);
        if (rj && strncmp(rj, cap, strlen(cap)) == 0) {
            CHECK(strstr(rj, "Thank you") == NULL);
            rude++;
        } else if (rj) {
            CHECK(strstr(rj, "Thank you for asking!") != NULL);
            /* the same adjectives, another topic */
            CHECK_STREQ(strstr(rj, " are "), strstr(ch, " are "));
            off++;
        }
        CHECK(strncmp(sfield(b, "id"), "prefs/8/", 8) == 0);
        json_decref(a);
        json_decref(b);
    }
    CHECK(rude > 100 && off > 100);
}

int
main(void)
{
    test_arithmetic();
    test_reproducible();
    test_countdown();
    test_word();
    test_chain();
    test_corpus();
    test_corpus_reduce();
    test_code();
    test_chat();
    test_gsm8k_answer();
    test_importers();
    return check_done();
}
