/*
 * json.h - the JSON reader and number formatting under lib/rec.
 *
 * json_parse() reads one JSON text into jansson values, like json_loadb()
 * but several times faster on the records this project moves (long arrays
 * of token ids and log-probabilities): one pass, no stream abstraction,
 * and numbers converted exactly on a fast path (Clinger 1990) with
 * strtod() as the fallback.  It rejects what jansson rejects: invalid
 * UTF-8 (overlong forms, surrogates, code points past U+10FFFF), duplicate
 * keys, integers outside int64, trailing garbage, control characters in
 * strings.  NUL (\u0000) inside strings is allowed.
 *
 *     struct sbuf err = SBUF_INIT;
 *     json_t *v = json_parse(line, len, &err);   // NULL: err holds "column N: why"
 *
 * fmt_double() writes the shortest decimal that reads back as the same
 * double (at most 17 significant digits).
 */
#ifndef POSTTRAIN_JSON_H
#define POSTTRAIN_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * Parses s[0..n); a new reference, or NULL with "column N: reason"
 * appended to err (NULL: no reason wanted).
 */
json_t *json_parse(const char *s, size_t n, struct sbuf *err);

/*
 * Writes the shortest round-trip form of the finite double d to buf (at
 * least 32 bytes), %g style; returns its length.
 */
int fmt_double(char *buf, double d);
/*
 * A new real holding the double nearest to the shortest decimal that reads
 * back as the float f, so a float written as JSON stays short ("-0.25",
 * not "-0.25000000372529").
 */
json_t *json_float(float f);

/* Writes v in decimal to buf (at least 24 bytes); returns its length. */
int fmt_int(char *buf, int64_t v);

#endif
