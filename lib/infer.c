/*
 * infer.c - the KV-cache forward of infer.h: pool tasks that take chunks
 * of each phase from atomic counters, the prefix and sequence caches,
 * and the layer loop over a step's rows (kern.h's kernels).
 *
 * Not here: sampling (sampler.c), scheduling and text (gen.c).
 */
#include "infer.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#include "block.h"
#include "pool.h"
#include "util.h"

void
infer_matmul(enum infer_kernel k, float *out, const float *in, const float *W, int R,
             int IC, int OC, int accumulate)
{
    struct kernels K = kernels_for(k);

    K.mm(out, (size_t)OC, in, (size_t)IC, W, R, IC, 0, OC, NULL, accumulate);
}

/* ============================== Threads ============================== */

/*
 * A forward runs on the program's pool (pool.h) as one task per thread
 * of the infer state: each task is a worker of forward_worker(), which
 * takes chunks of every phase from atomic counters, so the workers need
 * no barrier per phase.  A worker that starts late (its thread was busy
 * or asleep) finds chunks taken and follows the phases to the end.
 */
#define SPIN_ROUNDS 4000

static void
cpu_relax(void)
{
#if HAVE_X86
    _mm_pause();
#endif
}

/* ============================== Caches ============================== */

/*
 * Grows a layer-major (layers, cap, kvd) cache pair to hold need tokens;
 * without values (MLA: the key is the latent and the rope key, the value
 * the latent) only k.
 */
static void
cache_reserve(float **k, float **v, int *cap, int len, int need, int layers, int kvd,
              int values)
{
    int ncap = *cap > 0 ? *cap : 16, l, i;
    float *nk, *nv = NULL;

    if (need <= *cap)
        return;
    while (ncap < need)
        ncap *= 2;
    nk = xmalloc(xmul(xmul((size_t)layers, (size_t)ncap), (size_t)kvd * sizeof(float)));
    if (values)
        nv = xmalloc(xmul(xmul((size_t)layers, (size_t)ncap), (size_t)kvd * sizeof(float)));
    for (l = 0; l < layers; l++) {
        float *src[2] = { *k, *v }, *dst[2] = { nk, nv };
        for (i = 0; i < 1 + values; i++)
            if (len > 0)
                memcpy(dst[i] + (size_t)l * ncap * kvd, src[i] + (size_t)l * *cap * kvd,
                       (size_t)len * kvd * sizeof(float));
    }
    free(*k);
    free(*v);
    *k = nk;
    *v = nv;
    *cap = ncap;
}

/* ============================== State ============================== */

/*
 * One row of a forward: its token and position, where its key and value
 * go (layer 0; the next layer is wstride floats on), and the two spans of
 * cache its attention reads in order (keys 0..n0-1 of span 0, then of
 * span 1), each with its layer stride.  The row's own key is the last.
 */
struct row {
    int tok, pos;
    float *kw, *vw;
    size_t wstride;
    const float *k0, *v0, *k1, *v1;
    size_t s0, s1;
    int n0, n1;
};

