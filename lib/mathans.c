/*
 * mathans.c - extraction, parsing and equivalence of final math answers.
 * See mathans.h for the contract and man/man1/score-math.1 for the rules
 * as users see them.
 *
 * The parser is a recursive descent over LaTeX (or plain text) that builds
 * a small expression tree in a fixed node pool; the lexer is stateless and
 * re-run on peeks (answers are short).  Values are complex doubles so that
 * "2 + 3i" and square roots of negatives need no special cases.  This is
 * not a computer algebra system: two expressions are "equivalent" when
 * they agree at several pseudo-random points, which is the standard
 * probabilistic identity test (Schwartz-Zippel for polynomials) and what
 * numeric graders do in practice.
 */
#include "mathans.h"

#include <complex.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "think.h"
#include "util.h"

#define MAX_LEN 4096     /* longest answer or reference parsed */
#define MAX_NODES 4096   /* nodes of both trees together */
#define MAX_DEPTH 48     /* parser and comparison nesting */
#define MAX_PM 4         /* \pm signs in one item (2^4 expansions) */
#define MAX_ITEMS 256    /* elements of one list after \pm expansion */

/* ---- Trees ---- */

enum kind {
    K_NUM, K_VAR, K_PI, K_E, K_I, K_INF,
    K_ADD, K_SUB, K_MUL, K_DIV, K_POW, K_NEG, K_PM, K_FUNC, K_FACT, K_PCT,
    K_ABS, K_ROOT, K_LOG, K_BINOM,
    /* containers: children are a linked list through next */
    K_LIST, K_TUPLE, K_SET, K_UNION, K_MATRIX, K_REL,
    K_TEXT,
};

enum nflags {
    F_INT = 1,       /* an integer literal */
    F_FRAC = 2,      /* \frac or a/b */
    F_BASE = 4,      /* a numeral in base sub: 2516_8 (digits in s, len) */
    F_DEC = 8,       /* a decimal literal: an approximation */
};

/* Tuple brackets, in sub: low bit = closed left, next = closed right. */
#define BR_LCLOSED 1
#define BR_RCLOSED 2

enum func { FN_SIN, FN_COS, FN_TAN, FN_SEC, FN_CSC, FN_COT, FN_ASIN, FN_ACOS,
            FN_ATAN, FN_SINH, FN_COSH, FN_TANH, FN_EXP, FN_LN, FN_SQRT };

enum relop { R_EQ, R_LT, R_LE, R_NE, R_COLON, R_IN };

struct node {
    unsigned char kind, sub, flags, op; /* op: relation before this operand */
    int a, b;          /* children (-1: none); containers: a = first */
    int next;          /* next sibling in a container */
    int n;             /* containers: count; matrix: columns; K_PM: index */
    double v;          /* K_NUM */
    int s, len;        /* K_VAR, K_TEXT: name in m->names */
};

struct mathans {
    struct mathans_opts o;
    struct node nodes[MAX_NODES];
    int nnodes;
    struct sbuf names;  /* variable names and normalized words */
    struct sbuf ebuf;   /* extracted answer */
    struct sbuf rbuf;   /* reference proper */
    struct sbuf tbuf;   /* scratch (text canonical forms) */
    struct sbuf ubuf;
    struct sbuf abuf;   /* the answer part of a completion */
    int dcomma;         /* the next parse may read a decimal comma */
};

/* ---- Options and names ---- */

static const char *const method_names[MATHANS_M_COUNT] = {
    "none", "boxed", "final", "answer", "hash", "number", "latex", "last",
    "letter",
};

static const char *const reason_names[] = {
    "correct", "wrong", "no_answer", "unparsed_answer", "unparsed_reference",
};

void
mathans_opts_init(struct mathans_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->order[0] = MATHANS_M_BOXED;
    o->order[1] = MATHANS_M_FINAL;
    o->order[2] = MATHANS_M_ANSWER;
    o->order[3] = MATHANS_M_HASH;
    o->order[4] = MATHANS_M_LAST;
    o->order[5] = MATHANS_M_NONE;
    o->places = 6;
    o->rtol = 1e-6;
    o->npoints = 5;
    o->percent = MATHANS_PCT_VALUE;
}

int
mathans_parse_order(struct mathans_opts *o, const char *list)
{
    enum mathans_method ord[MATHANS_M_COUNT];
    int n = 0, seen = 0, i;
    const char *p = list, *q;

    while (*p) {
        size_t len;
        int found = -1;

        q = strchr(p, ',');
        len = q ? (size_t)(q - p) : strlen(p);
        for (i = 1; i < MATHANS_M_COUNT; i++)
            if (strlen(method_names[i]) == len
                && !memcmp(method_names[i], p, len))
                found = i;
        if (found < 0 || (seen & (1 << found)))
            return -1;
        seen |= 1 << found;
        ord[n++] = (enum mathans_method)found;
        if (!q)
            break;
        p = q + 1;
    }
    if (n == 0)
        return -1;
    for (i = 0; i < n; i++)
        o->order[i] = ord[i];
    o->order[n] = MATHANS_M_NONE;
    return 0;
}

const char *
mathans_method_name(enum mathans_method m)
{
    return (unsigned)m < MATHANS_M_COUNT ? method_names[m] : "none";
}

const char *
mathans_reason_name(enum mathans_reason r)
{
    return (unsigned)r < ARRAY_LEN(reason_names) ? reason_names[r] : "wrong";
}

struct mathans *
mathans_new(const struct mathans_opts *o)
{
    struct mathans *m = xcalloc(1, sizeof(*m));

    m->o = *o;
    if (m->o.npoints < 1)
        m->o.npoints = 1;
    if (m->o.npoints > 64)
        m->o.npoints = 64;
    return m;
}

void
mathans_free(struct mathans *m)
{
    if (!m)
        return;
    sbuf_release(&m->names);
    sbuf_release(&m->ebuf);
    sbuf_release(&m->rbuf);
    sbuf_release(&m->tbuf);
    sbuf_release(&m->ubuf);
    sbuf_release(&m->abuf);
    free(m);
}

/* ---- Small string helpers ---- */

static int
is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}

static int
is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * The last occurrence of needle (lowercase) in [s, e), ignoring ASCII
 * case.  A needle that starts with a non-letter is found with memrchr.
 */
static const char *
last_ci(const char *s, const char *e, const char *needle)
{
    size_t n = strlen(needle), i;
    const char *p;
    int c0 = (unsigned char)needle[0];

    if ((size_t)(e - s) < n)
        return NULL;
    if (!(c0 >= 'a' && c0 <= 'z')) {
        const char *end = e - n + 1;

        while (end > s && (p = memrchr(s, c0, (size_t)(end - s))) != NULL) {
            for (i = 1; i < n; i++)
                if (lower((unsigned char)p[i]) != needle[i])
                    break;
            if (i == n)
                return p;
            end = p;
        }
        return NULL;
    }
    for (p = e - n;; p--) {
        if (lower((unsigned char)*p) == c0) {
            for (i = 1; i < n; i++)
                if (lower((unsigned char)p[i]) != needle[i])
                    break;
            if (i == n)
                return p;
        }
        if (p == s)
            break;
    }
    return NULL;
}

/* ---- Extraction ---- */

/* Trims spaces, surrounding $ / \( \) / \[ \], trailing periods. */
static void
trim_answer(const char **ps, const char **pe)
{
    const char *s = *ps, *e = *pe;
    int changed = 1;

    while (changed) {
        changed = 0;
        while (s < e && is_space((unsigned char)*s))
            s++;
        while (e > s && (is_space((unsigned char)e[-1]) || e[-1] == '.'))
            e--;
        if (e - s >= 2 && *s == '$' && e[-1] == '$') {
            s++, e--, changed = 1;
        } else if (e - s >= 4 && s[0] == '\\' && (s[1] == '(' || s[1] == '[')
                   && e[-2] == '\\' && (e[-1] == ')' || e[-1] == ']')) {
            s += 2, e -= 2, changed = 1;
        } else if (e - s >= 1 && *s == '$'
                   && memchr(s + 1, '$', (size_t)(e - s - 1)) == NULL) {
            s++, changed = 1;   /* a lone opening $ */
        } else if (e - s >= 1 && e[-1] == '$'
                   && memchr(s, '$', (size_t)(e - s - 1)) == NULL) {
            e--, changed = 1;
        }
    }
    *ps = s;
    *pe = e;
}

/*
 * Matches the brace group starting at p (*p == '{'), skipping \{ and \}.
 * Returns the position of the closing brace, or NULL if unbalanced.
 */
static const char *
match_brace(const char *p, const char *e)
{
    int depth = 0;

    for (; p < e; p++) {
        if (*p == '\\' && p + 1 < e) {
            p++;
            continue;
        }
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            return p;
    }
    return NULL;
}

/*
 * The last complete \boxed{...} or \fbox{...} in [s, e) (also "\boxed
 * 5"): its content [*os, *oe), where its command starts (*cmd) and where
 * it ends (*end).  0 if none.
 */
static int
last_box(const char *s, const char *e, const char **os, const char **oe,
         const char **cmd, const char **end)
{
    const char *p = e;

    while (p > s) {
        const char *b = last_ci(s, p, "\\boxed"), *f = last_ci(s, p, "\\fbox");
        const char *q, *c;

        if (!b && !f)
            return 0;
        q = (b && (!f || b > f)) ? b : f;
        p = q;
        *cmd = q;
        q += (q == b) ? 6 : 5;
        if (q < e && is_alpha((unsigned char)*q))
            continue;   /* \boxedx is another command */
        while (q < e && is_space((unsigned char)*q))
            q++;
        if (q < e && *q == '{') {
            c = match_brace(q, e);
            if (!c)
                continue;
            *os = q + 1;
            *oe = c;
            *end = c + 1;
            return 1;
        }
        if (q < e && *q != '$' && *q != '\\') {
            c = q;
            while (c < e && !is_space((unsigned char)*c) && *c != '$')
                c++;
            *os = q;
            *oe = c;
            *end = c;
            return 1;
        }
    }
    return 0;
}

/* A candidate answer: up to MAX_PARTS spans, read as one list. */
#define MAX_PARTS 8

struct cand {
    int n;
    const char *ps[MAX_PARTS], *pe[MAX_PARTS];
    const char *end;            /* where the match ends */
    enum mathans_method m;
    unsigned pct;               /* bit i: part i has a percent sign after */
};

static int word_at(const char *s, const char *p, const char *e, const char *w);

static void
cand_one(struct cand *c, const char *s, const char *e, const char *end,
         enum mathans_method m)
{
    c->n = 1;
    c->ps[0] = s;
    c->pe[0] = e;
    c->end = end;
    c->m = m;
    c->pct = 0;
}

/* A percent sign or word after an answer ("$28$ %", "\boxed{28}
   percent"): where it ends, or NULL. */
static const char *
pct_after(const char *s, const char *p, const char *e)
{
    while (p < e && *p == ' ')
        p++;
    if (p < e && *p == '%')
        return p + 1;
    if (e - p >= 2 && p[0] == '\\' && p[1] == '%')
        return p + 2;
    if (word_at(s, p, e, "percentage"))
        return p + 10;
    if (word_at(s, p, e, "percent"))
        return p + 7;
    if (word_at(s, p, e, "pct"))
        return p + 3;
    return NULL;
}

/* Is the word w (lowercase ASCII) at p, not inside a longer word? */
static int
word_at(const char *s, const char *p, const char *e, const char *w)
{
    size_t n = strlen(w), i;

    if ((size_t)(e - p) < n || (p > s && is_alpha((unsigned char)p[-1])))
        return 0;
    for (i = 0; i < n; i++)
        if (lower((unsigned char)p[i]) != w[i])
            return 0;
    return !(p + n < e && is_alpha((unsigned char)p[n]));
}

/*
 * Does [p, e) hold only what separates answers: spaces, punctuation,
 * "and", "or", \quad, $ and \( \) delimiters, \text{ and }, and labels
 * such as "x_2 ="?  Then boxes around it are one list of answers.
 */
static int
only_separators(const char *p, const char *e, int depth)
{
    const char *s = p;

    if (depth > 4)
        return 0;
    while (p < e) {
        unsigned char c = (unsigned char)*p;

        if (is_space(c) || c == ',' || c == ';' || c == '.' || c == '$'
            || c == '&' || c == '~') {
            p++;
        } else if (c == '\\') {
            const char *q = p + 1, *w;

            if (q < e && strchr("()[],;!:\\", *q)) {
                p += 2;
                continue;
            }
            while (q < e && is_alpha((unsigned char)*q))
                q++;
            w = p + 1;
            if ((q - w == 4 && !memcmp(w, "quad", 4))
                || (q - w == 5 && !memcmp(w, "qquad", 5))
                || (q - w == 4 && !memcmp(w, "left", 4))
                || (q - w == 5 && !memcmp(w, "right", 5))) {
                p = q;
            } else if ((q - w == 4 && !memcmp(w, "text", 4))
                       || (q - w == 4 && !memcmp(w, "mbox", 4))
                       || (q - w == 6 && !memcmp(w, "textrm", 6))) {
                const char *cb;

                while (q < e && is_space((unsigned char)*q))
                    q++;
                if (!(q < e && *q == '{') || !(cb = match_brace(q, e))
                    || !only_separators(q + 1, cb, depth + 1))
                    return 0;
                p = cb + 1;
            } else {
                return 0;
            }
        } else if (word_at(s, p, e, "and")) {
            p += 3;
        } else if (word_at(s, p, e, "or")) {
            p += 2;
        } else if (is_alpha(c) && !(p > s && is_alpha((unsigned char)p[-1]))) {
            /* a label: x =, y_2 =, x_{1} = */
            const char *q = p + 1;

            if (q < e && *q == '_') {
                q++;
                if (q < e && *q == '{') {
                    const char *cb = match_brace(q, e);

                    if (!cb)
                        return 0;
                    q = cb + 1;
                } else if (q < e && isalnum((unsigned char)*q)) {
                    q++;
                }
            }
            while (q < e && is_space((unsigned char)*q))
                q++;
            if (!(q < e && *q == '='))
                return 0;
            p = q + 1;
        } else {
            return 0;
        }
    }
    return 1;
}

/*
 * The last \boxed{} group: the last box and the boxes before it with
 * only separators between them ("\boxed{1}, \boxed{2} and \boxed{3}").
 */
static int
boxed_group(const char *s, const char *e, struct cand *c)
{
    const char *bs, *be, *cmd, *end, *p;
    int n = 0, i;

    unsigned pct = 0;

    if (!last_box(s, e, &bs, &be, &cmd, &end))
        return 0;
    c->end = end;
    c->m = MATHANS_M_BOXED;
    c->ps[n] = bs;
    c->pe[n++] = be;
    if (pct_after(s, end < e && *end == '$' ? end + 1 : end, e))
        pct = 1;
    p = cmd;
    while (n < MAX_PARTS) {
        const char *cmd2, *end2;

        if (!last_box(s, p, &bs, &be, &cmd2, &end2)
            || !only_separators(end2, p, 0))
            break;
        /* the same answer boxed twice is one answer */
        if (!(be - bs == c->pe[n - 1] - c->ps[n - 1]
              && !memcmp(bs, c->ps[n - 1], (size_t)(be - bs)))) {
            c->ps[n] = bs;
            c->pe[n++] = be;
            if (pct_after(s, end2, p))
                pct |= 1u << (n - 1);
        }
        p = cmd2;
    }
    c->pct = 0;
    for (i = 0; i < n; i++)
        if (pct & (1u << i))
            c->pct |= 1u << (n - 1 - i);
    for (i = 0; i < n / 2; i++) {
        const char *t = c->ps[i];

        c->ps[i] = c->ps[n - 1 - i];
        c->ps[n - 1 - i] = t;
        t = c->pe[i];
        c->pe[i] = c->pe[n - 1 - i];
        c->pe[n - 1 - i] = t;
    }
    c->n = n;
    return 1;
}

/*
 * A math environment starting at p: $$...$$ and \[...\] (may span
 * lines), $...$ and \(...\) (one line), not empty.  Sets its content
 * [*cs, *ce) and where it ends.  A $ after a digit or a backslash opens
 * nothing.
 */
static int
env_at(const char *s, const char *p, const char *e, const char **cs,
       const char **ce, const char **pe)
{
    const char *q;

    if (p > s && p[-1] == '\\')
        return 0;
    if (e - p >= 2 && p[0] == '$' && p[1] == '$') {
        for (q = p + 2; q + 1 < e; q++)
            if (q[0] == '$' && q[1] == '$' && q[-1] != '\\')
                break;
        if (q + 1 >= e || q == p + 2)
            return 0;
        *cs = p + 2;
        *ce = q;
        *pe = q + 2;
        return 1;
    }
    if (e - p >= 2 && p[0] == '\\' && (p[1] == '[' || p[1] == '(')) {
        char close = p[1] == '[' ? ']' : ')';

        for (q = p + 2; q + 1 < e; q++) {
            if (close == ')' && *q == '\n')
                return 0;
            if (q[0] == '\\' && q[1] == close)
                break;
        }
        if (q + 1 >= e || q == p + 2)
            return 0;
        *cs = p + 2;
        *ce = q;
        *pe = q + 2;
        return 1;
    }
    if (*p == '$') {
        if (p > s && is_digit((unsigned char)p[-1]))
            return 0;
        for (q = p + 1; q < e && *q != '\n'; q++)
            if (*q == '$' && q[-1] != '\\')
                break;
        if (q >= e || *q != '$' || q == p + 1)
            return 0;
        *cs = p + 1;
        *ce = q;
        *pe = q + 1;
        return 1;
    }
    return 0;
}

