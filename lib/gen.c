/*
 * gen.c - the continuous-batching scheduler of gen.h.
 *
 * Prompts in flight sit in lib/window's in-order window, in input order;
 * each owns its prefix cache (released once its last sample finishes),
 * its first logits and its G results.  Slots hold the running samples.
 * A step: fill free slots, one batched decode, sample every row (rows in
 * parallel on the pool), retire finished samples, emit the finished
 * prompts at the head of the window (unordered: every finished one,
 * window_remove).  The window's slots point to the prompt records, so a
 * record stays put while it runs and is reused when the ring comes round
 * to its slot again: decoding allocates only as caches and results
 * grow; a prompt cache is freed as soon as its last sample ends.
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "util.h"
#include "window.h"

struct result {
    struct tok_ids ids;
    float *lp;
    size_t lpcap;
    int *rt;                    /* (lpcap, W) with routes */
    struct sbuf text;
    const char *finish;
};

struct gprompt {
    struct gen_prompt p;
    struct tok_ids ids;         /* copy of the prompt ids */
    struct sbuf id;             /* copy of the id */
    struct infer_prefix cache;
    float *logits;              /* (V) after the prompt */
    int *routes;                /* (W) the experts of that forward's last row */
    int next_k, running, done;
    struct result *res;         /* (G) */
    struct gen_opts o;          /* p.opts, or the gen_config's settings */
};

struct slot {
    struct gprompt *gp;         /* NULL: free */
    int k, last, max_new;
    struct infer_seq seq;
    struct rng rng;
    struct tok_stream ts;
};

struct gen {
    const struct model *m;
    const struct tok *tok;
    const struct chat *chat;
    struct gen_config cfg;
    struct infer *inf;
    struct sampler *smp;        /* (nsmp) one per pool thread */
    int nsmp;
    int V, maxstop;
    int W;                      /* route ints per token, 0 without routes */
    int *rbuf;                  /* (W) one row's routes */
    struct slot *slots;         /* (batch) */
    struct window win;          /* of struct gprompt *, 4 * batch: the prompts
                                   in flight, and records for reuse */
    int eof;
    gen_next_fn *next;
    gen_emit_fn *emit;
    void *ctx;
    /* per step */
    struct infer_seq **rows;
    int *rowslot, *toks;
    int *nexttok;               /* (batch) each row's sampled token */
    float *nextlp;              /* (batch) and its log-probability */
    const float *logits;        /* the step's rows (V each) */
    struct gen_sample *out;     /* (G) */
    struct gen_stats st;
    double t0;
};

struct gen *
gen_new(const struct model *m, const struct tok *t, const struct chat *c,
        const struct gen_config *cfg)
{
    struct gen *g = xcalloc(1, sizeof(*g));
    int i;

    if (cfg->G < 1 || cfg->max_tokens < 1 || cfg->batch < 1 || cfg->threads < 1 ||
        cfg->nstops < 0)
        die("gen: G, max_tokens, batch and threads must be positive");
    g->m = m;
    g->tok = t;
    g->chat = c;
    g->cfg = *cfg;
    g->V = m->cfg.vocab_size;
    for (i = 0; i < cfg->nstops; i++) {
        int n = (int)strlen(cfg->stops[i]);
        if (n == 0)
            die("gen: a stop string is empty");
        g->maxstop = PT_MAX(g->maxstop, n);
    }
    g->inf = infer_new(m, cfg->batch, cfg->threads, cfg->kernel);
    g->nsmp = 1;    /* more as the pool has threads (gen_run) */
    g->smp = xcalloc(1, sizeof(*g->smp));
    sampler_init(&g->smp[0], &cfg->sampler, g->V);
    g->W = cfg->routes ? model_route_width(&m->cfg) : 0;
    g->rbuf = xcalloc((size_t)g->W + 1, sizeof(int));
    g->slots = xcalloc((size_t)cfg->batch, sizeof(*g->slots));
    for (i = 0; i < cfg->batch; i++)
        infer_seq_init(&g->slots[i].seq, g->inf, NULL);
    window_init(&g->win, sizeof(struct gprompt *), 4 * (size_t)cfg->batch, 0);
    g->rows = xcalloc((size_t)cfg->batch, sizeof(*g->rows));
    g->rowslot = xcalloc((size_t)cfg->batch, sizeof(int));
    g->toks = xcalloc((size_t)cfg->batch, sizeof(int));
    g->nexttok = xcalloc((size_t)cfg->batch, sizeof(int));
    g->nextlp = xcalloc((size_t)cfg->batch, sizeof(float));
    g->out = xcalloc((size_t)cfg->G, sizeof(*g->out));
    return g;
}

