/*
 * pack.c - records to segments, bin packing, packed records and their
 * checker.  See pack.h for the format's invariants and the strategies.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "sample.h"
#include "tok.h"

/* ---- Units ---- */

struct seg {
    size_t n;
    int *ids;              /* (n) */
    unsigned char *mask;   /* (n) */
    double *old, *ref;     /* (n) or NULL */
    json_t *routes;        /* the sample's routes (owned), or NULL */
    size_t np;             /* prompt tokens (with routes) */
    double adv, margin;
    int pair;              /* -1 none, 1 chosen, 0 rejected */
    json_t *src;           /* owned */
};

struct unit {
    struct seg s[2];
    int nseg;
    size_t len, idx;
};

struct bin {
    struct unit *u;
    size_t n, cap;
    size_t used;
};

struct packer {
    struct pack_config cfg;
    struct chat *chat;           /* borrowed, may be NULL */
    int fields;                  /* enum pack_fields of the stream, -1 before the first */
    struct pack_stats st;
    size_t nadded;               /* units taken so far */
    /* best-fit-decreasing: the window */
    struct unit *win;
    size_t nwin, capwin;
    /* first-fit: open bins, oldest first */
    struct bin *open;
    size_t nopen, capopen;
    /* packed records ready, FIFO */
    json_t **ready;
    size_t rhead, nready, capready;
    /* the samples' sampling settings: one per stream, copied to each bin */
    struct sample_temp samp;
    struct sample_conv conv;     /* the conversation of a messages record */
};

void
pack_config_default(struct pack_config *c)
{
    c->L = 1024;
    c->truncate = 0;
    c->first_fit = 0;
    c->window = 0;
    c->max_open = 16;
    c->last_turn_only = 0;
}

static void
seg_release(struct seg *s)
{
    free(s->ids);
    free(s->mask);
    free(s->old);
    free(s->ref);
    json_decref(s->routes);
    json_decref(s->src);
    memset(s, 0, sizeof(*s));
}

static void
unit_release(struct unit *u)
{
    int i;

    for (i = 0; i < u->nseg; i++)
        seg_release(&u->s[i]);
    u->nseg = 0;
}

static void
seg_alloc(struct seg *s, size_t n, int fields)
{
    s->n = n;
    s->ids = xmalloc(xmul(n, sizeof(int)));
    s->mask = xcalloc(n, 1);
    s->old = fields & PACK_OLD ? xcalloc(n, sizeof(double)) : NULL;
    s->ref = fields & PACK_REF ? xcalloc(n, sizeof(double)) : NULL;
    s->pair = -1;
}

/* ---- Reading fields ---- */

/* A token-id array (sample.h's reader), or NULL with the reason in why. */
static const json_t *
get_ids(const json_t *rec, const char *key, int nonempty, struct sbuf *why)
{
    const json_t *a = NULL;

    return sample_get_ids(rec, key, 0, nonempty, &a, why) == 0 ? a : NULL;
}

/* rec's n log-probabilities at key (sample.h's reader), copied into out. */
static int
get_logprobs(const json_t *rec, const char *key, size_t n, const char *of, double *out,
             struct sbuf *why)
{
    const json_t *a;
    size_t i;

    if (sample_get_logprobs(rec, key, n, of, &a, why) < 0)
        return -1;
    for (i = 0; i < n; i++)
        out[i] = json_number_value(json_array_get(a, i));
    return 0;
}

static json_t *
make_src(const json_t *rec, size_t idx)
{
    static const char *const keys[] = {"id", "group", "k"};
    json_t *src = json_object();
    size_t i;

    for (i = 0; i < ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(rec, keys[i]);
        if (v)
            json_object_set(src, keys[i], v);
    }
    if (json_object_size(src) == 0)
        json_object_set_new(src, "n", json_integer((json_int_t)idx));
    return src;
}

/* Copies a json id array into dst. */
static void
copy_ids(int *dst, const json_t *a)
{
    size_t i;
    const json_t *v;

    json_array_foreach(a, i, v)
        dst[i] = (int)json_integer_value(v);
}

/*
 * One segment from prompt ids and target ids (either as json arrays or
 * int arrays).  Targets get mask 1, except a first token of the segment.
 */
static void
seg_from_ids(struct seg *s, const int *p, size_t np, const int *c, size_t nc, int fields)
{
    size_t i;

    seg_alloc(s, np + nc, fields);
    if (np)
        memcpy(s->ids, p, np * sizeof(int));
    if (nc)
        memcpy(s->ids + np, c, nc * sizeof(int));
    for (i = np; i < np + nc; i++)
        s->mask[i] = i > 0;
}

