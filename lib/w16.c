/*
 * w16.c - bf16 copies of a model's matrices (w16.h): one list of (copy,
 * fp32 source) pairs, packed on the pool in panel ranges.
 */
#include "w16.h"

#include <stdlib.h>

#include "pool.h"
#include "util.h"

struct w16_src {
    struct bf16w *w;
    const float *src;      /* (O, K) row-major */
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
    w->mats[w->nmats].w = dst;
    w->mats[w->nmats].src = src;
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

void
model_use_bf16(struct model *m, enum kern16 k)
{
    const struct model_config *c = &m->cfg;
    struct model_w16 *w = xcalloc(1, sizeof(*w));
    int C = c->dim, QD = c->n_heads * c->head_dim;
    int QKV = QD + 2 * c->n_kv_heads * c->head_dim, cap = 0, l, e;

    if (m->w16)
        die("model: bf16 copies made twice");
    w->K = kernels16_for(k);
    w->nlayers = c->n_layers;
    w->layers = xcalloc((size_t)c->n_layers, sizeof(*w->layers));
    for (l = 0; l < c->n_layers; l++) {
        const struct model_layer *ml = &m->w.layers[l];
        struct w16_layer *wl = &w->layers[l];
        int H = ml->mlp_hidden;
        add(w, &cap, &wl->qkv, ml->wq, QKV, C);
        add(w, &cap, &wl->o, ml->wo, C, QD);
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
    pack_all(w);
    m->w16 = w;
}

void
model_w16_refresh(struct model *m)
{
    if (m->w16)
        pack_all(m->w16);
}

void
model_w16_free(struct model_w16 *w)
{
    int i;

    if (!w)
        return;
    for (i = 0; i < w->nmats; i++)
        bf16w_free(w->mats[i].w);
    free(w->mats);
    for (i = 0; w->layers && i < w->nlayers; i++)
        free(w->layers[i].experts); /* arrays of matrices freed above */
    free(w->layers);
    free(w);
}
