/*
 * w16.c - bf16 copies of a model's matrices (w16.h): one list of (copy,
 * fp32 source) pairs, packed on the pool in panel ranges.
 */
#include "w16.h"

#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "util.h"

struct w16_src {
    struct bf16w *w;
    const float *src;      /* (O, K) row-major */
    struct bf16w t;        /* the backward's transposed copy (K, O); valid when have_t */
    int have_t;
};

/* Rows per packing task: a multiple of the panel height. */
#define PACK_ROWS (16 * KERN16_PANEL)

static void
add(struct model_w16 *w, int *cap, struct bf16w *dst, const float *src, int O, int K)
{
    if (w->nmats == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        w->mats = xrealloc(w->mats, xmul((size_t)*cap, sizeof(*w->mats)));
    }
    bf16w_alloc(dst, O, K);
    w->mats[w->nmats] = (struct w16_src){ dst, src, { NULL, 0, 0, 0 }, 0 };
    w->nmats++;
}

struct pack_job {
    const struct model_w16 *w;
    int *first;            /* (nmats + 1) each matrix's first task */
};

static void
pack_task(void *ctx, int task, int tid)
{
    const struct pack_job *j = ctx;
    int lo = 0, hi = j->w->nmats, i, o0, o1;
    const struct w16_src *s;

    (void)tid;
    while (hi - lo > 1) {  /* the matrix whose tasks hold task */
        int mid = (lo + hi) / 2;
        if (j->first[mid] <= task)
            lo = mid;
        else
            hi = mid;
    }
    i = lo;
    s = &j->w->mats[i];
    o0 = (task - j->first[i]) * PACK_ROWS;
    o1 = PT_MIN(s->w->O, o0 + PACK_ROWS);
    bf16w_pack_f32(s->w, s->src, (size_t)s->w->K, o0, o1);
}

static void
pack_all(const struct model_w16 *w)
{
    struct pack_job j = { w, xmalloc(xmul((size_t)w->nmats + 1, sizeof(int))) };
    int i;

    j.first[0] = 0;
    for (i = 0; i < w->nmats; i++)
        j.first[i + 1] = j.first[i] + (w->mats[i].w->O + PACK_ROWS - 1) / PACK_ROWS;
    pool_run(pack_task, &j, j.first[w->nmats]);
    free(j.first);
}

static int
src_cmp(const void *a, const void *b)
{
    const float *x = ((const struct w16_src *)a)->src, *y = ((const struct w16_src *)b)->src;

    return (x > y) - (x < y);
}

void
model_use_bf16(struct model *m, enum kern16 k, int backward)
{
    const struct model_config *c = &m->cfg;
    struct model_w16 *w = xcalloc(1, sizeof(*w));
    struct model_attn_dims d;
    int C = c->dim, cap = 0, l, e;

    if (m->w16)
        die("model: bf16 copies made twice");
    w->K = kernels16_for(k);
    model_attn_dims(c, &d);
    w->nlayers = c->n_layers;
    w->layers = xcalloc((size_t)c->n_layers, sizeof(*w->layers));
    for (l = 0; l < c->n_layers; l++) {
        const struct model_layer *ml = &m->w.layers[l];
        struct w16_layer *wl = &w->layers[l];
        int H = ml->mlp_hidden;
        /* the first product: q, k, v, or MLA's q (or q_a) and kv_a; the
           output's from the heads' values; MLA's q_b (kv_b is absorbed
           into attention and stays fp32) */
        add(w, &cap, &wl->qkv, ml->wq, d.A, C);
        add(w, &cap, &wl->o, ml->wo, C, d.OD);
        if (ml->wq_b)
            add(w, &cap, &wl->qb, ml->wq_b, d.QF, d.QA);
        if (H > 0) {
            add(w, &cap, &wl->gu, ml->w_gate, 2 * H, C);
            add(w, &cap, &wl->down, ml->w_down, C, H);
        }
        if (ml->experts) {
            int E = c->moe.n_experts, Hm = c->moe.hidden;
            wl->experts = xcalloc(2 * (size_t)E, sizeof(*wl->experts));
            for (e = 0; e < E; e++) {
                const float *x = ml->experts + (size_t)e * 3 * Hm * C;
                add(w, &cap, &wl->experts[2 * e], x, 2 * Hm, C);
                add(w, &cap, &wl->experts[2 * e + 1], x + 2 * (size_t)Hm * C, C, Hm);
            }
        }
    }
    if (m->w.lm_head)
        add(w, &cap, &w->head, m->w.lm_head, c->vocab_size, C);
    qsort(w->mats, (size_t)w->nmats, sizeof(*w->mats), src_cmp);
    w->backward = backward;
    pack_all(w);
    m->w16 = w;
}

