/*
 * format.c - the R1 format check of a completion.  See format.h.
 */
#include "format.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

static const char *const reason_names[] = {
    "correct", "no_think", "text_before_think", "multiple_think", "unclosed_think",
    "empty_answer", "no_answer_tag", "not_boxed",
};

void
format_opts_init(struct format_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->tag = "think";
}

const char *
format_reason_name(enum format_reason r)
{
    return (unsigned)r < ARRAY_LEN(reason_names) ? reason_names[r] : "no_think";
}

static int
is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}

/* "<tag>" or "</tag>" into buf (NUL-terminated); 0 if the name is too long. */
static int
make_tag(char *buf, size_t n, const char *name, int closing)
{
    int k = snprintf(buf, n, closing ? "</%s>" : "<%s>", name);

    return k > 0 && (size_t)k < n;
}

/* Occurrences of needle in [s, e), up to 2; *first gets the first. */
static int
count2(const char *s, const char *e, const char *needle, const char **first)
{
    size_t n = strlen(needle);
    const char *p = s;
    int k = 0;

    *first = NULL;
    while (k < 2 && (size_t)(e - p) >= n) {
        const char *q = memmem(p, (size_t)(e - p), needle, n);

        if (!q)
            break;
        if (!k)
            *first = q;
        k++;
        p = q + n;
    }
    return k;
}

static void
trim(const char **s, const char **e)
{
    while (*s < *e && is_space((unsigned char)**s))
        (*s)++;
    while (*e > *s && is_space((unsigned char)(*e)[-1]))
        (*e)--;
}

enum format_reason
format_check(const struct format_opts *o, const char *text,
            struct format_split *sp)
{
    char open[80], close[80], aopen[80], aclose[80];
    const char *s = text, *e = text + strlen(text), *po, *pc, *as, *ae;
    int no, nc;
    struct format_split dummy;

    if (!sp)
        sp = &dummy;
    memset(sp, 0, sizeof(*sp));
    if (!make_tag(open, sizeof(open), o->tag, 0)
        || !make_tag(close, sizeof(close), o->tag, 1))
        return FORMAT_NO_THINK;
    no = count2(s, e, open, &po);
    nc = count2(s, e, close, &pc);
    if (no > 1 || nc > 1 || (o->open_in_prompt && no > 0))
        return FORMAT_MULTIPLE;
    if (o->open_in_prompt) {
        sp->think_s = 0;
    } else {
        const char *q = s;

        if (no == 0)
            return FORMAT_NO_THINK;
        while (q < po && is_space((unsigned char)*q))
            q++;
        if (q != po)
            return FORMAT_TEXT_BEFORE;
        sp->think_s = (size_t)(po - s) + strlen(open);
    }
    if (nc == 0 || (size_t)(pc - s) < sp->think_s)
        return FORMAT_UNCLOSED;
    sp->think_e = (size_t)(pc - s);
    as = pc + strlen(close);
    ae = e;
    trim(&as, &ae);
    sp->answer_s = (size_t)(as - s);
    sp->answer_e = (size_t)(ae - s);
    if (as == ae)
        return FORMAT_EMPTY_ANSWER;
    if (o->answer_tag) {
        const char *qo, *qc;
        size_t lo;

        if (!make_tag(aopen, sizeof(aopen), o->answer_tag, 0)
            || !make_tag(aclose, sizeof(aclose), o->answer_tag, 1))
            return FORMAT_NO_ANSWER_TAG;
        lo = strlen(aopen);
        if (count2(as, ae, aopen, &qo) != 1 || count2(as, ae, aclose, &qc) != 1
            || qo != as || qc + strlen(aclose) != ae || qc < qo + lo)
            return FORMAT_NO_ANSWER_TAG;
        as = qo + lo;
        ae = qc;
        trim(&as, &ae);
        sp->answer_s = (size_t)(as - s);
        sp->answer_e = (size_t)(ae - s);
        if (as == ae)
            return FORMAT_EMPTY_ANSWER;
    }
    if (o->boxed && !memmem(as, (size_t)(ae - as), "\\boxed", 6)
        && !memmem(as, (size_t)(ae - as), "\\fbox", 5))
        return FORMAT_NOT_BOXED;
    return FORMAT_OK;
}
