/*
 * serve.c - the OpenAI-compatible server of serve.h: libmicrohttpd's
 * connection threads queue checked requests; the thread in serve_run()
 * feeds them to gen_run() as prompts and answers each as it ends.
 *
 * A request lives until both sides let go of it (refs): the connection
 * (answered, or gone) and gen (every prompt of it emitted).  Everything
 * shared between the two sides is under s->mu.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "rec.h"

struct choice {
    struct sbuf text;           /* final text */
    struct tok_ids ids;
    const char *finish;
    json_t *lp;                 /* chat: content entries; completions: token_logprobs */
    json_t *toks, *top, *offs;  /* completions: tokens, top_logprobs, text_offset */
    size_t sent;                /* stream: text bytes sent */
    size_t prevlen;             /* text length before the last token */
    int ntok;                   /* stream: tokens whose log-probs were sent */
};

struct sreq;

struct item {                   /* one prompt of a request: one gen prompt */
    struct sreq *r;
    struct gen_opts o;
    struct tok_ids ids;
    struct choice *ch;          /* (n) */
};

struct sreq {
    struct serve *s;
    struct oai_request rq;
    struct item *items;         /* (rq.nprompts, or 1 for chat) */
    int nitems, handed, emitted;
    volatile int cancel;
    int done, refs, maxstop;
    struct sreq *qnext;
    struct sbuf out;            /* stream: bytes not yet sent; else the body */
    struct MHD_Connection *conn;
    long serial;
    long created;
    double t0;
    long prompt_tokens, completion_tokens;
};

struct serve {
    const struct model *m;
    const struct tok *tok;
    struct chat *chat;
    struct serve_config sc;
    struct gen_config gcfg;
    struct gen *gen;
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu, tokmu;
    pthread_cond_t cv;          /* queue or results changed */
    struct sreq *qhead, *qtail;
    int outstanding;            /* items gen holds */
    volatile sig_atomic_t stopping;
    long serial;
    struct rng rng;             /* seeds of requests without one */
};

/* The per-connection state between libmicrohttpd's calls. */
struct conn {
    struct sbuf body;
    int too_big;
};

/* ---- requests ---- */

static void
sreq_unref_locked(struct sreq *r)
{
    int i, k;

    if (--r->refs > 0)
        return;
    for (i = 0; i < r->nitems; i++) {
        struct item *it = &r->items[i];
        for (k = 0; k < r->rq.n; k++) {
            struct choice *c = &it->ch[k];
            sbuf_release(&c->text);
            tok_ids_release(&c->ids);
            json_decref(c->lp);
            json_decref(c->toks);
            json_decref(c->top);
            json_decref(c->offs);
        }
        free(it->ch);
        tok_ids_release(&it->ids);
    }
    free(r->items);
    sbuf_release(&r->out);
    oai_request_release(&r->rq);
    free(r);
}