/* After an answer, a joining ", ", " and ", ", or ": where the next starts. */
static const char *
join_sep(const char *s, const char *p, const char *e)
{
    const char *q = p;
    int comma = 0;

    while (q < e && is_space((unsigned char)*q))
        q++;
    if (q < e && *q == ',') {
        q++;
        comma = 1;
    }
    while (q < e && is_space((unsigned char)*q))
        q++;
    if (word_at(s, q, e, "and"))
        q += 3;
    else if (word_at(s, q, e, "or"))
        q += 2;
    else if (!comma)
        return NULL;
    while (q < e && is_space((unsigned char)*q))
        q++;
    return q;
}

/* Environments joined by separators, from the one at p. */
static int
env_group_at(const char *s, const char *p, const char *e, struct cand *c)
{
    const char *cs, *ce, *pe;

    const char *q;

    if (!env_at(s, p, e, &cs, &ce, &pe))
        return 0;
    cand_one(c, cs, ce, pe, MATHANS_M_LATEX);
    for (;;) {
        if ((q = pct_after(s, pe, e)) != NULL) {
            c->pct |= 1u << (c->n - 1);
            c->end = pe = q;
        }
        if (c->n >= MAX_PARTS || !(q = join_sep(s, pe, e))
            || !env_at(s, q, e, &cs, &ce, &pe))
            break;
        c->ps[c->n] = cs;
        c->pe[c->n++] = ce;
        c->end = pe;
    }
    return 1;
}

/* Bytes of a currency sign at p ($ \$ € £ ¥ ₹), or 0. */
static int
currency_len(const char *p, const char *e)
{
    const unsigned char *u = (const unsigned char *)p;

    if (p < e && *p == '$')
        return 1;
    if (e - p >= 2 && p[0] == '\\' && p[1] == '$')
        return 2;
    if (e - p >= 2 && u[0] == 0xc2 && (u[1] == 0xa3 || u[1] == 0xa5))
        return 2;
    if (e - p >= 3 && u[0] == 0xe2 && u[1] == 0x82
        && (u[2] == 0xac || u[2] == 0xb9))
        return 3;
    return 0;
}

/* May a number start after p[-1]?  Not inside a word: "XDY2K" has none. */
static int
num_prefix_ok(const char *s, const char *p)
{
    return p == s || is_space((unsigned char)p[-1]) || p[-1] == '='
           || p[-1] == '*' || p[-1] == ':';
}

/* Characters of an arithmetic expression: digits . + - * / ^ ( ) × ÷. */
static int
expr_char(const char *p, const char *e, int *len)
{
    const unsigned char *u = (const unsigned char *)p;

    *len = 1;
    if (is_digit(*u) || strchr(".+-*/^() ", *u))
        return *u != 0;
    if (e - p >= 2 && u[0] == 0xc3 && (u[1] == 0x97 || u[1] == 0xb7)) {
        *len = 2;
        return 1;
    }
    return 0;
}

/*
 * A number or arithmetic expression starting at p (a valid start: not
 * inside a word): "1,000.99", "1 234", "$5", "-3", ".5", "25%", "25
 * percent", "3/4", "(9+1)".  Sets c (method number).
 */
static int
number_at(const char *s, const char *p, const char *e, struct cand *c)
{
    const char *q = p, *t, *x, *last;
    int cur, len, depth = 0, op = 0;

    if (!num_prefix_ok(s, p))
        return 0;
    cur = currency_len(q, e);
    q += cur;
    t = q;
    if (t < e && *t == '-')
        t++;
    if (t < e && *t == '(' && !cur)
        t = q;      /* an expression such as (9+1) */
    else if (!(t < e
               && (is_digit((unsigned char)*t)
                   || (*t == '.' && t + 1 < e && is_digit((unsigned char)t[1])))))
        return 0;
    /* the number: digits and separators between digits */
    while (t < e) {
        if (is_digit((unsigned char)*t)) {
            t++;
        } else if ((*t == ',' || *t == '.') && t + 1 < e
                   && is_digit((unsigned char)t[1])) {
            t++;
        } else if (*t == ' ' && t > q && is_digit((unsigned char)t[-1])
                   && e - t >= 4 && is_digit((unsigned char)t[1])
                   && is_digit((unsigned char)t[2])
                   && is_digit((unsigned char)t[3])
                   && !(e - t >= 5 && is_digit((unsigned char)t[4]))) {
            t += 4;
        } else if (e - t >= 4 && !memcmp(t, "{,}", 3)
                   && is_digit((unsigned char)t[3])) {
            t += 3;
        } else {
            break;
        }
    }
    /* an arithmetic expression around it: 3/4, 2 \times 3 is not one */
    last = t;
    for (x = t; x < e && expr_char(x, e, &len); x += len) {
        if (*x == '(')
            depth++;
        else if (*x == ')' && --depth < 0)
            break;
        if (is_digit((unsigned char)*x) || *x == ')') {
            if (depth == 0)
                last = x + 1;
        } else if (*x != ' ' && *x != '.' && *x != '(') {
            op = 1;
        }
    }
    if (op && last > t)
        t = last;
    else if (q < e && *q == '(')
        return 0;
    /* a percent sign or word after it */
    x = t;
    while (x < e && *x == ' ')
        x++;
    if (x < e && *x == '%')
        t = x + 1;
    else if (e - x >= 2 && x[0] == '\\' && x[1] == '%')
        t = x + 2;
    else if (word_at(s, x, e, "percent"))
        t = x + 7;
    else if (word_at(s, x, e, "pct"))
        t = x + 3;
    cand_one(c, p + cur, t, t, MATHANS_M_NUMBER);
    return 1;
}

/* A bare fraction of plain numbers outside math: "\frac{10}{9}". */
static int
bare_frac(const char *s, const char *p, const char *e, struct cand *c)
{
    const char *q = p + 1, *r;
    int k;

    if (e - p > 6 && !memcmp(q, "dfrac", 5))
        q += 5;
    else if (e - p > 5 && !memcmp(q, "frac", 4))
        q += 4;
    else
        return 0;
    for (k = 0; k < 2; k++) {
        if (!(q < e && *q == '{'))
            return 0;
        r = ++q;
        if (q < e && *q == '-')
            q++;
        while (q < e && (is_digit((unsigned char)*q) || *q == '.' || *q == ','))
            q++;
        if (q == r || !(q < e && *q == '}'))
            return 0;
        q++;
    }
    cand_one(c, p > s && p[-1] == '-' ? p - 1 : p, q, q, MATHANS_M_LATEX);
    return 1;
}

/*
 * The last math environment group and the last number of [s, e), one
 * pass; want: bit 1 environments, bit 2 numbers.  The one that ends last
 * is taken.
 */
static int
find_last(const char *s, const char *e, int want, struct cand *c)
{
    struct cand x;
    const char *p = s;
    int found = 0;

    while (p < e) {
        unsigned char ch = (unsigned char)*p;

        if ((want & 1) && (ch == '$' || ch == '\\')
            && env_group_at(s, p, e, &x)) {
            *c = x;
            found = 1;
            p = x.end;
            continue;
        }
        if ((want & 1) && ch == '\\' && bare_frac(s, p, e, &x)) {
            if (!found || x.end > c->end) {
                *c = x;
                found = 1;
            }
            p = x.end;
            continue;
        }
        if ((want & 2)
            && (is_digit(ch) || ch == '-' || ch == '.' || ch == '(' || ch == '$'
                || ch == '\\' || ch >= 0xc2)
            && number_at(s, p, e, &x)) {
            if (!found || x.end > c->end) {
                *c = x;
                found = 1;
            }
            p = x.end > p ? x.end : p + 1;
            continue;
        }
        p++;
    }
    return found;
}

/*
 * The first answer (environment group or number) starting within
 * window bytes of p, past spaces and ** marks.  An expression followed
 * by "=" gives way to what follows the "=": "answer is 2+3 = 5".
 */
static int
take_x(const char *s, const char *p, const char *e, int window,
       struct cand *c)
{
    const char *q, *lim;
    int hops = 0;

again:
    while (p < e && (is_space((unsigned char)*p) || *p == '*'))
        p++;
    lim = p + window < e ? p + window : e;
    for (q = p; q <= lim && q < e; q++) {
        if ((*q == '$' || *q == '\\') && env_group_at(s, q, e, c))
            return 1;
        if (number_at(s, q, e, c)) {
            const char *r = c->end;

            while (r < e && *r == ' ')
                r++;
            if (r < e && *r == '=' && hops++ < 8) {
                p = r + 1;
                window = 0;
                goto again;
            }
            return 1;
        }
    }
    return 0;
}

/*
 * The answer after a marker at p when it is not math: a $...$ segment if
 * one starts there, else text up to the end of the line or sentence.
 */
static void
after_marker(const char *p, const char *e, const char **os, const char **oe)
{
    const char *q;

    while (p < e && (is_space((unsigned char)*p) || *p == ':' || *p == '*'))
        p++;
    for (q = p; q < e && *q != '\n'; q++)
        if (*q == '.' && (q + 1 == e || is_space((unsigned char)q[1]))
            && !(q > p && is_digit((unsigned char)q[-1]) && q + 1 < e
                 && is_digit((unsigned char)q[1])))
            break;
    *os = p;
    *oe = q;
}

/* Minerva's "final answer is X. I hope it is correct." */
static int
find_minerva(const char *s, const char *e, struct cand *c)
{
    const char *p = e;

    while ((p = last_ci(s, p, "final answer is")) != NULL) {
        const char *q = p + 15;

        if (q < e && *q == ':')
            q++;
        if (take_x(s, q, e, 0, c)) {
            const char *r = c->end;

            if (r < e && *r == '.')
                r++;
            if (r < e && is_space((unsigned char)*r))
                r++;
            if (e - r >= 6 && !memcmp(r, "I hope", 6)) {
                c->end = r + 6;
                c->m = MATHANS_M_FINAL;
                return 1;
            }
        }
        if (p == s)
            break;
    }
    return 0;
}

/*
 * "final answer ... is X" (the "is" within 100 bytes), "final answer:
 * X"; with text: the words after "is" or ":" when no math follows.
 */
static int
find_final(const char *s, const char *e, int text, struct cand *c)
{
    const char *p = e;

    while ((p = last_ci(s, p, "final answer")) != NULL) {
        const char *q = p + 12, *r, *lim = q + 100 < e ? q + 100 : e;

        while (q < e && (*q == ' ' || *q == '*'))
            q++;
        if (q < e && *q == ':') {
            if (take_x(s, q + 1, e, 0, c)) {
                c->m = MATHANS_M_FINAL;
                return 1;
            }
        }
        for (r = p + 12; r < lim; r++) {
            if (is_space((unsigned char)*r) && word_at(s, r + 1, e, "is")) {
                const char *x = r + 3;

                if (x < e && *x == ':')
                    x++;
                if (take_x(s, x, e, 0, c)) {
                    c->m = MATHANS_M_FINAL;
                    return 1;
                }
                break;
            }
        }
        if (text) {
            const char *os, *oe;

            q = p + 12;
            while (q < e && (is_space((unsigned char)*q) || *q == '*'))
                q++;
            if (word_at(s, q, e, "is"))
                q += 2;
            else
                goto next;
            after_marker(q, e, &os, &oe);
            trim_answer(&os, &oe);
            if (oe > os) {
                cand_one(c, os, oe, oe, MATHANS_M_FINAL);
                return 1;
            }
        }
    next:
        if (p == s)
            break;
    }
    return 0;
}

/* Words for "answer" in other languages, as lighteval's templates have
   them (ASCII letters in lowercase; capitals of other scripts listed). */
static const char *const answer_words[] = {
    "answer", "antwoord", "antwort", "cevap", "erantzuna", "javob",
    "jawaban", "jibu", "odgovor", "odpove\xc4\x8f", "odpov\xc4\x9b\xc4\x8f",
    "odpowied\xc5\xba", "resposta", "respuesta", "risposta",
    "r\xc3\xa9ponse", "r\xc4\x83spuns", "sagot", "svar", "tr\xe1\xba\xa3 l\xe1\xbb\x9di",
    "tubag", "vastaus", "vastus", "v\xc3\xa1lasz",
    "\xce\xb1\xcf\x80\xce\xac\xce\xbd\xcf\x84\xce\xb7\xcf\x83\xce\xb7",
    "\xce\x91\xcf\x80\xce\xac\xce\xbd\xcf\x84\xce\xb7\xcf\x83\xce\xb7",
    "\xd0\xb0\xd0\xb4\xd0\xba\xd0\xb0\xd0\xb7",
    "\xd0\x90\xd0\xb4\xd0\xba\xd0\xb0\xd0\xb7",
    "\xd0\xb2\xd1\x96\xd0\xb4\xd0\xbf\xd0\xbe\xd0\xb2\xd1\x96\xd0\xb4\xd1\x8c",
    "\xd0\x92\xd1\x96\xd0\xb4\xd0\xbf\xd0\xbe\xd0\xb2\xd1\x96\xd0\xb4\xd1\x8c",
    "\xd0\xbe\xd0\xb4\xd0\xb3\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x80",
    "\xd0\x9e\xd0\xb4\xd0\xb3\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x80",
    "\xd0\xbe\xd1\x82\xd0\xb2\xd0\xb5\xd1\x82",
    "\xd0\x9e\xd1\x82\xd0\xb2\xd0\xb5\xd1\x82",
    "\xd0\xbe\xd1\x82\xd0\xb3\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x80",
    "\xd0\x9e\xd1\x82\xd0\xb3\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x80",
    "\xd2\x97\xd0\xb0\xd0\xb2\xd0\xb0\xd0\xbf",
    "\xd8\xa5\xd8\xac\xd8\xa7\xd8\xa8\xd8\xa9", "\xd8\xac\xd9\x88\xd8\xa7\xd8\xa8",
    "\xe0\xa4\x89\xe0\xa4\xa4\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa4\xb0",
    "\xe0\xa6\x89\xe0\xa6\xa4\xe0\xa7\x8d\xe0\xa6\xa4\xe0\xa6\xb0",
    "\xe0\xa8\x9c\xe0\xa8\xb5\xe0\xa8\xbe\xe0\xa8\xac",
    "\xe0\xaa\x9c\xe0\xaa\xb5\xe0\xaa\xbe\xe0\xaa\xac",
    "\xe0\xae\xaa\xe0\xae\xa4\xe0\xae\xbf\xe0\xae\xb2\xe0\xaf\x8d",
    "\xe0\xb0\x9c\xe0\xb0\xb5\xe0\xb0\xbe\xe0\xb0\xac\xe0\xb1\x81",
    "\xe0\xb8\x84\xe0\xb8\xb3\xe0\xb8\x95\xe0\xb8\xad\xe0\xb8\x9a",
    "\xe5\x9b\x9e\xe7\xad\x94", "\xe7\xad\x94\xe6\xa1\x88",
};

