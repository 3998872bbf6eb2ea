/*
 * format.c - the R1 format check of a completion.  See format.h.
 */
#include "format.h"

#include <stdio.h>
#include <string.h>

#include "think.h"
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
    const char *s = text, *e = text + strlen(text), *as, *ae;
    struct think_block b;
    struct format_split dummy;
    size_t i;

    if (!sp)
        sp = &dummy;
    memset(sp, 0, sizeof(*sp));
    if (!make_tag(open, sizeof(open), o->tag, 0)
        || !make_tag(close, sizeof(close), o->tag, 1))
        return FORMAT_NO_THINK;
    think_parse_tags(text, (size_t)(e - s), open, close, &b);
    if (b.status == THINK_REPEATED || (o->open_in_prompt && b.nopen > 0))
        return FORMAT_MULTIPLE;
    if (!o->open_in_prompt) {
        if (b.nopen == 0)
            return FORMAT_NO_THINK;
        /* Unopened: the closing tag stands before the opening one. */
        if (b.status == THINK_UNOPENED)
            return FORMAT_TEXT_BEFORE;
        for (i = 0; i < b.start; i++)
            if (!is_space((unsigned char)s[i]))
                return FORMAT_TEXT_BEFORE;
    }
    sp->think_s = b.in0;
    if (b.nclose == 0)
        return FORMAT_UNCLOSED;
    sp->think_e = b.in1;
    as = s + b.end;
    ae = e;
    trim(&as, &ae);
    sp->answer_s = (size_t)(as - s);
    sp->answer_e = (size_t)(ae - s);
    if (as == ae)
        return FORMAT_EMPTY_ANSWER;
    if (o->answer_tag) {
        struct think_block ab;
        size_t n = (size_t)(ae - as);

        if (!make_tag(aopen, sizeof(aopen), o->answer_tag, 0)
            || !make_tag(aclose, sizeof(aclose), o->answer_tag, 1))
            return FORMAT_NO_ANSWER_TAG;
        /* One <answer>...</answer> that is the whole answer. */
        think_parse_tags(as, n, aopen, aclose, &ab);
        if (ab.status != THINK_OK || ab.start != 0 || ab.end != n)
            return FORMAT_NO_ANSWER_TAG;
        ae = as + ab.in1;
        as = as + ab.in0;
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