/* 1 when the client of conn has closed its end. */
static int
client_gone(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct pollfd pf;

    if (!ci)
        return 0;
    pf.fd = ci->connect_fd;
    pf.events = POLLRDHUP;
    pf.revents = 0;
    if (poll(&pf, 1, 0) <= 0)
        return 0;
    return (pf.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static void
wait_a_bit(struct serve *s)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* ---- JSON pieces of the answers ---- */

/* A token's text as a JSON string (invalid UTF-8 as U+FFFD) and its bytes. */
static json_t *
token_string(const struct tok *t, int id, json_t **bytes)
{
    struct sbuf sb = SBUF_INIT;
    size_t n = 0, i;
    const char *p = tok_piece(t, id, &n);
    json_t *v;

    utf8_lossy(&sb, p ? p : "", p ? n : 0);
    v = json_stringn(sb.buf ? sb.buf : "", sb.len);
    if (bytes) {
        *bytes = json_array();
        for (i = 0; i < n; i++)
            json_array_append_new(*bytes, json_integer((unsigned char)p[i]));
    }
    sbuf_release(&sb);
    return v;
}

/*
 * The top alternatives of one step: log softmax(logits / T) (T = 1 when
 * greedy), the n largest, as [{token, logprob, bytes}] (chat) or
 * {token: logprob} (completions).
 */
static json_t *
top_alternatives(const struct serve *s, const float *logits, float temp, int n,
                 enum oai_endpoint ep)
{
    int V = s->m->cfg.vocab_size, i, j, best[OAI_MAX_TOP_LOGPROBS];
    float inv = temp > 0 ? 1.0f / temp : 1.0f;
    double mx = -INFINITY, sum = 0, lse;
    json_t *out = ep == OAI_CHAT ? json_array() : json_object();
    int nb = 0;

    for (i = 0; i < V; i++)
        mx = fmax(mx, (double)logits[i] * inv);
    for (i = 0; i < V; i++)
        sum += exp((double)logits[i] * inv - mx);
    lse = mx + log(sum);
    for (i = 0; i < V; i++) {
        /* insertion into the n best so far, ties to the lower id */
        for (j = nb; j > 0 && logits[best[j - 1]] < logits[i]; j--)
            if (j < n)
                best[j] = best[j - 1];
        if (j < n) {
            best[j] = i;
            if (nb < n)
                nb++;
        }
    }
    for (j = 0; j < nb; j++) {
        double lp = (double)logits[best[j]] * inv - lse;
        if (ep == OAI_CHAT) {
            json_t *bytes, *e = json_object();
            json_object_set_new(e, "token", token_string(s->tok, best[j], &bytes));
            json_object_set_new(e, "logprob", json_float((float)lp));
            json_object_set_new(e, "bytes", bytes);
            json_array_append_new(out, e);
        } else {
            json_t *tk = token_string(s->tok, best[j], NULL);
            json_object_set_new(out, json_string_value(tk), json_float((float)lp));
            json_decref(tk);
        }
    }
    return out;
}

static void
error_body(struct sbuf *out, const char *msg, const char *type)
{
    json_t *o = json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message", msg, "type", type,
                          "param", "code");
    json_emit(out, o);
    json_decref(o);
}

static json_t *
usage_json(const struct sreq *r)
{
    return json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens,
                     "completion_tokens", (json_int_t)r->completion_tokens, "total_tokens",
                     (json_int_t)(r->prompt_tokens + r->completion_tokens));
}

static json_t *
head_json(const struct sreq *r, int chunk)
{
    char id[48];

    snprintf(id, sizeof(id), "%s-%ld", r->rq.ep == OAI_CHAT ? "chatcmpl" : "cmpl", r->serial);
    return json_pack("{s:s,s:s,s:I,s:s}", "id", id, "object",
                     r->rq.ep == OAI_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                          : "text_completion",
                     "created", (json_int_t)r->created, "model", r->s->sc.name);
}