static int
unit_from_sample(struct unit *u, const json_t *rec, const char **field, struct sbuf *why)
{
    const json_t *pa, *ca, *a;
    const char *oldkey;
    int fields = 0, *pbuf = NULL, *cbuf = NULL;
    size_t np, nc, i;
    struct seg *s = &u->s[0];
    int rc = -1;

    if (!(pa = get_ids(rec, *field = "prompt_ids", 0, why)))
        return -1;
    if (!(ca = get_ids(rec, *field = "completion_ids", 1, why)))
        return -1;
    np = json_array_size(pa);
    nc = json_array_size(ca);
    oldkey = json_object_get(rec, "old_logprobs") ? "old_logprobs"
             : json_object_get(rec, "logprobs") ? "logprobs" : NULL;
    if (oldkey)
        fields |= PACK_OLD;
    if (json_object_get(rec, "ref_logprobs"))
        fields |= PACK_REF;
    if ((a = json_object_get(rec, "routes")) != NULL) {
        if (!json_is_array(a) || json_array_size(a) != nc) {
            *field = "routes";
            if (json_is_array(a))
                sbuf_addf(why, "%zu tokens for %zu completion_ids", json_array_size(a), nc);
            else
                sbuf_adds(why, "not an array");
            return -1;
        }
        fields |= PACK_ROUTES;
    }
    if ((a = json_object_get(rec, "advantage")) != NULL) {
        if (!json_is_number(a) || !isfinite(json_number_value(a))) {
            *field = "advantage";
            sbuf_adds(why, "not a finite number");
            return -1;
        }
        fields |= PACK_ADV;
    }
    pbuf = xmalloc(xmul(np + 1, sizeof(int)));
    cbuf = xmalloc(xmul(nc, sizeof(int)));
    copy_ids(pbuf, pa);
    copy_ids(cbuf, ca);
    u->nseg = 1;
    seg_from_ids(s, pbuf, np, cbuf, nc, fields);
    s->adv = a ? json_number_value(a) : 0;
    if (fields & PACK_ROUTES) {
        s->routes = json_incref(json_object_get(rec, "routes"));
        s->np = np;
    }
    if (oldkey && get_logprobs(rec, *field = oldkey, nc, "completion_ids", s->old + np, why))
        goto out;
    if ((fields & PACK_REF)
        && get_logprobs(rec, *field = "ref_logprobs", nc, "completion_ids", s->ref + np, why))
        goto out;
    /* a first token that is not a target carries no log-probability */
    for (i = 0; i < s->n; i++) {
        if (!s->mask[i]) {
            if (s->old)
                s->old[i] = 0;
            if (s->ref)
                s->ref[i] = 0;
        }
    }
    rc = 0;
out:
    free(pbuf);
    free(cbuf);
    if (rc)
        unit_release(u);
    return rc;
}