struct infer {
    const struct model *m;
    struct kernels K;
    unsigned epoch;         /* forwards run so far */
    int nthreads, max_rows, cap_rows;
    int C, H, V, hd, QD, KVD, QKV, L, maxpos;
    int mla;                /* MLA: caches hold keys only (model_attn_dims) */
    int rhd;                /* RoPE tables' head_dim */
    /* the current forward */
    struct row *rows;       /* (cap_rows) */
    int nrows;
    int fused;              /* rows are distinct sequences: RoPE and the cache
                               write happen inside the attention phase */
    int *logit_rows;        /* (cap_rows) rows whose logits are wanted */
    int nlogit;
    int *pos;               /* (cap_rows) each row's position */
    /* the forward's operations (block.h): every layer's, then the head's */
    struct block_op *ops;   /* (BLOCK_LAYER_MAX_OPS L + 2) */
    struct block_attn *at;  /* (L) */
    struct block_moe *moe;  /* (L) */
    /* sparse layers' routing and expert buffers (K = cap_rows top_k slots) */
    float *probs, *wts, *xe, *gue, *he, *ye, *ys;
    int *ids, *slot, *start, *slot_row;
    int nops;
    /* activations */
    float *x;               /* (cap_rows, C) residual stream */
    float *ln;              /* (cap_rows, C) normed input of a product */
    float *qkv;             /* (cap_rows, QKV) */
    float *att;             /* (cap_rows, QD) */
    float *gu;              /* (cap_rows, 2H) */
    float *h;               /* (cap_rows, H) */
    float *mla_a, *mla_qn, *mla_qf, *vo; /* MLA: (cap_rows, A), (.., QA), (.., QF), (.., OD) */
    float *lu;              /* (cap_rows, lora_row_floats()) with an adapter, else NULL */
    float *lnf;             /* (cap_rows, C) final norm of the logit rows */
    float *logits;          /* (cap_rows, V) */
    float *scores;          /* (nthreads, maxpos) attention scratch */
    float *cos_t, *sin_t;   /* (maxpos, hd/2) */
    _Atomic uint64_t *ctr;  /* (nphase) chunks taken, per phase: epoch << 32 | n */
    _Atomic uint64_t *done; /* (nphase) chunks done, likewise */
    int nphase;
};


struct infer *
infer_new(const struct model *m, int max_rows, int nthreads, enum infer_kernel kernel)
{
    struct infer *inf = xcalloc(1, sizeof(*inf));
    const struct model_config *c = &m->cfg;
    struct model_attn_dims d;
    size_t R;

    if (c->arch != MODEL_CAUSAL_LM)
        die("infer: the model has no language-model head");
    if (max_rows < 1 || nthreads < 1)
        die("infer: max_rows and nthreads must be positive");
    inf->m = m;
    inf->K = kernels_for(kernel);
    inf->nthreads = nthreads;
    inf->max_rows = max_rows;
    inf->cap_rows = PT_MAX(max_rows, INFER_PREFILL_CHUNK);
    inf->C = c->dim;
    inf->H = c->hidden_dim;
    inf->V = c->vocab_size;
    model_attn_dims(c, &d);
    inf->mla = d.mla;
    inf->hd = d.hd;
    inf->rhd = c->head_dim;
    inf->QD = d.QD;
    inf->KVD = d.KVD;
    inf->QKV = d.QKV;
    inf->L = c->n_layers;
    inf->maxpos = c->max_pos;
    R = (size_t)inf->cap_rows;
    inf->rows = xcalloc(R, sizeof(*inf->rows));
    inf->logit_rows = xcalloc(R, sizeof(int));
    inf->x = xmalloc(xmul(R * inf->C, sizeof(float)));
    inf->ln = xmalloc(xmul(R * inf->C, sizeof(float)));
    inf->pos = xcalloc(R, sizeof(int));
    inf->ops = xcalloc((size_t)BLOCK_LAYER_MAX_OPS * inf->L + 2, sizeof(*inf->ops));
    inf->at = xcalloc((size_t)inf->L, sizeof(*inf->at));
    inf->moe = xcalloc((size_t)inf->L, sizeof(*inf->moe));
    if (c->moe.n_experts > 0) {
        size_t E = (size_t)c->moe.n_experts, K = R * (size_t)c->moe.top_k;
        size_t Hm = (size_t)c->moe.hidden, C = (size_t)c->dim;
        inf->probs = xmalloc(xmul(R * E, sizeof(float)));
        inf->wts = xmalloc(xmul(K, sizeof(float)));
        inf->ids = xmalloc(xmul(xmul(K, (size_t)inf->L), sizeof(int))); /* per layer */
        inf->slot = xmalloc(xmul(K, sizeof(int)));
        inf->slot_row = xmalloc(xmul(K, sizeof(int)));
        inf->start = xmalloc(xmul(2 * E + 1, sizeof(int)));
        inf->xe = xmalloc(xmul(K, C * sizeof(float)));
        inf->gue = xmalloc(xmul(K, 2 * Hm * sizeof(float)));
        inf->he = xmalloc(xmul(K, Hm * sizeof(float)));
        inf->ye = xmalloc(xmul(K, C * sizeof(float)));
        inf->ys = xmalloc(xmul(R, C * sizeof(float)));
    }
    if (d.mla) {
        inf->mla_a = xmalloc(xmul(R * d.A, sizeof(float)));
        inf->mla_qn = xmalloc(xmul(R * d.QA, sizeof(float)));
        inf->mla_qf = xmalloc(xmul(R * d.QF, sizeof(float)));
        inf->vo = xmalloc(xmul(R * d.OD, sizeof(float)));
    }
    inf->qkv = xmalloc(xmul(R * inf->QKV, sizeof(float)));
    inf->att = xmalloc(xmul(R * inf->QD, sizeof(float)));
    inf->gu = xmalloc(xmul(R * 2 * (size_t)inf->H, sizeof(float)));
    inf->h = xmalloc(xmul(R * inf->H, sizeof(float)));
    if (m->lora)
        inf->lu = xmalloc(xmul(R, xmul(lora_row_floats(m->lora), sizeof(float))));
    inf->lnf = xmalloc(xmul(R * inf->C, sizeof(float)));
    inf->logits = xmalloc(xmul(R, xmul((size_t)inf->V, sizeof(float))));
    inf->scores = xmalloc(
        xmul((size_t)nthreads * KERN_ATT_Q, xmul((size_t)inf->maxpos, sizeof(float))));
    inf->cos_t = xmalloc(xmul((size_t)inf->maxpos * (inf->rhd / 2), sizeof(float)));
    inf->sin_t = xmalloc(xmul((size_t)inf->maxpos * (inf->rhd / 2), sizeof(float)));
    model_rope_tables(c, inf->cos_t, inf->sin_t, inf->maxpos);
    inf->nphase = BLOCK_LAYER_MAX_OPS * inf->L + 2; /* one per operation */
    inf->ctr = xcalloc((size_t)inf->nphase, sizeof(*inf->ctr));
    inf->done = xcalloc((size_t)inf->nphase, sizeof(*inf->done));
    pool_set_threads(nthreads);
    return inf;
}

