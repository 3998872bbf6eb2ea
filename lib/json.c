/*
 * json.c - a one-pass JSON reader building jansson values, and shortest
 * round-trip double formatting.  See json.h.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 512

struct parser {
    const unsigned char *s, *p, *end;
    struct sbuf *err;
    struct sbuf scratch;
    int depth;
    int failed;         /* the first fault is the one told */
};

static json_t *parse_value(struct parser *ps);

static json_t *
fail(struct parser *ps, const unsigned char *at, const char *why)
{
    if (ps->err && !ps->failed)
        sbuf_addf(ps->err, "column %ld: %s", (long)(at - ps->s) + 1, why);
    ps->failed = 1;
    return NULL;
}

static inline void
skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Exact powers of ten representable as doubles (Clinger's fast path). */
static const double pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static json_t *
parse_number(struct parser *ps)
{
    const unsigned char *start = ps->p, *p = ps->p, *end = ps->end;
    uint64_t mant = 0;
    int neg = 0, ndig = 0, frac = 0, isreal = 0, exp10 = 0, overflow = 0;

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return fail(ps, p, "invalid number");
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return fail(ps, start, "invalid number (leading zero)");
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            if (ndig < 19)
                mant = mant * 10 + (uint64_t)(*p - '0');
            else
                overflow = 1, exp10++;
            ndig += mant != 0 || ndig > 0;
            p++;
        }
    }
    if (p < end && *p == '.') {
        isreal = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, p, "invalid number (no digit after '.')");
        while (p < end && *p >= '0' && *p <= '9') {
            if (ndig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                frac++;
                if (mant)
                    ndig++;
            } else if (*p != '0')
                overflow = 1;
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, e = 0;
        isreal = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, p, "invalid number (no digit in exponent)");
        while (p < end && *p >= '0' && *p <= '9') {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            p++;
        }
        exp10 += eneg ? -e : e;
    }
    ps->p = p;
    if (!isreal) {
        if (overflow || mant > (uint64_t)INT64_MAX + (uint64_t)neg)
            return fail(ps, start, "integer out of range");
        if (neg)
            return json_integer(mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)mant);
        return json_integer((json_int_t)mant);
    }
    exp10 -= frac;
    if (!overflow && mant <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)mant;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        return json_real(neg ? -d : d);
    }
    {
        char buf[512], *q;
        size_t len = (size_t)(p - start);
        double d;
        char *tmp = len < sizeof(buf) ? buf : xmalloc(len + 1);
        memcpy(tmp, start, len);
        tmp[len] = '\0';
        errno = 0;
        d = strtod(tmp, &q);
        if (tmp != buf)
            free(tmp);
        if (errno == ERANGE && isinf(d))
            return fail(ps, start, "real number overflow");
        return json_real(d);
    }
}

static int
hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (end - p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void
put_utf8(struct sbuf *sb, unsigned cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sbuf_add(sb, b, n);
}

/* Length of the valid UTF-8 sequence at p, or 0 (RFC 3629, table 3-7). */
static int
utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    long left = end - p;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return left >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return left >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80
            && (p[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/*
 * Parses a string at ps->p (on the opening quote).  The text is left in
 * *out and *len: in place when it had no escapes, else in ps->scratch.
 */
static int
parse_string(struct parser *ps, const char **out, size_t *len)
{
    const unsigned char *p = ps->p + 1, *end = ps->end, *run = p;
    int escaped = 0;

    for (;;) {
        /* The common case: plain ASCII. */
        while (p < end && *p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80)
            p++;
        if (p >= end) {
            fail(ps, ps->p, "unterminated string");
            return -1;
        }
        if (*p == '"')
            break;
        if (*p < 0x20) {
            fail(ps, p, "control character in string");
            return -1;
        }
        if (*p >= 0x80) {
            int n = utf8_len(p, end);
            if (!n) {
                char msg[64];
                snprintf(msg, sizeof(msg), "invalid UTF-8 (byte 0x%02x)", *p);
                fail(ps, p, msg);
                return -1;
            }
            p += n;
            continue;
        }
        /* A backslash. */
        if (!escaped) {
            sbuf_reset(&ps->scratch);
            escaped = 1;
        }
        sbuf_add(&ps->scratch, run, (size_t)(p - run));
        if (p + 1 >= end) {
            fail(ps, p, "unterminated string");
            return -1;
        }
        switch (p[1]) {
        case '"': sbuf_addc(&ps->scratch, '"'); p += 2; break;
        case '\\': sbuf_addc(&ps->scratch, '\\'); p += 2; break;
        case '/': sbuf_addc(&ps->scratch, '/'); p += 2; break;
        case 'b': sbuf_addc(&ps->scratch, '\b'); p += 2; break;
        case 'f': sbuf_addc(&ps->scratch, '\f'); p += 2; break;
        case 'n': sbuf_addc(&ps->scratch, '\n'); p += 2; break;
        case 'r': sbuf_addc(&ps->scratch, '\r'); p += 2; break;
        case 't': sbuf_addc(&ps->scratch, '\t'); p += 2; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p + 2, end, &cp)) {
                fail(ps, p, "invalid \\u escape");
                return -1;
            }
            p += 6;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                fail(ps, p - 6, "invalid \\u escape (lone low surrogate)");
                return -1;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo)
                    || lo < 0xdc00 || lo > 0xdfff) {
                    fail(ps, p - 6, "invalid \\u escape (unpaired surrogate)");
                    return -1;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            put_utf8(&ps->scratch, cp);
            break;
        }
        default:
            fail(ps, p, "invalid escape");
            return -1;
        }
        run = p;
    }
    if (escaped) {
        sbuf_add(&ps->scratch, run, (size_t)(p - run));
        *out = ps->scratch.buf;
        *len = ps->scratch.len;
    } else {
        *out = (const char *)ps->p + 1;
        *len = (size_t)(p - ps->p - 1);
    }
    ps->p = p + 1;
    return 0;
}

