/*
 * oaic.h - the HTTP client of gen --server and score-rm --judge --server:
 * POSTs JSON bodies to an OpenAI-compatible server with libcurl's multi
 * interface, many in flight, and hands the answers back in the order the
 * bodies came.
 *
 * Retries: a connection that fails or drops, a timeout, HTTP 408, 429
 * and 5xx are tried again after a wait: the server's Retry-After when it
 * gives one (seconds or an HTTP date), else retry_wait doubled at each
 * attempt, at most 60 s.  After `retries` retries, or at once for any
 * other status, the job is handed back failed with the reason ("HTTP 400:
 * <the server's message>", "timeout after 30 s (6 attempts)").  A job is
 * never dropped and never answered with anything but the server's body.
 *
 * At most 4 * concurrency jobs are held at once, in lib/window's
 * in-order window (done ones wait for the older ones), so memory stays
 * bounded whatever the input size.
 *
 *     static int next(void *ctx, void **user, struct sbuf *body) { ... return 1; }
 *     static void done(void *ctx, void *user, const struct oaic_result *r) { ... }
 *     struct oaic *c = oaic_new(&cfg);
 *     oaic_run(c, "/chat/completions", next, done, ctx);
 *     oaic_free(c);
 */
#ifndef POSTTRAIN_OAIC_H
#define POSTTRAIN_OAIC_H

#include <stddef.h>

#include "util.h"

struct oaic_config {
    const char *url;        /* base URL as OpenAI clients take it: http://host:port/v1 */
    const char *api_key;    /* sent as "Authorization: Bearer KEY"; NULL: none */
    int concurrency;        /* requests in flight, >= 1 */
    int retries;            /* retries after the first attempt, >= 0 */
    double retry_wait;      /* seconds before the first retry */
    double timeout;         /* seconds per attempt, > 0 */
};

struct oaic_result {
    int ok;                 /* 1: HTTP 200 and body holds the response */
    long status;            /* last HTTP status, 0 when none came */
    const char *body;       /* the last response body (borrowed for the call) */
    size_t len;
    const char *why;        /* when !ok: the reason (borrowed for the call) */
    int attempts;
};

/*
 * Returns 1 with *user set and the request body in body (empty on entry),
 * or 0 at the end.  A job left without a body sends nothing: it is handed
 * back ok, with an empty body, in its turn (a record passed through).
 */
typedef int oaic_next_fn(void *ctx, void **user, struct sbuf *body);
/* One job's result, in the order next() gave the jobs. */
typedef void oaic_done_fn(void *ctx, void *user, const struct oaic_result *r);

/* cfg and its strings are borrowed; they must outlive the client. */
struct oaic *oaic_new(const struct oaic_config *cfg);
/* Runs every job next() gives against url + path until all are done. */
void oaic_run(struct oaic *c, const char *path, oaic_next_fn *next, oaic_done_fn *done,
              void *ctx);
void oaic_free(struct oaic *c);

#endif
