/*
 * opt.h - option tables: each option of a program is written once, as a
 * row, and its getopt_long row, its letter in the short-option string,
 * its --help line and its range check all come from that row.  In the
 * way of git's parse-options, with zstd's strict number readers (util.h
 * parse_*): a number out of range is a usage error naming the option,
 * never clamped.
 *
 * What it is not: the tools' common options or their input loop
 * (tool.h builds on this); checks between options ("give -a or -b, not
 * both") stay in the tool, after the parse, on the values and the
 * "given" flags.
 *
 * A table is an array of struct opt ended by OPT_END(); the value
 * pointers are the program's own variables (the table lives in main):
 *
 *     long n = 1; const char *key = "reward"; int json = 0, scale = 0;
 *     static const struct opt_choice scales[] = {
 *         {"group", 0}, {"batch", 1}, {"none", 2}, {NULL, 0}};
 *     const struct opt opts[] = {
 *         OPT_LONG('n', "count", &n, "N", 1, 1024, "how many (default 1)"),
 *         OPT_STRING(0, "reward", &key, "KEY", "the reward field"),
 *         OPT_BOOL('j', "json", &json, "JSON, not a table"),
 *         OPT_END(),
 *     };
 *     const struct opt *tabs[] = {opts, NULL};
 *     argi = opt_parse(&p, tabs, argc, argv);   (p: prog and help text)
 *
 * Messages (STYLE.md rules 11, 12, 21): a bad value exits 2 with
 *   "prog: -n: 'x' is not an integer in [1, 1024]" (a choice: "'x' is
 *   not group, batch or none"), the usage line and
 *   "Try 'prog --help' for more information.", the option named as it was
 *   typed (-n or --count).  --help text: the header, then per option
 *   "  -n, --count N         help", the help column at OPT_HELP_COL, a help
 *   text's '\n' continuing under that column; an OPT_GROUP row prints its
 *   text as it is (a heading such as "Common options:").
 */
#ifndef POSTTRAIN_OPT_H
#define POSTTRAIN_OPT_H

#include <stdarg.h>
#include <stdint.h>

#include "util.h"

enum opt_type {
    OPT_T_END,
    OPT_T_GROUP,    /* no option: help text printed as is */
    OPT_T_BOOL,     /* int *: set to 1 */
    OPT_T_SET,      /* int *: set to min (flags that choose one value) */
    OPT_T_BIT,      /* int *: the bits of min set (a flag in a bit mask) */
    OPT_T_STRING,   /* const char **: the argument, borrowed from argv */
    OPT_T_INT,      /* int *: an integer in [min, max] */
    OPT_T_LONG,     /* long *: an integer in [min, max] */
    OPT_T_DOUBLE,   /* double *: a number in [fmin, fmax] */
    OPT_T_FLOAT,    /* float *: as double */
    OPT_T_U64,      /* uint64_t *: decimal or 0x hex; max > 0 bounds it */
    OPT_T_SIZE,     /* uint64_t *: bytes, or with KB, MB, GB, TB */
    OPT_T_CHOICE,   /* int *: the value of the word given, one of choices */
    OPT_T_CALL,     /* cb(value, arg, why) < 0: a usage error */
    OPT_T_HELP,     /* --help: the help text on stdout, exit 0 */
    OPT_T_VERSION,  /* --version: "prog (posttrain) VERSION", exit 0 */
};

enum opt_flags {
    OPT_OPEN_MIN = 1 << 0,  /* the lower bound itself is out: (min, max] */
    OPT_NAME_LONG = 1 << 1, /* messages name the long form, even after -c */
};

/* A word an OPT_T_CHOICE row takes and the value it stands for. */
struct opt_choice {
    const char *name;       /* NULL: the end of the list */
    int value;
};

struct opt {
    enum opt_type type;
    int short_name;         /* 0: long only */
    const char *long_name;  /* NULL: short only */
    void *value;            /* the variable (borrowed), or cb's context */
    const char *argname;    /* "N", "FILE" in --help; NULL: no argument */
    const char *help;
    long min, max;          /* integers; OPT_T_SET: the value set */
    double fmin, fmax;      /* numbers */
    unsigned flags;         /* enum opt_flags */
    /*
     * OPT_T_CALL: 0, or -1 with why holding the reason ("more than 32
     * stop strings"), or -1 with why empty: then "'ARG' is not WHAT".
     */
    int (*cb)(void *value, const char *arg, struct sbuf *why);
    /*
     * What the option takes, in a range error "'ARG' is not WHAT" (a
     * callback's, or a number row's own words in place of the generated
     * range: "a positive integer").  NULL: from the type and the range.
     */
    const char *what;
    int *given;             /* set to 1 when the option is given (or NULL) */
    /* OPT_T_CHOICE: the words, in the order a range error lists them */
    const struct opt_choice *choices;
};

#define OPT_HELP_COL 24

