/*
 * mathans.h - final answers of math completions: extraction, parsing and
 * equivalence with a reference answer.  The rule-based math reward of
 * DeepSeek-R1 (arXiv:2501.12948, section 2.2.2) rests on it.
 *
 * Extraction finds the final answer in a completion by Math-Verify's
 * priorities (its reward configuration, \boxed first): the last \boxed{}
 * or \fbox{} group or a Minerva "final answer is X. I hope it is
 * correct." sentence, whichever ends last; "final answer ... is X";
 * "answer: X"; "answer ... X"; a GSM8K "#### N" line; the last math
 * environment ($...$, $$...$$, \(...\), \[...\]) or number, whichever ends
 * last.  Boxes and environments joined by commas, "and", "or" are one set
 * of answers.  Within one level the match that ends last is taken first,
 * and the first that parses wins.  A multiple-choice letter is extracted
 * instead when asked (MATHANS_M_LETTER) or when the reference is a single
 * letter A-Z.  The text inside the <think> block (as lib/think splits it)
 * is not searched unless MATHANS_SEARCH_THINK.
 *
 * Both answers are parsed from LaTeX (or plain text) into expression trees
 * and compared: numbers by value (exact for integers, decimal literals
 * rounded to 6 places as Math-Verify does, or a relative tolerance),
 * expressions with free variables numerically at several pseudo-random
 * points, tuples and intervals element by element with their brackets,
 * lists and sets without order, matrices by shape and elements, equations
 * and inequalities side by side, words as normalized text.  The reference
 * is the authority: a reference that cannot be parsed never matches
 * (MATHANS_UNPARSED_REFERENCE).  Nothing here crashes, loops or recurses
 * without bound on any input: nesting, sizes and node counts are capped,
 * and an input over a cap is "unparsed".
 *
 * Invariants: a struct mathans owns all its scratch memory; results that
 * point into it are borrowed until the next call on the same checker.
 * It is not thread-safe: one checker per thread.
 *
 *     struct mathans_opts o;
 *     mathans_opts_init(&o);
 *     struct mathans *m = mathans_new(&o);
 *     struct mathans_result r;
 *     mathans_check(m, "\\frac{1}{2}", "so it is $\\boxed{0.5}$.", &r);
 *     // r.reason == MATHANS_CORRECT, r.extracted == "0.5"
 *     mathans_free(m);
 */
#ifndef POSTTRAIN_MATHANS_H
#define POSTTRAIN_MATHANS_H

#include <stddef.h>
#include <stdint.h>

/* Where an extracted answer came from. */
enum mathans_method {
    MATHANS_M_NONE = 0,
    MATHANS_M_BOXED,   /* last \boxed{} / \fbox{} */
    MATHANS_M_FINAL,   /* "final answer is X" / "final answer: X" */
    MATHANS_M_ANSWER,  /* "answer: X" / "answer is X" */
    MATHANS_M_HASH,    /* "#### X" (GSM8K style) */
    MATHANS_M_NUMBER,  /* the last number or arithmetic expression */
    MATHANS_M_LATEX,   /* the last math environment ($...$, \[...\], ...) */
    MATHANS_M_LAST,    /* latex or number, whichever ends last (an order
                          entry only: the result names which) */
    MATHANS_M_LETTER,  /* a multiple-choice letter A-Z */
    MATHANS_M_COUNT
};

/* The verdict and why. */
enum mathans_reason {
    MATHANS_CORRECT = 0,
    MATHANS_WRONG,
    MATHANS_NO_ANSWER,           /* nothing could be extracted */
    MATHANS_UNPARSED_ANSWER,     /* extracted, but not parseable */
    MATHANS_UNPARSED_REFERENCE,  /* the reference is not parseable */
};

/* How a percent sign is read (both sides alike). */
enum mathans_percent {
    MATHANS_PCT_VALUE = 0,  /* 10\% is 0.1: "0.1" matches, "10" not
                               (Math-Verify) */
    MATHANS_PCT_NUMBER,     /* 10\% is the number 10: "10" matches, "0.1" not */
    MATHANS_PCT_EITHER,     /* a match under either reading counts */
};