/* ':' or the full-width '：' at p: its length, or 0. */
static int
colon_at(const char *p, const char *e)
{
    if (p < e && *p == ':')
        return 1;
    if (e - p >= 3 && (unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbc
        && (unsigned char)p[2] == 0x9a)
        return 3;
    return 0;
}

/*
 * A multiple-choice letter A-Z at p, as a word: "C", "(C)", "**C**",
 * followed by . , : ) a space or the end.  Sets [*ls, *le).
 */
static int
letter_at(const char *s, const char *p, const char *e, const char **ls,
          const char **le)
{
    const char *q = p;

    if (!(p == s || is_space((unsigned char)p[-1]) || p[-1] == '*'
          || p[-1] == '(' || p[-1] == ':' || p[-1] == '$'
          || (unsigned char)p[-1] >= 0x80))
        return 0;
    if (!(q < e && *q >= 'A' && *q <= 'Z'))
        return 0;
    if (q > s && q[-1] == '(' && !(q + 1 < e && q[1] == ')'))
        return 0;
    q++;
    if (q < e && *q == ')')
        q++;
    while (q < e && *q == '*')
        q++;
    if (!(q == e || is_space((unsigned char)*q) || *q == '.' || *q == ','
          || *q == ':' || *q == ')' || *q == '$'))
        return 0;
    *ls = p;
    *le = p + 1;
    return 1;
}

/* The first letter within window bytes of p. */
static int
take_letter(const char *s, const char *p, const char *e, int window,
            struct cand *c)
{
    const char *q, *lim, *ls, *le;

    while (p < e && (is_space((unsigned char)*p) || *p == '*' || *p == '('))
        p++;
    lim = p + window < e ? p + window : e;
    for (q = p; q <= lim && q < e; q++)
        if (letter_at(s, q, e, &ls, &le)) {
            cand_one(c, ls, le, le, MATHANS_M_LETTER);
            return 1;
        }
    return 0;
}

/*
 * "answer: X" (colon) or "answer ... X" (the last such): X math within
 * 50 bytes, or a letter in letter mode (any of answer_words then); with
 * text, the words after "answer:" or "answer is" when no math follows.
 */
static int
find_answer(const char *s, const char *e, int colon, int letter, int text,
            struct cand *c)
{
    size_t w, nw = letter ? ARRAY_LEN(answer_words) : 1;
    int found = 0;
    struct cand x;

    for (w = 0; w < nw; w++) {
        const char *p = e, *word = answer_words[w];
        size_t wl = strlen(word);

        while ((p = last_ci(s, p, word)) != NULL) {
            const char *q = p + wl;
            int ok, k;

            if (found && q <= c->end)
                break;      /* an earlier answer of another word wins */
            while (q < e && (*q == ' ' || *q == '*'))
                q++;
            k = colon_at(q, e);
            if (colon && !k)
                goto next;
            if (k)
                q += k;
            else
                q = p + wl;
            ok = letter ? take_letter(s, q, e, 50, &x)
                        : take_x(s, q, e, 50, &x);
            if (!ok && text && !letter
                && (k || (q < e && is_space((unsigned char)*q)
                          && word_at(s, q + 1, e, "is")))) {
                const char *os, *oe;

                after_marker(k ? q : q + 3, e, &os, &oe);
                trim_answer(&os, &oe);
                if (oe > os) {
                    cand_one(&x, os, oe, oe, MATHANS_M_ANSWER);
                    ok = 1;
                }
            }
            if (ok) {
                x.m = letter ? MATHANS_M_LETTER : MATHANS_M_ANSWER;
                if (!found || x.end > c->end)
                    *c = x;
                found = 1;
                break;
            }
        next:
            if (p == s)
                break;
        }
    }
    return found;
}

/* "#### X" to the end of the line. */
static int
find_hash(const char *s, const char *e, struct cand *c)
{
    const char *p = last_ci(s, e, "####"), *q, *os, *oe;

    if (!p)
        return 0;
    p += 4;
    for (q = p; q < e && *q != '\n'; q++)
        ;
    os = p;
    oe = q;
    trim_answer(&os, &oe);
    if (oe <= os)
        return 0;
    cand_one(c, os, oe, q, MATHANS_M_HASH);
    return 1;
}

/* Multiple-choice letters by Math-Verify's priorities for strings. */
static int
find_letter(const char *s, const char *e, struct cand *c)
{
    const char *p, *ls, *le;

    p = e;
    while ((p = last_ci(s, p, "final answer is")) != NULL) {
        if (take_letter(s, p + 15, e, 0, c))
            return 1;
        if (p == s)
            break;
    }
    if (find_answer(s, e, 1, 1, 0, c) || find_answer(s, e, 0, 1, 0, c))
        return 1;
    /* at the start: "C. because ..." */
    p = s;
    while (p < e && (is_space((unsigned char)*p) || *p == '*' || *p == '('))
        p++;
    if (letter_at(s, p, e, &ls, &le)) {
        cand_one(c, ls, le, le, MATHANS_M_LETTER);
        return 1;
    }
    /* the last letter standing alone */
    for (p = e; p > s; p--)
        if (letter_at(s, p - 1, e, &ls, &le)) {
            cand_one(c, ls, le, le, MATHANS_M_LETTER);
            return 1;
        }
    return 0;
}

/* Finds the candidate of one method in [s, e). */
static int
find_method(enum mathans_method meth, const char *s, const char *e,
            struct cand *c)
{
    struct cand x;

    switch (meth) {
    case MATHANS_M_BOXED: {
        int b = boxed_group(s, e, c);

        if (find_minerva(s, e, &x) && (!b || x.end > c->end)) {
            *c = x;
            b = 1;
        }
        return b;
    }
    case MATHANS_M_FINAL: return find_final(s, e, 1, c);
    case MATHANS_M_ANSWER:
        return find_answer(s, e, 1, 0, 1, c) || find_answer(s, e, 0, 0, 1, c);
    case MATHANS_M_HASH: return find_hash(s, e, c);
    case MATHANS_M_NUMBER: return find_last(s, e, 2, c);
    case MATHANS_M_LATEX: return find_last(s, e, 1, c);
    case MATHANS_M_LAST: return find_last(s, e, 3, c);
    case MATHANS_M_LETTER: return find_letter(s, e, c);
    default: return 0;
    }
}

/*
 * The text of a candidate into sb: its parts trimmed, a \boxed{} group
 * inside a part taken for the part, joined by ", ".  0 if empty.
 */
static int
cand_text(const struct cand *c, struct sbuf *sb)
{
    int i;

    sbuf_reset(sb);
    for (i = 0; i < c->n; i++) {
        const char *os = c->ps[i], *oe = c->pe[i];
        struct cand b;

        trim_answer(&os, &oe);
        if (c->m != MATHANS_M_BOXED && boxed_group(os, oe, &b)) {
            int j;

            for (j = 0; j < b.n; j++) {
                const char *bs = b.ps[j], *be = b.pe[j];

                trim_answer(&bs, &be);
                if (be <= bs)
                    continue;
                if (sb->len)
                    sbuf_adds(sb, ", ");
                sbuf_add(sb, bs, (size_t)(be - bs));
                if ((b.pct & (1u << j))
                    || (j == b.n - 1 && (c->pct & (1u << i))))
                    sbuf_adds(sb, "\\%");
            }
            continue;
        }
        if (oe <= os)
            continue;
        if (sb->len)
            sbuf_adds(sb, ", ");
        sbuf_add(sb, os, (size_t)(oe - os));
        if (c->pct & (1u << i))
            sbuf_adds(sb, "\\%");
    }
    sbuf_str(sb);
    return sb->len > 0;
}

/* Does the reference name a single multiple-choice letter? */
static int
is_letter_ref(const char *r)
{
    const char *s = r, *e = r + strlen(r);

    if (e - s >= 6 && !memcmp(s, "\\text{", 6) && e[-1] == '}')
        s += 6, e--;
    while (s < e && is_space((unsigned char)*s))
        s++;
    while (e > s && (is_space((unsigned char)e[-1]) || e[-1] == '.'))
        e--;
    if (e - s == 3 && s[0] == '(' && e[-1] == ')')
        s++, e--;
    return e - s == 1 && *s >= 'A' && *s <= 'Z';
}

static int parse_fresh(struct mathans *m, const char *s, size_t n);

/*
 * Extraction from [s, e) by the methods of order: the first candidate
 * that parses, else the first found (it is then unparsed).
 */
static enum mathans_method
extract_range(struct mathans *m, const char *s, const char *e,
              const enum mathans_method *order, const char **out)
{
    enum mathans_method first = MATHANS_M_NONE;
    int i;

    /*
     * A last \boxed{ that never closes (a completion cut off by the token
     * limit) ends the text: the fallbacks must not pick its pieces, such
     * as the 7 of "\boxed{\frac{7}".
     */
    {
        const char *b = last_ci(s, e, "\\boxed"), *f = last_ci(s, e, "\\fbox"),
                   *q;

        q = (b && (!f || b > f)) ? b : f;
        if (q) {
            const char *c = q + (q == b ? 6 : 5);

            while (c < e && is_space((unsigned char)*c))
                c++;
            if (c < e && *c == '{' && !match_brace(c, e))
                e = q;
        }
    }
    *out = NULL;
    for (i = 0; i < MATHANS_M_COUNT && order[i] != MATHANS_M_NONE; i++) {
        struct cand c;

        int ok;

        if (!find_method(order[i], s, e, &c) || !cand_text(&c, &m->tbuf))
            continue;
        m->dcomma = c.m == MATHANS_M_NUMBER;
        ok = parse_fresh(m, m->tbuf.buf, m->tbuf.len) >= 0;
        m->dcomma = 0;
        if (ok) {
            sbuf_reset(&m->ebuf);
            sbuf_add(&m->ebuf, m->tbuf.buf, m->tbuf.len);
            *out = sbuf_str(&m->ebuf);
            return c.m;
        }
        if (first == MATHANS_M_NONE) {
            first = c.m;
            sbuf_reset(&m->ebuf);
            sbuf_add(&m->ebuf, m->tbuf.buf, m->tbuf.len);
        }
    }
    if (first != MATHANS_M_NONE)
        *out = sbuf_str(&m->ebuf);
    return first;
}

/* The searched part of a completion: outside the <think> block. */
static void
answer_part(struct mathans *m, const char *text, size_t len, const char **s,
            const char **e)
{
    struct think_block b;

    *s = text;
    *e = text + len;
    if (m->o.flags & MATHANS_SEARCH_THINK)
        return;
    think_parse(text, len, &b);
    if (b.status == THINK_NONE)
        return;
    sbuf_reset(&m->abuf);
    think_answer(text, len, &b, &m->abuf);
    sbuf_str(&m->abuf);
    *s = m->abuf.buf;
    *e = m->abuf.buf + m->abuf.len;
}

static enum mathans_method
extract_len(struct mathans *m, const char *text, size_t len,
            const enum mathans_method *order, const char **out)
{
    const char *s, *e;

    answer_part(m, text, len, &s, &e);
    return extract_range(m, s, e, order, out);
}

enum mathans_method
mathans_extract(struct mathans *m, const char *text, const char **out)
{
    return extract_len(m, text, strlen(text), m->o.order, out);
}

static const char *
reference_len(struct mathans *m, const char *answer, size_t len)
{
    const char *s = answer, *e = answer + len, *os = s, *oe = e;
    struct cand c;

    sbuf_reset(&m->rbuf);
    if (find_hash(s, e, &c) || boxed_group(s, e, &c)
        || find_method(MATHANS_M_BOXED, s, e, &c) || find_final(s, e, 0, &c)) {
        cand_text(&c, &m->rbuf);
        return sbuf_str(&m->rbuf);
    }
    trim_answer(&os, &oe);
    sbuf_add(&m->rbuf, os, (size_t)(oe - os));
    return sbuf_str(&m->rbuf);
}

const char *
mathans_reference(struct mathans *m, const char *answer)
{
    return reference_len(m, answer, strlen(answer));
}

/* ---- Lexer ---- */

enum tok {
    T_END, T_BAD, T_NUM, T_LETTER, T_WORD, T_TEXT, T_OP, T_LP, T_RP, T_LB, T_RB,
    T_LBR, T_RBR, T_LSET, T_RSET, T_LANG, T_RANG, T_BAR, T_COMMA, T_AMP,
    T_ROWSEP, T_PCT, T_DEG, T_CMD,
};

enum cmd {
    C_NONE, C_FRAC, C_SQRT, C_PI, C_INF, C_TIMES, C_DIV, C_PM, C_MP, C_CUP,
    C_LE, C_GE, C_NE, C_LT, C_GT, C_EQ, C_CIRC, C_FUNC, C_LOG, C_TEXT, C_WRAP,
    C_BEGIN, C_END, C_EMPTY, C_BINOM, C_DOTS, C_IGNORE, C_IGNARG, C_IN,
};

struct cmdent {
    const char *name;
    unsigned char cmd, sub;
};

static const struct cmdent cmds[] = {
    {"frac", C_FRAC, 0}, {"dfrac", C_FRAC, 0}, {"tfrac", C_FRAC, 0},
    {"cfrac", C_FRAC, 0}, {"sqrt", C_SQRT, 0}, {"pi", C_PI, 0},
    {"infty", C_INF, 0}, {"infin", C_INF, 0}, {"cdot", C_TIMES, 0},
    {"times", C_TIMES, 0}, {"ast", C_TIMES, 0}, {"div", C_DIV, 0},
    {"pm", C_PM, 0}, {"mp", C_MP, 0}, {"cup", C_CUP, 0},
    {"le", C_LE, 0}, {"leq", C_LE, 0}, {"leqslant", C_LE, 0},
    {"ge", C_GE, 0}, {"geq", C_GE, 0}, {"geqslant", C_GE, 0},
    {"ne", C_NE, 0}, {"neq", C_NE, 0}, {"lt", C_LT, 0}, {"gt", C_GT, 0},
    {"approx", C_EQ, 0}, {"in", C_IN, 0}, {"equiv", C_EQ, 0},
    {"circ", C_CIRC, 0}, {"degree", C_CIRC, 0},
    {"sin", C_FUNC, FN_SIN}, {"cos", C_FUNC, FN_COS}, {"tan", C_FUNC, FN_TAN},
    {"sec", C_FUNC, FN_SEC}, {"csc", C_FUNC, FN_CSC}, {"cot", C_FUNC, FN_COT},
    {"arcsin", C_FUNC, FN_ASIN}, {"arccos", C_FUNC, FN_ACOS},
    {"arctan", C_FUNC, FN_ATAN}, {"sinh", C_FUNC, FN_SINH},
    {"cosh", C_FUNC, FN_COSH}, {"tanh", C_FUNC, FN_TANH},
    {"exp", C_FUNC, FN_EXP}, {"ln", C_FUNC, FN_LN}, {"log", C_LOG, 0},
    {"text", C_TEXT, 0}, {"textrm", C_TEXT, 0}, {"mbox", C_TEXT, 0},
    {"textnormal", C_TEXT, 0}, {"textit", C_TEXT, 0}, {"textsf", C_TEXT, 0},
    {"texttt", C_TEXT, 0}, {"textup", C_TEXT, 0}, {"hbox", C_TEXT, 0},
    {"mathrm", C_WRAP, 0}, {"mathbf", C_WRAP, 0}, {"mathit", C_WRAP, 0},
    {"mathsf", C_WRAP, 0}, {"textbf", C_TEXT, 0}, {"boldsymbol", C_WRAP, 0},
    {"bm", C_WRAP, 0}, {"operatorname", C_WRAP, 0}, {"boxed", C_WRAP, 0},
    {"fbox", C_WRAP, 0}, {"overline", C_WRAP, 0}, {"mathbb", C_WRAP, 0},
    {"emph", C_WRAP, 0}, {"underline", C_WRAP, 0}, {"widehat", C_WRAP, 0},
    {"begin", C_BEGIN, 0}, {"end", C_END, 0},
    {"emptyset", C_EMPTY, 0}, {"varnothing", C_EMPTY, 0},
    {"binom", C_BINOM, 0}, {"dbinom", C_BINOM, 0}, {"tbinom", C_BINOM, 0},
    {"ldots", C_DOTS, 0}, {"cdots", C_DOTS, 0}, {"dots", C_DOTS, 0},
    {"left", C_IGNORE, 0}, {"right", C_IGNORE, 0}, {"big", C_IGNORE, 0},
    {"Big", C_IGNORE, 0}, {"bigg", C_IGNORE, 0}, {"Bigg", C_IGNORE, 0},
    {"bigl", C_IGNORE, 0}, {"bigr", C_IGNORE, 0}, {"Bigl", C_IGNORE, 0},
    {"Bigr", C_IGNORE, 0}, {"displaystyle", C_IGNORE, 0},
    {"textstyle", C_IGNORE, 0}, {"quad", C_IGNORE, 0}, {"qquad", C_IGNORE, 0},
    {"limits", C_IGNORE, 0}, {"nolimits", C_IGNORE, 0},
    {"hspace", C_IGNARG, 0}, {"vspace", C_IGNARG, 0}, {"phantom", C_IGNARG, 0},
    {"color", C_IGNARG, 0}, {"textcolor", C_IGNARG, 0},
};

struct tk {
    enum tok t;
    int c;               /* T_OP char; T_CMD cmd; T_LETTER letter */
    int sub;             /* T_CMD sub */
    size_t s, e;         /* span of the token; T_TEXT/T_WORD: content */
    size_t end;          /* where the next token starts */
    double v;            /* T_NUM */
    int isint;
};

struct parser {
    struct mathans *m;
    const char *s;
    size_t pos, end;
    int depth;
    int err;
    int top;            /* plain commas may be thousands separators */
    int one_comma;      /* the input has exactly one comma */
};

static int
lookup_cmd(const char *s, size_t n, int *sub)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(cmds); i++)
        if (strlen(cmds[i].name) == n && !memcmp(cmds[i].name, s, n)) {
            *sub = cmds[i].sub;
            return cmds[i].cmd;
        }
    return C_NONE;
}

/* Bare words that are functions or constants, with their command. */
static int
bare_word(const char *s, size_t n, int *sub)
{
    static const char *const ok[] = {
        "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos",
        "arctan", "sinh", "cosh", "tanh", "exp", "ln", "log", "sqrt", "pi",
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(ok); i++)
        if (strlen(ok[i]) == n && !memcmp(ok[i], s, n))
            return lookup_cmd(s, n, sub);
    if ((n == 3 && !memcmp(s, "inf", 3))
        || (n == 8 && !memcmp(s, "infinity", 8))) {
        *sub = 0;
        return C_INF;
    }
    return C_NONE;
}

/*
 * Reads a number at i: digits, thousands separators, a decimal part and
 * an exponent ("1.5e-3").  "{,}" and ",\\!" separate thousands anywhere;
 * a plain comma only at the top level (inside brackets "(1,234)" is a
 * pair), after a first group of 1 to 3 digits, and before exactly 3
 * digits ("7,9,12" is a list).
 */