static json_t *
int_array(const int *v, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* The logprobs object of a choice (whole, or tokens [from, to) when streaming). */
static json_t *
logprobs_json(const struct sreq *r, const struct choice *c, size_t from, size_t to)
{
    size_t i;

    if (!r->rq.logprobs)
        return json_null();
    if (r->rq.ep == OAI_CHAT) {
        json_t *a = json_array();
        for (i = from; i < to; i++)
            json_array_append(a, json_array_get(c->lp, i));
        return json_pack("{s:o}", "content", a);
    } else {
        json_t *t = json_array(), *l = json_array(), *o = json_array(), *tp = json_array();
        for (i = from; i < to; i++) {
            json_array_append(t, json_array_get(c->toks, i));
            json_array_append(l, json_array_get(c->lp, i));
            json_array_append(o, json_array_get(c->offs, i));
            json_array_append(tp, r->rq.top_logprobs > 0 ? json_array_get(c->top, i)
                                                         : json_null());
        }
        return json_pack("{s:o,s:o,s:o,s:o}", "tokens", t, "token_logprobs", l,
                         "top_logprobs", tp, "text_offset", o);
    }
}

/* Appends one SSE event of data o (taken) to r->out. */
static void
sse(struct sreq *r, json_t *o)
{
    sbuf_adds(&r->out, "data: ");
    json_emit(&r->out, o);
    sbuf_adds(&r->out, "\n\n");
    json_decref(o);
}

/* A streamed chunk: choice index ix gets text [a, b) and tokens [ta, tb). */
static void
sse_delta(struct sreq *r, struct choice *c, int ix, size_t a, size_t b, size_t ta, size_t tb,
          const char *finish)
{
    json_t *o = head_json(r, 1), *ch = json_object();

    json_object_set_new(ch, "index", json_integer(ix));
    if (r->rq.ep == OAI_CHAT) {
        json_t *delta = json_object();
        if (a == 0 && ta == 0)
            json_object_set_new(delta, "role", json_string("assistant"));
        if (b > a || !finish)
            json_object_set_new(delta, "content", json_stringn(c->text.buf + a, b - a));
        json_object_set_new(ch, "delta", delta);
    } else {
        json_object_set_new(ch, "text", json_stringn(c->text.buf ? c->text.buf + a : "", b - a));
    }
    json_object_set_new(ch, "logprobs", tb > ta ? logprobs_json(r, c, ta, tb) : json_null());
    json_object_set_new(ch, "finish_reason", finish ? json_string(finish) : json_null());
    json_object_set_new(o, "choices", json_pack("[o]", ch));
    sse(r, o);
}

/* Where a stream may send up to: text that cannot turn into a stop string. */
static size_t
safe_end(const struct sreq *r, const char *text, size_t len)
{
    size_t e = len;

    if (r->maxstop > 0 && !r->rq.include_stop)
        e = len > (size_t)r->maxstop ? len - (size_t)r->maxstop : 0;
    while (e > 0 && e < len && ((unsigned char)text[e] & 0xC0) == 0x80)
        e--;
    return e;
}

/* ---- gen's side (serve_run's thread) ---- */

static int
next_prompt(void *ctx, struct gen_prompt *p)
{
    struct serve *s = ctx;
    struct sreq *r;
    struct item *it;

    pthread_mutex_lock(&s->mu);
    while (!s->qhead) {
        if (s->outstanding > 0) {
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        wait_a_bit(s);
    }
    r = s->qhead;
    it = &r->items[r->handed++];
    if (r->handed == r->nitems) {
        s->qhead = r->qnext;
        if (!s->qhead)
            s->qtail = NULL;
    }
    s->outstanding++;
    pthread_mutex_unlock(&s->mu);
    p->user = it;
    p->id = r->rq.user;
    p->idlen = strlen(r->rq.user);
    p->ids = it->ids.v;
    p->n = (int)it->ids.n;
    p->opts = &it->o;
    return 1;
}

static void
on_token(void *ctx, const struct gen_prompt *p, int k, int id, float logprob,
         const float *logits, const char *text, size_t len)
{
    struct serve *s = ctx;
    struct item *it = p->user;
    struct sreq *r = it->r;
    struct choice *c = &it->ch[k];

    if (r->cancel)
        return;
    if (r->rq.logprobs) {
        json_t *top = r->rq.top_logprobs > 0
                          ? top_alternatives(s, logits, it->o.sampler.temperature,
                                             r->rq.top_logprobs, r->rq.ep)
                          : NULL;
        if (r->rq.ep == OAI_CHAT) {
            json_t *bytes, *e = json_object();
            json_object_set_new(e, "token", token_string(s->tok, id, &bytes));
            json_object_set_new(e, "logprob", json_float(logprob));
            json_object_set_new(e, "bytes", bytes);
            json_object_set_new(e, "top_logprobs", top ? top : json_array());
            json_array_append_new(c->lp, e);
        } else {
            json_array_append_new(c->toks, token_string(s->tok, id, NULL));
            json_array_append_new(c->lp, json_float(logprob));
            json_array_append_new(c->offs, json_integer((json_int_t)c->prevlen));
            json_array_append_new(c->top, top ? top : json_null());
        }
    }
    c->prevlen = len;
    if (r->rq.stream) {
        size_t e = safe_end(r, text, len);
        size_t ntok = r->rq.logprobs ? json_array_size(c->lp) : 0;
        pthread_mutex_lock(&s->mu);
        if (e > c->sent || ntok > (size_t)c->ntok) {
            sbuf_reset(&c->text);
            sbuf_add(&c->text, text, e);
            sse_delta(r, c, (int)(it - r->items) * r->rq.n + k, c->sent, e, (size_t)c->ntok,
                      ntok, NULL);
            c->sent = e;
            c->ntok = (int)ntok;
            pthread_cond_broadcast(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* Length of text without the stop string it ends with (OpenAI's rule). */
static size_t
strip_stop(const struct item *it, const struct gen_sample *g, const struct chat *c)
{
    size_t best = g->len;
    int i;

    if (strcmp(g->finish, "stop") != 0 || (g->n > 0 && chat_is_stop(c, g->ids[g->n - 1])))
        return g->len;
    for (i = 0; i < it->o.nstops; i++) {
        size_t n = strlen(it->o.stops[i]);
        if (n <= g->len && memcmp(g->text + g->len - n, it->o.stops[i], n) == 0 &&
            g->len - n < best)
            best = g->len - n;
    }
    return best;
}

static json_t *
choice_json(struct sreq *r, struct item *it, struct choice *c, int ix)
{
    json_t *o = json_object();

    json_object_set_new(o, "index", json_integer(ix));
    if (r->rq.ep == OAI_CHAT)
        json_object_set_new(o, "message",
                            json_pack("{s:s,s:s%}", "role", "assistant", "content",
                                      c->text.buf ? c->text.buf : "", c->text.len));
    else
        json_object_set_new(o, "text", json_stringn(c->text.buf ? c->text.buf : "",
                                                    c->text.len));
    json_object_set_new(o, "logprobs", logprobs_json(r, c, 0, json_array_size(c->lp)));
    json_object_set_new(o, "finish_reason", json_string(c->finish));
    if (r->rq.token_ids) {
        json_object_set_new(o, "token_ids", int_array(c->ids.v, c->ids.n));
        if (r->rq.ep == OAI_COMPLETIONS)
            json_object_set_new(o, "prompt_token_ids", int_array(it->ids.v, it->ids.n));
    }
    return o;
}

/* The answer of a request whose prompts have all ended (under s->mu). */
static void
finish_request(struct sreq *r)
{
    json_t *o, *choices;
    int i, k;

    if (r->rq.stream) {
        for (i = 0; i < r->nitems; i++)
            for (k = 0; k < r->rq.n; k++) {
                struct choice *c = &r->items[i].ch[k];
                size_t ntok = r->rq.logprobs ? json_array_size(c->lp) : 0;
                sse_delta(r, c, i * r->rq.n + k, PT_MIN(c->sent, c->text.len), c->text.len,
                          (size_t)c->ntok, ntok, c->finish);
            }
        if (r->rq.include_usage) {
            o = head_json(r, 1);
            json_object_set_new(o, "choices", json_array());
            json_object_set_new(o, "usage", usage_json(r));
            sse(r, o);
        }
        sbuf_adds(&r->out, "data: [DONE]\n\n");
        return;
    }
    sbuf_reset(&r->out);
    o = head_json(r, 0);
    choices = json_array();
    for (i = 0; i < r->nitems; i++)
        for (k = 0; k < r->rq.n; k++)
            json_array_append_new(choices,
                                  choice_json(r, &r->items[i], &r->items[i].ch[k],
                                              i * r->rq.n + k));
    json_object_set_new(o, "choices", choices);
    json_object_set_new(o, "usage", usage_json(r));
    if (r->rq.token_ids && r->rq.ep == OAI_CHAT)
        json_object_set_new(o, "prompt_token_ids",
                            int_array(r->items[0].ids.v, r->items[0].ids.n));
    json_emit(&r->out, o);
    json_decref(o);
}

static void
emit_samples(void *ctx, const struct gen_prompt *p, const struct gen_sample *g, int G)
{
    struct serve *s = ctx;
    struct item *it = p->user;
    struct sreq *r = it->r;
    int k;

    pthread_mutex_lock(&s->mu);
    s->outstanding--;
    r->prompt_tokens += p->n;
    for (k = 0; k < G; k++) {
        struct choice *c = &it->ch[k];
        size_t len = r->rq.include_stop ? g[k].len : strip_stop(it, &g[k], s->chat);
        sbuf_reset(&c->text);
        sbuf_add(&c->text, g[k].text, len);
        c->ids.n = 0;
        tok_ids_append(&c->ids, g[k].ids, (size_t)g[k].n);
        c->finish = g[k].finish;
        r->completion_tokens += g[k].n;
    }
    if (++r->emitted == r->nitems) {
        if (!r->cancel)
            finish_request(r);
        if (s->sc.verbose)
            fprintf(stderr, "%s: request %ld: %ld prompt tokens, %ld completion tokens,"
                    " %.3f s%s\n", util_prog(), r->serial, r->prompt_tokens,
                    r->completion_tokens, now_sec() - r->t0, r->cancel ? ", cancelled" : "");
        r->done = 1;
        pthread_cond_broadcast(&s->cv);
        sreq_unref_locked(r);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- the connections' side ---- */

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *body, size_t len,
      const char *type)
{
    struct MHD_Response *rs =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    MHD_add_response_header(rs, "Content-Type", type);
    ret = MHD_queue_response(conn, status, rs);
    MHD_destroy_response(rs);
    return ret;
}

static enum MHD_Result
reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    struct sbuf b = SBUF_INIT;
    enum MHD_Result ret;

    error_body(&b, msg, status == 401 ? "authentication_error"
                        : status == 404 ? "not_found_error"
                        : status >= 500 ? "server_error" : "invalid_request_error");
    ret = reply(conn, status, b.buf, b.len, "application/json");
    sbuf_release(&b);
    return ret;
}

/* Tokenizes the request's prompts; -1 with a message when one cannot run. */
static int
prepare(struct serve *s, struct sreq *r, struct sbuf *err)
{
    int i, j, V = s->m->cfg.vocab_size, maxpos = s->m->cfg.max_pos;
    struct oai_request *rq = &r->rq;

    r->nitems = rq->ep == OAI_CHAT ? 1 : rq->nprompts;
    r->items = xcalloc((size_t)r->nitems, sizeof(*r->items));
    for (i = 0; i < rq->nstops; i++)
        r->maxstop = PT_MAX(r->maxstop, (int)strlen(rq->stops[i]));
    for (i = 0; i < r->nitems; i++) {
        struct item *it = &r->items[i];
        it->r = r;
        it->ch = xcalloc((size_t)rq->n, sizeof(*it->ch));
        for (j = 0; j < rq->n; j++)
            if (rq->logprobs) {
                it->ch[j].lp = json_array();
                if (rq->ep == OAI_COMPLETIONS) {
                    it->ch[j].toks = json_array();
                    it->ch[j].top = json_array();
                    it->ch[j].offs = json_array();
                }
            }
        pthread_mutex_lock(&s->tokmu);
        if (rq->ep == OAI_CHAT) {
            if (rq->user_turn)
                chat_prompt(s->chat, rq->system, rq->user_turn, &it->ids);
            else
                chat_conv(s->chat, rq->msgs, rq->nmsgs, 1, &it->ids, NULL);
        } else if (rq->prompts[i].ids) {
            tok_ids_append(&it->ids, rq->prompts[i].ids, (size_t)rq->prompts[i].nids);
        } else {
            if (tok_bos(s->tok) >= 0)
                tok_ids_push(&it->ids, tok_bos(s->tok));
            tok_encode((struct tok *)s->tok, rq->prompts[i].text, rq->prompts[i].len, 0,
                       &it->ids);
        }
        pthread_mutex_unlock(&s->tokmu);
        if (it->ids.n == 0) {
            sbuf_adds(err, "field 'prompt': empty");
            return -1;
        }
        for (j = 0; j < (int)it->ids.n; j++)
            if (it->ids.v[j] >= V) {
                sbuf_addf(err, "field 'prompt': token id %d is not below the vocabulary"
                          " size %d", it->ids.v[j], V);
                return -1;
            }
        if ((int)it->ids.n >= maxpos) {
            sbuf_addf(err, "the prompt is %zu tokens, the model's context is %d",
                      it->ids.n, maxpos);
            return -1;
        }
        it->o.G = rq->n;
        it->o.sampler = rq->sampler;
        it->o.max_tokens = rq->max_tokens;
        it->o.stops = rq->stops;
        it->o.nstops = rq->nstops;
        it->o.cancel = &r->cancel;
    }
    return 0;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sreq *r = cls;
    struct serve *s = r->s;
    ssize_t n;

    (void)pos;
    pthread_mutex_lock(&s->mu);
    while (r->out.len == 0 && !r->done) {
        if (client_gone(r->conn)) {
            r->cancel = 1;
            pthread_mutex_unlock(&s->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        wait_a_bit(s);
    }
    if (r->out.len == 0) {
        pthread_mutex_unlock(&s->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    n = (ssize_t)PT_MIN(max, r->out.len);
    memcpy(buf, r->out.buf, (size_t)n);
    memmove(r->out.buf, r->out.buf + n, r->out.len - (size_t)n);
    r->out.len -= (size_t)n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void
stream_free(void *cls)
{
    struct sreq *r = cls;
    struct serve *s = r->s;

    pthread_mutex_lock(&s->mu);
    if (!r->done)
        r->cancel = 1;
    sreq_unref_locked(r);
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result
completion(struct serve *s, struct MHD_Connection *conn, enum oai_endpoint ep, struct conn *cc)
{
    struct sreq *r = xcalloc(1, sizeof(*r));
    struct sbuf err = SBUF_INIT;
    enum MHD_Result ret;
    int i;

    r->s = s;
    r->conn = conn;
    r->t0 = now_sec();
    if (oai_request_parse(&r->rq, cc->body.buf ? cc->body.buf : "", cc->body.len, ep,
                          &s->sc.lim, &err) != 0) {
        free(r);
        ret = reply_error(conn, 400, sbuf_str(&err));
        sbuf_release(&err);
        return ret;
    }
    r->refs = 1;
    if (r->rq.model && strcmp(r->rq.model, s->sc.name) != 0) {
        sbuf_addf(&err, "the model '%s' does not exist: this server has '%s'", r->rq.model,
                  s->sc.name);
        ret = reply_error(conn, 404, err.buf);
        goto out;
    }
    if (prepare(s, r, &err) != 0) {
        ret = reply_error(conn, 400, err.buf);
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        ret = reply_error(conn, 503, "the server is shutting down");
        goto out;
    }
    r->serial = ++s->serial;
    r->created = (long)time(NULL);
    for (i = 0; i < r->nitems; i++)
        r->items[i].o.seed = r->rq.has_seed ? r->rq.seed : rng_u64(&s->rng);
    r->refs = 2;
    if (s->qtail)
        s->qtail->qnext = r;
    else
        s->qhead = r;
    s->qtail = r;
    pthread_cond_broadcast(&s->cv);
    if (r->rq.stream) {
        struct MHD_Response *rs;
        pthread_mutex_unlock(&s->mu);
        rs = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, r,
                                               stream_free);
        MHD_add_response_header(rs, "Content-Type", "text/event-stream");
        MHD_add_response_header(rs, "Cache-Control", "no-cache");
        ret = MHD_queue_response(conn, MHD_HTTP_OK, rs);
        MHD_destroy_response(rs);
        sbuf_release(&err);
        return ret;
    }
    while (!r->done) {
        if (!r->cancel && client_gone(conn))
            r->cancel = 1;
        wait_a_bit(s);
    }
    pthread_mutex_unlock(&s->mu);
    ret = r->cancel ? MHD_NO : reply(conn, MHD_HTTP_OK, r->out.buf, r->out.len,
                                     "application/json");
out:
    pthread_mutex_lock(&s->mu);
    sreq_unref_locked(r);
    pthread_mutex_unlock(&s->mu);
    sbuf_release(&err);
    return ret;
}

static int
authorized(const struct serve *s, struct MHD_Connection *conn)
{
    const char *h;

    if (!s->sc.api_key)
        return 1;
    h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    return h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, s->sc.api_key) == 0;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct serve *s = cls;
    struct conn *cc = *con_cls;
    int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;

    (void)version;
    if (!cc) {
        *con_cls = cc = xcalloc(1, sizeof(*cc));
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (cc->body.len + *upload_size > s->sc.max_body)
            cc->too_big = 1;
        else
            sbuf_add(&cc->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/health") == 0 && get)
        return reply(conn, MHD_HTTP_OK, "{\"status\":\"ok\"}", 15, "application/json");
    if (!authorized(s, conn))
        return reply_error(conn, 401, "a valid API key is needed (Authorization: Bearer KEY)");
    if (cc->too_big) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the body is larger than %zu bytes", s->sc.max_body);
        return reply_error(conn, 413, msg);
    }
    if (strcmp(url, "/v1/models") == 0 && get) {
        struct sbuf b = SBUF_INIT;
        json_t *o = json_pack("{s:s,s:[{s:s,s:s,s:i,s:s,s:s,s:i}]}", "object", "list", "data",
                              "id", s->sc.name, "object", "model", "created", 0, "owned_by",
                              "posttrain", "root", s->sc.policy, "max_model_len",
                              s->m->cfg.max_pos);
        enum MHD_Result ret;
        json_emit(&b, o);
        json_decref(o);
        ret = reply(conn, MHD_HTTP_OK, b.buf, b.len, "application/json");
        sbuf_release(&b);
        return ret;
    }
    if (strcmp(url, "/v1/completions") == 0 && post)
        return completion(s, conn, OAI_COMPLETIONS, cc);
    if (strcmp(url, "/v1/chat/completions") == 0 && post)
        return completion(s, conn, OAI_CHAT, cc);
    if (strcmp(url, "/v1/completions") == 0 || strcmp(url, "/v1/chat/completions") == 0 ||
        strcmp(url, "/v1/models") == 0 || strcmp(url, "/health") == 0)
        return reply_error(conn, 405, "method not allowed");
    return reply_error(conn, 404, "no such endpoint");
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct conn *cc = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (cc) {
        sbuf_release(&cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

/* ---- life cycle ---- */

struct serve *
serve_new(const struct model *m, const struct tok *t, struct chat *c,
          const struct gen_config *gcfg, const struct serve_config *sc, struct sbuf *err)
{
    struct serve *s = xcalloc(1, sizeof(*s));
    struct sockaddr_storage ss;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    const union MHD_DaemonInfo *di;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, sc->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)sc->port);
    } else if (inet_pton(AF_INET6, sc->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)sc->port);
        flags |= MHD_USE_IPv6;
    } else {
        sbuf_addf(err, "--host: '%s' is not a numeric IPv4 or IPv6 address", sc->host);
        free(s);
        return NULL;
    }
    s->m = m;
    s->tok = t;
    s->chat = c;
    s->sc = *sc;
    s->gcfg = *gcfg;
    s->gcfg.unordered = 1;
    s->gcfg.on_token = on_token;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->tokmu, NULL);
    pthread_cond_init(&s->cv, NULL);
    rng_seed(&s->rng, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    errno = 0;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)sc->max_conns, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)600, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_END);
    if (!s->d) {
        sbuf_addf(err, "cannot listen on %s port %d: %s", sc->host, sc->port,
                  errno ? strerror(errno) : "libmicrohttpd could not start");
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->tokmu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return NULL;
    }
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : sc->port;
    s->gen = gen_new(m, t, c, &s->gcfg);
    return s;
}

int
serve_port(const struct serve *s)
{
    return s->port;
}

void
serve_run(struct serve *s)
{
    gen_run(s->gen, next_prompt, emit_samples, s);
}

void
serve_stop(struct serve *s)
{
    s->stopping = 1;
}

void
serve_free(struct serve *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    gen_free(s->gen);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->tokmu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