enum mathans_flags {
    MATHANS_ORDERED_LISTS = 1 << 0,    /* bare lists "1, 2" compare in order */
    MATHANS_STRICT_EQUATIONS = 1 << 1, /* answer "x = 3" does not match "3" */
    MATHANS_REDUCED =
        1 << 2, /* fractions of integers must be in lowest terms */
    MATHANS_SEARCH_THINK = 1 << 3, /* also search inside <think>...</think> */
    MATHANS_NO_VECTOR_TUPLE = 1
                              << 4, /* a column vector does not match (a, b) */
    MATHANS_MULTISET = 1 << 5,     /* "1, 1, 2" is not "1, 2" (duplicates
                                      count; Math-Verify: sets) */
    MATHANS_TUPLE_BRACKETS = 1 << 6, /* a bare "1, 2" does not match the
                                        pair or open interval (1, 2) */
    MATHANS_SET_RELATION = 1 << 7, /* a reference interval also matches a
                                      relation "2 < x < 5" */
    MATHANS_NO_DECIMAL_COMMA = 1 << 8, /* "2,74" is not 2.74 */
};

struct mathans_opts {
    /* Extraction methods in order, terminated by MATHANS_M_NONE.
       Default: boxed, final, answer, hash, last. */
    enum mathans_method order[MATHANS_M_COUNT];
    int places;             /* decimal literals: both sides rounded to this
                               many places must agree (default 6); -1: use
                               rtol instead */
    double rtol;            /* relative tolerance, default 1e-6 */
    int npoints;            /* random points for expressions, default 5 */
    uint64_t seed;          /* for the points, default 0 */
    enum mathans_percent percent;
    int flags;              /* enum mathans_flags */
};

struct mathans_result {
    enum mathans_reason reason;
    enum mathans_method method;
    const char *extracted;  /* borrowed until the next call; NULL if none */
    const char *reference;  /* the reference answer proper (after "####"
                               or \boxed{} unwrapping); borrowed likewise */
    size_t extracted_len, reference_len;  /* their bytes (a NUL may be
                                             among them) */
};

/* Sets the defaults above. */
void mathans_opts_init(struct mathans_opts *o);
/*
 * Parses a method list such as "boxed,final,answer,hash,last" into
 * o->order.  Returns 0, or -1 (o untouched) on an unknown or repeated name.
 */
int mathans_parse_order(struct mathans_opts *o, const char *list);
/* Name of a method or reason ("boxed", "unparsed_answer", ...); static. */
const char *mathans_method_name(enum mathans_method m);
const char *mathans_reason_name(enum mathans_reason r);

/* New checker; o is copied.  Free with mathans_free(). */
struct mathans *mathans_new(const struct mathans_opts *o);
void mathans_free(struct mathans *m);

/*
 * Extracts the final answer of a completion.  Returns the method (NONE if
 * nothing was found) and stores the answer (borrowed until the next call,
 * trimmed, without surrounding $ or \( \)) in *out.
 */
enum mathans_method mathans_extract(struct mathans *m, const char *text,
                                    const char **out);

/*
 * The reference proper of an "answer" field: the text after the last
 * "####" (GSM8K), else the content of the last \boxed{} (a full worked
 * solution), else the whole string, trimmed.  Borrowed until the next call.
 */
const char *mathans_reference(struct mathans *m, const char *answer);

/*
 * Is answer (already extracted) equivalent to the reference?  Returns
 * MATHANS_CORRECT, MATHANS_WRONG, MATHANS_UNPARSED_ANSWER or
 * MATHANS_UNPARSED_REFERENCE.  Both are strings, neither is taken.
 */
enum mathans_reason mathans_equiv(struct mathans *m, const char *reference,
                                  const char *answer);

/*
 * The whole decision: the reference proper of answer_field, the answer
 * extracted from completion, their equivalence.  Fills *res.
 */
void mathans_check(struct mathans *m, const char *answer_field,
                   const char *completion, struct mathans_result *res);
/*
 * The same for strings of known length, which may hold NUL bytes: they
 * are never cut there, and a NUL in an answer makes it unparseable.
 */
void mathans_check_len(struct mathans *m, const char *answer_field,
                       size_t alen, const char *completion, size_t clen,
                       struct mathans_result *res);

/*
 * The text of a reference given as a JSON number: integers in full
 * ("42"), others in the shortest form that reads back to v ("0.1").
 */
void mathans_number_text(double v, char *buf, size_t n);

/* 1 if the string parses as an answer (used to vet references). */
int mathans_parses(struct mathans *m, const char *s);

#endif