static size_t
lex_number(struct parser *p, size_t i, struct tk *t)
{
    const char *s = p->s;
    size_t e = p->end, j, lead = 0;
    char buf[128];
    size_t n = 0;
    int real = 0;

    while (i < e && is_digit((unsigned char)s[i])) {
        if (n < 100)
            buf[n++] = s[i];
        i++, lead++;
    }
    for (;;) {
        size_t k = i, d;
        int strong = 0;

        if (k + 2 < e && s[k] == '{' && s[k + 1] == ',' && s[k + 2] == '}') {
            k += 3, strong = 1;
        } else if (k + 1 < e && s[k] == '\\' && s[k + 1] == ',') {
            k += 2, strong = 1;     /* 1\,000: a thin space */
        } else if (k < e && s[k] == ' ' && lead <= 3 && p->top) {
            k++;                    /* 1 000 (two numbers never meet) */
            strong = 1;
        } else if (k < e && s[k] == ',') {
            size_t q = k + 1;

            while (q < e && s[q] == ' ')
                q++;
            if (q + 1 < e && s[q] == '\\' && s[q + 1] == '!') {
                q += 2;
                while (q < e && s[q] == ' ')
                    q++;
                strong = 1;
                k = q;
            } else {
                k++;
            }
        } else {
            break;
        }
        for (d = 0; k + d < e && is_digit((unsigned char)s[k + d]); d++)
            ;
        /*
         * An unambiguous decimal comma: the only comma of a top-level
         * number, not followed by exactly three digits unless the
         * integer part is 0: "2,74", "1000,99", "0,111".
         */
        if (!strong && p->top && p->one_comma && k == i + 1 && d > 0
            && (d != 3 || (n == 1 && buf[0] == '0'))
            && !(k + d < e && s[k + d] == '.')) {
            if (n < 100)
                buf[n++] = '.';
            for (; d > 0; d--, k++)
                if (n < 120)
                    buf[n++] = s[k];
            i = k;
            real = 1;
            goto exponent;
        }
        if (d != 3)
            break;
        if (!strong && !(p->top && lead <= 3))
            break;
        for (d = 0; d < 3; d++)
            if (n < 100)
                buf[n++] = s[k + d];
        i = k + 3;
        lead = 3;
    }
    if (i + 1 < e && s[i] == '.' && is_digit((unsigned char)s[i + 1])) {
        real = 1;
        if (n < 100)
            buf[n++] = '.';
        i++;
        while (i < e && is_digit((unsigned char)s[i])) {
            if (n < 120)
                buf[n++] = s[i];
            i++;
        }
    }
exponent:
    /* scientific notation: 1.5e-3, 2E5 (not "2e^x", not "3ex") */
    j = i;
    if (j < e && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;

        if (k < e && (s[k] == '-' || s[k] == '+'))
            k++;
        if (k < e && is_digit((unsigned char)s[k])) {
            while (k < e && is_digit((unsigned char)s[k]))
                k++;
            if (!(k < e && is_alpha((unsigned char)s[k])) && k - j < 8) {
                size_t c;

                for (c = j; c < k && n < sizeof(buf) - 1; c++)
                    buf[n++] = s[c];
                i = k;
                real = 1;
            }
        }
    }
    buf[n] = 0;
    t->t = T_NUM;
    t->isint = !real;
    if (!real && n <= 15) {     /* exact, and faster than strtod */
        double v = 0;
        size_t k;

        for (k = 0; k < n; k++)
            v = v * 10 + (buf[k] - '0');
        t->v = v;
    } else {
        t->v = strtod(buf, NULL);
    }
    return i;
}

/* Skips spaces and ignorable LaTeX spacing at i. */
static size_t
skip_ign(struct parser *p, size_t i)
{
    const char *s = p->s;
    size_t e = p->end;

    for (;;) {
        if (i >= e)
            return i;
        if (is_space((unsigned char)s[i]) || s[i] == '$' || s[i] == '~') {
            i++;
            continue;
        }
        /* currency signs: € £ ¥ ₹ */
        if (i + 1 < e && (unsigned char)s[i] == 0xc2
            && ((unsigned char)s[i + 1] == 0xa3
                || (unsigned char)s[i + 1] == 0xa5)) {
            i += 2;
            continue;
        }
        if (i + 2 < e && (unsigned char)s[i] == 0xe2
            && (unsigned char)s[i + 1] == 0x82
            && ((unsigned char)s[i + 2] == 0xac
                || (unsigned char)s[i + 2] == 0xb9)) {
            i += 3;
            continue;
        }
        if (s[i] == '\\' && i + 1 < e && strchr(",!;: >$#", s[i + 1]) != NULL) {
            i += 2;
            continue;
        }
        return i;
    }
}

/* Next token at p->pos (not consumed); single: one character only. */
static void
lex(struct parser *p, struct tk *t, int single)
{
    const char *s = p->s;
    size_t e = p->end, i = skip_ign(p, p->pos);
    unsigned char c;

    memset(t, 0, sizeof(*t));
    t->s = i;
    if (i >= e) {
        t->t = T_END;
        t->end = i;
        return;
    }
    c = (unsigned char)s[i];
    if (is_digit(c)
        || (c == '.' && i + 1 < e && is_digit((unsigned char)s[i + 1]))) {
        if (single) {
            t->t = T_NUM;
            t->v = c - '0';
            t->isint = 1;
            t->end = i + 1;
        } else {
            t->end = lex_number(p, i, t);
        }
        t->e = t->end;
        return;
    }
    if (is_alpha(c)) {
        size_t j = i;
        int cmd, sub;

        while (j < e && is_alpha((unsigned char)s[j]))
            j++;
        if (!single && j - i >= 2
            && (cmd = bare_word(s + i, j - i, &sub)) != C_NONE) {
            t->t = T_CMD;
            t->c = cmd;
            t->sub = sub;
            t->end = j;
        } else if (!single
                   && (j - i >= 3 || (j - i == 2 && !memcmp(s + i, "or", 2)))) {
            t->t = T_WORD;
            t->s = i;
            t->e = j;
            t->end = j;
        } else {
            t->t = T_LETTER;
            t->c = c;
            t->end = i + 1;
        }
        return;
    }
    t->end = i + 1;
    switch (c) {
    case '(': t->t = T_LP; return;
    case ')': t->t = T_RP; return;
    case '[': t->t = T_LB; return;
    case ']': t->t = T_RB; return;
    case '{': t->t = T_LBR; return;
    case '}': t->t = T_RBR; return;
    case '|': t->t = T_BAR; return;
    case ',': t->t = T_COMMA; return;
    case ';': t->t = T_COMMA; return;
    case '&': t->t = T_AMP; return;
    case '%': t->t = T_PCT; return;
    case '+': case '-': case '*': case '/': case '^': case '_': case '=':
    case '<': case '>': case '!': case ':': case '\'':
        t->t = T_OP;
        t->c = c;
        return;
    case 0xe2:
        /* a few UTF-8 operators: − × · ÷ ≤ ≥ ≠ ∞ √ */
        if (i + 2 < e && (unsigned char)s[i + 1] == 0x88) {
            unsigned char d = (unsigned char)s[i + 2];

            t->end = i + 3;
            if (d == 0x92) { t->t = T_OP; t->c = '-'; return; }
            if (d == 0x9e) { t->t = T_CMD; t->c = C_INF; return; }
            if (d == 0x9a) { t->t = T_CMD; t->c = C_SQRT; return; }
            if (d == 0x99) { t->t = T_CMD; t->c = C_TIMES; return; }
        } else if (i + 2 < e && (unsigned char)s[i + 1] == 0x89) {
            unsigned char d = (unsigned char)s[i + 2];

            t->end = i + 3;
            if (d == 0xa4) { t->t = T_CMD; t->c = C_LE; return; }
            if (d == 0xa5) { t->t = T_CMD; t->c = C_GE; return; }
            if (d == 0xa0) { t->t = T_CMD; t->c = C_NE; return; }
        } else if (i + 2 < e && (unsigned char)s[i + 1] == 0x8b
                   && (unsigned char)s[i + 2] == 0x85) {
            t->end = i + 3;
            t->t = T_CMD;
            t->c = C_TIMES;
            return;
        }
        t->t = T_BAD;
        return;
    case 0xc2:
        if (i + 1 < e && (unsigned char)s[i + 1] == 0xb0) {
            t->t = T_DEG;
            t->end = i + 2;
            return;
        }
        if (i + 1 < e && (unsigned char)s[i + 1] == 0xb7) {
            t->t = T_CMD;
            t->c = C_TIMES;
            t->end = i + 2;
            return;
        }
        t->t = T_BAD;
        return;
    case 0xc3:
        if (i + 1 < e && (unsigned char)s[i + 1] == 0x97) {
            t->t = T_CMD;
            t->c = C_TIMES;
            t->end = i + 2;
            return;
        }
        if (i + 1 < e && (unsigned char)s[i + 1] == 0xb7) {
            t->t = T_CMD;
            t->c = C_DIV;
            t->end = i + 2;
            return;
        }
        t->t = T_BAD;
        return;
    case 0xcf:
        if (i + 1 < e && (unsigned char)s[i + 1] == 0x80) {
            t->t = T_CMD;
            t->c = C_PI;
            t->end = i + 2;
            return;
        }
        t->t = T_BAD;
        return;
    case '\\':
        break;
    default:
        t->t = T_BAD;
        return;
    }
    /* a backslash */
    if (i + 1 >= e) {
        t->t = T_BAD;
        return;
    }
    c = (unsigned char)s[i + 1];
    t->end = i + 2;
    switch (c) {
    case '{': t->t = T_LSET; return;
    case '}': t->t = T_RSET; return;
    case '%': t->t = T_PCT; return;
    case '\\': t->t = T_ROWSEP; return;
    case '|': t->t = T_BAR; return;
    default: break;
    }
    if (is_alpha(c)) {
        size_t j = i + 1;
        int cmd, sub = 0;

        while (j < e && is_alpha((unsigned char)s[j]))
            j++;
        t->end = j;
        cmd = lookup_cmd(s + i + 1, j - i - 1, &sub);
        if (cmd == C_NONE) {
            /* delimiters spelled as commands */
            size_t n = j - i - 1;
            const char *w = s + i + 1;

            if ((n == 6 && !memcmp(w, "langle", 6)))
                t->t = T_LANG;
            else if (n == 6 && !memcmp(w, "rangle", 6))
                t->t = T_RANG;
            else if ((n == 5
                      && (!memcmp(w, "lvert", 5) || !memcmp(w, "rvert", 5)))
                     || (n == 4 && !memcmp(w, "vert", 4))
                     || (n == 3 && !memcmp(w, "mid", 3)))
                t->t = T_BAR;
            else if (n == 6 && !memcmp(w, "lbrace", 6))
                t->t = T_LSET;
            else if (n == 6 && !memcmp(w, "rbrace", 6))
                t->t = T_RSET;
            else if ((n == 5 && !memcmp(w, "lbrack", 5)))
                t->t = T_LB;
            else if ((n == 5 && !memcmp(w, "rbrack", 5)))
                t->t = T_RB;
            else
                t->t = T_BAD;
            return;
        }
        if (cmd == C_IGNORE) {
            /* \left. and \right. are invisible delimiters */
            size_t k = j;

            if (k < e && s[k] == '.')
                k++;
            p->pos = k;
            lex(p, t, single);
            return;
        }
        if (cmd == C_IGNARG) {
            size_t k = skip_ign(p, j);
            const char *cb;

            if (k < e && s[k] == '{'
                && (cb = match_brace(s + k, s + e)) != NULL)
                k = (size_t)(cb - s) + 1;
            p->pos = k;
            lex(p, t, single);
            return;
        }
        if (cmd == C_TEXT) {
            size_t k = skip_ign(p, j);
            const char *cb;

            if (!(k < e && s[k] == '{')
                || (cb = match_brace(s + k, s + e)) == NULL) {
                t->t = T_BAD;
                return;
            }
            for (j = k + 1; s + j < cb && is_space((unsigned char)s[j]); j++)
                ;
            if (s + j == cb) {  /* \text{ } is a space */
                p->pos = j + 1;
                lex(p, t, single);
                return;
            }
            t->t = T_TEXT;
            t->s = k + 1;
            t->e = (size_t)(cb - s);
            t->end = t->e + 1;
            return;
        }
        t->t = T_CMD;
        t->c = cmd;
        t->sub = sub;
        return;
    }
    t->t = T_BAD;
}

/* ---- Parser ---- */

static int
new_node(struct parser *p, int kind)
{
    struct mathans *m = p->m;
    struct node *n;

    if (m->nnodes >= MAX_NODES) {
        p->err = 1;
        return -1;
    }
    n = &m->nodes[m->nnodes];
    memset(n, 0, sizeof(*n));
    n->kind = (unsigned char)kind;
    n->a = n->b = n->next = -1;
    return m->nnodes++;
}

static int
node2(struct parser *p, int kind, int a, int b)
{
    int n;

    if (p->err || a < 0
        || (b < 0 && kind != K_NEG && kind != K_FACT && kind != K_PCT
            && kind != K_ABS && kind != K_FUNC && kind != K_PM)) {
        p->err = 1;
        return -1;
    }
    n = new_node(p, kind);
    if (n >= 0) {
        p->m->nodes[n].a = a;
        p->m->nodes[n].b = b;
    }
    return n;
}

/* Appends child to container c (kept as first/last through a and b). */
static void
append(struct parser *p, int c, int child)
{
    struct node *nodes = p->m->nodes;

    if (p->err || c < 0 || child < 0) {
        p->err = 1;
        return;
    }
    if (nodes[c].a < 0)
        nodes[c].a = child;
    else
        nodes[nodes[c].b].next = child;
    nodes[c].b = child;
    nodes[c].n++;
}

/* Stores a name (variable or normalized word) and returns its offset. */
static int
add_name(struct parser *p, const char *s, size_t n, int *len)
{
    struct sbuf *sb = &p->m->names;
    int off = (int)sb->len;

    sbuf_add(sb, s, n);
    sbuf_addc(sb, 0);
    *len = (int)n;
    return off;
}

static void
advance(struct parser *p, const struct tk *t)
{
    p->pos = t->end;
}

static int peek_is(struct parser *p, enum tok tt, int c)
{
    struct tk t;

    lex(p, &t, 0);
    return t.t == tt && (c < 0 || t.c == c);
}

static int parse_list(struct parser *p, enum tok close, enum tok alt,
                      enum tok *got);
static int parse_rel(struct parser *p);
static int parse_sum(struct parser *p);
static int parse_unary(struct parser *p);
static int parse_power(struct parser *p);
static int parse_primary(struct parser *p);
static int parse_numeral(struct parser *p, const struct tk *t);

static int
enter(struct parser *p)
{
    if (++p->depth > MAX_DEPTH)
        p->err = 1;
    return !p->err;
}

/* The argument of ^, \frac, \sqrt: {group}, one character, or a command. */
static int
parse_arg(struct parser *p)
{
    struct tk t;
    int r = -1;

    if (!enter(p))
        return -1;
    lex(p, &t, 1);
    switch (t.t) {
    case T_LBR:
        advance(p, &t);
        r = parse_list(p, T_RBR, T_RBR, NULL);
        break;
    case T_NUM:
        advance(p, &t);
        r = new_node(p, K_NUM);
        if (r >= 0) {
            p->m->nodes[r].v = t.v;
            p->m->nodes[r].flags = F_INT;
        }
        break;
    case T_OP:
        if (t.c == '-' || t.c == '+') {
            advance(p, &t);
            r = parse_arg(p);
            if (t.c == '-')
                r = node2(p, K_NEG, r, -1);
            break;
        }
        p->err = 1;
        break;
    case T_LETTER:
    case T_CMD:
    case T_LP:
    case T_LB:
    case T_LSET:
    case T_BAR:
        r = parse_primary(p);
        break;
    default:
        p->err = 1;
        break;
    }
    p->depth--;
    return p->err ? -1 : r;
}

/*
 * A number node; with a subscript it is a numeral in that base (2 to 36):
 * "2516_8", "0.0011_{2}".  Its literal digits are kept for comparison.
 */
static int
parse_numeral(struct parser *p, const struct tk *t)
{
    struct tk u;
    struct node *n;
    int r = new_node(p, K_NUM), len, b;
    size_t i;
    double base, v = 0, scale = 0;

    if (r < 0)
        return -1;
    n = &p->m->nodes[r];
    n->v = t->v;
    n->flags = t->isint ? F_INT : F_DEC;
    n->s = add_name(p, p->s + t->s, t->e - t->s, &len);
    n->len = len;
    lex(p, &u, 0);
    if (!(u.t == T_OP && u.c == '_'))
        return r;
    advance(p, &u);
    b = parse_arg(p);
    if (b < 0)
        return -1;
    base = p->m->nodes[b].v;
    if (p->m->nodes[b].kind != K_NUM || !(p->m->nodes[b].flags & F_INT)
        || base < 2 || base > 36) {
        p->err = 1;
        return -1;
    }
    for (i = t->s; i < t->e; i++) {
        int c = (unsigned char)p->s[i];

        if (c == '.' && scale == 0) {
            scale = 1;
            continue;
        }
        if (!is_digit(c) || c - '0' >= base) {
            p->err = 1;
            return -1;
        }
        v = v * base + (c - '0');
        if (scale > 0)
            scale *= base;
    }
    n = &p->m->nodes[r];
    n->v = scale > 0 ? v / scale : v;
    n->flags = F_BASE;
    n->sub = (unsigned char)base;
    return r;
}

