/*
 * think.h - the <think>...</think> reasoning block of a completion
 * (DeepSeek-R1 style): where it is, whether it is well formed, and the
 * text split into reasoning and answer.
 *
 * The block runs from the first "<think>" to the last "</think>".  When a
 * "</think>" comes before any "<think>" (the opening was part of the
 * prompt), the block starts at the beginning of the text; when there is
 * no "</think>" after the opening (generation stopped while reasoning),
 * it runs to the end.  So:
 *
 *   reasoning  the text inside the block, without its tags, with white
 *              space trimmed at both ends;
 *   answer     the text before the block followed by the text after it,
 *              leading white space of each part removed (a model writes
 *              "</think>\n\n" before its answer).  Without any tag the
 *              whole text is the answer, unchanged.
 *
 * A block is well formed (THINK_OK) with exactly one "<think>" followed
 * by exactly one "</think>".  Every other case with a tag has a status
 * that names what is wrong; think_parse() never fails.
 *
 *     struct think_block b;
 *     think_parse(text, len, &b);
 *     if (b.status != THINK_OK && b.status != THINK_NONE)
 *         printf("%s\n", think_status_name(b.status));
 *     think_answer(text, len, &b, &answer);           (appends to an sbuf)
 *     think_reasoning(text, len, &b, &reasoning);
 *
 * Functions here keep no state; text need not be NUL-terminated.
 */
#ifndef POSTTRAIN_THINK_H
#define POSTTRAIN_THINK_H

#include <stddef.h>

#include "util.h"

#define THINK_OPEN "<think>"
#define THINK_CLOSE "</think>"

enum think_status {
    THINK_NONE = 0,   /* no tag at all */
    THINK_OK,         /* one <think>, then one </think> */
    THINK_UNCLOSED,   /* <think> without </think>: generation stopped inside */
    THINK_UNOPENED,   /* </think> with no <think> before it */
    THINK_REPEATED,   /* more than one <think> or more than one </think> */
};

struct think_block {
    enum think_status status;
    size_t nopen, nclose;  /* tag counts */
    size_t start, end;     /* the block with its tags: text[start, end) */
    size_t in0, in1;       /* inside the tags: text[in0, in1) */
};

/* Finds the block of the len bytes at text (see above) and fills b. */
void think_parse(const char *text, size_t len, struct think_block *b);

/* "none", "ok", "unclosed", "unopened", "repeated" (static). */
const char *think_status_name(enum think_status s);

/* Appends the answer (text outside the block) to out. */
void think_answer(const char *text, size_t len, const struct think_block *b,
                  struct sbuf *out);
/* Appends the reasoning (inside the block, trimmed) to out; nothing for THINK_NONE. */
void think_reasoning(const char *text, size_t len, const struct think_block *b,
                     struct sbuf *out);

#endif