static void
gprompt_free(struct gprompt *gp, int G)
{
    int k;

    if (!gp)
        return;
    for (k = 0; k < G; k++) {
        tok_ids_release(&gp->res[k].ids);
        free(gp->res[k].lp);
        free(gp->res[k].rt);
        sbuf_release(&gp->res[k].text);
    }
    free(gp->res);
    tok_ids_release(&gp->ids);
    sbuf_release(&gp->id);
    infer_prefix_release(&gp->cache);
    free(gp->logits);
    free(gp->routes);
    free(gp);
}

/* window_release's clear: a window slot's prompt record, if it has one. */
static void
clear_slot(void *ctx, void *slot)
{
    const struct gen *g = ctx;

    gprompt_free(*(struct gprompt **)slot, g->cfg.G);
}

void
gen_free(struct gen *g)
{
    int i;

    if (!g)
        return;
    for (i = 0; i < g->cfg.batch; i++)
        infer_seq_release(&g->slots[i].seq);
    window_release(&g->win, clear_slot, g);
    free(g->slots);
    free(g->rows);
    free(g->rowslot);
    free(g->toks);
    free(g->nexttok);
    free(g->nextlp);
    free(g->out);
    for (i = 0; i < g->nsmp; i++)
        sampler_release(&g->smp[i]);
    free(g->smp);
    free(g->rbuf);
    infer_free(g->inf);
    free(g);
}

void
gen_get_stats(const struct gen *g, struct gen_stats *st)
{
    *st = g->st;
    st->seconds = now_sec() - g->t0;
}

const char *
gen_kernel_name(const struct gen *g)
{
    return infer_kernel_name(infer_kernel_of(g->inf));
}

/* A new prompt record (kept in its window slot, reused after). */
static struct gprompt *
gprompt_new(const struct gen *g)
{
    struct gprompt *gp;

    gp = xcalloc(1, sizeof(*gp));
    gp->res = xcalloc((size_t)g->cfg.G, sizeof(*gp->res));
    gp->logits = xmalloc(xmul((size_t)g->V, sizeof(float)));
    infer_prefix_init(&gp->cache, g->inf);
    return gp;
}

