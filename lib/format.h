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
 * It does not judge the content beyond its size: an empty think block is
 * allowed unless min_think asks for that many words in it (a word: a run
 * of characters that are not white space); an answer is "non-empty" when
 * it has a non-space character.
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
    FORMAT_SHORT_THINK,       /* fewer than min_think words in the block */
};

struct format_opts {
    const char *tag;         /* "think" */
    const char *answer_tag;  /* NULL: the answer is free text */
    int boxed;               /* the answer must hold \boxed{} or \fbox{} */
    int open_in_prompt;      /* the opening tag is in the prompt */
    int min_think;           /* words the block must hold (0: none) */
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

/*
 * Language consistency (DeepSeek-R1, arXiv:2501.12948, sec. 2.3.3: "the
 * proportion of target language words in the CoT").  Words are runs of
 * letters of one script (each Han, kana or Hangul character is a word of
 * its own: those scripts do not space words); scripts are told by code
 * point block.  FORMAT_SCRIPT_NONE: no letters.
 */
enum format_script {
    FORMAT_SCRIPT_NONE = 0,
    FORMAT_SCRIPT_LATIN,
    FORMAT_SCRIPT_GREEK,
    FORMAT_SCRIPT_CYRILLIC,
    FORMAT_SCRIPT_HEBREW,
    FORMAT_SCRIPT_ARABIC,
    FORMAT_SCRIPT_DEVANAGARI,
    FORMAT_SCRIPT_THAI,
    FORMAT_SCRIPT_HAN,
    FORMAT_SCRIPT_KANA,
    FORMAT_SCRIPT_HANGUL,
    FORMAT_SCRIPT_OTHER,
    FORMAT_SCRIPT_N,
};

/* "latin", "han", ... -> script, -1 if unknown; and the name (static). */
int format_script_parse(const char *s, enum format_script *out);
const char *format_script_name(enum format_script s);
/* The script most of the words of text[0, n) are in (NONE: no words). */
enum format_script format_main_script(const char *text, size_t n);
/*
 * The share of the words of text[0, n) in script (0 when it has no
 * words); *nwords receives their number.
 */
double format_script_share(const char *text, size_t n, enum format_script script,
                           size_t *nwords);

#endif