/* \begin{pmatrix} a & b \\ c & d \end{pmatrix} and its kin. */
static int
parse_matrix(struct parser *p)
{
    struct tk t;
    const char *s = p->s;
    size_t i = skip_ign(p, p->pos);
    const char *cb;
    int mat, cols = -1, col = 0, rows = 0;

    if (!(i < p->end && s[i] == '{')
        || (cb = match_brace(s + i, s + p->end)) == NULL) {
        p->err = 1;
        return -1;
    }
    {
        size_t n = (size_t)(cb - (s + i)) - 1;
        const char *w = s + i + 1;

        /* not vmatrix: a determinant is a number, not a matrix */
        if (!((n == 6 && !memcmp(w, "matrix", 6))
              || (n == 7 && !memcmp(w + 1, "matrix", 6) && strchr("pbB", w[0]))
              || (n == 11 && !memcmp(w, "smallmatrix", 11))
              || (n == 5 && !memcmp(w, "array", 5)))) {
            p->err = 1;
            return -1;
        }
        p->pos = (size_t)(cb - s) + 1;
        if (n == 5) {   /* array: skip the column spec */
            i = skip_ign(p, p->pos);
            if (i < p->end && s[i] == '{'
                && (cb = match_brace(s + i, s + p->end)) != NULL)
                p->pos = (size_t)(cb - s) + 1;
        }
    }
    mat = new_node(p, K_MATRIX);
    for (;;) {
        int cell;

        lex(p, &t, 0);
        if (t.t == T_CMD && t.c == C_END)
            break;
        cell = parse_rel(p);
        append(p, mat, cell);
        col++;
        if (p->err)
            return -1;
        lex(p, &t, 0);
        if (t.t == T_AMP) {
            advance(p, &t);
            continue;
        }
        if (t.t == T_ROWSEP || (t.t == T_CMD && t.c == C_END)) {
            if (cols < 0)
                cols = col;
            else if (cols != col) {
                p->err = 1;
                return -1;
            }
            rows++;
            col = 0;
            if (t.t == T_ROWSEP) {
                advance(p, &t);
                continue;
            }
            break;
        }
        p->err = 1;
        return -1;
    }
    /* \end{...} */
    lex(p, &t, 0);
    advance(p, &t);
    i = skip_ign(p, p->pos);
    if (i < p->end && s[i] == '{'
        && (cb = match_brace(s + i, s + p->end)) != NULL)
        p->pos = (size_t)(cb - s) + 1;
    else
        p->err = 1;
    if (rows == 0 || cols <= 0)
        p->err = 1;
    if (p->err)
        return -1;
    p->m->nodes[mat].sub = (unsigned char)PT_MIN(rows, 255);
    return mat;
}

/* A run of words (and letters) as one text node. */
static int
parse_text_run(struct parser *p)
{
    struct tk t;
    struct sbuf *sb = &p->m->names;
    int n = new_node(p, K_TEXT);
    int off = (int)sb->len;

    if (n < 0)
        return -1;
    for (;;) {
        lex(p, &t, 0);
        if (t.t == T_WORD || t.t == T_TEXT) {
            size_t i;

            for (i = t.s; i < t.e; i++)
                if (isalnum((unsigned char)p->s[i]))
                    sbuf_addc(sb, (char)tolower((unsigned char)p->s[i]));
            advance(p, &t);
        } else if (t.t == T_LETTER) {
            sbuf_addc(sb, (char)tolower(t.c));
            advance(p, &t);
        } else if (t.t == T_NUM && sb->len > (size_t)off) {
            /* "June 20" */
            size_t i;

            for (i = t.s; i < t.e; i++)
                if (isalnum((unsigned char)p->s[i]))
                    sbuf_addc(sb, p->s[i]);
            advance(p, &t);
        } else {
            break;
        }
    }
    p->m->nodes[n].s = off;
    p->m->nodes[n].len = (int)(sb->len - (size_t)off);
    sbuf_addc(sb, 0);
    return n;
}

static int
is_sep_word(struct parser *p, const struct tk *t)
{
    size_t n = t->e - t->s;
    const char *w = p->s + t->s;
    size_t i = 0;

    while (i < n && is_space((unsigned char)w[i]))
        i++;
    w += i;
    n -= i;
    while (n > 0 && is_space((unsigned char)w[n - 1]))
        n--;
    return (n == 3 && !strncasecmp(w, "and", 3))
           || (n == 2 && !strncasecmp(w, "or", 2));
}

/* Does the text of a \text{} hold letters (a word) or only math? */
static int
text_has_letters(struct parser *p, const struct tk *t)
{
    size_t i;

    for (i = t->s; i < t->e; i++)
        if (is_alpha((unsigned char)p->s[i]))
            return 1;
    return 0;
}

static int
parse_sub(struct parser *p, size_t s, size_t e)
{
    struct parser q = *p;
    int r;

    q.pos = s;
    q.end = e;
    q.top = 0;
    r = parse_list(&q, T_END, T_END, NULL);
    p->err = q.err;
    return r;
}

static int
parse_primary(struct parser *p)
{
    struct tk t;
    int r = -1;
    struct node *nd;
    int top0 = p->top;

    if (!enter(p))
        return -1;
    lex(p, &t, 0);
    switch (t.t) {
    case T_NUM:
        advance(p, &t);
        r = parse_numeral(p, &t);
        break;
    case T_LETTER:
        advance(p, &t);
        if (t.c == 'i') {
            r = new_node(p, K_I);
        } else if (t.c == 'e' && peek_is(p, T_OP, '^')) {
            r = new_node(p, K_E);
        } else {
            char name[64];
            size_t n = 0;
            struct tk u;

            name[n++] = (char)t.c;
            lex(p, &u, 0);
            if (u.t == T_OP && u.c == '_') {
                /* subscripts become part of the name: a_1, x_{n} */
                size_t st;

                advance(p, &u);
                lex(p, &u, 1);
                st = u.s;
                if (parse_arg(p) < 0)
                    break;
                name[n++] = '_';
                for (; st < p->pos && n < sizeof(name) - 1; st++)
                    if (isalnum((unsigned char)p->s[st]))
                        name[n++] = p->s[st];
            }
            r = new_node(p, K_VAR);
            if (r >= 0) {
                int len;

                p->m->nodes[r].s = add_name(p, name, n, &len);
                p->m->nodes[r].len = len;
            }
        }
        break;
    case T_LP:
    case T_LB:
    case T_LANG: {
        enum tok got = T_END;
        int inner;

        advance(p, &t);
        p->top = 0;     /* "(1,234)" is a pair */
        if (t.t == T_LANG)
            inner = parse_list(p, T_RANG, T_RANG, &got);
        else
            inner = parse_list(p, T_RP, T_RB, &got);

        if (p->err)
            break;
        nd = &p->m->nodes[inner];
        if (nd->kind == K_LIST) {
            nd->kind = K_TUPLE;
            nd->sub = (unsigned char)((t.t == T_LB ? BR_LCLOSED : 0)
                                      | (got == T_RB ? BR_RCLOSED : 0));
            r = inner;
        } else if ((t.t == T_LB) != (got == T_RB)) {
            p->err = 1;     /* "[x)" with one element */
        } else {
            r = inner;
        }
        break;
    }
    case T_LBR:
        advance(p, &t);
        r = parse_list(p, T_RBR, T_RBR, NULL);
        break;
    case T_LSET: {
        int inner;

        advance(p, &t);
        p->top = 0;
        if (peek_is(p, T_RSET, -1)) {
            lex(p, &t, 0);
            advance(p, &t);
            r = new_node(p, K_SET);
            break;
        }
        inner = parse_list(p, T_RSET, T_RSET, NULL);
        if (p->err)
            break;
        if (p->m->nodes[inner].kind == K_LIST) {
            p->m->nodes[inner].kind = K_SET;
            r = inner;
        } else {
            r = new_node(p, K_SET);
            append(p, r, inner);
        }
        break;
    }
    case T_BAR:
        advance(p, &t);
        r = parse_sum(p);
        lex(p, &t, 0);
        if (t.t != T_BAR) {
            p->err = 1;
            break;
        }
        advance(p, &t);
        r = node2(p, K_ABS, r, -1);
        break;
    case T_WORD:
        r = parse_text_run(p);
        break;
    case T_TEXT: {
        /*
         * \text{5 apples} is a quantity, \text{(C)} a letter, \text{13} a
         * number; \text{even} and \text{4:30 p.m.} are words.
         */
        int save_n = p->m->nnodes;
        size_t save_names = p->m->names.len, save_pos = p->pos;

        advance(p, &t);
        r = parse_sub(p, t.s, t.e);
        if (p->err && text_has_letters(p, &t)) {
            p->err = 0;
            p->m->nnodes = save_n;
            p->m->names.len = save_names;
            p->pos = save_pos;
            r = parse_text_run(p);
        }
        break;
    }
    case T_CMD:
        advance(p, &t);
        switch (t.c) {
        case C_FRAC: {
            int a = parse_arg(p), b = parse_arg(p);

            r = node2(p, K_DIV, a, b);
            if (r >= 0)
                p->m->nodes[r].flags = F_FRAC;
            break;
        }
        case C_BINOM: {
            int a = parse_arg(p), b = parse_arg(p);

            r = node2(p, K_BINOM, a, b);
            break;
        }
        case C_SQRT: {
            int idx = -1, x;
            struct tk u;

            lex(p, &u, 0);
            if (u.t == T_LB) {
                advance(p, &u);
                idx = parse_list(p, T_RB, T_RB, NULL);
            }
            x = parse_arg(p);
            if (idx >= 0)
                r = node2(p, K_ROOT, x, idx);
            else
                r = node2(p, K_FUNC, x, -1);
            if (r >= 0 && idx < 0)
                p->m->nodes[r].sub = FN_SQRT;
            break;
        }
        case C_PI: r = new_node(p, K_PI); break;
        case C_INF: r = new_node(p, K_INF); break;
        case C_EMPTY: r = new_node(p, K_SET); break;
        case C_FUNC:
        case C_LOG: {
            int base = -1, pw = -1, x;
            struct tk u;

            lex(p, &u, 0);
            if (t.c == C_LOG && u.t == T_OP && u.c == '_') {
                advance(p, &u);
                base = parse_arg(p);
                lex(p, &u, 0);
            }
            if (u.t == T_OP && u.c == '^') {   /* \sin^2 x */
                advance(p, &u);
                pw = parse_arg(p);
            }
            x = parse_power(p);
            if (t.c == C_LOG) {
                if (base < 0) {
                    base = new_node(p, K_NUM);
                    if (base >= 0)
                        p->m->nodes[base].v = 10;
                }
                r = node2(p, K_LOG, x, base);
            } else {
                r = node2(p, K_FUNC, x, -1);
                if (r >= 0)
                    p->m->nodes[r].sub = (unsigned char)t.sub;
            }
            if (pw >= 0)
                r = node2(p, K_POW, r, pw);
            break;
        }
        case C_WRAP:
            r = parse_arg(p);
            break;
        case C_BEGIN:
            r = parse_matrix(p);
            break;
        default:
            p->err = 1;
            break;
        }
        break;
    default:
        p->err = 1;
        break;
    }
    p->top = top0;
    p->depth--;
    return p->err ? -1 : r;
}

/* Is \circ (or {\circ}) next, after a '^' already consumed? */
static int
degree_next(struct parser *p)
{
    size_t i = skip_ign(p, p->pos);
    const char *s = p->s;
    size_t e = p->end;

    if (i + 5 <= e && !memcmp(s + i, "\\circ", 5)
        && !(i + 5 < e && is_alpha((unsigned char)s[i + 5]))) {
        p->pos = i + 5;
        return 1;
    }
    if (i + 7 <= e && !memcmp(s + i, "{\\circ}", 7)) {
        p->pos = i + 7;
        return 1;
    }
    return 0;
}

/* Postfix operators after a primary: ! % degree, and ^. */
static int
parse_power(struct parser *p)
{
    int b;
    struct tk t;

    if (!enter(p))
        return -1;
    b = parse_primary(p);
    while (!p->err) {
        lex(p, &t, 0);
        if (t.t == T_OP && t.c == '^') {
            size_t save = p->pos;

            advance(p, &t);
            if (degree_next(p))
                continue;   /* degrees are dropped */
            p->pos = save;
            advance(p, &t);
            /*
             * "2^10" is read as 2^{10}, not as LaTeX's 2^{1}0: nobody
             * writes the latter on purpose.
             */
            lex(p, &t, 0);
            if (t.t == T_NUM) {
                advance(p, &t);
                b = node2(p, K_POW, b, parse_numeral(p, &t));
            } else {
                b = node2(p, K_POW, b, parse_arg(p));
            }
        } else if (t.t == T_OP && t.c == '!'
                   && !(t.end < p->end && p->s[t.end] == '=')) {
            advance(p, &t);
            b = node2(p, K_FACT, b, -1);
        } else if (t.t == T_PCT) {
            advance(p, &t);
            b = node2(p, K_PCT, b, -1);
        } else if (t.t == T_DEG || (t.t == T_CMD && t.c == C_CIRC)) {
            advance(p, &t);
        } else {
            break;
        }
    }
    p->depth--;
    return p->err ? -1 : b;
}

static int
parse_unary(struct parser *p)
{
    struct tk t;
    int r;

    if (!enter(p))
        return -1;
    lex(p, &t, 0);
    if (t.t == T_OP && (t.c == '-' || t.c == '+')) {
        advance(p, &t);
        r = parse_unary(p);
        if (t.c == '-')
            r = node2(p, K_NEG, r, -1);
    } else if (t.t == T_CMD && (t.c == C_PM || t.c == C_MP)) {
        advance(p, &t);
        r = node2(p, K_PM, parse_unary(p), -1);
    } else {
        r = parse_power(p);
    }
    p->depth--;
    return p->err ? -1 : r;
}

/* Can this token begin an implicit factor ("2x", "3\sqrt{2}", "2(x+1)")? */
static int
starts_factor(const struct tk *t)
{
    switch (t->t) {
    case T_NUM: case T_LETTER: case T_LP: case T_LBR:
        return 1;
    case T_TEXT:
        return 0;
    case T_CMD:
        return t->c == C_FRAC || t->c == C_SQRT || t->c == C_PI || t->c == C_INF
               || t->c == C_FUNC || t->c == C_LOG || t->c == C_WRAP
               || t->c == C_BINOM || t->c == C_BEGIN;
    default:
        return 0;
    }
}

/*
 * Words that scale a quantity rather than name its unit: "5 million" is
 * not 5.  Applies each one in [s, e) to *l.
 */
static void
apply_scale_words(struct parser *p, size_t s, size_t e, int *l)
{
    static const struct { const char *w; double v; } scales[] = {
        {"hundred", 1e2}, {"thousand", 1e3}, {"million", 1e6}, {"billion", 1e9},
        {"trillion", 1e12}, {"dozen", 12}, {"percent", 0}, {"pct", 0},
        {"percentage", 0},
    };
    size_t i = s, j, k;

    while (i < e) {
        while (i < e && !is_alpha((unsigned char)p->s[i]))
            i++;
        for (j = i; j < e && is_alpha((unsigned char)p->s[j]); j++)
            ;
        for (k = 0; k < ARRAY_LEN(scales) && j > i; k++) {
            if (strlen(scales[k].w) != j - i
                || strncasecmp(scales[k].w, p->s + i, j - i))
                continue;
            if (scales[k].v == 0) {
                *l = node2(p, K_PCT, *l, -1);
            } else {
                int n = new_node(p, K_NUM);

                if (n >= 0) {
                    p->m->nodes[n].v = scales[k].v;
                    p->m->nodes[n].flags = F_INT;
                }
                *l = node2(p, K_MUL, *l, n);
            }
        }
        i = j;
    }
}

/*
 * Skips unit words after a quantity: "5 \text{ cm}^2", "18 dollars".
 * Units are not compared or converted; scale words multiply (see above).
 */
static int
skip_units(struct parser *p, int *l)
{
    struct tk t;
    int any = 0;

    for (;;) {
        lex(p, &t, 0);
        if ((t.t == T_WORD || (t.t == T_TEXT && text_has_letters(p, &t)))
            && !is_sep_word(p, &t)) {
            advance(p, &t);
            apply_scale_words(p, t.s, t.e, l);
            any = 1;
            lex(p, &t, 0);
            if (t.t == T_OP && t.c == '^') {
                struct tk u;
                size_t save = p->pos;

                advance(p, &t);
                lex(p, &u, 1);
                if (u.t == T_NUM) {
                    advance(p, &u);
                } else {
                    p->pos = save;
                }
            }
            continue;
        }
        if (t.t == T_TEXT && t.e == t.s) {
            advance(p, &t);
            continue;
        }
        return any;
    }
}

