/*
 * tool.h - what every record tool shares: the common options, the input
 * loop over its operands, the error policy of DESIGN.md and the exit.
 *
 * Common options (all have long forms; tool_parse() adds them to a
 * tool's own option table, under "Common options:" in --help):
 *   -o, --output FILE      write to FILE (temp + rename), not stdout
 *   -z, --zstd             compress the output (also implied by *.zst)
 *       --level N          zstd level (1..19, default 3)
 *       --zstd-threads N   compress with N worker threads (default 0: inline)
 *       --max-errors N     go on past N bad records (default 0: fail fast)
 *       --rejects FILE     where bad records go, whole, with the reason
 *   -q, --quiet            no summary on stderr
 *       --progress         progress on stderr even when it is not a TTY
 *       --unbuffered       flush after each record
 *   -h, --help             usage on stdout, exit 0
 *   -V, --version          version on stdout, exit 0
 *
 * Error policy: tool_reject() with a record and a reason either dies with
 * "prog: FILE:LINE: field 'x': reason" (exit 1) or, under --max-errors,
 * writes {"error": ..., "file": ..., "line": ..., "record": <rec>} to the
 * rejects file and counts it.  Lines that are not JSON are rejected the
 * same way by tool_next(), with "raw" holding the line text.
 *
 *     struct tool t;
 *     const char *foo = NULL;
 *     tool_init(&t, "stats", header);   (synopsis and description)
 *     const struct opt opts[] = {
 *         OPT_STRING('f', "foo", &foo, "X", "the foo"),
 *         OPT_END(),
 *     };
 *     argi = tool_parse(&t, opts, argc, argv);
 *     tool_start(&t, argc - argi, argv + argi);
 *     while ((r = tool_next(&t)) != NULL) { ...; tool_write(&t, r); json_decref(r); }
 *     return tool_finish(&t);
 */
#ifndef POSTTRAIN_TOOL_H
#define POSTTRAIN_TOOL_H

#include <getopt.h>
#include <jansson.h>

#include "opt.h"
#include "rec.h"

/* getopt_long option values of the common long-only options. */
enum {
    TOOL_OPT_LEVEL = 0x1000,
    TOOL_OPT_MAX_ERRORS,
    TOOL_OPT_REJECTS,
    TOOL_OPT_PROGRESS,
    TOOL_OPT_UNBUFFERED,
    TOOL_OPT_ZSTD_THREADS,
    TOOL_OPT_FIRST_FREE = 0x1100, /* tools number their own from here */
};

#define TOOL_SHORTOPTS "o:zqhV"
#define TOOL_LONGOPTS                                                   \
    {"output", required_argument, NULL, 'o'},                           \
    {"zstd", no_argument, NULL, 'z'},                                   \
    {"level", required_argument, NULL, TOOL_OPT_LEVEL},                 \
    {"max-errors", required_argument, NULL, TOOL_OPT_MAX_ERRORS},       \
    {"rejects", required_argument, NULL, TOOL_OPT_REJECTS},             \
    {"quiet", no_argument, NULL, 'q'},                                  \
    {"progress", no_argument, NULL, TOOL_OPT_PROGRESS},                 \
    {"unbuffered", no_argument, NULL, TOOL_OPT_UNBUFFERED},             \
    {"zstd-threads", required_argument, NULL, TOOL_OPT_ZSTD_THREADS},   \
    {"help", no_argument, NULL, 'h'},                                   \
    {"version", no_argument, NULL, 'V'}

struct tool {
    const char *name;
    const char *usage;     /* --help text before the options, borrowed */
    struct opt_prog prog;   /* name and usage, for lib/opt */
    /* options */
    const char *output;
    int zstd, level, zstd_threads, quiet, progress, unbuffered;
    long max_errors;
    const char *rejects_path;
    /* state */
    int ninputs;
    char **inputs;          /* borrowed from argv */
    int cur;                /* index of the open input */
    struct rin *in;
    struct rout *out;
    struct rout *rejects;
    long nread, nwritten, nrejected;
    double t0, last_progress;
    int tty, progress_shown;
};