static json_t *
parse_object(struct parser *ps)
{
    json_t *obj = json_object();
    struct sbuf key = SBUF_INIT;

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        const unsigned char *kat;
        const char *k;
        size_t klen;
        json_t *v;

        skip_ws(ps);
        kat = ps->p;
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, ps->p, "expected a string key");
            goto bad;
        }
        if (parse_string(ps, &k, &klen))
            goto bad;
        if (memchr(k, '\0', klen)) {
            fail(ps, kat, "NUL in an object key");
            goto bad;
        }
        sbuf_reset(&key);
        sbuf_add(&key, k, klen);
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            fail(ps, ps->p, "expected ':'");
            goto bad;
        }
        ps->p++;
        skip_ws(ps);
        v = parse_value(ps);
        if (!v)
            goto bad;
        if (json_object_get(obj, key.buf)) {
            json_decref(v);
            fail(ps, kat, "duplicate object key");
            goto bad;
        }
        json_object_set_new_nocheck(obj, key.buf, v);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            break;
        }
        fail(ps, ps->p, "expected ',' or '}'");
        goto bad;
    }
    sbuf_release(&key);
    return obj;
bad:
    sbuf_release(&key);
    json_decref(obj);
    return NULL;
}

static json_t *
parse_array(struct parser *ps)
{
    json_t *arr = json_array();

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (;;) {
        json_t *v;

        skip_ws(ps);
        v = parse_value(ps);
        if (!v)
            goto bad;
        json_array_append_new(arr, v);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        }
        fail(ps, ps->p, "expected ',' or ']'");
        goto bad;
    }
bad:
    json_decref(arr);
    return NULL;
}

static json_t *
literal(struct parser *ps, const char *word, json_t *v)
{
    size_t n = strlen(word);

    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, ps->p, "invalid literal");
    ps->p += n;
    return v;
}

static json_t *
parse_value(struct parser *ps)
{
    json_t *v;

    if (ps->p >= ps->end)
        return fail(ps, ps->p, "unexpected end of line");
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > MAX_DEPTH)
            return fail(ps, ps->p, "nested too deeply");
        v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return v;
    case '"': {
        const char *s;
        size_t n;
        if (parse_string(ps, &s, &n))
            return NULL;
        return json_stringn_nocheck(s, n);
    }
    case 't':
        return literal(ps, "true", json_true());
    case 'f':
        return literal(ps, "false", json_false());
    case 'n':
        return literal(ps, "null", json_null());
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
        return fail(ps, ps->p, "unexpected character");
    }
}

json_t *
json_parse(const char *s, size_t n, struct sbuf *err)
{
    struct parser ps;
    json_t *v;

    memset(&ps, 0, sizeof(ps));
    ps.s = ps.p = (const unsigned char *)s;
    ps.end = ps.s + n;
    ps.err = err;
    skip_ws(&ps);
    v = parse_value(&ps);
    if (v) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            json_decref(v);
            v = fail(&ps, ps.p, "trailing characters after the value");
        }
    }
    sbuf_release(&ps.scratch);
    return v;
}

