/*
 * test_json.c - lib/json against independent references: jansson's own
 * parser (json_loadb) on valid, invalid and randomly mutated documents, and
 * the snprintf("%.17g") search for shortest round-trip doubles.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

static const int ref_flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;

/* Our parser and jansson agree: both reject, or both accept equal values. */
static int
agrees(const char *s, size_t n, int *accepted)
{
    struct sbuf err = SBUF_INIT;
    json_t *a = json_parse(s, n, &err), *b = json_loadb(s, n, ref_flags, NULL);
    int ok;

    if (a && b)
        ok = json_equal(a, b);
    else
        ok = !a && !b;
    if (!a)
        ok = ok && strncmp(sbuf_str(&err), "column ", 7) == 0;
    if (accepted)
        *accepted = a != NULL;
    if (!ok)
        fprintf(stderr, "disagree on '%.*s': ours %s (%s), jansson %s\n", (int)n, s,
                a ? "ok" : "error", sbuf_str(&err), b ? "ok" : "error");
    json_decref(a);
    json_decref(b);
    sbuf_release(&err);
    return ok;
}

static const char *valid[] = {
    "{}", "[]", "0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808",
    "0.5", "-0.0", "1e3", "1E-3", "2.5e+10", "123456789.123456789", "1e-400",
    "0.1", "3.141592653589793", "4.9406564584124654e-324", "1.7976931348623157e308",
    "\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u4e2d\\ud83d\\ude00\"",
    "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"", "\"nul\\u0000inside\"",
    "true", "false", "null", " { \"a\" : [ 1 , 2 , { \"b\" : null } ] } ",
    "{\"ids\":[1,2,3],\"lp\":[-0.25,-1.5e-7,-12.000001],\"s\":\"x\"}",
    "[[[[[[[[[[1]]]]]]]]]]", "12345678901234567890.5", "0.000000000000000000000000001",
};

static const char *invalid[] = {
    "", " ", "{", "}", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}",
    "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "-Infinity",
    "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
    "\"tab\there\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
    "\"\xe2\x82\"", "tru", "nul", "true false", "{\"a\":1}x", "{\"a\":1,\"a\":2}",
    "9223372036854775808", "-9223372036854775809", "1e400", "[1 2]", "{\"a\" 1}",
    "{\"\\u0000\":1}",
};

static void
test_fixed(void)
{
    size_t i;
    int acc;

    for (i = 0; i < ARRAY_LEN(valid); i++) {
        CHECK(agrees(valid[i], strlen(valid[i]), &acc));
        CHECK_MSG(acc, "rejected valid '%s'", valid[i]);
    }
    for (i = 0; i < ARRAY_LEN(invalid); i++) {
        int ok = agrees(invalid[i], strlen(invalid[i]), &acc);
        /* jansson accepts a NUL in a key; we do not (C strings cannot hold it). */
        if (strcmp(invalid[i], "{\"\\u0000\":1}") != 0)
            CHECK(ok);
        CHECK_MSG(!acc, "accepted invalid '%s'", invalid[i]);
    }
    /* Columns point at the fault. */
    {
        struct sbuf err = SBUF_INIT;
        CHECK(json_parse("{\"a\":[1,2,}", 11, &err) == NULL);
        CHECK_STREQ(sbuf_str(&err), "column 11: unexpected character");
        sbuf_reset(&err);
        CHECK(json_parse("{\"a\":\"\xff\"}", 9, &err) == NULL);
        CHECK_STREQ(sbuf_str(&err), "column 7: invalid UTF-8 (byte 0xff)");
        sbuf_reset(&err);
        CHECK(json_parse("{\"a\":1,\"a\":2}", 13, &err) == NULL);
        CHECK_STREQ(sbuf_str(&err), "column 8: duplicate object key");
        sbuf_release(&err);
    }
    /* Deep nesting is an error, not a stack overflow. */
    {
        char *deep = xmalloc(200001);
        memset(deep, '[', 200000);
        deep[200000] = '\0';
        CHECK(json_parse(deep, 200000, NULL) == NULL);
        free(deep);
    }
}