/* The common options' lines for a tool's --help text. */
#define TOOL_USAGE_COMMON                                                   \
    "  -o, --output FILE     write to FILE (complete or absent), not stdout\n" \
    "  -z, --zstd            compress the output (implied by a .zst name)\n"   \
    "      --level N         zstd level, 1-19 (default 3)\n"                   \
    "      --zstd-threads N  compress with N threads (default 0: inline)\n"    \
    "      --max-errors N    go on past up to N bad records (default 0)\n"     \
    "      --rejects FILE    write bad records there, whole, with the reason\n" \
    "  -q, --quiet           no summary on stderr\n"                          \
    "      --progress        progress on stderr even when it is not a TTY\n"  \
    "      --unbuffered      flush after each record\n"                       \
    "  -h, --help            this help\n"                                     \
    "  -V, --version         the version\n"

/*
 * Sets defaults; name and usage are borrowed (static strings).  usage is
 * the synopsis ("usage: ..." first) and the
 * description; the options' lines come from the tables (opt.h).
 */
void tool_init(struct tool *t, const char *name, const char *usage);
/*
 * Parses argv against opts (ended by OPT_END()) and the common options;
 * returns the index of the first operand (opt_parse()).  Exits 2 on a
 * usage error, 0 after --help or --version.  opts is borrowed.
 */
int tool_parse(struct tool *t, const struct opt *opts, int argc, char **argv);
/*
 * Handles a common option.  Returns 1 if c was one (exiting for -h/-V or
 * a bad value), 0 if the tool must handle it.
 */
int tool_opt(struct tool *t, int c, const char *arg);
/* Prints the usage line and "Try 'prog --help'..." to stderr and exits 2. */
PT_NORETURN void tool_usage(const struct tool *t);
/* As tool_usage, with "prog: message" first. */
PT_NORETURN void tool_usage_error(const struct tool *t, const char *fmt, ...) PT_PRINTF(2, 3);
/* Opens the output and the rejects file; operands are the inputs (none = stdin). */
void tool_start(struct tool *t, int argc, char **argv);
/* As tool_start without opening the main output (tools writing elsewhere). */
void tool_start_noout(struct tool *t, int argc, char **argv);

/*
 * Next record over all inputs (new reference), or NULL at the end.  Bad
 * lines are passed to the error policy and skipped.
 */
json_t *tool_next(struct tool *t);
/* Where the record last returned came from (borrowed) and its line. */
const char *tool_file(const struct tool *t);
long tool_line(const struct tool *t);

/* Writes rec to the output (does not take it). */
void tool_write(struct tool *t, const json_t *rec);

/*
 * Applies the error policy to rec (may be NULL), which came from FILE:LINE
 * (file NULL = the current input position).  field may be NULL when the
 * problem is not one field.  Dies, or records the rejection and returns.
 * Does not take rec.
 */
void tool_reject_at(struct tool *t, const char *file, long line, const json_t *rec,
                    const char *field, const char *fmt, ...) PT_PRINTF(6, 7);
/* tool_reject_at at the current input position. */
void tool_reject(struct tool *t, const json_t *rec, const char *field,
                 const char *fmt, ...) PT_PRINTF(4, 5);

/* Progress line on stderr when it is a TTY or --progress (rate-limited). */
void tool_progress(struct tool *t, const char *fmt, ...) PT_PRINTF(2, 3);

/*
 * Closes the output (rename into place), the rejects and the inputs,
 * prints "prog: N records rejected (see FILE)" when any were, and returns
 * the exit status (0, or 1 if any record was rejected past --max-errors,
 * which never happens because that dies).  Frees what tool_start opened.
 */
int tool_finish(struct tool *t);

/* ---- groups ---- */

/*
 * Consecutive records sharing the string field "group".  A group that
 * reappears after another one started is an error ("group 'x' is split":
 * it was seen before line N).  Memory: one group plus 8 bytes per group
 * seen (a hash set of group ids).
 */
struct group {
    json_t **recs;   /* owned references */
    long *lines;     /* input line of each */
    const char **files;
    size_t n, cap;
    char *id;        /* owned */
};

struct group_reader;
/* New reader over t's input; key is the grouping field ("group"). */
struct group_reader *group_reader_new(struct tool *t, const char *key);
/*
 * Fills g with the next group (previous contents released); returns 1, or
 * 0 at end.  Records lacking the key go to the error policy.
 */
int group_next(struct group_reader *gr, struct group *g);
void group_release(struct group *g);
void group_reader_free(struct group_reader *gr);

#endif