/* Asks the caller for the next prompt and prefills it; 0 at the end. */
static int
fetch(struct gen *g)
{
    struct gprompt *gp, **slot;
    struct gen_prompt p;
    int k;

    if (g->eof || (slot = window_slot(&g->win)) == NULL)
        return 0;
    memset(&p, 0, sizeof(p));
    k = g->next(g->ctx, &p);
    if (k <= 0) {
        g->eof = k == 0;
        return 0;
    }
    if (p.n < 1 || p.n >= g->m->cfg.max_pos)
        die("gen: a prompt of %d tokens (the context is %d)", p.n, g->m->cfg.max_pos);
    if (!*slot)
        *slot = gprompt_new(g);
    gp = *slot;
    gp->p = p;
    gp->ids.n = 0;
    tok_ids_append(&gp->ids, p.ids, (size_t)p.n);
    gp->p.ids = gp->ids.v;
    sbuf_reset(&gp->id);
    sbuf_add(&gp->id, p.id ? p.id : "", p.id ? p.idlen : 0);
    gp->p.id = gp->id.buf;
    gp->p.idlen = gp->id.len;
    gp->next_k = gp->running = gp->done = 0;
    if (p.opts) {
        gp->o = *p.opts;
        if (gp->o.G < 1 || gp->o.G > g->cfg.G || gp->o.max_tokens < 1 || gp->o.nstops < 0)
            die("gen: a prompt's G or max_tokens is out of range");
    } else {
        gp->o.G = g->cfg.G;
        gp->o.sampler = g->cfg.sampler;
        gp->o.max_tokens = g->cfg.max_tokens;
        gp->o.seed = g->cfg.seed;
        gp->o.stops = g->cfg.stops;
        gp->o.nstops = g->cfg.nstops;
        gp->o.cancel = NULL;
    }
    for (k = 0; k < g->cfg.G; k++) {
        gp->res[k].ids.n = 0;
        sbuf_reset(&gp->res[k].text);
        gp->res[k].finish = NULL;
    }
    infer_prefix_reset(&gp->cache);
    infer_prefill(g->inf, &gp->cache, gp->ids.v, p.n, gp->logits);
    if (g->W) {
        if (!gp->routes)
            gp->routes = xmalloc(xmul((size_t)g->W, sizeof(int)));
        infer_routes(g->inf, -1, gp->routes);
    }
    g->st.prompt_tokens += p.n;
    window_push(&g->win, 0);
    return 1;
}

static void cancel_rest(struct gprompt *gp);

/* The oldest prompt in flight with a sample not yet started, or NULL. */
static struct gprompt *
pending(struct gen *g)
{
    size_t i;

    for (i = g->win.head; i < g->win.tail; i++) {
        struct gprompt *gp = *(struct gprompt **)window_at(&g->win, i);
        if (gp->next_k < gp->o.G && gp->o.cancel && *gp->o.cancel)
            cancel_rest(gp);
        if (gp->next_k < gp->o.G)
            return gp;
    }
    return NULL;
}

/*
 * Earliest end of a stop string in text, looking only where the bytes
 * from `from` on could complete one; 0 when there is none.
 */
static size_t
stop_end(const struct gen_opts *o, const char *text, size_t len, size_t from)
{
    size_t best = 0, bestpos = (size_t)-1;
    int i;

    for (i = 0; i < o->nstops; i++) {
        const char *s = o->stops[i], *hit;
        size_t n = strlen(s), a = from >= n - 1 ? from - (n - 1) : 0;
        if (len < n)
            continue;
        hit = memmem(text + a, len - a, s, n);
        if (hit && (size_t)(hit - text) < bestpos) {
            bestpos = (size_t)(hit - text);
            best = bestpos + n;
        }
    }
    return best;
}

/*
 * Adds token t (log-probability lp; its forward's experts rt, W ints) to
 * slot s's sample; 1 when it ends.
 */
static int
take(struct gen *g, struct slot *s, int t, float lp, const float *logits, const int *rt)
{
    struct result *r = &s->gp->res[s->k];
    size_t before = r->text.len, end;
    int ended = 0;

    tok_ids_push(&r->ids, t);
    if (r->ids.n > r->lpcap) {
        r->lpcap = PT_MAX(2 * r->lpcap, 64);
        r->lp = xrealloc(r->lp, xmul(r->lpcap, sizeof(float)));
        if (g->W)
            r->rt = xrealloc(r->rt, xmul(r->lpcap, (size_t)g->W * sizeof(int)));
    }
    r->lp[r->ids.n - 1] = lp;
    if (g->W)
        memcpy(r->rt + (r->ids.n - 1) * (size_t)g->W, rt, (size_t)g->W * sizeof(int));
    g->st.tokens++;
    if (chat_is_stop(g->chat, t)) {
        r->finish = "stop";
        tok_stream_finish(&s->ts, &r->text);
        ended = 1;
    } else {
        tok_stream_push(&s->ts, t, &r->text);
        if (s->gp->o.nstops > 0 && r->text.len > before &&
            (end = stop_end(&s->gp->o, r->text.buf, r->text.len, before)) > 0) {
            r->text.len = end;
            r->text.buf[end] = '\0';
            r->finish = "stop";
            ended = 1;
        } else if ((int)r->ids.n >= s->max_new) {
            r->finish = "length";
            tok_stream_finish(&s->ts, &r->text);
            ended = 1;
        }
    }
    if (g->cfg.on_token)
        g->cfg.on_token(g->ctx, &s->gp->p, s->k, t, lp, logits, sbuf_str(&r->text),
                        r->text.len);
    return ended;
}