void
model_w16_refresh(struct model *m)
{
    int i;

    if (!m->w16)
        return;
    pack_all(m->w16);
    for (i = 0; i < m->w16->nmats; i++)
        m->w16->mats[i].have_t = 0;
}

int
w16_parse_dtype(const char *name)
{
    if (!strcmp(name, "f32") || !strcmp(name, "fp32") || !strcmp(name, "float32"))
        return 0;
    if (!strcmp(name, "bf16") || !strcmp(name, "bfloat16"))
        return 1;
    return -1;
}

void
model_w16_free(struct model_w16 *w)
{
    int i;

    if (!w)
        return;
    for (i = 0; i < w->nmats; i++) {
        bf16w_free(w->mats[i].w);
        if (w->mats[i].t.p)
            bf16w_free(&w->mats[i].t);
    }
    free(w->mats);
    free(w->s_dout);
    free(w->s_in);
    free(w->s_dT);
    for (i = 0; w->layers && i < w->nlayers; i++)
        free(w->layers[i].experts); /* arrays of matrices freed above */
    free(w->layers);
    free(w);
}

/* ---- the backward ---- */

/* Transposing pack on the pool (kern.h's bf16w_pack_f32_t), a panel a task. */
struct tpack {
    struct bf16w *dst;
    const float *S;
    size_t ld;
};

static void
tpack_task(void *ctx, int j, int tid)
{
    const struct tpack *t = ctx;

    (void)tid;
    bf16w_pack_f32_t(t->dst, t->S, t->ld, j, j + 1);
}

static void
tpack(struct bf16w *dst, const float *S, size_t ld)
{
    struct tpack t = { dst, S, ld };

    pool_run(tpack_task, &t, (dst->O + KERN16_PANEL - 1) / KERN16_PANEL);
}

/* A product on the pool: row blocks by column chunks of out (R, O of W). */
#define BWD_ROWS 64
#define BWD_COLS 1024

struct prod {
    const struct kernels16 *K;
    float *out;
    size_t ldo, ldi;
    const float *inf;      /* fp32 activations, or */
    const bf16 *inb;       /* bf16 ones */
    const struct bf16w *W;
    int R, acc, nrb;
};

static void
prod_task(void *ctx, int task, int tid)
{
    const struct prod *p = ctx;
    int r0 = (task % p->nrb) * BWD_ROWS, r1 = PT_MIN(p->R, r0 + BWD_ROWS);
    int c0 = (task / p->nrb) * BWD_COLS, c1 = PT_MIN(p->W->O, c0 + BWD_COLS);

    (void)tid;
    if (p->inf)
        p->K->mm(p->out + (size_t)r0 * p->ldo, p->ldo, p->inf + (size_t)r0 * p->ldi, p->ldi,
                 p->W, r1 - r0, c0, c1, NULL, p->acc);
    else
        p->K->mmb(p->out + (size_t)r0 * p->ldo, p->ldo, p->inb + (size_t)r0 * p->ldi, p->ldi,
                  p->W, r1 - r0, c0, c1, NULL, p->acc);
}

