/*
 * think.c - finding and splitting the reasoning block of think.h.
 */
#include "think.h"

#include <string.h>

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Offset of the first needle in text[from, len), or len. */
static size_t
find(const char *text, size_t len, size_t from, const char *needle, size_t nlen)
{
    const char *p;

    if (from >= len)
        return len;
    p = memmem(text + from, len - from, needle, nlen);
    return p ? (size_t)(p - text) : len;
}

void
think_parse(const char *text, size_t len, struct think_block *b)
{
    think_parse_tags(text, len, THINK_OPEN, THINK_CLOSE, b);
}

void
think_parse_tags(const char *text, size_t len, const char *open, const char *close,
                 struct think_block *b)
{
    size_t fo = len, fc = len, lc = len, i;
    size_t olen = strlen(open), clen = strlen(close);

    memset(b, 0, sizeof(*b));
    for (i = find(text, len, 0, open, olen); i < len;
         i = find(text, len, i + olen, open, olen)) {
        if (b->nopen++ == 0)
            fo = i;
    }
    for (i = find(text, len, 0, close, clen); i < len;
         i = find(text, len, i + clen, close, clen)) {
        if (b->nclose++ == 0)
            fc = i;
        lc = i;
    }
    if (b->nopen == 0 && b->nclose == 0) {
        b->status = THINK_NONE;
        return;
    }
    if (b->nopen > 1 || b->nclose > 1)
        b->status = THINK_REPEATED;
    else if (b->nclose == 1 && (b->nopen == 0 || fc < fo))
        b->status = THINK_UNOPENED;
    else if (b->nclose == 0)
        b->status = THINK_UNCLOSED;
    else
        b->status = THINK_OK;

    if (b->nclose > 0 && (b->nopen == 0 || fc < fo)) {
        b->start = 0;
        b->in0 = 0;
    } else {
        b->start = fo;
        b->in0 = fo + olen;
    }
    if (b->nclose > 0 && lc >= b->in0) {
        b->in1 = lc;
        b->end = lc + clen;
    } else {
        b->in1 = len;
        b->end = len;
    }
}

const char *
think_status_name(enum think_status s)
{
    switch (s) {
    case THINK_NONE:
        return "none";
    case THINK_OK:
        return "ok";
    case THINK_UNCLOSED:
        return "unclosed";
    case THINK_UNOPENED:
        return "unopened";
    case THINK_REPEATED:
        return "repeated";
    }
    return "?";
}

/* Appends text[a, b) without its leading white space. */
static void
add_lstrip(struct sbuf *out, const char *text, size_t a, size_t b)
{
    while (a < b && is_space(text[a]))
        a++;
    sbuf_add(out, text + a, b - a);
}

size_t
think_tail(const char *text, size_t len, const struct think_block *b)
{
    size_t a = b->end;

    if (b->status == THINK_NONE)
        return 0;
    while (a < len && is_space(text[a]))
        a++;
    return a;
}

void
think_answer(const char *text, size_t len, const struct think_block *b, struct sbuf *out)
{
    if (b->status == THINK_NONE) {
        sbuf_add(out, text, len);
        return;
    }
    add_lstrip(out, text, 0, b->start);
    add_lstrip(out, text, b->end, len);
}

void
think_reasoning(const char *text, size_t len, const struct think_block *b, struct sbuf *out)
{
    size_t a = b->in0, e = b->in1;

    (void)len;
    if (b->status == THINK_NONE)
        return;
    while (e > a && is_space(text[e - 1]))
        e--;
    add_lstrip(out, text, a, e);
}