void
infer_free(struct infer *inf)
{
    if (!inf)
        return;
    free(inf->rows);
    free(inf->logit_rows);
    free(inf->x);
    free(inf->ln);
    free(inf->pos);
    free(inf->ops);
    free(inf->at);
    free(inf->moe);
    free(inf->probs);
    free(inf->wts);
    free(inf->ids);
    free(inf->slot);
    free(inf->slot_row);
    free(inf->start);
    free(inf->xe);
    free(inf->gue);
    free(inf->he);
    free(inf->ye);
    free(inf->ys);
    free(inf->qkv);
    free(inf->att);
    free(inf->gu);
    free(inf->h);
    free(inf->mla_a);
    free(inf->mla_qn);
    free(inf->mla_qf);
    free(inf->vo);
    free(inf->lu);
    free(inf->lnf);
    free(inf->logits);
    free(inf->scores);
    free(inf->cos_t);
    free(inf->sin_t);
    free((void *)inf->ctr);
    free((void *)inf->done);
    free(inf);
}

enum infer_kernel
infer_kernel_of(const struct infer *inf)
{
    return inf->K.id;
}

void
infer_prefix_init(struct infer_prefix *p, const struct infer *inf)
{
    memset(p, 0, sizeof(*p));
    p->layers = inf->L;
    p->kvd = inf->KVD;
}

void
infer_prefix_reset(struct infer_prefix *p)
{
    p->len = 0;
}

void
infer_prefix_release(struct infer_prefix *p)
{
    free(p->k);
    free(p->v);
    p->k = p->v = NULL;
    p->len = p->cap = 0;
}

