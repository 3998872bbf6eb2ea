/*
 * codeblock.c - Markdown fenced code blocks, as CommonMark defines fences
 * (https://spec.commonmark.org/0.31.2/#fenced-code-blocks), without the
 * rest of Markdown: indented code blocks, block quotes and lists are not
 * recognized, and the info string's first word is the language.
 */
#include "codeblock.h"

#include <string.h>
#include <strings.h>

#include "util.h"

static const char *const aliases[][5] = {
    { "python", "python", "py", "python3", NULL },
    { "c", "c", NULL },
    { "cpp", "cpp", "c++", "cc", "cxx" },
    { "java", "java", NULL },
    { "go", "go", "golang", NULL },
    { "rust", "rust", "rs", NULL },
    { "javascript", "javascript", "js", "node", "nodejs" },
};

int
codeblock_lang_matches(const char *lang, const char *word, size_t n)
{
    size_t i, j;

    if (!lang || !n)
        return 0;
    for (i = 0; i < ARRAY_LEN(aliases); i++) {
        if (strcasecmp(aliases[i][0], lang) != 0)
            continue;
        for (j = 1; j < ARRAY_LEN(aliases[i]) && aliases[i][j]; j++)
            if (strlen(aliases[i][j]) == n && strncasecmp(aliases[i][j], word, n) == 0)
                return 1;
        return 0;
    }
    return strlen(lang) == n && strncasecmp(lang, word, n) == 0;
}

/*
 * If the line [p, e) is a fence, returns its length (number of fence
 * characters) and sets *ch, *rest (what follows the fence); else 0.
 */
static size_t
fence(const char *p, const char *e, char *ch, const char **rest)
{
    size_t ind = 0, n = 0;

    while (p < e && *p == ' ' && ind < 4) {
        p++;
        ind++;
    }
    if (ind > 3 || p == e || (*p != '`' && *p != '~'))
        return 0;
    *ch = *p;
    while (p < e && *p == *ch) {
        p++;
        n++;
    }
    if (n < 3)
        return 0;
    /* A backtick fence's info string may not contain backticks. */
    if (*ch == '`' && memchr(p, '`', (size_t)(e - p)))
        return 0;
    *rest = p;
    return n;
}

static int
blank(const char *p, const char *e)
{
    for (; p < e; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            return 0;
    return 1;
}

int
codeblock_find(const char *text, size_t len, const char *lang, size_t *off,
               size_t *blen)
{
    const char *p = text, *end = text + len;
    int found_any = 0, found_lang = 0;
    size_t any_off = 0, any_len = 0, lang_off = 0, lang_len = 0;

    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        const char *next = e ? e + 1 : end, *rest, *w, *we, *body, *q;
        size_t n, bodyend;
        int closed;
        char ch;

        if (!e)
            e = end;
        n = fence(p, e, &ch, &rest);
        if (!n) {
            p = next;
            continue;
        }
        w = rest;
        while (w < e && (*w == ' ' || *w == '\t'))
            w++;
        we = w;
        while (we < e && *we != ' ' && *we != '\t' && *we != '\r' && *we != '{')
            we++;
        /* The content runs to the closing fence; without one, the text
         * was cut off inside the block and holds no program. */
        body = next;
        bodyend = (size_t)(end - text);
        closed = 0;
        for (q = body; q < end;) {
            const char *qe = memchr(q, '\n', (size_t)(end - q));
            const char *qn = qe ? qe + 1 : end, *r;
            char c2;
            size_t m;

            if (!qe)
                qe = end;
            m = fence(q, qe, &c2, &r);
            if (m >= n && c2 == ch && blank(r, qe)) {
                bodyend = (size_t)(q - text);
                next = qn;
                closed = 1;
                break;
            }
            q = qn;
        }
        if (!closed)
            return 0;
        found_any = 1;
        any_off = (size_t)(body - text);
        any_len = bodyend > any_off ? bodyend - any_off : 0;
        if (codeblock_lang_matches(lang, w, (size_t)(we - w))) {
            found_lang = 1;
            lang_off = any_off;
            lang_len = any_len;
        }
        p = next;
    }
    if (found_lang) {
        *off = lang_off;
        *blen = lang_len;
        return 1;
    }
    if (found_any) {
        *off = any_off;
        *blen = any_len;
        return 1;
    }
    return 0;
}
