/*
 * format.h - the shape of a reasoning completion: one <think>...</think>
 * block followed by a non-empty answer, as DeepSeek-R1's format reward
 * asks (arXiv:2501.12948, section 2.2.2: "the model [must] put its
 * thinking process between '<think>' and '</think>' tags").
 *
 * format_check() splits a completion with lib/think's splitter (so it
 * agrees with every other reader on where the block is) and says whether
 * it has that shape, and if not, why.  Only whitespace may precede the opening tag; each tag
 * appears exactly once.  Options: the tag name, a required answer tag
 * (R1-Zero's "<answer>...</answer>"), an answer that must hold \boxed{},
 * and chat templates that put the opening tag in the prompt (then the
 * completion starts inside the block and must not open another).
 *
 * It does not judge the content: an empty think block is allowed, an
 * answer is "non-empty" when it has a non-space character.
 *
 *     struct format_opts o;
 *     struct format_split sp;
 *     format_opts_init(&o);
 *     if (format_check(&o, "<think>hm</think> 42", &sp) == FORMAT_OK)
 *         ...  // sp.answer_s .. sp.answer_e is " 42" without the spaces
 */
#ifndef POSTTRAIN_FORMAT_H
#define POSTTRAIN_FORMAT_H

#include <stddef.h>

enum format_reason {
    FORMAT_OK = 0,
    FORMAT_NO_THINK,          /* no opening tag */
    FORMAT_TEXT_BEFORE,       /* text before the opening tag */
    FORMAT_MULTIPLE,          /* a tag appears more than once */
    FORMAT_UNCLOSED,          /* no closing tag */
    FORMAT_EMPTY_ANSWER,      /* nothing after the block */
    FORMAT_NO_ANSWER_TAG,     /* the answer is not one <answer>...</answer> */
    FORMAT_NOT_BOXED,         /* the answer holds no \boxed{} */
};

struct format_opts {
    const char *tag;         /* "think" */
    const char *answer_tag;  /* NULL: the answer is free text */
    int boxed;               /* the answer must hold \boxed{} or \fbox{} */
    int open_in_prompt;      /* the opening tag is in the prompt */
};

/* Where the parts are, as byte offsets into the text (answer trimmed). */
struct format_split {
    size_t think_s, think_e; /* content of the block */
    size_t answer_s, answer_e;
};

/* Defaults: tag "think", no answer tag, no box, opening tag expected. */
void format_opts_init(struct format_opts *o);
/* Checks text against o; fills *sp (when not NULL) as far as it got. */
enum format_reason format_check(const struct format_opts *o, const char *text,
                              struct format_split *sp);
/* "ok", "no_think", ...; static. */
const char *format_reason_name(enum format_reason r);

#endif