static int
get_text(const json_t *rec, const char *key, int optional, const char **out, struct sbuf *why)
{
    const json_t *v = json_object_get(rec, key);

    *out = NULL;
    if (!v && optional)
        return 0;
    if (!json_is_string(v)) {
        sbuf_adds(why, v ? "not a string" : "missing");
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* The ids and loss mask of an SFT unit from its ids and target mask. */
static void
unit_of_sft(struct unit *u, const struct tok_ids *ids, const struct tok_ids *mask)
{
    struct seg *s = &u->s[0];
    size_t i;

    u->nseg = 1;
    seg_alloc(s, ids->n, 0);
    memcpy(s->ids, ids->v, ids->n * sizeof(int));
    for (i = 0; i < ids->n; i++)
        s->mask[i] = i > 0 && mask->v[i] != 0;
}

/*
 * A conversation record (messages): the chat format's rendering, loss on
 * every assistant turn's output, or on the last one only.
 */
static int
unit_from_conv(struct packer *p, struct unit *u, const json_t *rec,
               const char **field, struct sbuf *why)
{
    struct tok_ids ids = TOK_IDS_INIT, mask = TOK_IDS_INIT;
    const char *w;
    int rc = -1;

    if (sample_conv_get(&p->conv, rec, &w) < 0) {
        *field = sbuf_str(&p->conv.field);
        sbuf_adds(why, w);
        return -1;
    }
    if (!p->conv.response) {
        *field = "messages";
        sbuf_adds(why, "the conversation does not end in an assistant turn");
        return -1;
    }
    if (chat_conv_sample(p->chat, p->conv.m, p->conv.n, p->cfg.last_turn_only,
                         &ids, &mask, &w) < 0) {
        *field = "messages";
        sbuf_adds(why, w);
        goto out;
    }
    unit_of_sft(u, &ids, &mask);
    rc = 0;
out:
    tok_ids_release(&ids);
    tok_ids_release(&mask);
    return rc;
}

static int
unit_from_sft(struct unit *u, struct chat *chat, const json_t *rec, const char **field,
              struct sbuf *why)
{
    const char *sys, *prompt, *resp;
    struct tok_ids ids = TOK_IDS_INIT, mask = TOK_IDS_INIT;

    if (get_text(rec, *field = "system", 1, &sys, why)
        || get_text(rec, *field = "prompt", 0, &prompt, why)
        || get_text(rec, *field = "response", 0, &resp, why))
        return -1;
    chat_sample(chat, sys, prompt, resp, &ids, &mask);
    unit_of_sft(u, &ids, &mask);
    tok_ids_release(&ids);
    tok_ids_release(&mask);
    return 0;
}

/*
 * A pretraining document: {text}, encoded as the tokenizer's
 * post-processor encodes a sequence (BOS for the built-in tokenizer and
 * Llama-style ones), special-token strings in it as plain text, then the
 * end-of-sequence token.  The loss is on every token a token before it in
 * the document predicts: all but the first.
 */
static int
unit_from_text(struct unit *u, struct chat *chat, const json_t *rec, const char **field,
               struct sbuf *why)
{
    static const char *const chatkeys[] = {"prompt", "response", "messages", "system"};
    struct tok_ids ids = TOK_IDS_INIT;
    const char *text;
    struct seg *s = &u->s[0];
    size_t i;
    int eos;

    if (get_text(rec, *field = "text", 0, &text, why))
        return -1;
    for (i = 0; i < ARRAY_LEN(chatkeys); i++) {
        if (json_object_get(rec, chatkeys[i])) {
            *field = chatkeys[i];
            sbuf_adds(why, "beside text (a text record is a whole document)");
            return -1;
        }
    }
    tok_encode(chat->tok, text, strlen(text), TOK_ADD_SPECIAL | TOK_PLAIN, &ids);
    eos = tok_eos(chat->tok);
    if (eos >= 0)
        tok_ids_push(&ids, eos);
    if (ids.n < 2) {
        sbuf_adds(why, "empty (no token for the loss)");
        tok_ids_release(&ids);
        return -1;
    }
    u->nseg = 1;
    seg_alloc(s, ids.n, 0);
    memcpy(s->ids, ids.v, ids.n * sizeof(int));
    for (i = 1; i < ids.n; i++)
        s->mask[i] = 1;
    tok_ids_release(&ids);
    return 0;
}

/*
 * A preference pair: {prompt_ids, chosen_ids, rejected_ids} or {prompt?,
 * system?, chosen, rejected} as text.  Without a prompt the texts are
 * whole conversations (hh-rlhf) and are encoded as they are, plus EOS.
 */
static int
unit_from_pref(struct unit *u, struct chat *chat, const json_t *rec, const char **field,
               struct sbuf *why)
{
    static const char *const idkeys[2] = {"chosen_ids", "rejected_ids"};
    static const char *const keys[2] = {"chosen", "rejected"};
    struct tok_ids p = TOK_IDS_INIT, r = TOK_IDS_INIT;
    const json_t *m = json_object_get(rec, "margin");
    int fields = PACK_PAIR | (m ? PACK_MARGIN : 0), j, rc = -1;
    size_t i;

    if (m && (!json_is_number(m) || !isfinite(json_number_value(m)))) {
        *field = "margin";
        sbuf_adds(why, "not a finite number");
        return -1;
    }
    if (json_object_get(rec, "chosen_ids")) {
        const json_t *pa = NULL, *a[2];
        if (json_object_get(rec, "prompt_ids")
            && !(pa = get_ids(rec, *field = "prompt_ids", 0, why)))
            return -1;
        for (j = 0; j < 2; j++)
            if (!(a[j] = get_ids(rec, *field = idkeys[j], 1, why)))
                return -1;
        for (i = 0; pa && i < json_array_size(pa); i++)
            tok_ids_push(&p, (int)json_integer_value(json_array_get(pa, i)));
        for (j = 0; j < 2; j++) {
            r.n = 0;
            for (i = 0; i < json_array_size(a[j]); i++)
                tok_ids_push(&r, (int)json_integer_value(json_array_get(a[j], i)));
            seg_from_ids(&u->s[j], p.v, p.n, r.v, r.n, fields);
        }
    } else {
        const char *sys, *prompt, *text[2];
        if (!chat) {
            *field = "chosen_ids";
            sbuf_adds(why, "missing (text records need the tokenizer: -m CKPT)");
            return -1;
        }
        if (get_text(rec, *field = "system", 1, &sys, why)
            || get_text(rec, *field = "prompt", 1, &prompt, why)
            || get_text(rec, *field = "chosen", 0, &text[0], why)
            || get_text(rec, *field = "rejected", 0, &text[1], why))
            return -1;
        if (prompt)
            chat_prompt(chat, sys, prompt, &p);
        for (j = 0; j < 2; j++) {
            r.n = 0;
            if (prompt)
                chat_response(chat, text[j], &r);
            else {
                tok_encode(chat->tok, text[j], strlen(text[j]), TOK_ADD_SPECIAL, &r);
                tok_ids_push(&r, chat->eos);
            }
            if (p.n + r.n == 0) {
                *field = keys[j];
                sbuf_adds(why, "empty");
                goto out;
            }
            seg_from_ids(&u->s[j], p.v, p.n, r.v, r.n, fields);
        }
    }
    u->nseg = 2;
    for (j = 0; j < 2; j++) {
        u->s[j].pair = j == 0;
        u->s[j].margin = m ? json_number_value(m) : 0;
    }
    rc = 0;
out:
    if (rc) {
        for (j = 0; j < 2; j++)
            if (u->s[j].ids)
                seg_release(&u->s[j]);
    }
    tok_ids_release(&p);
    tok_ids_release(&r);
    return rc;
}

static int
seg_fields(const struct seg *s)
{
    return (s->old ? PACK_OLD : 0) | (s->ref ? PACK_REF : 0) | (s->routes ? PACK_ROUTES : 0);
}

static int
unit_fields(const struct unit *u, const json_t *rec)
{
    int f = seg_fields(&u->s[0]);

    if (json_object_get(rec, "advantage") && u->s[0].pair < 0)
        f |= PACK_ADV;
    if (u->s[0].pair >= 0) {
        f |= PACK_PAIR;
        if (json_object_get(rec, "margin"))
            f |= PACK_MARGIN;
    }
    return f;
}

static const char *
field_name(int f)
{
    switch (f) {
    case PACK_ADV: return "advantage";
    case PACK_OLD: return "logprobs";
    case PACK_REF: return "ref_logprobs";
    case PACK_PAIR: return "chosen";
    case PACK_ROUTES: return "routes";
    default: return "margin";
    }
}

/* Cuts u to L tokens; returns -1 when no target would be left. */
static int
unit_truncate(struct unit *u, size_t L, struct sbuf *why)
{
    size_t lim[2], i;
    int j;

    if (u->nseg == 1)
        lim[0] = L;
    else {
        lim[0] = L - L / 2;
        lim[1] = L / 2;
    }
    u->len = 0;
    for (j = 0; j < u->nseg; j++) {
        struct seg *s = &u->s[j];
        int any = 0;
        if (s->n > lim[j])
            s->n = lim[j];
        for (i = 0; i < s->n; i++)
            any |= s->mask[i];
        if (!any && s->pair < 0) {
            sbuf_addf(why, "no completion token is left within -L %zu", L);
            return -1;
        }
        if (s->n == 0) {
            sbuf_addf(why, "nothing is left of the pair within -L %zu", L);
            return -1;
        }
        u->len += s->n;
    }
    return 0;
}

/* ---- Bins ---- */

static void
bin_push(struct bin *b, struct unit *u)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 4;
        b->u = xrealloc(b->u, xmul(b->cap, sizeof(*b->u)));
    }
    b->u[b->n++] = *u;
    b->used += u->len;
}