static int
parse_term(struct parser *p)
{
    struct tk t;
    int l, first = 1;

    if (!enter(p))
        return -1;
    l = parse_unary(p);
    while (!p->err) {
        int quantity = p->m->nodes[l].kind != K_TEXT;

        if (quantity && skip_units(p, &l))
            continue;
        lex(p, &t, 0);
        if ((t.t == T_OP && (t.c == '*' || t.c == '/'))
            || (t.t == T_CMD && (t.c == C_TIMES || t.c == C_DIV))) {
            int div =
                (t.t == T_OP && t.c == '/') || (t.t == T_CMD && t.c == C_DIV);
            int r;

            advance(p, &t);
            r = parse_unary(p);
            l = node2(p, div ? K_DIV : K_MUL, l, r);
            if (l >= 0 && div && t.t == T_OP
                && p->m->nodes[p->m->nodes[l].a].kind == K_NUM
                && p->m->nodes[r].kind == K_NUM)
                p->m->nodes[l].flags = F_FRAC;
        } else if (starts_factor(&t) && p->m->nodes[l].kind != K_TEXT) {
            int r;
            struct node *ln = &p->m->nodes[l];

            if (t.t == T_NUM && ln->kind == K_NUM) {
                p->err = 1;     /* "2 3" is not a product */
                break;
            }
            r = parse_power(p);
            if (p->err)
                break;
            /* a mixed number: 12\frac{3}{5} = 12 + 3/5 */
            if (first && ln->kind == K_NUM && (ln->flags & F_INT)
                && t.t == T_CMD && t.c == C_FRAC && p->m->nodes[r].kind == K_DIV
                && p->m->nodes[p->m->nodes[r].a].kind == K_NUM
                && (p->m->nodes[p->m->nodes[r].a].flags & F_INT)
                && p->m->nodes[p->m->nodes[r].b].kind == K_NUM
                && (p->m->nodes[p->m->nodes[r].b].flags & F_INT))
                l = node2(p, K_ADD, l, r);
            else
                l = node2(p, K_MUL, l, r);
        } else {
            break;
        }
        first = 0;
    }
    p->depth--;
    return p->err ? -1 : l;
}

static int
parse_sum(struct parser *p)
{
    struct tk t;
    int l;

    if (!enter(p))
        return -1;
    l = parse_term(p);
    while (!p->err) {
        lex(p, &t, 0);
        if (t.t == T_OP && (t.c == '+' || t.c == '-')) {
            advance(p, &t);
            l = node2(p, t.c == '+' ? K_ADD : K_SUB, l, parse_term(p));
        } else if (t.t == T_CMD && (t.c == C_PM || t.c == C_MP)) {
            advance(p, &t);
            l = node2(p, K_ADD, l, node2(p, K_PM, parse_term(p), -1));
        } else {
            break;
        }
    }
    p->depth--;
    return p->err ? -1 : l;
}

static int
parse_union(struct parser *p)
{
    struct tk t;
    int l, u = -1;

    l = parse_sum(p);
    for (;;) {
        lex(p, &t, 0);
        if (p->err || !(t.t == T_CMD && t.c == C_CUP))
            break;
        advance(p, &t);
        if (u < 0) {
            u = new_node(p, K_UNION);
            append(p, u, l);
        }
        append(p, u, parse_sum(p));
    }
    return p->err ? -1 : (u >= 0 ? u : l);
}

/* Relation operator at the token, or -1; *flip for > and >=. */
static int
relop(struct parser *p, const struct tk *t, int *flip, size_t *end)
{
    *flip = 0;
    *end = t->end;
    if (t->t == T_OP) {
        size_t i = t->end;

        switch (t->c) {
        case '=': return R_EQ;
        case ':': return R_COLON;
        case '<':
        case '>':
            *flip = t->c == '>';
            if (i < p->end && p->s[i] == '=') {
                *end = i + 1;
                return R_LE;
            }
            return R_LT;
        case '!':
            if (i < p->end && p->s[i] == '=') {
                *end = i + 1;
                return R_NE;
            }
            return -1;
        default:
            return -1;
        }
    }
    if (t->t == T_CMD) {
        switch (t->c) {
        case C_EQ: return R_EQ;
        case C_IN: return R_IN;
        case C_LE: return R_LE;
        case C_GE: *flip = 1; return R_LE;
        case C_LT: return R_LT;
        case C_GT: *flip = 1; return R_LT;
        case C_NE: return R_NE;
        default: return -1;
        }
    }
    return -1;
}

/*
 * a = b = c, a < b <= c: a K_REL whose operands each carry the relation
 * before them in op.  "a > b" is stored as "b < a", so the direction of
 * writing does not matter.
 */
static int
parse_rel(struct parser *p)
{
    struct tk t;
    int l, rel = -1, flip = -1;

    if (!enter(p))
        return -1;
    l = parse_union(p);
    for (;;) {
        int op, f, r;
        size_t end;

        lex(p, &t, 0);
        if (p->err || (op = relop(p, &t, &f, &end)) < 0)
            break;
        if (flip >= 0 && f != flip && op != R_EQ && op != R_NE && op != R_IN
            && op != R_COLON) {
            p->err = 1;     /* a < b > c */
            break;
        }
        if (op != R_EQ && op != R_NE && op != R_COLON && op != R_IN)
            flip = f;
        p->pos = end;
        if (rel < 0) {
            rel = new_node(p, K_REL);
            append(p, rel, l);
        }
        r = parse_union(p);
        append(p, rel, r);
        if (r >= 0)
            p->m->nodes[r].op = (unsigned char)op;
    }
    if (!p->err && rel >= 0 && flip == 1) {
        /* reverse the chain: ops move one operand left */
        struct node *nodes = p->m->nodes;
        int c, prev = -1;

        c = nodes[rel].a;
        nodes[rel].b = c;
        while (c >= 0) {
            int nx = nodes[c].next;

            nodes[c].next = prev;
            if (prev >= 0)
                nodes[prev].op = nodes[c].op;
            prev = c;
            c = nx;
        }
        nodes[prev].op = 0;
        nodes[rel].a = prev;
    }
    p->depth--;
    return p->err ? -1 : (rel >= 0 ? rel : l);
}

/*
 * Items separated by commas (and "and"/"or") up to a closing token: close
 * or alt (which one is stored in *got).  One item is returned as is, more
 * as a K_LIST.
 */
static int
parse_list(struct parser *p, enum tok close, enum tok alt, enum tok *got)
{
    struct tk t;
    int first = -1, list = -1;

    if (!enter(p))
        return -1;
    for (;;) {
        int it;

        /* "and" before an item: "1, 2, and 3" */
        lex(p, &t, 0);
        while ((t.t == T_WORD || t.t == T_TEXT) && is_sep_word(p, &t)) {
            advance(p, &t);
            lex(p, &t, 0);
        }
        it = parse_rel(p);
        if (p->err)
            break;
        if (first < 0) {
            first = it;
        } else {
            if (list < 0) {
                list = new_node(p, K_LIST);
                append(p, list, first);
            }
            append(p, list, it);
        }
        lex(p, &t, 0);
        if (t.t == T_COMMA
            || ((t.t == T_WORD || t.t == T_TEXT) && is_sep_word(p, &t))) {
            advance(p, &t);
            continue;
        }
        if (t.t == close || t.t == alt) {
            if (got)
                *got = t.t;
            if (t.t != T_END)
                advance(p, &t);
            break;
        }
        p->err = 1;
        break;
    }
    p->depth--;
    if (p->err)
        return -1;
    return list >= 0 ? list : first;
}

/* Parses s[0, n) into a tree in m's pool; returns the root or -1. */
static int
parse_len(struct mathans *m, const char *s, size_t n)
{
    struct parser p;
    int r;

    if (n == 0 || n > MAX_LEN)
        return -1;
    memset(&p, 0, sizeof(p));
    p.m = m;
    p.s = s;
    p.end = n;
    p.top = 1;
    {
        const char *c = memchr(s, ',', n);

        p.one_comma = c && !memchr(c + 1, ',', n - (size_t)(c + 1 - s))
                      && m->dcomma && !(m->o.flags & MATHANS_NO_DECIMAL_COMMA);
    }
    r = parse_list(&p, T_END, T_END, NULL);
    return p.err ? -1 : r;
}

/* Parses s[0, n) into an empty pool. */
static int
parse_fresh(struct mathans *m, const char *s, size_t n)
{
    m->nnodes = 0;
    sbuf_reset(&m->names);
    return parse_len(m, s, n);
}

/* ---- Evaluation ---- */

struct evctx {
    struct mathans *m;
    int point;          /* -1: no variables allowed */
    unsigned pmmask;
    int npm;            /* \pm signs met, in evaluation order */
    double pct;         /* 1 or 0.01 */
    int hasvar;
};

/*
 * The value of a variable at a point: a function of its name, the point
 * and the seed only, so that both trees see the same values.  Its size is
 * uniform in [0.6, 2.4], away from 0 and 1; it is negative at odd points,
 * so that |x| is not x and sqrt(x^2) is not x, as for a computer algebra
 * system without assumptions.
 */
static double
var_value(struct mathans *m, const struct node *n, int point)
{
    const char *name = m->names.buf + n->s;
    uint64_t h =
        hash64(name, (size_t)n->len,
               m->o.seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(point + 1));

    double v = 0.6 + 1.8 * (double)(h >> 11) * 0x1p-53;

    return (point & 1) ? -v : v;
}

/*
 * Real powers of negative numbers with exponents p/q, q odd (up to 15):
 * (-8)^{1/3} = -2 and (-8)^{2/3} = 4, as \sqrt[3]{} gives, rather than
 * the complex principal value.  Returns 0 if b is not such an exponent.
 */
static int
real_root_pow(double a, double b, double *out)
{
    int q;

    for (q = 3; q <= 15; q += 2) {
        double p = b * q, r = nearbyint(p);

        if (fabs(p - r) < 1e-9) {
            double v = pow(-a, b);

            *out = fmod(fabs(r), 2) == 1 ? -v : v;
            return 1;
        }
    }
    return 0;
}

static int
is_real_int(double complex z)
{
    return cimag(z) == 0 && isfinite(creal(z)) && creal(z) == floor(creal(z));
}

/* A real value with +0 imaginary part, so branch cuts take the principal
   side: sqrt(-1) = i, not -i (negation leaves -0). */
static double complex
pz(double complex z)
{
    double complex r = creal(z);    /* real to complex: imaginary +0 */

    return cimag(z) == 0 ? r : z;
}

static double complex
ev(struct evctx *c, int i, int depth)
{
    const struct node *n = &c->m->nodes[i];
    double complex a, b;

    if (depth > MAX_NODES)
        return NAN;
    switch (n->kind) {
    case K_NUM: return n->v;
    case K_VAR:
        c->hasvar = 1;
        return var_value(c->m, n, c->point);
    case K_PI: return M_PI;
    case K_E: return M_E;
    case K_I: return I;
    case K_INF: return INFINITY;
    case K_ADD: return ev(c, n->a, depth + 1) + ev(c, n->b, depth + 1);
    case K_SUB: return ev(c, n->a, depth + 1) - ev(c, n->b, depth + 1);
    case K_MUL:
        a = ev(c, n->a, depth + 1);
        b = ev(c, n->b, depth + 1);
        if (cimag(a) == 0 && cimag(b) == 0)
            return creal(a) * creal(b);
        return a * b;
    case K_DIV:
        a = ev(c, n->a, depth + 1);
        b = ev(c, n->b, depth + 1);
        if (cimag(a) == 0 && cimag(b) == 0)
            return creal(b) == 0 ? NAN : creal(a) / creal(b);
        if (b == 0)
            return NAN;
        return a / b;
    case K_NEG: return -ev(c, n->a, depth + 1);
    case K_PM: {
        int k = c->npm++;

        a = ev(c, n->a, depth + 1);
        return (k < 32 && (c->pmmask >> k) & 1) ? -a : a;
    }
    case K_PCT: return c->pct * ev(c, n->a, depth + 1);
    case K_POW:
        a = ev(c, n->a, depth + 1);
        b = ev(c, n->b, depth + 1);
        if (cimag(a) == 0 && cimag(b) == 0) {
            double x = creal(a), y = creal(b), v;

            if (x > 0 || y == floor(y))
                return pow(x, y);
            if (x < 0 && real_root_pow(x, y, &v))
                return v;
        }
        if (a == 0)
            return creal(b) > 0 ? 0 : NAN;
        return cpow(pz(a), pz(b));
    case K_ROOT:
        a = ev(c, n->a, depth + 1);
        b = ev(c, n->b, depth + 1);
        if (cimag(a) == 0 && cimag(b) == 0 && is_real_int(b) && creal(b) != 0) {
            double x = creal(a), k = creal(b);

            /* real odd roots of negatives: \sqrt[3]{-8} = -2 */
            if (x < 0 && fmod(fabs(k), 2) == 1)
                return -pow(-x, 1 / k);
            if (x >= 0)
                return pow(x, 1 / k);
        }
        if (b == 0)
            return NAN;
        return cpow(pz(a), pz(1 / b));
    case K_ABS: return cabs(ev(c, n->a, depth + 1));
    case K_FACT:
        a = ev(c, n->a, depth + 1);
        if (!is_real_int(a) || creal(a) < 0 || creal(a) > 170)
            return NAN;
        return tgamma(creal(a) + 1);
    case K_BINOM:
        a = ev(c, n->a, depth + 1);
        b = ev(c, n->b, depth + 1);
        if (!is_real_int(a) || !is_real_int(b) || creal(a) > 170
            || creal(a) < 0)
            return NAN;
        if (creal(b) < 0 || creal(b) > creal(a))
            return 0;
        return round(tgamma(creal(a) + 1) / tgamma(creal(b) + 1)
                     / tgamma(creal(a) - creal(b) + 1));
    case K_LOG:
        a = ev(c, n->a, depth + 1);
        b = ev(c, n->b, depth + 1);
        if (cimag(a) == 0 && cimag(b) == 0 && creal(a) > 0 && creal(b) > 0)
            return log(creal(a)) / log(creal(b));
        return clog(pz(a)) / clog(pz(b));
    case K_FUNC:
        a = ev(c, n->a, depth + 1);
        if (cimag(a) == 0) {
            a = pz(a);
            double x = creal(a);

            switch (n->sub) {
            case FN_SIN: return sin(x);
            case FN_COS: return cos(x);
            case FN_TAN: return tan(x);
            case FN_SEC: return 1 / cos(x);
            case FN_CSC: return 1 / sin(x);
            case FN_COT: return 1 / tan(x);
            case FN_SINH: return sinh(x);
            case FN_COSH: return cosh(x);
            case FN_TANH: return tanh(x);
            case FN_EXP: return exp(x);
            case FN_ATAN: return atan(x);
            case FN_SQRT: if (x >= 0) return sqrt(x); break;
            case FN_LN: if (x > 0) return log(x); break;
            case FN_ASIN: if (fabs(x) <= 1) return asin(x); break;
            case FN_ACOS: if (fabs(x) <= 1) return acos(x); break;
            default: break;
            }
        }
        switch (n->sub) {
        case FN_SIN: return csin(a);
        case FN_COS: return ccos(a);
        case FN_TAN: return ctan(a);
        case FN_SEC: return 1 / ccos(a);
        case FN_CSC: return 1 / csin(a);
        case FN_COT: return 1 / ctan(a);
        case FN_SINH: return csinh(a);
        case FN_COSH: return ccosh(a);
        case FN_TANH: return ctanh(a);
        case FN_EXP: return cexp(a);
        case FN_ATAN: return catan(a);
        case FN_SQRT: return csqrt(a);
        case FN_LN: return clog(a);
        case FN_ASIN: return casin(a);
        case FN_ACOS: return cacos(a);
        default: return NAN;
        }
    default:
        return NAN;     /* containers, text: not a number */
    }
}

/* Is the subtree a scalar expression (no containers, relations, text)? */
static int
is_scalar(struct mathans *m, int i, int depth)
{
    const struct node *n = &m->nodes[i];

    if (depth > MAX_NODES)
        return 0;
    if (n->kind >= K_LIST)
        return 0;
    if (n->a >= 0 && !is_scalar(m, n->a, depth + 1))
        return 0;
    if (n->b >= 0 && !is_scalar(m, n->b, depth + 1))
        return 0;
    return 1;
}

static int
count_pm(struct mathans *m, int i, int depth)
{
    const struct node *n = &m->nodes[i];
    int k = n->kind == K_PM;

    if (depth > MAX_NODES)
        return 0;
    if (n->kind >= K_LIST)
        return 0;
    if (n->a >= 0)
        k += count_pm(m, n->a, depth + 1);
    if (n->b >= 0)
        k += count_pm(m, n->b, depth + 1);
    return k;
}

/* Does the tree hold a decimal literal (an approximation such as 0.333)? */
static int
has_dec(struct mathans *m, int i, int depth)
{
    const struct node *n = &m->nodes[i];

    if (depth > MAX_NODES)
        return 0;
    if (n->kind == K_NUM)
        return (n->flags & F_DEC) != 0;
    return (n->a >= 0 && n->kind < K_LIST && has_dec(m, n->a, depth + 1))
        || (n->b >= 0 && n->kind < K_LIST && has_dec(m, n->b, depth + 1));
}