static void
prod_run(struct prod *p)
{
    p->nrb = (p->R + BWD_ROWS - 1) / BWD_ROWS;
    pool_run(prod_task, p, p->nrb * ((p->W->O + BWD_COLS - 1) / BWD_COLS));
}

/* dst = bf16(src), n values, in chunks */
#define CONV_CHUNK ((size_t)1 << 16)
struct conv {
    bf16 *dst;
    const float *src;
    size_t n;
};

static void
conv_task(void *ctx, int task, int tid)
{
    const struct conv *c = ctx;
    size_t i = (size_t)task * CONV_CHUNK;

    (void)tid;
    bf16_from_f32_n(c->dst + i, c->src + i, PT_MIN(CONV_CHUNK, c->n - i));
}

/* dT (O, ld) = bf16(dout^T) for dout (N, O): rows of chunk task. */
struct tconv {
    bf16 *dT;
    const float *dout;
    size_t N, ld;
    int O;
};

static void
tconv_task(void *ctx, int task, int tid)
{
    const struct tconv *t = ctx;
    int o0 = task * 16, o1 = PT_MIN(t->O, o0 + 16);

    (void)tid;
    bf16_from_f32_t(t->dT, t->ld, t->dout, (size_t)t->O, t->N, o0, o1);
}

/* A grow-only buffer of n bf16 (the backward's scratch, freed with w). */
static bf16 *
scratch(bf16 **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        free(*buf);
        *buf = xmalloc(xmul(n, sizeof(bf16)));
        *cap = n;
    }
    return *buf;
}

int
w16_matmul_backward(struct model_w16 *w, float *din, float *dW, const float *dout,
                    const float *in, const float *W, size_t N, int IC, int OC)
{
    struct w16_src key = { NULL, W, { NULL, 0, 0, 0 }, 0 }, *s;

    if (!w || !w->backward || N == 0)
        return 0;
    s = bsearch(&key, w->mats, (size_t)w->nmats, sizeof(*w->mats), src_cmp);
    if (!s || s->w->O != OC || s->w->K != IC)
        return 0;
    if (din) {
        /* dout rounded once, not by each column chunk of the product */
        struct conv cv = { scratch(&w->s_dout, &w->n_dout, N * (size_t)OC), dout,
                           N * (size_t)OC };
        struct prod p = { &w->K, din, (size_t)IC, (size_t)OC, NULL, cv.dst, &s->t, (int)N, 0, 0 };
        pool_run(conv_task, &cv, (int)((cv.n + CONV_CHUNK - 1) / CONV_CHUNK));
        if (!s->have_t) {
            if (!s->t.p)
                bf16w_alloc(&s->t, IC, OC);
            tpack(&s->t, W, (size_t)IC);
            s->have_t = 1;
        }
        prod_run(&p);
    }
    if (dW) {
        struct bf16w inT = { NULL, IC, (int)N, (int)((N + 31) & ~(size_t)31) };
        struct tconv tc;
        struct prod p;
        size_t nin = xmul((size_t)((IC + KERN16_PANEL - 1) / KERN16_PANEL * KERN16_PANEL),
                          (size_t)inT.Kp);
        /* reused buffers: the padding past N must read as zero */
        inT.p = scratch(&w->s_in, &w->n_in, nin);
        memset(inT.p, 0, nin * sizeof(bf16));
        tpack(&inT, in, (size_t)IC);
        tc = (struct tconv){ scratch(&w->s_dT, &w->n_dT, xmul((size_t)OC, (size_t)inT.Kp)), dout,
                             N, (size_t)inT.Kp, OC };
        if (inT.Kp != (int)N)
            memset(tc.dT, 0, xmul((size_t)OC, (size_t)inT.Kp) * sizeof(bf16));
        pool_run(tconv_task, &tc, (OC + 15) / 16);
        p = (struct prod){ &w->K, dW, (size_t)IC, (size_t)inT.Kp, NULL, tc.dT, &inT, OC, 1, 0 };
        prod_run(&p);
    }
    return 1;
}