static int
cmp_idx(const void *a, const void *b)
{
    const struct unit *x = a, *y = b;

    return (x->idx > y->idx) - (x->idx < y->idx);
}

static json_t *
num_array(void)
{
    return json_array();
}

/* The packed record of bin b; releases its units. */
static json_t *
bin_emit(struct packer *p, struct bin *b)
{
    json_t *rec = json_object(), *ids = json_array(), *segs = json_array(),
           *mask = json_array(), *adv = NULL, *old = NULL, *ref = NULL, *pair = NULL,
           *margin = NULL, *routes = NULL, *src = json_array();
    int f = p->fields;
    size_t i, t;
    int j;

    if (f & PACK_ADV)
        adv = num_array();
    if (f & PACK_OLD)
        old = num_array();
    if (f & PACK_REF)
        ref = num_array();
    if (f & PACK_PAIR)
        pair = num_array();
    if (f & PACK_MARGIN)
        margin = num_array();
    if (f & PACK_ROUTES)
        routes = json_array();
    qsort(b->u, b->n, sizeof(*b->u), cmp_idx);
    for (i = 0; i < b->n; i++) {
        struct unit *u = &b->u[i];
        for (j = 0; j < u->nseg; j++) {
            struct seg *s = &u->s[j];
            json_array_append_new(segs, json_integer((json_int_t)s->n));
            for (t = 0; t < s->n; t++) {
                json_array_append_new(ids, json_integer(s->ids[t]));
                json_array_append_new(mask, json_integer(s->mask[t]));
                if (old)
                    json_array_append_new(old, s->mask[t] ? json_real(s->old[t]) : json_integer(0));
                if (ref)
                    json_array_append_new(ref, s->mask[t] ? json_real(s->ref[t]) : json_integer(0));
            }
            if (adv)
                json_array_append_new(adv, json_real(s->adv));
            if (pair)
                json_array_append_new(pair, json_integer(s->pair));
            if (margin)
                json_array_append_new(margin, json_real(s->margin));
            if (routes) {
                /* the routes of tokens [first, n): each predicted by the row before */
                json_t *sr = json_array();
                size_t first = s->np == 0 ? 1 : 0, q;
                for (q = first; q < s->n - s->np; q++)
                    json_array_append(sr, json_array_get(s->routes, q));
                json_array_append_new(routes, sr);
            }
            json_array_append(src, s->src);
            p->st.segments++;
            p->st.tokens += s->n;
        }
        p->st.records++;
        unit_release(u);
    }
    json_object_set_new(rec, "ids", ids);
    json_object_set_new(rec, "segments", segs);
    json_object_set_new(rec, "loss_mask", mask);
    if (adv)
        json_object_set_new(rec, "advantage", adv);
    if (old)
        json_object_set_new(rec, "old_logprobs", old);
    if (ref)
        json_object_set_new(rec, "ref_logprobs", ref);
    if (pair)
        json_object_set_new(rec, "pair", pair);
    if (margin)
        json_object_set_new(rec, "margin", margin);
    if (routes)
        json_object_set_new(rec, "routes", routes);
    json_object_set_new(rec, "src", src);
    if (p->samp.seen)
        sample_sampling_set(rec, &p->samp.first);
    p->st.bins++;
    free(b->u);
    memset(b, 0, sizeof(*b));
    return rec;
}