/* Ends slot s's sample: the slot is free again. */
static void
retire(struct gen *g, struct slot *s)
{
    struct gprompt *gp = s->gp;

    tok_stream_release(&s->ts);
    gp->running--;
    gp->done++;
    g->st.samples++;
    s->gp = NULL;
    infer_seq_reset(&s->seq, NULL);
    if (gp->done == gp->o.G)
        infer_prefix_release(&gp->cache); /* a prompt's cache lives while it runs */
}

/* Ends the samples of gp not yet started: finish "cancel", no tokens. */
static void
cancel_rest(struct gprompt *gp)
{
    for (; gp->next_k < gp->o.G; gp->next_k++) {
        gp->res[gp->next_k].finish = "cancel";
        gp->done++;
    }
    if (gp->done == gp->o.G)
        infer_prefix_release(&gp->cache);
}

/* Ends the running samples of cancelled prompts. */
static void
cancel_running(struct gen *g)
{
    int i;

    for (i = 0; i < g->cfg.batch; i++) {
        struct slot *s = &g->slots[i];
        if (s->gp && s->gp->o.cancel && *s->gp->o.cancel) {
            s->gp->res[s->k].finish = "cancel";
            tok_stream_finish(&s->ts, &s->gp->res[s->k].text);
            retire(g, s);
        }
    }
}

/*
 * The next token and its log-probability, the latter from model.h's
 * logprob_row: the float logp and update compute for the same token.
 */
static int
sample(struct gen *g, int tid, const struct sampler_config *cfg, const float *logits,
       struct rng *r, float *lp)
{
    struct sampler *smp = &g->smp[tid];
    float T = cfg->temperature > 0.0f ? cfg->temperature : 1.0f;
    int t;

    smp->cfg = *cfg;
    t = sampler_sample(smp, logits, r, NULL);
    logprob_row(lp, NULL, (float *)logits, g->V, t, T, 0.0f, 0.0f, 0);
    return t;
}

/* Row i of the step: its slot's next token, from the slot's own stream. */
static void
sample_task(void *ctx, int i, int tid)
{
    struct gen *g = ctx;
    struct slot *s = &g->slots[g->rowslot[i]];

    g->nexttok[i] = sample(g, tid, &s->gp->o.sampler, g->logits + (size_t)i * g->V, &s->rng,
                           &g->nextlp[i]);
}

/* One sampler per pool thread, whatever the pool's size now. */
static void
ensure_samplers(struct gen *g)
{
    int n = pool_threads();

    if (n <= g->nsmp)
        return;
    g->smp = xrealloc(g->smp, xmul((size_t)n, sizeof(*g->smp)));
    for (; g->nsmp < n; g->nsmp++)
        sampler_init(&g->smp[g->nsmp], &g->cfg.sampler, g->V);
}

