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
    "empty_answer", "no_answer_tag", "not_boxed", "short_think",
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

/* Words in s[0..n): runs of characters that are not white space. */
static size_t
spaced_words(const char *s, size_t n)
{
    size_t i, w = 0;

    for (i = 0; i < n; i++)
        if (!is_space((unsigned char)s[i]) && (i == 0 || is_space((unsigned char)s[i - 1])))
            w++;
    return w;
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
    if (o->min_think > 0 && spaced_words(s + b.in0, b.in1 - b.in0) < (size_t)o->min_think)
        return FORMAT_SHORT_THINK;
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

/* ---- Language consistency ---- */

static const char *const script_names[FORMAT_SCRIPT_N] = {
    "none", "latin", "greek", "cyrillic", "hebrew", "arabic", "devanagari", "thai",
    "han", "kana", "hangul", "other",
};

int
format_script_parse(const char *s, enum format_script *out)
{
    int i;

    for (i = 1; i < FORMAT_SCRIPT_N; i++) {
        if (strcmp(s, script_names[i]) == 0) {
            *out = (enum format_script)i;
            return 0;
        }
    }
    return -1;
}

const char *
format_script_name(enum format_script s)
{
    return script_names[s];
}

/* The next code point of s[*i, n) (bad bytes: U+FFFD), advancing *i. */
static long
next_cp(const char *s, size_t n, size_t *i)
{
    const unsigned char *u = (const unsigned char *)s + *i;
    size_t left = n - *i, len, k;
    long c;

    if (u[0] < 0x80)
        len = 1, c = u[0];
    else if ((u[0] & 0xe0) == 0xc0)
        len = 2, c = u[0] & 0x1f;
    else if ((u[0] & 0xf0) == 0xe0)
        len = 3, c = u[0] & 0x0f;
    else if ((u[0] & 0xf8) == 0xf0)
        len = 4, c = u[0] & 0x07;
    else {
        (*i)++;
        return 0xfffd;
    }
    if (len > left) {
        *i = n;
        return 0xfffd;
    }
    for (k = 1; k < len; k++) {
        if ((u[k] & 0xc0) != 0x80) {
            *i += k;
            return 0xfffd;
        }
        c = (c << 6) | (u[k] & 0x3f);
    }
    *i += len;
    return c;
}

/* The script of a letter, NONE for anything else (digits, marks, spaces). */
static enum format_script
script_of(long c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return FORMAT_SCRIPT_LATIN;
    if (c < 0xc0)
        return FORMAT_SCRIPT_NONE;
    if (c <= 0x24f && c != 0xd7 && c != 0xf7)
        return FORMAT_SCRIPT_LATIN;
    if (c >= 0x370 && c <= 0x3ff)
        return FORMAT_SCRIPT_GREEK;
    if (c >= 0x400 && c <= 0x52f)
        return FORMAT_SCRIPT_CYRILLIC;
    if (c >= 0x5d0 && c <= 0x5ea)
        return FORMAT_SCRIPT_HEBREW;
    if ((c >= 0x620 && c <= 0x64a) || (c >= 0x671 && c <= 0x6d3))
        return FORMAT_SCRIPT_ARABIC;
    if (c >= 0x904 && c <= 0x939)
        return FORMAT_SCRIPT_DEVANAGARI;
    if (c >= 0xe01 && c <= 0xe30)
        return FORMAT_SCRIPT_THAI;
    if ((c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff))
        return FORMAT_SCRIPT_HAN;
    if (c >= 0x3041 && c <= 0x30ff && c != 0x30fb && c != 0x30fc)
        return FORMAT_SCRIPT_KANA;
    if (c >= 0xac00 && c <= 0xd7a3)
        return FORMAT_SCRIPT_HANGUL;
    if (c >= 0x1e00 && c <= 0x1eff)
        return FORMAT_SCRIPT_LATIN;
    /* other letters of other scripts; punctuation and symbols are not words */
    if ((c >= 0x2000 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x303f)
        || (c >= 0xff00 && c <= 0xffef) || c == 0xfffd || (c >= 0x300 && c <= 0x36f))
        return FORMAT_SCRIPT_NONE;
    return FORMAT_SCRIPT_OTHER;
}

/* Counts the words of text per script into count (FORMAT_SCRIPT_N). */
static size_t
count_words(const char *text, size_t n, size_t *count)
{
    size_t i = 0, total = 0;
    enum format_script prev = FORMAT_SCRIPT_NONE, sc;

    memset(count, 0, FORMAT_SCRIPT_N * sizeof(*count));
    while (i < n) {
        sc = script_of(next_cp(text, n, &i));
        if (sc != FORMAT_SCRIPT_NONE
            && (sc != prev || sc == FORMAT_SCRIPT_HAN || sc == FORMAT_SCRIPT_KANA
                || sc == FORMAT_SCRIPT_HANGUL)) {
            count[sc]++;
            total++;
        }
        prev = sc;
    }
    return total;
}

enum format_script
format_main_script(const char *text, size_t n)
{
    size_t count[FORMAT_SCRIPT_N], best = 0;
    int s, arg = FORMAT_SCRIPT_NONE;

    count_words(text, n, count);
    for (s = 1; s < FORMAT_SCRIPT_N; s++) {
        if (count[s] > best) {
            best = count[s];
            arg = s;
        }
    }
    return (enum format_script)arg;
}

double
format_script_share(const char *text, size_t n, enum format_script script, size_t *nwords)
{
    size_t count[FORMAT_SCRIPT_N], total = count_words(text, n, count);

    *nwords = total;
    return total ? (double)count[script] / (double)total : 0.0;
}