static void
ready_push(struct packer *p, json_t *rec)
{
    if (p->rhead + p->nready == p->capready) {
        if (p->rhead > 0) {
            memmove(p->ready, p->ready + p->rhead, p->nready * sizeof(*p->ready));
            p->rhead = 0;
        }
        if (p->nready == p->capready) {
            p->capready = p->capready ? 2 * p->capready : 16;
            p->ready = xrealloc(p->ready, xmul(p->capready, sizeof(*p->ready)));
        }
    }
    p->ready[p->rhead + p->nready++] = rec;
}

/* ---- Best-fit-decreasing ---- */

struct lenidx {
    size_t len, i;
};

static int
cmp_len_desc(const void *a, const void *b)
{
    const struct lenidx *x = a, *y = b;

    if (x->len != y->len)
        return x->len < y->len ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

/*
 * Bins with r tokens of room are kept on a list head[r] (linked through
 * next[]), and a bitset marks the non-empty lists, so the best fit for an
 * item of length l is the first set bit at or above l: a scan of L/64
 * words at most.
 */
size_t
pack_bfd(const size_t *len, size_t n, size_t L, size_t *bin_of)
{
    struct lenidx *order = xmalloc(xmul(n + 1, sizeof(*order)));
    size_t *head = xmalloc(xmul(L + 1, sizeof(size_t)));
    size_t *next = xmalloc(xmul(n + 1, sizeof(size_t)));
    size_t *room = xmalloc(xmul(n + 1, sizeof(size_t)));
    size_t nw = L / 64 + 1;
    uint64_t *bits = xcalloc(nw, sizeof(uint64_t));
    size_t nbins = 0, i, r;
    const size_t NONE = SIZE_MAX;

    for (i = 0; i < n; i++) {
        order[i].len = len[i];
        order[i].i = i;
    }
    qsort(order, n, sizeof(*order), cmp_len_desc);
    for (r = 0; r <= L; r++)
        head[r] = NONE;
    for (i = 0; i < n; i++) {
        size_t l = order[i].len, w = l / 64, b;
        uint64_t word = w < nw ? bits[w] & (~(uint64_t)0 << (l % 64)) : 0;
        while (!word && ++w < nw)
            word = bits[w];
        if (word) {
            r = w * 64 + (size_t)__builtin_ctzll(word);
            b = head[r];
            head[r] = next[b];
            if (head[r] == NONE)
                bits[r / 64] &= ~((uint64_t)1 << (r % 64));
        } else {
            b = nbins++;
            room[b] = L;
        }
        room[b] -= l;
        bin_of[order[i].i] = b;
        r = room[b];
        if (r > 0) {
            next[b] = head[r];
            head[r] = b;
            bits[r / 64] |= (uint64_t)1 << (r % 64);
        }
    }
    free(order);
    free(head);
    free(next);
    free(room);
    free(bits);
    return nbins;
}

static void
flush_window(struct packer *p)
{
    size_t n = p->nwin, i, nb;
    size_t *len, *bin_of;
    struct bin *bins;

    if (n == 0)
        return;
    len = xmalloc(xmul(n, sizeof(size_t)));
    bin_of = xmalloc(xmul(n, sizeof(size_t)));
    for (i = 0; i < n; i++)
        len[i] = p->win[i].len;
    nb = pack_bfd(len, n, p->cfg.L, bin_of);
    bins = xcalloc(nb, sizeof(*bins));
    for (i = 0; i < n; i++)
        bin_push(&bins[bin_of[i]], &p->win[i]);
    for (i = 0; i < nb; i++)
        ready_push(p, bin_emit(p, &bins[i]));
    p->nwin = 0;
    free(bins);
    free(len);
    free(bin_of);
}

/* ---- First-fit ---- */

static void
emit_open(struct packer *p, size_t k)
{
    ready_push(p, bin_emit(p, &p->open[k]));
    memmove(p->open + k, p->open + k + 1, (p->nopen - k - 1) * sizeof(*p->open));
    p->nopen--;
}

static void
first_fit(struct packer *p, struct unit *u)
{
    size_t k;

    for (k = 0; k < p->nopen; k++)
        if (p->open[k].used + u->len <= p->cfg.L)
            break;
    if (k == p->nopen) {
        if (p->nopen == p->capopen) {
            p->capopen = p->capopen ? 2 * p->capopen : 8;
            p->open = xrealloc(p->open, xmul(p->capopen, sizeof(*p->open)));
        }
        memset(&p->open[p->nopen++], 0, sizeof(*p->open));
    }
    bin_push(&p->open[k], u);
    if (p->open[k].used == p->cfg.L)
        emit_open(p, k);
    else if (p->nopen > p->cfg.max_open)
        emit_open(p, 0);
}

/* ---- The packer ---- */

struct packer *
packer_new(const struct pack_config *cfg, struct chat *chat)
{
    struct packer *p = xcalloc(1, sizeof(*p));

    p->cfg = *cfg;
    if (p->cfg.max_open < 1)
        p->cfg.max_open = 1;
    p->chat = chat;
    p->fields = -1;
    sample_temp_init(&p->samp, 0, 1.0);
    p->conv = (struct sample_conv)SAMPLE_CONV_INIT;
    return p;
}

void
packer_free(struct packer *p)
{
    size_t i;

    if (!p)
        return;
    sample_temp_release(&p->samp);
    sample_conv_release(&p->conv);
    for (i = 0; i < p->nwin; i++)
        unit_release(&p->win[i]);
    for (i = 0; i < p->nopen; i++) {
        size_t j;
        for (j = 0; j < p->open[i].n; j++)
            unit_release(&p->open[i].u[j]);
        free(p->open[i].u);
    }
    for (i = 0; i < p->nready; i++)
        json_decref(p->ready[p->rhead + i]);
    free(p->win);
    free(p->open);
    free(p->ready);
    free(p);
}

int
packer_add(struct packer *p, const json_t *rec, const char **field, struct sbuf *why)
{
    struct unit u;
    int rc, f, j;

    memset(&u, 0, sizeof(u));
    *field = NULL;
    if (!json_is_object(rec)) {
        sbuf_adds(why, "a record must be a JSON object");
        return -1;
    }
    if (json_object_get(rec, "chosen") || json_object_get(rec, "chosen_ids"))
        rc = unit_from_pref(&u, p->chat, rec, field, why);
    else if (json_object_get(rec, "completion_ids") || json_object_get(rec, "prompt_ids")) {
        if (sample_temp_take(&p->samp, rec, field, why) < 0)
            return -1;
        rc = unit_from_sample(&u, rec, field, why);
    }
    else if (json_object_get(rec, "text") && p->chat)
        rc = unit_from_text(&u, p->chat, rec, field, why);
    else if (json_object_get(rec, "messages") && p->chat)
        rc = unit_from_conv(p, &u, rec, field, why);
    else if (json_object_get(rec, "response") && p->chat)
        rc = unit_from_sft(&u, p->chat, rec, field, why);
    else {
        *field = json_object_get(rec, "text") ? "text" : "completion_ids";
        sbuf_adds(why, json_object_get(rec, "response") || json_object_get(rec, "messages")
                  ? "missing (an SFT record needs the tokenizer: -m CKPT)"
                  : json_object_get(rec, "text")
                  ? "missing (a text record needs the tokenizer: -m CKPT)"
                  : "missing (need prompt_ids + completion_ids, prompt + response,"
                    " messages, text, or chosen + rejected)");
        return -1;
    }
    if (rc)
        return -1;
    u.len = 0;
    for (j = 0; j < u.nseg; j++)
        u.len += u.s[j].n;
    f = unit_fields(&u, rec);
    if (p->fields >= 0 && f != p->fields) {
        int d = f ^ p->fields, bit = d & -d;
        *field = field_name(bit);
        sbuf_addf(why, "%s here but %s in the stream's first record (a packed stream"
                  " carries the same fields throughout)", f & bit ? "present" : "absent",
                  f & bit ? "absent" : "present");
        unit_release(&u);
        return -1;
    }
    if (u.len > p->cfg.L) {
        *field = u.nseg == 2 ? "chosen" : "completion_ids";
        if (!p->cfg.truncate) {
            sbuf_addf(why, "the %s is %zu tokens, longer than -L %zu (see --truncate)",
                      u.nseg == 2 ? "pair" : "sample", u.len, p->cfg.L);
            unit_release(&u);
            return -1;
        }
        if (unit_truncate(&u, p->cfg.L, why)) {
            unit_release(&u);
            return -1;
        }
        p->st.truncated++;
    }
    p->fields = f;
    for (j = 0; j < u.nseg; j++)
        u.s[j].src = make_src(rec, p->nadded);
    u.idx = p->nadded++;
    if (p->cfg.first_fit) {
        first_fit(p, &u);
        return 0;
    }
    if (p->nwin == p->capwin) {
        p->capwin = p->capwin ? 2 * p->capwin : 64;
        p->win = xrealloc(p->win, xmul(p->capwin, sizeof(*p->win)));
    }
    p->win[p->nwin++] = u;
    if (p->cfg.window && p->nwin >= p->cfg.window)
        flush_window(p);
    return 0;
}

void
packer_finish(struct packer *p)
{
    flush_window(p);
    while (p->nopen)
        emit_open(p, 0);
}

json_t *
packer_next(struct packer *p)
{
    json_t *r;

    if (!p->nready)
        return NULL;
    r = p->ready[p->rhead++];
    if (--p->nready == 0)
        p->rhead = 0;
    return r;
}

const struct pack_stats *
packer_stats(const struct packer *p)
{
    return &p->st;
}

/* ---- Reading packed records ---- */

void
pack_row_release(struct pack_row *r)
{
    free(r->ids);
    free(r->mask);
    free(r->old);
    free(r->ref);
    free(r->seg);
    free(r->adv);
    free(r->pair);
    free(r->margin);
    free(r->routes);
    memset(r, 0, sizeof(*r));
}

int
pack_row_routes(struct pack_row *r, const json_t *rec, const struct model_config *c,
                struct sbuf *why)
{
    const json_t *a = json_object_get(rec, "routes"), *v;
    size_t W = (size_t)model_route_width(c), i, s, t0;
    struct sbuf sub = SBUF_INIT;
    int rc = -1;

    if (!json_is_array(a)) {
        sbuf_adds(why, a ? "not an array"
                         : "missing (replay needs samples from gen --routes, packed)");
        return -1;
    }
    if (json_array_size(a) != r->nseg) {
        sbuf_addf(why, "%zu values for %zu segments", json_array_size(a), r->nseg);
        return -1;
    }
    free(r->routes);
    r->nroutes = r->n * W;
    r->routes = xmalloc(xmul(xmul(r->n, W), sizeof(int)));
    for (i = 0; i < r->n * W; i++)
        r->routes[i] = -1;
    for (s = 0, t0 = 0; s < r->nseg; t0 += (size_t)r->seg[s], s++) {
        size_t m, len = (size_t)r->seg[s];
        v = json_array_get(a, s);
        if (json_is_null(v))
            continue;
        if (!json_is_array(v)) {
            sbuf_addf(why, "element %zu is neither an array nor null", s);
            goto out;
        }
        m = json_array_size(v);
        if (m >= len) {
            sbuf_addf(why, "element %zu: %zu tokens' routes in a segment of %zu tokens (at"
                      " most %zu: nothing predicts the first)", s, m, len, len - 1);
            goto out;
        }
        sbuf_reset(&sub);
        if (sample_routes_get(v, c, m, "", r->routes + (t0 + len - m - 1) * W, &sub) < 0) {
            sbuf_addf(why, "element %zu: %s", s, sbuf_str(&sub));
            goto out;
        }
    }
    rc = 0;
out:
    if (rc) {
        free(r->routes);
        r->routes = NULL;
        r->nroutes = 0;
    }
    sbuf_release(&sub);
    return rc;
}

/* An array field of length n (or NULL if absent and optional). */
static const json_t *
get_array(const json_t *rec, const char *key, size_t n, const char *of, int optional,
          struct sbuf *why, int *bad)
{
    const json_t *a = json_object_get(rec, key);

    *bad = 0;
    if (!a) {
        if (!optional) {
            sbuf_adds(why, "missing");
            *bad = 1;
        }
        return NULL;
    }
    if (!json_is_array(a)) {
        sbuf_adds(why, "not an array");
        *bad = 1;
        return NULL;
    }
    if (n != SIZE_MAX && json_array_size(a) != n) {
        sbuf_addf(why, "%zu values for %zu %s", json_array_size(a), n, of);
        *bad = 1;
        return NULL;
    }
    return a;
}

static int
get_floats(const json_t *a, float *out, struct sbuf *why)
{
    size_t i;
    const json_t *v;

    json_array_foreach(a, i, v) {
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            sbuf_addf(why, "element %zu is not a finite number", i);
            return -1;
        }
        out[i] = (float)json_number_value(v);
    }
    return 0;
}

