/*
 * rec.h - JSONL record streams: reading (plain or zstd, detected by magic
 * number) and writing (plain or zstd, atomically renamed into place).
 *
 * A reader yields one JSON value per line.  Lines may be of any length, may
 * end in CRLF, and the last one needs no newline.  Blank lines are skipped.
 * Input is decompressed while streaming, in constant memory (plus the
 * longest line).  A truncated zstd frame is an error, never a short read.
 *
 * A writer emits compact JSON, one value per line, fields in their order,
 * numbers in the shortest form that reads back to the same double.  A named
 * output is written to a same-directory temporary file (O_EXCL, named after
 * its writer: tmpfile.h) and renamed into place by rout_close(), after
 * fsync; on error or signal the temporary file is removed, after SIGKILL
 * the next writer into the directory removes it.  "-" or NULL is stdout.
 *
 *     struct rin *in = rin_open("-");
 *     struct rout *out = rout_open(NULL, 0, 0);
 *     json_t *r;
 *     while ((r = rin_next(in, &st, &why)) != NULL) { rout_write(out, r); json_decref(r); }
 *     rout_close(out); rin_close(in);
 *
 * Most tools use tool.h, which wraps these with the error policy.
 */
#ifndef POSTTRAIN_REC_H
#define POSTTRAIN_REC_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

/* ---- reading ---- */

struct rin;

/*
 * Opens a file ("-" or NULL is stdin) for reading records.  Dies with
 * "prog: FILE: strerror" if it cannot be opened.  Result is new.
 */
struct rin *rin_open(const char *path);
/* Closes and frees; NULL is allowed. */
void rin_close(struct rin *in);

/* Why rin_next returned NULL. */
enum rin_status {
    RIN_OK = 0,    /* a record was returned */
    RIN_EOF,       /* end of input */
    RIN_BADLINE,   /* the line is not valid JSON/UTF-8, or not an object */
};

/*
 * Next raw line, without its newline or CR (borrowed until the next call),
 * or NULL at end of input.  *len receives its length.  Dies on I/O errors
 * and truncated zstd input.  Blank lines are returned too.
 */
const char *rin_line(struct rin *in, size_t *len);

/*
 * Next record: a new reference, or NULL with *st set to RIN_EOF or
 * RIN_BADLINE.  On RIN_BADLINE the reason is appended to why (e.g.
 * "column 7: invalid UTF-8") and the raw line stays available through
 * rin_rawline(); the next call goes on with the following line.  Blank
 * lines are skipped.
 */
json_t *rin_next(struct rin *in, enum rin_status *st, struct sbuf *why);

/* File name for messages ("<stdin>" for stdin); borrowed. */
const char *rin_name(const struct rin *in);
/* 1-based number of the line last returned. */
long rin_lineno(const struct rin *in);
/* Last raw line (borrowed until next call) and its length. */
const char *rin_rawline(const struct rin *in, size_t *len);

/* ---- writing ---- */

struct rout;

enum rout_flags {
    ROUT_ZSTD = 1 << 0,       /* compress (implied by a ".zst" name) */
    ROUT_UNBUFFERED = 1 << 1, /* flush after each record */
};

/*
 * Opens an output: NULL or "-" is stdout, else a temporary file beside
 * PATH that rout_close() renames to PATH.  level is the zstd level (0 =
 * default 3).  Dies if the temporary file cannot be made.  Result is new.
 */
struct rout *rout_open(const char *path, int flags, int level);

/* Compresses with n worker threads (0: in the calling thread, the default). */
void rout_zstd_threads(struct rout *out, int n);
/* Writes one record as compact JSON plus '\n'.  Does not take rec. */
void rout_write(struct rout *out, const json_t *rec);
/* Writes raw bytes (for non-JSON outputs such as tables). */
void rout_raw(struct rout *out, const void *p, size_t n);
/* Number of records written so far. */
long rout_count(const struct rout *out);
/*
 * Finishes the stream (zstd epilogue), flushes, fsyncs and renames a named
 * output into place.  Dies on any write error (EPIPE re-raises SIGPIPE so
 * the tool ends quietly, like head(1) expects).  Frees out.
 */
void rout_close(struct rout *out);
/* Removes a named output's temporary file without renaming; frees out. */
void rout_abort(struct rout *out);

/*
 * Appends the compact JSON of v to sb: shortest round-trip reals, fields
 * in order, non-ASCII kept as UTF-8, control characters escaped.
 */
void json_emit(struct sbuf *sb, const json_t *v);

/* ---- small accessors used by every tool ---- */

/*
 * Typed field getters.  Each returns 0 and stores the value, or -1 when
 * the field is missing or of the wrong type; *why (if not NULL) then gets
 * a static description ("missing", "not a string", ...).
 */
int rec_get_str(const json_t *rec, const char *key, const char **out, const char **why);
int rec_get_num(const json_t *rec, const char *key, double *out, const char **why);
int rec_get_int(const json_t *rec, const char *key, long long *out, const char **why);

/*
 * 0 when rec's "rewards" is absent or an object of numbers, so that
 * rec_set_reward() loses nothing; else -1 with *why set ("not an object",
 * "a value is not a number").
 */
int rec_check_rewards(const json_t *rec, const char **why);
/* Sets rewards.<name> = value and reward = sum of rewards.*; returns the new reward. */
double rec_set_reward(json_t *rec, const char *name, double value);

#endif
