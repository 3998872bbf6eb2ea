/*
 * serve.h - an OpenAI-compatible HTTP server over gen.h (serve(1)):
 * /v1/completions, /v1/chat/completions (with server-sent events when
 * streaming), /v1/models and /health on libmicrohttpd.
 *
 * Threads: libmicrohttpd runs one thread per connection (at most
 * max_conns); each reads and checks its request (oai.h), queues it and
 * waits.  One thread, the caller of serve_run(), runs gen_run() with
 * every queued request as a prompt (n samples, its own sampler settings,
 * seed and stops), so concurrent requests decode together in one batch;
 * gen's own threads do the matrix work.  A request is answered as soon as
 * its samples end, whatever the others do.  A connection thread watches
 * its socket while it waits: when the client goes away the request is
 * cancelled and its sequences leave the batch at the next step.
 *
 *     struct serve_config sc = {...};
 *     struct serve *s = serve_new(m, tok, chat, &gcfg, &sc, &err);
 *     printf("%d\n", serve_port(s));
 *     serve_run(s);          (returns after serve_stop(), from a signal)
 *     serve_free(s);
 */
#ifndef POSTTRAIN_SERVE_H
#define POSTTRAIN_SERVE_H

#include "chat.h"
#include "gen.h"
#include "oai.h"

struct serve_config {
    const char *host;           /* numeric IPv4 or IPv6 address */
    int port;                   /* 0: any free port (see serve_port) */
    const char *name;           /* the model's name in /v1/models */
    const char *policy;         /* checkpoint hash, in /v1/models */
    const char *api_key;        /* NULL: none asked */
    size_t max_body;            /* request bodies at most, bytes */
    int max_conns;              /* connections at once */
    struct oai_limits lim;
    int verbose;                /* one line per request on stderr */
};

/*
 * Binds and starts listening (requests queue until serve_run).  m, t, c
 * and the config strings are borrowed.  gcfg->G is the largest n a
 * request may ask (sc->lim.max_n); its sampler, seed and stops are
 * unused (each request brings its own).  NULL with a message in err when
 * the address cannot be bound.
 */
struct serve *serve_new(const struct model *m, const struct tok *t, struct chat *c,
                        const struct gen_config *gcfg, const struct serve_config *sc,
                        struct sbuf *err);
/* The port it listens on. */
int serve_port(const struct serve *s);
/* Decodes requests until serve_stop(); then answers what is queued and returns. */
void serve_run(struct serve *s);
/* Async-signal-safe: makes serve_run() return once the queue is empty. */
void serve_stop(struct serve *s);
void serve_free(struct serve *s);

#endif