int
pack_row_parse(const json_t *rec, size_t L, struct pack_row *r, const char **field,
               struct sbuf *why)
{
    const json_t *a, *v;
    size_t i, j, t, sum = 0, n, ns;
    int bad;
    static const char *const lpkeys[2] = {"old_logprobs", "ref_logprobs"};

    memset(r, 0, sizeof(*r));
    *field = NULL;
    if (!json_is_object(rec)) {
        sbuf_adds(why, "a record must be a JSON object");
        return -1;
    }
    if (!(a = get_ids(rec, *field = "ids", 1, why)))
        goto bad;
    n = r->n = json_array_size(a);
    if (L && n > L) {
        sbuf_addf(why, "%zu tokens, more than -L %zu", n, L);
        goto bad;
    }
    r->ids = xmalloc(xmul(n, sizeof(int)));
    copy_ids(r->ids, a);

    if (!(a = get_array(rec, *field = "segments", SIZE_MAX, NULL, 0, why, &bad)))
        goto bad;
    ns = r->nseg = json_array_size(a);
    if (ns == 0) {
        sbuf_adds(why, "empty");
        goto bad;
    }
    r->seg = xmalloc(xmul(ns, sizeof(int)));
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || (size_t)json_integer_value(v) > n) {
            sbuf_addf(why, "element %zu is not a length in [1, %zu]", i, n);
            goto bad;
        }
        r->seg[i] = (int)json_integer_value(v);
        sum += (size_t)r->seg[i];
    }
    if (sum != n) {
        sbuf_addf(why, "the lengths sum to %zu, not to the %zu ids", sum, n);
        goto bad;
    }

    if (!(a = get_array(rec, *field = "loss_mask", n, "ids", 0, why, &bad)))
        goto bad;
    r->mask = xmalloc(n);
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v) || (json_integer_value(v) != 0 && json_integer_value(v) != 1)) {
            sbuf_addf(why, "element %zu is not 0 or 1", i);
            goto bad;
        }
        r->mask[i] = (unsigned char)json_integer_value(v);
    }
    for (j = 0, t = 0; j < ns; t += (size_t)r->seg[j], j++) {
        if (r->mask[t]) {
            sbuf_addf(why, "element %zu is 1 at the first token of segment %zu, which"
                      " nothing predicts", t, j);
            goto bad;
        }
    }

    for (j = 0; j < 2; j++) {
        float *x;
        a = get_array(rec, *field = lpkeys[j], n, "ids", 1, why, &bad);
        if (bad)
            goto bad;
        if (!a)
            continue;
        x = xmalloc(xmul(n, sizeof(float)));
        if (j == 0)
            r->old = x;
        else
            r->ref = x;
        if (get_floats(a, x, why))
            goto bad;
        for (i = 0; i < n; i++) {
            if (r->mask[i] ? x[i] > 0 : x[i] != 0) {
                sbuf_addf(why, "element %zu is %g where loss_mask is %d (must be %s)", i,
                          (double)x[i], r->mask[i], r->mask[i] ? "<= 0" : "0");
                goto bad;
            }
        }
    }

    a = get_array(rec, *field = "advantage", ns, "segments", 1, why, &bad);
    if (bad)
        goto bad;
    if (a) {
        r->adv = xmalloc(xmul(ns, sizeof(float)));
        if (get_floats(a, r->adv, why))
            goto bad;
    }

    a = get_array(rec, *field = "src", ns, "segments", 1, why, &bad);
    if (bad)
        goto bad;
    if (a) {
        json_array_foreach(a, i, v) {
            if (!json_is_object(v)) {
                sbuf_addf(why, "element %zu is not an object", i);
                goto bad;
            }
        }
    }

    a = get_array(rec, *field = "pair", ns, "segments", 1, why, &bad);
    if (bad)
        goto bad;
    if (a) {
        r->pair = xmalloc(ns);
        json_array_foreach(a, i, v) {
            json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
            if (x != 0 && x != 1) {
                sbuf_addf(why, "element %zu is not 0 or 1", i);
                goto bad;
            }
            r->pair[i] = (signed char)x;
            if ((i % 2 == 0) != (x == 1)) {
                sbuf_addf(why, "element %zu: segments must alternate chosen (1),"
                          " rejected (0)", i);
                goto bad;
            }
        }
        if (ns % 2) {
            sbuf_adds(why, "a chosen segment has no rejected one after it");
            goto bad;
        }
    }

    a = get_array(rec, *field = "margin", ns, "segments", 1, why, &bad);
    if (bad)
        goto bad;
    if (a) {
        if (!r->pair) {
            sbuf_adds(why, "present without pair");
            goto bad;
        }
        r->margin = xmalloc(xmul(ns, sizeof(float)));
        if (get_floats(a, r->margin, why))
            goto bad;
        for (i = 0; i + 1 < ns; i += 2) {
            if (r->margin[i] != r->margin[i + 1]) {
                sbuf_addf(why, "elements %zu and %zu differ within one pair", i, i + 1);
                goto bad;
            }
        }
    }
    *field = NULL;
    return 0;
bad:
    pack_row_release(r);
    return -1;
}