/* ------------------------------------------------------------------ */
/* Shortest round-trip formatting                                      */
/* ------------------------------------------------------------------ */

/*
 * Fast path: the 15-significant-digit rounding of |d| computed in x87
 * extended precision (64-bit mantissa, so 10^k for k <= 27 is exact and
 * one product rounds once), kept only when it is safely away from a
 * rounding tie and reads back as d by Clinger's exact path.  A 15-digit
 * decimal that reads back as d is the shortest one (a shorter one would
 * round to it), so the result equals %.15g with trailing zeros dropped.
 * Everything else goes to the snprintf/strtod search.
 */
static int
fast15(char *buf, double d)
{
    double a = fabs(d);
    static const long double pw10[28] = {
        1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L,
        1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
        1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
    };
    long double scaled, pw;
    uint64_t m;
    int k, e, i, n = 0, ndig;
    char dig[20];

    if (a < 1e-300 || a > 1e300)
        return 0;
    /* k = floor(log10(a)), estimated from the binary exponent, then fixed. */
    frexp(a, &e);
    k = ((e - 1) * 78913) >> 18;   /* 78913 / 2^18 ~ log10(2) */
    for (i = 0; i < 3; i++) {
        e = 14 - k;                /* scaled = a * 10^e has 15 integer digits */
        if (e > 27 || e < -27)
            return 0;
        pw = pw10[e < 0 ? -e : e];
        scaled = e >= 0 ? (long double)a * pw : (long double)a / pw;
        if (scaled >= 1e15L)
            k++;
        else if (scaled < 1e14L)
            k--;
        else
            break;
    }
    if (i == 3)
        return 0;
    m = (uint64_t)(scaled + 0.5L);
    {
        long double fracpart = scaled - (long double)(uint64_t)scaled;
        if (fracpart > 0.4999L && fracpart < 0.5001L)
            return 0;
    }
    if (m >= 1000000000000000ULL)
        return 0;
    /* Does m * 10^-e read back as a? */
    if (e > 22 || e < -22)
        return 0;
    if ((e >= 0 ? (double)m / pow10_exact[e] : (double)m * pow10_exact[-e]) != a)
        return 0;
    /* Digits, trailing zeros dropped. */
    for (ndig = 0; ndig < 15; ndig++) {
        dig[14 - ndig] = (char)('0' + m % 10);
        m /= 10;
    }
    ndig = 15;
    while (ndig > 1 && dig[ndig - 1] == '0')
        ndig--;
    if (d < 0)
        buf[n++] = '-';
    if (k < -4 || k >= 15) {
        /* %g's exponent form: d.ddde[+-]XX */
        buf[n++] = dig[0];
        if (ndig > 1) {
            buf[n++] = '.';
            memcpy(buf + n, dig + 1, (size_t)ndig - 1);
            n += ndig - 1;
        }
        n += snprintf(buf + n, 8, "e%c%02d", k < 0 ? '-' : '+', k < 0 ? -k : k);
    } else if (k < 0) {
        buf[n++] = '0';
        buf[n++] = '.';
        for (i = 0; i < -k - 1; i++)
            buf[n++] = '0';
        memcpy(buf + n, dig, (size_t)ndig);
        n += ndig;
    } else {
        int intd = k + 1;
        for (i = 0; i < intd; i++)
            buf[n++] = i < ndig ? dig[i] : '0';
        if (ndig > intd) {
            buf[n++] = '.';
            memcpy(buf + n, dig + intd, (size_t)(ndig - intd));
            n += ndig - intd;
        }
    }
    buf[n] = '\0';
    return n;
}

int
fmt_int(char *buf, int64_t v)
{
    char tmp[24];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = 0, i = 0;

    do {
        tmp[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[n++] = '-';
    while (i)
        buf[n++] = tmp[--i];
    buf[n] = '\0';
    return n;
}

int
fmt_double(char *buf, double d)
{
    int p, n = 0;

    if (d == 0)
        return snprintf(buf, 32, signbit(d) ? "-0" : "0");
    if ((n = fast15(buf, d)) > 0)
        return n;
    for (p = 15; p <= 17; p++) {
        n = snprintf(buf, 32, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return n;
}

json_t *
json_float(float f)
{
    char buf[40];
    int prec;

    for (prec = 6; prec < 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    if (prec == 9)
        snprintf(buf, sizeof(buf), "%.9g", (double)f);
    return json_real(strtod(buf, NULL));
}
