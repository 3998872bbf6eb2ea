/*
 * fuzz_mathans.c - the answer checker and the format check on arbitrary
 * bytes: the input is "REFERENCE\nCOMPLETION" (no newline: both are the
 * input).  Nothing may crash, hang or leak, under every option; results
 * must be consistent (an extracted answer exactly when a method is named).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mathans.h"
#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int flags[] = {
        0,
        MATHANS_ORDERED_LISTS | MATHANS_REDUCED,
        MATHANS_STRICT_EQUATIONS | MATHANS_SEARCH_THINK
            | MATHANS_NO_VECTOR_TUPLE,
        MATHANS_MULTISET | MATHANS_TUPLE_BRACKETS | MATHANS_SET_RELATION
            | MATHANS_NO_DECIMAL_COMMA,
    };
    char *buf = malloc(size + 1), *ref, *comp, *nl;
    struct mathans_opts o;
    struct format_opts to;
    size_t i;

    if (!buf)
        abort();
    memcpy(buf, data, size);
    buf[size] = 0;      /* an embedded NUL ends the strings early: fine */
    ref = buf;
    nl = strchr(buf, '\n');
    if (nl) {
        *nl = 0;
        comp = nl + 1;
    } else {
        comp = buf;
    }
    for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        struct mathans *m;
        struct mathans_result r;

        mathans_opts_init(&o);
        o.flags = flags[i];
        o.percent = (enum mathans_percent)(i % 3);
        o.npoints = 1 + (int)i * 3;
        if (i == 3) {
            o.places = -1;
            if (mathans_parse_order(&o, "letter,latex,number,final") != 0)
                abort();
        }
        m = mathans_new(&o);
        /* the raw bytes, NULs and all */
        mathans_check_len(m, (const char *)data, nl ? (size_t)(nl - buf) : size,
                          (const char *)data + (nl ? (size_t)(nl - buf) + 1 : 0),
                          nl ? size - (size_t)(nl - buf) - 1 : size, &r);
        if ((r.method == MATHANS_M_NONE) != (r.extracted == NULL))
            abort();
        mathans_check(m, ref, comp, &r);
        if ((r.method == MATHANS_M_NONE) != (r.extracted == NULL))
            abort();
        if (r.reason > MATHANS_UNPARSED_REFERENCE)
            abort();
        (void)mathans_equiv(m, comp, ref);
        (void)mathans_equiv(m, ref, ref);
        mathans_free(m);
    }
    format_opts_init(&to);
    (void)format_check(&to, comp, NULL);
    to.answer_tag = "answer";
    to.boxed = 1;
    (void)format_check(&to, comp, NULL);
    to.open_in_prompt = 1;
    (void)format_check(&to, ref, NULL);
    free(buf);
    return 0;
}