/* Does the tree hold a variable? */
static int
has_var(struct mathans *m, int i, int depth)
{
    const struct node *n = &m->nodes[i];

    if (depth > MAX_NODES)
        return 0;
    if (n->kind == K_VAR)
        return 1;
    if (n->kind >= K_LIST) {
        int c;

        for (c = n->a; c >= 0; c = m->nodes[c].next)
            if (has_var(m, c, depth + 1))
                return 1;
        return 0;
    }
    return (n->a >= 0 && has_var(m, n->a, depth + 1))
           || (n->b >= 0 && has_var(m, n->b, depth + 1));
}

/* Does the tree hold \infty? */
static int
has_inf(struct mathans *m, int i, int depth)
{
    const struct node *n = &m->nodes[i];

    if (depth > MAX_NODES || n->kind >= K_LIST)
        return 0;
    return n->kind == K_INF || (n->a >= 0 && has_inf(m, n->a, depth + 1))
        || (n->b >= 0 && has_inf(m, n->b, depth + 1));
}

/* The same tree, node for node (for values a double cannot hold). */
static int
tree_same(struct mathans *m, int x, int y, int depth)
{
    const struct node *p, *q;

    if (x < 0 || y < 0)
        return x == y;
    if (depth > MAX_NODES)
        return 0;
    p = &m->nodes[x];
    q = &m->nodes[y];
    if (p->kind != q->kind || p->sub != q->sub || p->v != q->v
        || p->op != q->op)
        return 0;
    if (p->kind == K_VAR || p->kind == K_TEXT)
        return p->len == q->len
               && !memcmp(m->names.buf + p->s, m->names.buf + q->s,
                          (size_t)p->len);
    if (p->kind >= K_LIST) {
        int i, j;

        if (p->n != q->n)
            return 0;
        for (i = p->a, j = q->a; i >= 0 && j >= 0;
             i = m->nodes[i].next, j = m->nodes[j].next)
            if (!tree_same(m, i, j, depth + 1))
                return 0;
        return 1;
    }
    return tree_same(m, p->a, q->a, depth + 1)
           && tree_same(m, p->b, q->b, depth + 1);
}

static int
finite_c(double complex z)
{
    return isfinite(creal(z)) && isfinite(cimag(z));
}

static int
close_enough(double complex x, double complex y, double rtol)
{
    double d, s;

    if (!finite_c(x) || !finite_c(y))
        return cimag(x) == 0 && cimag(y) == 0 && isinf(creal(x))
               && creal(x) == creal(y);
    /* integers are compared exactly: 1000000 is not 1000001 */
    if (is_real_int(x) && is_real_int(y))
        return creal(x) == creal(y);
    d = cabs(x - y);
    s = fmax(cabs(x), cabs(y));
    return d <= rtol * s || d < 1e-300;
}

/* A decimal literal alone: 0.5, -0.5, 12.5\% (Math-Verify's Float atom). */
static int
dec_atom(struct mathans *m, int i)
{
    const struct node *n = &m->nodes[i];

    while ((n->kind == K_NEG || n->kind == K_PCT) && n->a >= 0)
        n = &m->nodes[n->a];
    return n->kind == K_NUM && (n->flags & F_DEC);
}

/*
 * Math-Verify's float rule: both values rounded to places decimals are
 * equal.  Two values that both round to 0 must also agree within rtol
 * (0.0000001 is not 0.0000004).  Values too large to round in a double
 * compare within rtol.
 */
static int
places_equal(double complex x, double complex y, int places, double rtol)
{
    double scale = pow(10, places), v[4] = {creal(x), creal(y), cimag(x),
                                            cimag(y)};
    int k;

    for (k = 0; k < 4; k += 2) {
        double a = v[k] * scale, b = v[k + 1] * scale;

        if (!(fabs(a) < 0x1p52 && fabs(b) < 0x1p52))
            return close_enough(x, y, rtol);
        if (nearbyint(a) != nearbyint(b))
            return 0;
        if (nearbyint(a) == 0 && v[k] != v[k + 1]
            && fabs(v[k] - v[k + 1]) > rtol * fmax(fabs(v[k]), fabs(v[k + 1])))
            return 0;
    }
    return 1;
}

/*
 * Numeric equality of two scalar trees under \pm masks: at one point if
 * both are constant, else at every point where both are defined (and at
 * least half of them).
 */
static int
numeq(struct mathans *m, int r, unsigned rmask, int a, unsigned amask,
      double pct)
{
    struct evctx c;
    double complex x, y;
    int k, valid = 0, hasvar = 0;
    double rtol = m->o.rtol;
    int places = m->o.places >= 0 && (dec_atom(m, r) || dec_atom(m, a))
                 && !has_var(m, r, 0) && !has_var(m, a, 0);

    /*
     * Exact forms on both sides (no decimal literal) are compared at
     * nearly double precision, so that -2010012/2010013 is not -1; the
     * tolerance is for answers given as rounded decimals.
     */
    if (rtol > 1e-10 && !has_dec(m, r, 0) && !has_dec(m, a, 0))
        rtol = 1e-10;
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.pct = pct;
    for (k = 0; k < m->o.npoints; k++) {
        c.point = k;
        c.pmmask = rmask;
        c.npm = 0;
        x = ev(&c, r, 0);
        c.pmmask = amask;
        c.npm = 0;
        y = ev(&c, a, 0);
        hasvar = c.hasvar;
        /*
         * Undefined or overflowing values (2004!, 10^{400}) say nothing:
         * a constant is then compared as a tree, a point is skipped.
         * Infinities count only where \infty was written.
         */
        if ((!finite_c(x) || !finite_c(y))
            && (isnan(creal(x)) || isnan(cimag(x)) || isnan(creal(y))
                || isnan(cimag(y)) || !has_inf(m, r, 0) || !has_inf(m, a, 0))) {
            if (!hasvar)
                return !rmask && !amask && tree_same(m, r, a, 0);
            continue;
        }
        if (places && finite_c(x) && finite_c(y)
                ? !places_equal(x, y, m->o.places, rtol)
                : !close_enough(x, y, rtol))
            return 0;
        valid++;
        if (!hasvar)
            return 1;
    }
    return valid * 2 >= m->o.npoints && valid > 0;
}

static int
numeq_pct(struct mathans *m, int r, unsigned rmask, int a, unsigned amask)
{
    switch (m->o.percent) {
    case MATHANS_PCT_VALUE:
        return numeq(m, r, rmask, a, amask, 0.01);
    case MATHANS_PCT_EITHER:
        return numeq(m, r, rmask, a, amask, 1)
               || numeq(m, r, rmask, a, amask, 0.01);
    default:
        return numeq(m, r, rmask, a, amask, 1);
    }
}

/* ---- Equivalence ---- */

struct item {
    int node;
    unsigned mask;
};

static int eqv(struct mathans *m, int r, int a, int depth);

/* Items of a container, \pm items expanded; -1 when too many. */
static int
items(struct mathans *m, int c, struct item *out, int max)
{
    int n = 0, i;

    if (m->nodes[c].kind < K_LIST || m->nodes[c].kind == K_TEXT) {
        int k = is_scalar(m, c, 0) ? count_pm(m, c, 0) : 0;

        if (k > MAX_PM || (1 << k) > max)
            return -1;
        for (i = 0; i < (1 << k); i++) {
            out[n].node = c;
            out[n++].mask = (unsigned)i;
        }
        return n;
    }
    for (i = m->nodes[c].a; i >= 0; i = m->nodes[i].next) {
        int k = is_scalar(m, i, 0) ? count_pm(m, i, 0) : 0, j;

        if (k > MAX_PM || n + (1 << k) > max)
            return -1;
        for (j = 0; j < (1 << k); j++) {
            out[n].node = i;
            out[n++].mask = (unsigned)j;
        }
    }
    return n;
}

static int
item_eq(struct mathans *m, const struct item *x, const struct item *y,
        int depth)
{
    if (x->mask || y->mask || count_pm(m, x->node, 0)
        || count_pm(m, y->node, 0))
        return numeq_pct(m, x->node, x->mask, y->node, y->mask);
    return eqv(m, x->node, y->node, depth + 1);
}

/* Multiset equality of item lists (ordered: position by position). */
static int
items_eq(struct mathans *m, int r, int a, int ordered, int depth)
{
    struct item ri[MAX_ITEMS], ai[MAX_ITEMS];
    unsigned char used[MAX_ITEMS];
    int nr = items(m, r, ri, MAX_ITEMS), na = items(m, a, ai, MAX_ITEMS), i, j;

    if (nr < 0 || na < 0)
        return 0;
    if (!ordered && !(m->o.flags & MATHANS_MULTISET)) {
        /* sets: every item has an equal on the other side */
        for (i = 0; i < nr; i++) {
            for (j = 0; j < na; j++)
                if (item_eq(m, &ri[i], &ai[j], depth))
                    break;
            if (j == na)
                return 0;
        }
        for (j = 0; j < na; j++) {
            for (i = 0; i < nr; i++)
                if (item_eq(m, &ri[i], &ai[j], depth))
                    break;
            if (i == nr)
                return 0;
        }
        return 1;
    }
    if (nr != na)
        return 0;
    if (ordered) {
        for (i = 0; i < nr; i++)
            if (!item_eq(m, &ri[i], &ai[i], depth))
                return 0;
        return 1;
    }
    /*
     * Greedy matching is exact here: equivalence is an equivalence
     * relation (up to tolerance), so any match of an item is as good as
     * any other.
     */
    memset(used, 0, sizeof(used));
    for (i = 0; i < nr; i++) {
        for (j = 0; j < na; j++)
            if (!used[j] && item_eq(m, &ri[i], &ai[j], depth))
                break;
        if (j == na)
            return 0;
        used[j] = 1;
    }
    return 1;
}

static int
child(struct mathans *m, int c, int k)
{
    int i = m->nodes[c].a;

    while (i >= 0 && k-- > 0)
        i = m->nodes[i].next;
    return i;
}

/*
 * The last side of an answer written as a computation, "10 \cdot 42 = 420"
 * (every relation an equality, no side with a variable: "x + y = 0" is an
 * equation, not the number 0), or -1.
 */
static int
eq_chain_last(struct mathans *m, int c)
{
    int i, last = -1;

    for (i = m->nodes[c].a; i >= 0; i = m->nodes[i].next) {
        if ((i != m->nodes[c].a && m->nodes[i].op != R_EQ) || has_var(m, i, 0))
            return -1;
        last = i;
    }
    return last;
}

/* Elementwise, in order, same count. */
static int
seq_eq(struct mathans *m, int r, int a, int depth)
{
    int i, j;

    if (m->nodes[r].n != m->nodes[a].n)
        return 0;
    for (i = m->nodes[r].a, j = m->nodes[a].a; i >= 0 && j >= 0;
         i = m->nodes[i].next, j = m->nodes[j].next)
        if (!eqv(m, i, j, depth + 1))
            return 0;
    return 1;
}

/* A single variable: the left side of "x = 3". */
static int
is_var(struct mathans *m, int i)
{
    return m->nodes[i].kind == K_VAR;
}

/* Text against a text or a lone letter ("\text{(C)}" vs "C"). */
static int
text_eq(struct mathans *m, int r, int a)
{
    const struct node *x = &m->nodes[r], *y = &m->nodes[a];
    const char *xs, *ys;
    int xl, yl;

    if (x->kind != K_TEXT && x->kind != K_VAR)
        return 0;
    if (y->kind != K_TEXT && y->kind != K_VAR)
        return 0;
    xs = m->names.buf + x->s;
    ys = m->names.buf + y->s;
    xl = x->len;
    yl = y->len;
    return xl == yl && !strncasecmp(xs, ys, (size_t)xl);
}

/*
 * (L1 - R1) and (L2 - R2) proportional: the same equation rearranged;
 * positive: by a positive real factor (inequalities).
 */
static int
equation_eq(struct mathans *m, int rl, int rr, int al, int ar, int positive)
{
    struct evctx c;
    double complex ratio = 0;
    int k, valid = 0;

    memset(&c, 0, sizeof(c));
    c.m = m;
    c.pct = 1;
    for (k = 0; k < m->o.npoints; k++) {
        double complex x, y, q;

        c.point = k;
        x = ev(&c, rl, 0) - ev(&c, rr, 0);
        y = ev(&c, al, 0) - ev(&c, ar, 0);
        if (!isfinite(creal(x)) || !isfinite(creal(y)) || !isfinite(cimag(x))
            || !isfinite(cimag(y)))
            continue;
        if (cabs(x) < 1e-12 || cabs(y) < 1e-12) {
            if (!(cabs(x) < 1e-12 && cabs(y) < 1e-12))
                return 0;
            valid++;
            continue;
        }
        q = x / y;
        if (positive && !(creal(q) > 0 && fabs(cimag(q)) <= 1e-12 * creal(q)))
            return 0;
        if (ratio == 0)
            ratio = q;
        else if (cabs(q - ratio) > m->o.rtol * cabs(ratio))
            return 0;
        valid++;
    }
    return valid * 2 >= m->o.npoints && valid > 0;
}

/*
 * Names alone, no numbers: x, AB, |AB|, f(x), NO/BO, (p, q), x + y,
 * \text{Area} (Math-Verify's "only symbols").
 */
static int
only_symbols(struct mathans *m, int i, int depth)
{
    const struct node *n = &m->nodes[i];
    int c;

    if (depth > MAX_DEPTH)
        return 0;
    switch (n->kind) {
    case K_VAR:
    case K_TEXT:
        return 1;
    case K_MUL:
    case K_DIV:
    case K_ADD:
    case K_SUB:
        return only_symbols(m, n->a, depth + 1)
               && only_symbols(m, n->b, depth + 1);
    case K_NEG:
    case K_ABS:
        return only_symbols(m, n->a, depth + 1);
    case K_TUPLE:
        if (n->n == 0)
            return 0;
        for (c = n->a; c >= 0; c = m->nodes[c].next)
            if (!only_symbols(m, c, depth + 1))
                return 0;
        return 1;
    default:
        return 0;
    }
}

/*
 * An assignment: names on the left ("x", "AB", "(p,q)", "A:B"), "=" (or
 * \in), then equalities only ("x = 2 + 3 = 5").  Returns the right side
 * after the last "=" (a chain for a ratio "7:32", made once and kept in
 * the node's s), and the number of operands on the left in *nl; -1 if c
 * is not one.
 */
static int
assignment(struct mathans *m, int c, int *nl)
{
    const struct node *n = &m->nodes[c];
    int i, k = 0, first = -1, last = -1, lastk = 0, t;

    if (n->kind != K_REL)
        return -1;
    for (i = n->a; i >= 0; i = m->nodes[i].next, k++) {
        int op = m->nodes[i].op;

        if (k == 0 || (first < 0 && op == R_COLON)) {
            if (!only_symbols(m, i, 0))
                return -1;
            continue;
        }
        if (first < 0) {
            if (op != R_EQ && op != R_IN)
                return -1;
            first = k;
        } else if (op != R_EQ && op != R_COLON) {
            return -1;
        }
        if (op == R_EQ || op == R_IN) {
            last = i;
            lastk = k;
        }
    }
    if (first < 0)
        return -1;
    *nl = first;
    if (n->n - lastk == 1)
        return last;
    if (n->s > 0)
        return n->s - 1;
    if (m->nnodes >= MAX_NODES)
        return -1;
    t = m->nnodes++;
    memset(&m->nodes[t], 0, sizeof(m->nodes[t]));
    m->nodes[t].kind = K_REL;
    m->nodes[t].a = last;
    m->nodes[t].b = m->nodes[c].b;
    m->nodes[t].n = m->nodes[c].n - lastk;
    m->nodes[t].next = -1;
    m->nodes[c].s = t + 1;
    return t;
}

/* Does the chain c hold the relation op? */
static int
has_op(struct mathans *m, int c, int op)
{
    int i;

    for (i = m->nodes[c].a; i >= 0; i = m->nodes[i].next)
        if (i != m->nodes[c].a && m->nodes[i].op == op)
            return 1;
    return 0;
}

/*
 * A relation that is an interval of one expression: "a < x <= b", "x >
 * a", "x \in [a, b]".  Sets the bounds (-1: infinite), the bracket bits
 * and the expression; 0 if c is not one.
 */
static int
rel_interval(struct mathans *m, int c, int *lo, int *hi, int *br, int *var)
{
    const struct node *n = &m->nodes[c];
    int x0, x1, x2, o1, o2;

    if (n->kind != K_REL || n->n < 2 || n->n > 3)
        return 0;
    x0 = n->a;
    x1 = child(m, c, 1);
    o1 = m->nodes[x1].op;
    if (n->n == 2 && o1 == R_IN) {
        const struct node *t = &m->nodes[x1];

        if (t->kind != K_TUPLE || t->n != 2 || !has_var(m, x0, 0))
            return 0;
        *var = x0;
        *lo = t->a;
        *hi = child(m, x1, 1);
        *br = t->sub;
        return 1;
    }
    if (!(o1 == R_LT || o1 == R_LE))
        return 0;
    if (n->n == 3) {
        x2 = child(m, c, 2);
        o2 = m->nodes[x2].op;
        if (!(o2 == R_LT || o2 == R_LE) || !has_var(m, x1, 0)
            || has_var(m, x0, 0) || has_var(m, x2, 0))
            return 0;
        *lo = x0;
        *hi = x2;
        *var = x1;
        *br = (o1 == R_LE ? BR_LCLOSED : 0) | (o2 == R_LE ? BR_RCLOSED : 0);
        return 1;
    }
    if (has_var(m, x0, 0) && !has_var(m, x1, 0)) {
        *var = x0;
        *lo = -1;
        *hi = x1;
        *br = o1 == R_LE ? BR_RCLOSED : 0;
        return 1;
    }
    if (!has_var(m, x0, 0) && has_var(m, x1, 0)) {
        *var = x1;
        *lo = x0;
        *hi = -1;
        *br = o1 == R_LE ? BR_LCLOSED : 0;
        return 1;
    }
    return 0;
}