void
infer_seq_init(struct infer_seq *s, const struct infer *inf, const struct infer_prefix *p)
{
    memset(s, 0, sizeof(*s));
    s->layers = inf->L;
    s->kvd = inf->KVD;
    s->prefix = p;
}

void
infer_seq_reset(struct infer_seq *s, const struct infer_prefix *p)
{
    s->prefix = p;
    s->len = 0;
}

void
infer_seq_release(struct infer_seq *s)
{
    free(s->k);
    free(s->v);
    s->k = s->v = NULL;
    s->len = s->cap = 0;
    s->prefix = NULL;
}

/* ============================== Forward ============================== */

/*
 * A forward is a chain of phases (the q/k/v product, attention, ...), each
 * cut into chunks that threads take from an atomic counter; a phase's
 * chunks start once the phase before it has all of its chunks done.
 * Counters hold (epoch << 32 | count), so counts of an old forward are
 * never mistaken for the current one's.  No thread waits for another
 * thread, only for chunks: a descheduled thread holds the others up by
 * the chunk it holds, if any, never by its share of the work.  Which
 * thread computes a chunk never changes the result.
 */

struct phase {
    unsigned ep;        /* the forward's epoch */
    int ph;             /* index of the current phase */
    uint32_t n;         /* its chunk count */
};

/*
 * Waits until the current phase has all its chunks done; 0 if the
 * counters are another forward's (a guard: pool_run returns only when
 * every task has, so no task outlives its forward).
 */
static int
phase_wait(struct infer *inf, const struct phase *p)
{
    uint64_t want = (uint64_t)p->ep << 32 | p->n, v;
    int i = 0;

    while ((v = atomic_load(&inf->done[p->ph])) != want) {
        if ((unsigned)(v >> 32) != p->ep)
            return 0;
        if (++i < SPIN_ROUNDS)
            cpu_relax();
        else
            sched_yield();
    }
    return 1;
}

/*
 * Moves to the next phase, of n chunks, after the current one is done.
 * Returns 0 when phase_wait does.
 */
static int
phase_next(struct infer *inf, struct phase *p, uint32_t n)
{
    if (p->ph >= 0 && !phase_wait(inf, p))
        return 0;
    p->ph++;
    p->n = n;
    assert(p->ph < inf->nphase);
    return 1;
}

/* The next chunk of the current phase: >= 0, or -1 when none is left. */
static int
grab(struct infer *inf, const struct phase *p)
{
    uint64_t v = atomic_load(&inf->ctr[p->ph]);

    for (;;) {
        if ((unsigned)(v >> 32) != p->ep || (uint32_t)v >= p->n)
            return -1;
        if (atomic_compare_exchange_weak(&inf->ctr[p->ph], &v, v + 1))
            return (int)(uint32_t)v;
    }
}

static void
chunk_done(struct infer *inf, const struct phase *p)
{
    atomic_fetch_add(&inf->done[p->ph], 1);
}

/* The cache spans row r's attention reads for kv head g of layer l. */
static void
row_spans(void *ctx, int l, int r, int g, struct block_spans *sp)
{
    const struct infer *inf = ctx;
    const struct row *rw = &inf->rows[r];
    size_t off = (size_t)g * inf->hd;

    sp->k[0] = rw->k0 ? rw->k0 + (size_t)l * rw->s0 + off : NULL;
    sp->v[0] = rw->v0 ? rw->v0 + (size_t)l * rw->s0 + off : NULL;
    sp->k[1] = rw->k1 ? rw->k1 + (size_t)l * rw->s1 + off : NULL;
    sp->v[1] = rw->v1 ? rw->v1 + (size_t)l * rw->s1 + off : NULL;
    if (inf->mla) {   /* the value is the key's latent part */
        sp->v[0] = sp->k[0];
        sp->v[1] = sp->k[1];
    }
    sp->ld[0] = sp->ld[1] = (size_t)inf->KVD;
    sp->n[0] = rw->n0;
    sp->n[1] = rw->n1;
}