/* Starts the next sample of gp in free slot s; 1 if it keeps running. */
static int
start(struct gen *g, struct slot *s, struct gprompt *gp)
{
    int t;
    float lp;

    s->gp = gp;
    s->k = gp->next_k++;
    gp->running++;
    s->max_new = PT_MIN(gp->o.max_tokens, g->m->cfg.max_pos - gp->p.n);
    sampler_rng(&s->rng, gp->o.seed, gp->p.id, gp->p.idlen, (uint64_t)s->k);
    tok_stream_init(&s->ts, g->tok, 0);
    infer_seq_reset(&s->seq, &gp->cache);
    t = sample(g, 0, &gp->o.sampler, gp->logits, &s->rng, &lp);
    if (take(g, s, t, lp, gp->logits, gp->routes)) {
        retire(g, s);
        return 0;
    }
    s->last = t;
    return 1;
}

/* Hands gp (done) to emit(); its record stays in its window slot for reuse. */
static void
emit_one(struct gen *g, struct gprompt *gp)
{
    int k;

    for (k = 0; k < gp->o.G; k++) {
        struct result *r = &gp->res[k];
        struct gen_sample *o = &g->out[k];
        o->k = k;
        o->finish = r->finish;
        o->ids = r->ids.v;
        o->logprobs = r->lp;
        o->routes = g->W ? r->rt : NULL;
        o->n = (int)r->ids.n;
        o->text = sbuf_str(&r->text);
        o->len = r->text.len;
    }
    g->st.prompts++;
    g->emit(g->ctx, &gp->p, g->out, gp->o.G);
}

/*
 * Marks the prompts whose samples have all ended done in the window and
 * emits those at its head, in input order; unordered, every one as soon
 * as it is done, the others keeping their order.
 */
static void
emit_ready(struct gen *g)
{
    struct gprompt **slot;
    size_t i = g->win.head;

    while (i < g->win.tail) {
        struct gprompt *gp = *(struct gprompt **)window_at(&g->win, i);
        if (gp->done < gp->o.G || window_is_done(&g->win, i)) {
            i++;
            continue;
        }
        window_done(&g->win, i);
        if (g->cfg.unordered)
            emit_one(g, *(struct gprompt **)window_remove(&g->win, i));
        else
            i++;
    }
    while ((slot = window_pop(&g->win)) != NULL)
        emit_one(g, *slot);
}

void
gen_run(struct gen *g, gen_next_fn *next, gen_emit_fn *emit, void *ctx)
{
    int B = g->cfg.batch, i, n;

    g->next = next;
    g->emit = emit;
    g->ctx = ctx;
    g->eof = 0;
    g->t0 = now_sec();
    for (;;) {
        /* fill the free slots, oldest prompt first */
        for (i = 0; i < B; i++) {
            struct slot *s = &g->slots[i];
            while (!s->gp) {
                struct gprompt *gp = pending(g);
                if (!gp && fetch(g))
                    gp = pending(g);
                if (!gp)
                    break;
                start(g, s, gp);
            }
        }
        cancel_running(g);
        emit_ready(g);
        for (i = 0, n = 0; i < B; i++)
            if (g->slots[i].gp) {
                g->rows[n] = &g->slots[i].seq;
                g->rowslot[n] = i;
                g->toks[n] = g->slots[i].last;
                n++;
            }
        if (n == 0) {
            if (g->eof && window_count(&g->win) == 0)
                break;
            if (g->eof || window_count(&g->win) == g->win.cap)
                die("gen: scheduler stalled with %zu prompts in flight",
                    window_count(&g->win));
            continue;
        }
        g->logits = infer_decode(g->inf, g->rows, g->toks, n);
        /* the rows' draws in parallel (each slot its own stream), then in order */
        ensure_samplers(g);
        pool_run(sample_task, g, n);
        for (i = 0; i < n; i++) {
            struct slot *s = &g->slots[g->rowslot[i]];
            if (g->W)
                infer_routes(g->inf, i, g->rbuf);
            if (take(g, s, g->nexttok[i], g->nextlp[i], g->logits + (size_t)i * g->V, g->rbuf))
                retire(g, s);
            else
                s->last = g->nexttok[i];
        }
        emit_ready(g);
    }
}