/* A bound of an interval against a node: -1 is an infinity of sign. */
static int
bound_eq(struct mathans *m, int b, int node, int sign, int depth)
{
    struct evctx c;
    double complex v;

    if (b >= 0)
        return m->nodes[node].kind < K_LIST && eqv(m, b, node, depth + 1);
    if (has_var(m, node, 0) || m->nodes[node].kind >= K_LIST)
        return 0;
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.pct = 1;
    v = ev(&c, node, 0);
    return cimag(v) == 0 && creal(v) == sign * INFINITY;
}

/* A relation interval against a tuple (a, b) or another relation. */
static int
interval_eq(struct mathans *m, int r, int a, int depth)
{
    int lo, hi, br, var, lo2, hi2, br2, var2;

    if (!rel_interval(m, r, &lo, &hi, &br, &var))
        return 0;
    if (m->nodes[a].kind == K_TUPLE) {
        if (m->nodes[a].n != 2 || m->nodes[a].sub != br)
            return 0;
        return bound_eq(m, lo, m->nodes[a].a, -1, depth)
               && bound_eq(m, hi, child(m, a, 1), 1, depth);
    }
    if (!rel_interval(m, a, &lo2, &hi2, &br2, &var2) || br != br2
        || (lo < 0) != (lo2 < 0) || (hi < 0) != (hi2 < 0))
        return 0;
    return eqv(m, var, var2, depth + 1)
           && (lo < 0 || eqv(m, lo, lo2, depth + 1))
           && (hi < 0 || eqv(m, hi, hi2, depth + 1));
}

static int
rel_eq(struct mathans *m, int r, int a, int depth)
{
    const struct node *x = &m->nodes[r], *y = &m->nodes[a];
    int i, j;

    if (x->n != y->n)
        return 0;
    for (i = x->a, j = y->a; i >= 0 && j >= 0;
         i = m->nodes[i].next, j = m->nodes[j].next)
        if (i != x->a && m->nodes[i].op != m->nodes[j].op)
            return 0;
    if (x->n == 2 && child(m, r, 1) >= 0
        && (m->nodes[child(m, r, 1)].op == R_LT
            || m->nodes[child(m, r, 1)].op == R_LE
            || m->nodes[child(m, r, 1)].op == R_NE)) {
        /* the same inequality rearranged: -x > -1 is x < 1 */
        int rl = x->a, rr = child(m, r, 1), al = y->a, ar = child(m, a, 1);
        int ne = m->nodes[rr].op == R_NE;

        if (is_scalar(m, rl, 0) && is_scalar(m, rr, 0) && is_scalar(m, al, 0)
            && is_scalar(m, ar, 0) && !count_pm(m, r, 0) && !count_pm(m, a, 0)
            && (equation_eq(m, rr, rl, ar, al, !ne)
                || (ne && equation_eq(m, rr, rl, al, ar, 0))))
            return 1;
    }
    if (x->n == 2 && child(m, r, 1) >= 0
        && m->nodes[child(m, r, 1)].op == R_EQ) {
        int rl = x->a, rr = child(m, r, 1), al = y->a, ar = child(m, a, 1);

        if (is_var(m, rl) && is_var(m, al))
            return text_eq(m, rl, al) && eqv(m, rr, ar, depth + 1);
        if (is_var(m, rr) && is_var(m, ar))
            return text_eq(m, rr, ar) && eqv(m, rl, al, depth + 1);
        if (is_scalar(m, rl, 0) && is_scalar(m, rr, 0) && is_scalar(m, al, 0)
            && is_scalar(m, ar, 0) && !count_pm(m, r, 0))
            return equation_eq(m, rl, rr, al, ar, 0)
                   || equation_eq(m, rl, rr, ar, al, 0);
    }
    return seq_eq(m, r, a, depth);
}

static int
is_vector(struct mathans *m, int i)
{
    const struct node *n = &m->nodes[i];

    return n->kind == K_MATRIX && (n->sub == 1 || n->sub == n->n);
}

/* Digits of a numeral without leading zeros (borrowed from m->names). */
static const char *
digits(struct mathans *m, const struct node *n, int *len)
{
    const char *s = m->names.buf + n->s;
    int l = n->len;

    while (l > 1 && *s == '0' && s[1] != '.')
        s++, l--;
    *len = l;
    return s;
}

/*
 * Integer literals too long for a double (more than 15 digits) compare
 * digit by digit, separators and leading zeros aside.
 */
static void
digits_only(struct sbuf *sb, const char *s, int len)
{
    int i;

    sbuf_reset(sb);
    for (i = 0; i < len; i++)
        if (is_digit((unsigned char)s[i]) && !(sb->len == 0 && s[i] == '0'))
            sbuf_addc(sb, s[i]);
    sbuf_str(sb);
}

static int
long_int_eq(struct mathans *m, const struct node *x, const struct node *y)
{
    digits_only(&m->tbuf, m->names.buf + x->s, x->len);
    digits_only(&m->ubuf, m->names.buf + y->s, y->len);
    return m->tbuf.len == m->ubuf.len
        && !memcmp(m->tbuf.buf, m->ubuf.buf, m->tbuf.len);
}

/*
 * Numerals in a base: "2516_8" matches "2516_8" and "2516" (the base is
 * the question's), not the decimal 1358.  A reference without a base
 * matches an answer in any base by value.
 */
static int
base_eq(struct mathans *m, int r, int a)
{
    const struct node *x = &m->nodes[r], *y = &m->nodes[a];
    const char *xs, *ys;
    int xl, yl;

    if (!(x->kind == K_NUM && (x->flags & F_BASE)))
        return numeq_pct(m, r, 0, a, 0);
    if (y->kind != K_NUM || y->len == 0)
        return 0;
    if ((y->flags & F_BASE) && y->sub != x->sub)
        return 0;
    xs = digits(m, x, &xl);
    ys = digits(m, y, &yl);
    return xl == yl && !memcmp(xs, ys, (size_t)xl);
}

static int
eqv(struct mathans *m, int r, int a, int depth)
{
    const struct node *x, *y;
    int xk, yk;

    if (depth > MAX_DEPTH)
        return 0;
    x = &m->nodes[r];
    y = &m->nodes[a];
    xk = x->kind;
    yk = y->kind;
    if (xk == K_REL && yk == K_REL) {
        int nl, nl2, rr = assignment(m, r, &nl), ar = assignment(m, a, &nl2);

        if (rr >= 0 && ar >= 0) {
            /* both assignments: the same names, the same values */
            int i, j, k;

            if (nl != nl2)
                return 0;
            for (i = x->a, j = y->a, k = 0; k < nl;
                 i = m->nodes[i].next, j = m->nodes[j].next, k++)
                if (!(is_var(m, i) && is_var(m, j) ? text_eq(m, i, j)
                                                   : eqv(m, i, j, depth + 1)))
                    return 0;
            return eqv(m, rr, ar, depth + 1);
        }
        if (interval_eq(m, r, a, depth))
            return 1;
        /* an assignment against a relation that is no equation: its
           right side, "V_1:V_2 = 11:21" against "11:21" */
        if (rr >= 0 && !has_op(m, a, R_EQ))
            return eqv(m, rr, a, depth + 1);
        if (ar >= 0 && !has_op(m, r, R_EQ)
            && !(m->o.flags & MATHANS_STRICT_EQUATIONS))
            return eqv(m, r, ar, depth + 1);
        return rel_eq(m, r, a, depth);
    }
    if (xk == K_REL) {
        /* "x = 3", "(p,q) = (3,2)", "AB = 4" match their right side;
           "1 < x < 2" matches the interval (1, 2) */
        int nl, rhs = assignment(m, r, &nl);

        if (rhs >= 0)
            return eqv(m, rhs, a, depth + 1);
        return yk == K_TUPLE && interval_eq(m, r, a, depth);
    }
    if (yk == K_REL) {
        int nl, rhs;

        if (m->o.flags & MATHANS_STRICT_EQUATIONS)
            return 0;
        if (xk == K_TUPLE && (m->o.flags & MATHANS_SET_RELATION)
            && interval_eq(m, a, r, depth))
            return 1;
        rhs = assignment(m, a, &nl);
        if (rhs < 0)
            rhs = eq_chain_last(m, a);
        return rhs >= 0 && eqv(m, r, rhs, depth + 1);
    }
    if (xk == K_TEXT || yk == K_TEXT)
        return text_eq(m, r, a);
    if (xk == K_LIST || xk == K_SET || xk == K_UNION) {
        int ordered = xk == K_LIST && yk == K_LIST
                      && (m->o.flags & MATHANS_ORDERED_LISTS);

        if (xk == K_LIST && yk == K_TUPLE && y->sub == 0
            && !(m->o.flags & MATHANS_TUPLE_BRACKETS))
            return items_eq(m, r, a, ordered, depth);
        if (xk == K_UNION ? yk != K_UNION
                          : !(yk == K_LIST || yk == K_SET || yk < K_LIST))
            return 0;
        if (xk == K_SET && x->n == 1 && yk < K_LIST)
            return eqv(m, x->a, a, depth + 1);
        return items_eq(m, r, a, ordered, depth);
    }
    if (xk == K_TUPLE) {
        if (yk == K_TUPLE)
            return x->sub == y->sub && seq_eq(m, r, a, depth);
        /* a bare list in order matches a pair or open interval */
        if (yk == K_LIST && x->sub == 0
            && !(m->o.flags & MATHANS_TUPLE_BRACKETS))
            return seq_eq(m, r, a, depth);
        if (is_vector(m, a) && x->sub == 0
            && !(m->o.flags & MATHANS_NO_VECTOR_TUPLE))
            return seq_eq(m, r, a, depth);
        return 0;
    }
    if (xk == K_MATRIX) {
        if (yk == K_MATRIX)
            return x->sub == y->sub && seq_eq(m, r, a, depth);
        if (yk == K_TUPLE && y->sub == 0 && is_vector(m, r)
            && !(m->o.flags & MATHANS_NO_VECTOR_TUPLE))
            return seq_eq(m, r, a, depth);
        return 0;
    }
    /* x is a scalar */
    if (xk == K_NUM && yk == K_NUM && (x->flags & F_INT) && (y->flags & F_INT)
        && (x->len > 15 || y->len > 15))
        return long_int_eq(m, x, y);
    if ((xk == K_NUM && (x->flags & F_BASE))
        || (yk == K_NUM && (y->flags & F_BASE)))
        return base_eq(m, r, a);
    if (yk == K_SET && y->n == 1)
        return eqv(m, r, y->a, depth + 1);
    if (yk >= K_LIST) {
        if (yk == K_LIST && count_pm(m, r, 0))
            return items_eq(m, r, a, 0, depth);
        return 0;
    }
    if (count_pm(m, r, 0) || count_pm(m, a, 0))
        return items_eq(m, r, a, 0, depth);
    return numeq_pct(m, r, 0, a, 0);
}

static long long
gcdll(long long a, long long b)
{
    while (b) {
        long long t = a % b;

        a = b;
        b = t;
    }
    return a < 0 ? -a : a;
}

/* Does the tree hold a fraction of integers not in lowest terms? */
static int
unreduced(struct mathans *m, int i, int depth)
{
    const struct node *n = &m->nodes[i];

    if (depth > MAX_NODES)
        return 0;
    if (n->kind == K_DIV && (n->flags & F_FRAC)) {
        const struct node *x = &m->nodes[n->a], *y = &m->nodes[n->b];

        if (x->kind == K_NUM && y->kind == K_NUM && (x->flags & F_INT)
            && (y->flags & F_INT) && fabs(x->v) < 9e15 && fabs(y->v) < 9e15
            && y->v != 0
            && (gcdll((long long)x->v, (long long)y->v) != 1 || y->v == 1))
            return 1;
    }
    if (n->kind >= K_LIST) {
        int c;

        for (c = n->a; c >= 0; c = m->nodes[c].next)
            if (unreduced(m, c, depth + 1))
                return 1;
        return 0;
    }
    return (n->a >= 0 && unreduced(m, n->a, depth + 1))
        || (n->b >= 0 && unreduced(m, n->b, depth + 1));
}

/* Canonical text: letters and digits, lowercase, LaTeX command names and
   the \text wrapper dropped ("\text{(C)}" -> "c", "4:30 p.m." -> "430pm"). */
static void
canon_text(struct sbuf *sb, const char *s)
{
    sbuf_reset(sb);
    while (*s) {
        if (*s == '\\') {
            s++;
            while (is_alpha((unsigned char)*s))
                s++;
            continue;
        }
        if (isalnum((unsigned char)*s))
            sbuf_addc(sb, (char)tolower((unsigned char)*s));
        s++;
    }
    sbuf_str(sb);
}

/*
 * Equivalence of strings of known length; dcomma: the answer is a number
 * from plain text, where "2,74" is 2.74 (never so in a reference, where
 * "1,2" is a list).
 */
static enum mathans_reason
equiv_len(struct mathans *m, const char *reference, size_t rlen,
          const char *answer, size_t alen, int dcomma)
{
    int r, a;

    m->dcomma = 0;
    r = parse_fresh(m, reference, rlen);
    if (r < 0)
        return MATHANS_UNPARSED_REFERENCE;
    if (m->nodes[r].kind == K_TEXT && !memchr(answer, 0, alen)) {
        /* word answers compare as canonical text, whatever their markup */
        canon_text(&m->tbuf, reference);
        canon_text(&m->ubuf, answer);
        if (m->tbuf.len > 0 && m->tbuf.len == m->ubuf.len
            && !memcmp(m->tbuf.buf, m->ubuf.buf, m->tbuf.len))
            return MATHANS_CORRECT;
    }
    m->dcomma = dcomma;
    a = parse_len(m, answer, alen);
    m->dcomma = 0;
    if (a < 0)
        return MATHANS_UNPARSED_ANSWER;
    if ((m->o.flags & MATHANS_REDUCED) && unreduced(m, a, 0))
        return MATHANS_WRONG;
    return eqv(m, r, a, 0) ? MATHANS_CORRECT : MATHANS_WRONG;
}

enum mathans_reason
mathans_equiv(struct mathans *m, const char *reference, const char *answer)
{
    return equiv_len(m, reference, strlen(reference), answer, strlen(answer),
                     0);
}

int
mathans_parses(struct mathans *m, const char *s)
{
    return parse_fresh(m, s, strlen(s)) >= 0;
}

void
mathans_check_len(struct mathans *m, const char *answer_field, size_t alen,
                  const char *completion, size_t clen,
                  struct mathans_result *res)
{
    const char *ref = reference_len(m, answer_field, alen), *ans;
    size_t rlen = m->rbuf.len;
    enum mathans_method letters[MATHANS_M_COUNT + 2];
    const enum mathans_method *order = m->o.order;
    int i, n = 0;

    res->reference = ref;
    if (is_letter_ref(ref)) {
        /* multiple choice: boxed, then a letter, then the rest */
        for (i = 0; i < MATHANS_M_COUNT && order[i] != MATHANS_M_NONE; i++)
            if (order[i] == MATHANS_M_LETTER)
                break;
        if (i == MATHANS_M_COUNT || order[i] == MATHANS_M_NONE) {
            letters[n++] = MATHANS_M_BOXED;
            letters[n++] = MATHANS_M_LETTER;
            for (i = 0; i < MATHANS_M_COUNT && order[i] != MATHANS_M_NONE;
                 i++)
                if (order[i] != MATHANS_M_BOXED)
                    letters[n++] = order[i];
            letters[n] = MATHANS_M_NONE;
            order = letters;
        }
    }
    res->method = extract_len(m, completion, clen, order, &ans);
    res->extracted = ans;
    res->extracted_len = ans ? m->ebuf.len : 0;
    res->reference_len = rlen;
    if (!ans) {
        res->reason = parse_fresh(m, ref, rlen) >= 0
                          ? MATHANS_NO_ANSWER
                          : MATHANS_UNPARSED_REFERENCE;
        return;
    }
    res->reason = equiv_len(m, ref, rlen, ans, m->ebuf.len,
                            res->method == MATHANS_M_NUMBER);
}

void
mathans_check(struct mathans *m, const char *answer_field,
              const char *completion, struct mathans_result *res)
{
    mathans_check_len(m, answer_field, strlen(answer_field), completion,
                      strlen(completion), res);
}

void
mathans_number_text(double v, char *buf, size_t n)
{
    int prec;

    if (n == 0)
        return;
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e18) {
        snprintf(buf, n, "%.0f", v);
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}