/* Row r's keys and values of kv heads [g0, g1) into its cache slot. */
static void
row_store(void *ctx, int l, int r, int g0, int g1, const float *k, const float *v)
{
    const struct infer *inf = ctx;
    const struct row *rw = &inf->rows[r];
    size_t off = (size_t)l * rw->wstride + (size_t)g0 * inf->hd;
    size_t n = (size_t)(g1 - g0) * inf->hd * sizeof(float);

    memcpy(rw->kw + off, k, n);
    if (v)
        memcpy(rw->vw + off, v, n);
}

/*
 * Every task (one per thread of the infer state; tid is the task, for
 * the kernels' per-thread scratch) runs the forward's operations in
 * order, taking chunks of each from its counter.  A task that starts
 * late finds chunks taken and follows the phases to the end.
 */
static void
forward_worker(void *arg, int tid, unsigned ep)
{
    struct infer *inf = arg;
    struct phase p = { ep, -1, 0 };
    int i, c;

    for (i = 0; i < inf->nops; i++) {
        const struct block_op *op = &inf->ops[i];
        if (!phase_next(inf, &p, (uint32_t)block_op_chunks(op)))
            return;
        for (; (c = grab(inf, &p)) >= 0; chunk_done(inf, &p))
            block_op_run(op, c, tid);
    }
}

static void
forward_task(void *arg, int task, int tid)
{
    struct infer *inf = arg;

    (void)tid;
    forward_worker(inf, task, inf->epoch);
}

/* Embeds the rows' tokens, lays out the operations, and runs them. */
static void
forward(struct infer *inf)
{
    const struct model *m = inf->m;
    struct block_layer_io io = {
        .x = inf->x, .xmid = inf->x, .xout = inf->x, .ln = inf->ln, .qkv = inf->qkv,
        .att = inf->att, .gu = inf->gu, .h = inf->h, .ys = inf->ys, .lu = inf->lu,
        .mla_a = inf->mla_a, .mla_qn = inf->mla_qn, .mla_qf = inf->mla_qf, .vo = inf->vo,
    };
    int r, l, n = 0;
    unsigned ep;

    if (m->lora)
        m->lora->train = 0;     /* no dropout outside training */
    for (r = 0; r < inf->nrows; r++) {
        block_embed(inf->x + (size_t)r * inf->C, m, &inf->rows[r].tok, 1);
        inf->pos[r] = inf->rows[r].pos;
    }
    for (l = 0; l < inf->L; l++) {
        struct block_attn *at = &inf->at[l];
        memset(at, 0, sizeof(*at));
        at->cos_t = inf->cos_t;
        at->sin_t = inf->sin_t;
        at->pos = inf->pos;
        at->kv = (struct block_kv){row_spans, row_store, inf};
        at->scratch = inf->scores;
        at->scratch_n = (size_t)inf->maxpos;
        struct block_moe *mo = &inf->moe[l];
        size_t K = (size_t)inf->cap_rows * (size_t)m->cfg.moe.top_k;
        /* each layer keeps its choices, so infer_routes() can read them after the step */
        *mo = (struct block_moe){.probs = inf->probs,
                                 .ids = inf->ids ? inf->ids + (size_t)l * K : NULL,
                                 .wts = inf->wts,
                                 .slot = inf->slot, .start = inf->start,
                                 .slot_row = inf->slot_row, .xe = inf->xe, .gue = inf->gue,
                                 .he = inf->he, .ye = inf->ye};
        n += block_layer_ops(inf->ops + n, m, l, inf->nrows, &inf->K, &io, at, mo, inf->fused);
    }
    if (inf->nlogit > 0) {
        block_head_ops(inf->ops + n, m, &inf->K, inf->nlogit, inf->logit_rows, inf->x,
                       inf->lnf, NULL, inf->logits);
        n += 2;
    }
    inf->nops = n;
    ep = ++inf->epoch;
    for (r = 0; r < inf->nphase; r++) {
        atomic_store(&inf->ctr[r], (uint64_t)ep << 32);
        atomic_store(&inf->done[r], (uint64_t)ep << 32);
    }
    pool_run(forward_task, inf, inf->nthreads);
}

