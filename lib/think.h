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
 * This is the one splitter of the program: the think tool, the format
 * reward (lib/format), rejection sampling (--think strip) and answer
 * extraction all split here, so they agree on every input.  Decided
 * cases, pinned by tests/unit/test_think.c and tests/cli/think/rule.sh:
 *
 *   <think>a</think>b</think>c     repeated; reasoning "a</think>b", answer "c"
 *   <think>a<think>b</think>c      repeated (nested); reasoning "a<think>b",
 *                                  answer "c"
 *   <think>a                       unclosed; reasoning "a", answer ""
 *   a</think>b                     unopened (opened by the chat template);
 *                                  reasoning "a", answer "b"
 *
 * so the final answer is always what follows the last "</think>"
 * (think_tail()), and no text between two closing tags counts as one.
 * Tags are matched case-sensitively: they are single tokens of the
 * chat vocabulary, "<THINK>" is ordinary text.
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

/*
 * think_parse() with other tags: open and close (NUL-terminated,
 * non-empty, borrowed) instead of "<think>" and "</think>", for the
 * format reward's --tag.
 */
void think_parse_tags(const char *text, size_t len, const char *open,
                      const char *close, struct think_block *b);

/*
 * Offset of the final answer: the text after the block, its leading
 * white space skipped, is text[think_tail(), len).  The whole text (0)
 * for THINK_NONE, len for THINK_UNCLOSED.  Answer extraction (the math
 * reward) reads this part only.
 */
size_t think_tail(const char *text, size_t len, const struct think_block *b);

/* "none", "ok", "unclosed", "unopened", "repeated" (static). */
const char *think_status_name(enum think_status s);

/* Appends the answer (text outside the block) to out. */
void think_answer(const char *text, size_t len, const struct think_block *b,
                  struct sbuf *out);
/* Appends the reasoning (inside the block, trimmed) to out; nothing for THINK_NONE. */
void think_reasoning(const char *text, size_t len, const struct think_block *b,
                     struct sbuf *out);

#endif