/* Rows.  S: the letter or 0, L: the long name or NULL, V: the variable. */
#define OPT_END() { .type = OPT_T_END }
#define OPT_GROUP(TEXT) { .type = OPT_T_GROUP, .help = (TEXT) }
#define OPT_BOOL(S, L, V, H) \
    { .type = OPT_T_BOOL, .short_name = (S), .long_name = (L), .value = (V), .help = (H) }
#define OPT_SET(S, L, V, X, H) \
    { .type = OPT_T_SET, .short_name = (S), .long_name = (L), .value = (V), .min = (X), \
      .help = (H) }
#define OPT_BIT(S, L, V, MASK, H) \
    { .type = OPT_T_BIT, .short_name = (S), .long_name = (L), .value = (V), .min = (MASK), \
      .help = (H) }
#define OPT_STRING(S, L, V, A, H) \
    { .type = OPT_T_STRING, .short_name = (S), .long_name = (L), .value = (V), \
      .argname = (A), .help = (H) }
#define OPT_INT(S, L, V, A, LO, HI, H) \
    { .type = OPT_T_INT, .short_name = (S), .long_name = (L), .value = (V), .argname = (A), \
      .min = (LO), .max = (HI), .help = (H) }
#define OPT_LONG(S, L, V, A, LO, HI, H) \
    { .type = OPT_T_LONG, .short_name = (S), .long_name = (L), .value = (V), .argname = (A), \
      .min = (LO), .max = (HI), .help = (H) }
#define OPT_DOUBLE(S, L, V, A, LO, HI, H) \
    { .type = OPT_T_DOUBLE, .short_name = (S), .long_name = (L), .value = (V), \
      .argname = (A), .fmin = (LO), .fmax = (HI), .help = (H) }
#define OPT_FLOAT(S, L, V, A, LO, HI, H) \
    { .type = OPT_T_FLOAT, .short_name = (S), .long_name = (L), .value = (V), \
      .argname = (A), .fmin = (LO), .fmax = (HI), .help = (H) }
#define OPT_U64(S, L, V, A, HI, H) \
    { .type = OPT_T_U64, .short_name = (S), .long_name = (L), .value = (V), .argname = (A), \
      .max = (HI), .help = (H) }
#define OPT_SIZE(S, L, V, A, H) \
    { .type = OPT_T_SIZE, .short_name = (S), .long_name = (L), .value = (V), \
      .argname = (A), .help = (H) }
#define OPT_CHOICE(S, L, V, A, C, H) \
    { .type = OPT_T_CHOICE, .short_name = (S), .long_name = (L), .value = (V), \
      .argname = (A), .choices = (C), .help = (H) }
#define OPT_CALL(S, L, V, A, CB, WHAT, H) \
    { .type = OPT_T_CALL, .short_name = (S), .long_name = (L), .value = (V), \
      .argname = (A), .cb = (CB), .what = (WHAT), .help = (H) }

#define OPT_HELP() { .type = OPT_T_HELP, .short_name = 'h', .long_name = "help", \
                     .help = "this help" }
#define OPT_VERSION() { .type = OPT_T_VERSION, .short_name = 'V', .long_name = "version", \
                        .help = "the version" }

/* What a parse needs besides the tables. */
struct opt_prog {
    const char *name;       /* "stats" (borrowed) */
    const char *header;     /* --help text before the options: the synopsis
                             * ("usage: ..." first), then the description
                             * (borrowed) */
    const char *usage;      /* NULL: a usage error ends with the header's
                             * first line and the --help hint; else with
                             * this text as it is (init: both synopses) */
};

/*
 * Parses argv's options against the NULL-ended list of tables (rows set
 * their variables in the order given; -h/--help and -V/--version are
 * OPT_HELP() and OPT_VERSION() rows exit here).  Returns the index of the first
 * operand; exits 2 on a usage error, 0 after --help or --version.
 * "given" flags are set; the tables are borrowed.
 */
int opt_parse(const struct opt_prog *p, const struct opt *const *tabs, int argc, char **argv);

/*
 * The row of tab (ended by OPT_END()) whose long name is name, to set
 * what the row macros do not (given, flags); dies when there is none
 * (a program's own table: a bug).  Borrowed.
 */
struct opt *opt_find(struct opt *tab, const char *name);

/* The whole --help text of tabs to stdout. */
void opt_help(const struct opt_prog *p, const struct opt *const *tabs);

/*
 * The usage line (the header's first) and "Try 'prog --help'..." on
 * stderr, or p->usage when set; exit 2.
 */
PT_NORETURN void opt_usage(const struct opt_prog *p);
/* As opt_usage, with "prog: message" first. */
PT_NORETURN void opt_usage_error(const struct opt_prog *p, const char *fmt, ...) PT_PRINTF(2, 3);
PT_NORETURN void opt_usage_verror(const struct opt_prog *p, const char *fmt, va_list ap);

#endif
