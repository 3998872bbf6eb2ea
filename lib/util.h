/*
 * util.h - error reporting, checked allocation and strict number parsing.
 *
 * Every tool calls util_setprog(argv[0]) first; messages then read
 * "prog: message" as style(9) asks.  die() exits 1 (runtime or data error),
 * usage errors exit 2 through the caller.  Nothing here keeps state across
 * modules except the program name.
 *
 *     util_setprog(argv[0]);
 *     long n;
 *     if (parse_long(optarg, 1, 1024, &n))
 *         usage_error("-G: '%s' is not an integer in [1, 1024]", optarg);
 *
 * How lib/ reports errors (STYLE.md rules 11, 13 and 15), one rule for
 * every module:
 *   - A function that can fail on its input or on the system returns int
 *     0 on success and -1 on failure (a constructor: the new object or
 *     NULL; a test: 1 or 0, with -1 for bad input), and says why in its
 *     last parameter: const char **why when the reason is fixed text
 *     (static: "missing", "not a string"), or struct sbuf *err when it
 *     carries values (appended, lowercase, no "prog: " and no newline,
 *     naming the file or field in quotes).  The caller chooses: a tool
 *     rejects the record (tool_reject(): "FILE:LINE: field 'x': why") or
 *     dies; lib/ never prints a message and never exits on bad input.
 *     Reasons are appended, never reset, so a caller may prefix them.
 *     Two shapes follow from it: a lookup by name with one way to fail
 *     (chat_parse_format, format_script_parse) returns -1 alone, the
 *     caller naming the name; a reader of items that may meet a bad one
 *     (rin_next) returns NULL with a status, the reason in why.  No
 *     module keeps a last error in its object.
 *   - The modules that run a tool's loop over records (lib/tool, lib/score,
 *     the *_stream.c files, lib/oaigen, lib/stats' plots) are the tools'
 *     bodies: they report a bad record through tool_reject(), which
 *     prints and, failing fast, exits as the tool does, and they die as a
 *     tool does on their own files (spools, --resume's file, plots).
 *   - Each function with acquired resources has one cleanup exit (goto
 *     out / fail) that frees in reverse order; on failure the outputs hold
 *     nothing to free.
 *   - die() is for what no caller can recover from: out of memory
 *     (xmalloc), broken invariants, and the record streams' own I/O
 *     (lib/rec: a truncated zstd frame, a failed write), whose message
 *     already names the stream.
 */
#ifndef POSTTRAIN_UTIL_H
#define POSTTRAIN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PT_VERSION "0.1.0"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PT_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define PT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PT_NORETURN __attribute__((noreturn))
#else
#define PT_PRINTF(f, a)
#define PT_NORETURN
#endif

/* Sets the name used in messages to the basename of argv0 (borrowed). */
void util_setprog(const char *argv0);
/* The program name (borrowed, static). */
const char *util_prog(void);

/* "prog: message\n" on stderr, then exit(1). */
PT_NORETURN void die(const char *fmt, ...) PT_PRINTF(1, 2);
/* As die(), with ": strerror(errno)" appended. */
PT_NORETURN void die_errno(const char *fmt, ...) PT_PRINTF(1, 2);
/* "prog: message\n" on stderr. */
void warnx_(const char *fmt, ...) PT_PRINTF(1, 2);

/*
 * Allocation that dies on failure; results are new, free with free().
 * Blocks of 4 MiB and more are given transparent huge pages where the
 * kernel offers them on request.
 */
void *xmalloc(size_t n);
/* n bytes aligned to align (a power of two); n is rounded up to align. */
void *xaligned(size_t align, size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* n*size with an overflow check (dies on overflow). */
size_t xmul(size_t n, size_t size);

/*
 * Strict number parsing: the whole string must be the number, no leading
 * space, no trailing junk, within [lo, hi] (never clamped).  Return 0 on
 * success, -1 otherwise (*out untouched).
 */
int parse_long(const char *s, long lo, long hi, long *out);
int parse_double(const char *s, double lo, double hi, double *out);
/* A uint64 (e.g. a seed): decimal or 0x hex. */
int parse_u64(const char *s, uint64_t *out);

/* Growable byte buffer. */
struct sbuf {
    char *buf;
    size_t len, cap;
};
#define SBUF_INIT { NULL, 0, 0 }
void sbuf_grow(struct sbuf *sb, size_t extra);
void sbuf_add(struct sbuf *sb, const void *p, size_t n);
void sbuf_addc(struct sbuf *sb, char c);
void sbuf_adds(struct sbuf *sb, const char *s);
void sbuf_addf(struct sbuf *sb, const char *fmt, ...) PT_PRINTF(2, 3);
/* Keeps the allocation, length 0, buf NUL-terminated. */
void sbuf_reset(struct sbuf *sb);
/* Frees the buffer; the struct may be reused after. */
void sbuf_release(struct sbuf *sb);
/* Returns buf, NUL-terminated (never NULL); borrowed. */
const char *sbuf_str(struct sbuf *sb);

/* 64-bit hashing and a seedable RNG (splitmix64 / xoshiro256**). */
uint64_t hash64(const void *p, size_t n, uint64_t seed);
/* XXH64 of the n bytes at p (the xxHash specification's): for large buffers. */
uint64_t xxh64(const void *p, size_t n, uint64_t seed);
uint64_t splitmix64(uint64_t *state);
struct rng {
    uint64_t s[4];
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_u64(struct rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_double(struct rng *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double rng_normal(struct rng *r);

/* Monotonic seconds. */
double now_sec(void);

/*
 * Creates the missing directories above path (not path itself), as
 * mkdir -p would for its dirname, mode 0777 less the umask.  Returns 0,
 * or -1 with errno set and the directory that failed in *failed (a new
 * string the caller frees).
 */
int mkdir_parents(const char *path, char **failed);

#endif