void
infer_prefill(struct infer *inf, struct infer_prefix *p, const int *ids, int n,
              float *logits)
{
    int done = 0;

    if (n < 1)
        die("infer: nothing to prefill");
    if (p->len + n > inf->maxpos)
        die("infer: %d tokens pass the context of %d", p->len + n, inf->maxpos);
    cache_reserve(&p->k, &p->v, &p->cap, p->len, p->len + n, inf->L, inf->KVD, !inf->mla);
    while (done < n) {
        int cn = PT_MIN(n - done, inf->cap_rows), r;
        for (r = 0; r < cn; r++) {
            struct row *rw = &inf->rows[r];
            int pos = p->len + r;
            memset(rw, 0, sizeof(*rw));
            rw->tok = ids[done + r];
            rw->pos = pos;
            rw->kw = p->k + (size_t)pos * inf->KVD;
            rw->vw = p->v ? p->v + (size_t)pos * inf->KVD : NULL;
            rw->wstride = (size_t)p->cap * inf->KVD;
            rw->k0 = p->k;
            rw->v0 = p->v;
            rw->s0 = rw->wstride;
            rw->n0 = pos + 1;
        }
        inf->nrows = cn;
        inf->fused = 0;
        inf->nlogit = 0;
        if (done + cn == n && logits) {
            inf->logit_rows[0] = cn - 1;
            inf->nlogit = 1;
        }
        forward(inf);
        p->len += cn;
        done += cn;
    }
    if (logits)
        memcpy(logits, inf->logits, (size_t)inf->V * sizeof(float));
}

const float *
infer_decode(struct infer *inf, struct infer_seq *const *seqs, const int *tokens, int n)
{
    int r;

    if (n < 1 || n > inf->max_rows)
        die("infer: %d rows in a step of at most %d", n, inf->max_rows);
    for (r = 0; r < n; r++) {
        struct infer_seq *s = seqs[r];
        const struct infer_prefix *p = s->prefix;
        struct row *rw = &inf->rows[r];
        int plen = p ? p->len : 0, pos = plen + s->len;
        if (pos >= inf->maxpos)
            die("infer: position %d passes the context of %d", pos, inf->maxpos);
        cache_reserve(&s->k, &s->v, &s->cap, s->len, s->len + 1, inf->L, inf->KVD, !inf->mla);
        memset(rw, 0, sizeof(*rw));
        rw->tok = tokens[r];
        rw->pos = pos;
        rw->kw = s->k + (size_t)s->len * inf->KVD;
        rw->vw = s->v ? s->v + (size_t)s->len * inf->KVD : NULL;
        rw->wstride = (size_t)s->cap * inf->KVD;
        if (p && plen > 0) {
            rw->k0 = p->k;
            rw->v0 = p->v;
            rw->s0 = (size_t)p->cap * inf->KVD;
            rw->n0 = plen;
        }
        rw->k1 = s->k;
        rw->v1 = s->v;
        rw->s1 = rw->wstride;
        rw->n1 = s->len + 1;
        inf->logit_rows[r] = r;
    }
    inf->nrows = n;
    inf->fused = 1;
    inf->nlogit = n;
    forward(inf);
    for (r = 0; r < n; r++)
        seqs[r]->len++;
    return inf->logits;
}

int
infer_routes(const struct infer *inf, int r, int *out)
{
    const struct model_config *c = &inf->m->cfg;
    size_t K = (size_t)inf->cap_rows * (size_t)c->moe.top_k;
    int l, n = 0, k = c->moe.top_k;

    if (r < 0)
        r = inf->nrows - 1;
    if (r >= inf->nrows)
        die("infer: row %d of a step of %d", r, inf->nrows);
    for (l = 0; l < inf->L; l++) {
        if (!model_layer_moe(c, l))
            continue;
        memcpy(out + n, inf->ids + (size_t)l * K + (size_t)r * k, (size_t)k * sizeof(int));
        n += k;
    }
    return n;
}