/* Random single-byte mutations of valid documents. */
static void
test_mutations(void)
{
    static const char alphabet[] = "{}[]\",:0123456789.eE+-\\u tfnalrsx\xc3\xa9\xff\x80";
    const char *base = "{\"id\":\"gsm8k-1\",\"k\":3,\"lp\":[-0.5,-1.25e-3,0],"
                       "\"s\":\"a\\nb\\u00e9\",\"ok\":true,\"n\":null}";
    size_t n = strlen(base);
    char *buf = xmalloc(n + 2);
    struct rng r;
    int i, bad = 0, accepted = 0;

    rng_seed(&r, 42);
    for (i = 0; i < 30000; i++) {
        size_t pos = rng_below(&r, n), len = n;
        int acc;
        memcpy(buf, base, n);
        switch (rng_below(&r, 3)) {
        case 0: buf[pos] = alphabet[rng_below(&r, sizeof(alphabet) - 1)]; break;
        case 1: memmove(buf + pos, buf + pos + 1, n - pos - 1); len--; break;
        default:
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = alphabet[rng_below(&r, sizeof(alphabet) - 1)];
            len++;
        }
        if (!agrees(buf, len, &acc))
            bad++;
        accepted += acc;
        if (bad > 5)
            break;
    }
    CHECK_MSG(bad == 0, "%d mutated documents parsed differently", bad);
    CHECK(accepted > 1000 && accepted < 29000);
    free(buf);
}

/* The shortest of %.15g/%.16g/%.17g that reads back, as a reference. */
static void
ref_shortest(char *buf, double d)
{
    int p;

    for (p = 15; p <= 17; p++) {
        snprintf(buf, 40, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static void
test_format(void)
{
    struct rng r;
    char a[40], b[40];
    int i, bad = 0;
    const double fixed[] = { 0.1, 0.5, 1, 10, 100, 1e15, 1e16, 123456789012345.0,
                             1e-5, 1e-4, 0.001, -2.5, 1e21, 1e-7, 5e-324, 1.7976931348623157e308,
                             0.30000000000000004, 2.675, -1.25e-3, 9.999999999999999e14 };

    for (i = 0; i < (int)ARRAY_LEN(fixed); i++) {
        fmt_double(a, fixed[i]);
        ref_shortest(b, fixed[i]);
        CHECK_MSG(strcmp(a, b) == 0, "%s vs %s", a, b);
    }
    rng_seed(&r, 1);
    for (i = 0; i < 300000; i++) {
        double d;
        switch (i % 4) {
        case 0: d = -rng_double(&r) * 20; break;                    /* log-probs */
        case 1: d = (double)(float)(-rng_double(&r) * 20); break;   /* float log-probs */
        case 2: d = (double)(int64_t)(rng_u64(&r) >> 20) / 1000.0; break;
        default: {
            union { uint64_t u; double d; } x;
            x.u = rng_u64(&r);
            d = isfinite(x.d) ? x.d : 1.5;
        }
        }
        fmt_double(a, d);
        ref_shortest(b, d);
        if (strcmp(a, b) != 0 && bad++ < 5)
            fprintf(stderr, "fmt_double(%.17g): '%s', reference '%s'\n", d, a, b);
    }
    CHECK_MSG(bad == 0, "%d doubles formatted differently", bad);
    CHECK(fmt_int(a, INT64_MIN) == 20 && strcmp(a, "-9223372036854775808") == 0);
    CHECK(fmt_int(a, 0) == 1 && strcmp(a, "0") == 0);
    CHECK(fmt_int(a, 42) == 2 && strcmp(a, "42") == 0);
}

int
main(void)
{
    test_fixed();
    test_mutations();
    test_format();
    return check_done();
}
