/*
 * block.c - the decoder's operations (block.h): their chunks, what each
 * chunk computes, the pool runner, and the dense layer's builder.
 */
#include "block.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "pool.h"
#include "util.h"
#include "w16.h"

/*
 * Chunk shapes.  A product of few rows (decoding, a prefill chunk) is cut
 * by output columns only, so each thread reads its own part of the
 * weights once for all rows; a larger one into tiles of rows x columns
 * whose inputs and weights stay in cache.  kern.h's products give every
 * element the same value whatever the tile, so the shapes are free.
 */
#define MM_FEW_ROWS 64
#define MM_FEW_COLS 32
#define MM_TILE_ROWS 64
#define MM_TILE_COLS 128
/*
 * bf16 products (w16) take wider column chunks: each chunk rounds its
 * rows' activations to bf16 and pairs them, work as large as a narrow
 * chunk's products at vdpbf16ps's rate, and the 4-panel micro-kernel
 * needs 64 columns.  (Any tiling gives the same floats: kern.h's chains.)
 */
#define MM16_FEW_COLS 128
#define MM16_TILE_COLS 1024
#define NORM_ROWS 16    /* rows per norm chunk */
#define ATT_ROWS 8      /* rows per attention chunk when not fused */

struct tiling {
    int rows, cols, nrb, ncb;
};

static struct tiling
tiling_of(int R, int OC, int w16)
{
    struct tiling t;

    t.rows = R <= MM_FEW_ROWS ? R : MM_TILE_ROWS;
    if (w16)
        t.cols = R <= MM_FEW_ROWS ? MM16_FEW_COLS : MM16_TILE_COLS;
    else
        t.cols = R <= MM_FEW_ROWS ? MM_FEW_COLS : MM_TILE_COLS;
    t.nrb = (R + t.rows - 1) / t.rows;
    t.ncb = (OC + t.cols - 1) / t.cols;
    return t;
}

/* Chunk c of a product of R rows by OC columns: rows [*r0, *r0 + *rt), columns [*c0, *c1). */
static void
tile_of(int R, int OC, int w16, int c, int *r0, int *rt, int *c0, int *c1)
{
    struct tiling t = tiling_of(R, OC, w16);

    *r0 = (c % t.nrb) * t.rows;
    *rt = PT_MIN(t.rows, R - *r0);
    *c0 = (c / t.nrb) * t.cols;
    *c1 = PT_MIN(OC, *c0 + t.cols);
}

int
block_op_chunks(const struct block_op *op)
{
    struct tiling t;

    if (op->R <= 0)
        return 0;
    switch (op->kind) {
    case BOP_NORM:
        return (op->R + NORM_ROWS - 1) / NORM_ROWS;
    case BOP_MM:
    case BOP_MM_SWIGLU:
        t = tiling_of(op->R, op->OC, op->w16 != NULL);
        return t.nrb * t.ncb;
    case BOP_QK:
        return op->R;
    case BOP_ATTEND:
        return (op->fused ? op->R : (op->R + ATT_ROWS - 1) / ATT_ROWS) * op->at->nkv;
    case BOP_ROUTE:
    case BOP_MOE_COMBINE:
        return (op->R + NORM_ROWS - 1) / NORM_ROWS;
    case BOP_MOE_GROUP:
        return 1;
    case BOP_MOE_GATHER:
        return (op->R * op->moe->k + NORM_ROWS - 1) / NORM_ROWS;
    case BOP_MOE_UP:
        return op->moe->E * ((op->moe->Hm + MM_FEW_COLS - 1) / MM_FEW_COLS);
    case BOP_MOE_DOWN:
        return op->moe->E * ((op->moe->C + MM_FEW_COLS - 1) / MM_FEW_COLS);
    case BOP_LORA_A:
        return lora_a_chunks(op->lora, op->R);
    case BOP_MLA_Q:
        return op->R * op->at->nh;
    case BOP_MLA_UV:
        return ((op->R + MM_TILE_ROWS - 1) / MM_TILE_ROWS) * op->at->nh;
    }
    return 0;
}

float
block_attn_scale(const struct model_config *c)
{
    const struct model_rope_scaling *r = &c->rope;
    double s, f = r->factor, m;

    if (c->mla.kv_lora_rank <= 0)
        return 1.0f / sqrtf((float)c->head_dim);
    s = 1.0 / sqrt((double)(c->mla.nope + c->mla.rope));
    if (r->type != MODEL_ROPE_DEFAULT && r->mscale_all_dim > 0 && f > 1.0) {
        m = 0.1 * r->mscale_all_dim * log(f) + 1.0;
        s = s * m * m;
    }
    return (float)s;
}

void
block_rope_load(float *dst, const float *src, int n, int interleave)
{
    int i;

    if (!interleave) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (i = 0; i < n / 2; i++) {
        dst[i] = src[2 * i];
        dst[n / 2 + i] = src[2 * i + 1];
    }
}

void
block_rope_store(float *dst, const float *src, int n, int interleave)
{
    int i;

    if (!interleave) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (i = 0; i < n / 2; i++) {
        dst[2 * i] = src[i];
        dst[2 * i + 1] = src[n / 2 + i];
    }
}

/*
 * MLA's key of row r: kv_a_layernorm of the latent, RoPE of the rope key
 * (transformers' layout), a copy as the value (the latent is what the
 * weights sum; the rope floats of the sum are never read), then the store
 * of the key alone: what a cache keeps is the latent and the rope key.
 */
static void
mla_key(const struct block_attn *at, int l, int r)
{
    float *k = at->qkv + (size_t)r * at->QKV + at->QD;
    const float *src = at->kva + (size_t)r * at->ldkva;

    rmsnorm_forward(k, at->kvrstd ? at->kvrstd + r : NULL, src, at->kv_norm, 1, at->rkv,
                    MODEL_MLA_NORM_EPS);
    block_rope_load(k + at->rkv, src + at->rkv, at->rope, at->interleave);
    rope_forward(k + at->rkv, &at->pos[r], at->cos_t, at->sin_t, 1, at->rope, 1, at->rope);
    memcpy(k + at->hd, k, (size_t)at->hd * sizeof(float));
    if (at->kv.store)
        at->kv.store(at->kv.ctx, l, r, 0, 1, k, NULL);
}

/*
 * MLA's query of row r, head h, absorbed: q_nope W_UK (W_UK the head's
 * nope rows of kv_b_proj, so q_nope . (W_UK c) = (q_nope W_UK) . c) as a
 * weighted sum of W_UK's rows (kern.h's wsum: one chain per element in
 * row order, the same in every forward), then the roped rope floats.
 */
static void
mla_query(const struct block_op *op, int r, int h)
{
    const struct block_attn *at = op->at;
    const float *q = at->qf + (size_t)r * at->ldqf + (size_t)h * (at->nope + at->rope);
    float *dst = at->qkv + (size_t)r * at->QKV + (size_t)h * at->hd;

    memset(dst, 0, (size_t)at->rkv * sizeof(float));
    op->K->wsum(dst, q, at->wkv_b + (size_t)h * (at->nope + at->vd) * at->rkv,
                (size_t)at->rkv, at->nope, at->rkv);
    block_rope_load(dst + at->rkv, q + at->nope, at->rope, at->interleave);
    rope_forward(dst + at->rkv, &at->pos[r], at->cos_t, at->sin_t, 1, at->rope, 1, at->rope);
}

/*
 * Row r's query heads of kv heads [g0, g1) and those kv heads' keys:
 * per-head RMSNorm (Qwen3; the input saved for the backward when asked),
 * RoPE at the row's position, then the store of keys and values.
 */
static void
qk_prep(const struct block_attn *at, int l, int r, int g0, int g1)
{
    float *row = at->qkv + (size_t)r * at->QKV;
    int grp = at->nh / at->nkv, hd = at->hd, h0 = g0 * grp, nq = (g1 - g0) * grp, nk = g1 - g0;
    float *q = row + (size_t)h0 * hd, *k = row + at->QD + (size_t)g0 * hd;

    if (at->q_norm) {
        if (at->qkraw) {
            size_t W = (size_t)at->QD + (size_t)at->nkv * hd;
            float *raw = at->qkraw + (size_t)r * W;
            float *rs = at->qkrstd + (size_t)r * (at->nh + at->nkv);
            memcpy(raw + (size_t)h0 * hd, q, (size_t)nq * hd * sizeof(float));
            memcpy(raw + at->QD + (size_t)g0 * hd, k, (size_t)nk * hd * sizeof(float));
            rmsnorm_forward(q, rs + h0, raw + (size_t)h0 * hd, at->q_norm, (size_t)nq, hd,
                            at->eps);
            rmsnorm_forward(k, rs + at->nh + g0, raw + at->QD + (size_t)g0 * hd, at->k_norm,
                            (size_t)nk, hd, at->eps);
        } else {
            rmsnorm_forward(q, NULL, q, at->q_norm, (size_t)nq, hd, at->eps);
            rmsnorm_forward(k, NULL, k, at->k_norm, (size_t)nk, hd, at->eps);
        }
    }
    rope_forward(q, &at->pos[r], at->cos_t, at->sin_t, 1, at->QKV, nq, hd);
    rope_forward(k, &at->pos[r], at->cos_t, at->sin_t, 1, at->QKV, nk, hd);
    if (at->kv.store)
        at->kv.store(at->kv.ctx, l, r, g0, g1, k, k + (size_t)at->nkv * hd);
}

/*
 * Queries that read the same keys, for one kern_attend_block call: the
 * spans of the first, and whether every query's keys lie in span 0
 * (zero) or every query has the first's span 0 whole (same).
 */
struct att_block {
    struct block_spans first;
    int nq, zero, same;
    float *o[KERN_ATT_Q];
    const float *q[KERN_ATT_Q];
    int nk[KERN_ATT_Q], h[KERN_ATT_Q], r[KERN_ATT_Q];
};

static int
att_fits(const struct att_block *b, const struct block_spans *sp)
{
    int i;

    if (b->nq == KERN_ATT_Q)
        return 0;
    for (i = 0; i < 2; i++)
        if (b->first.k[i] != sp->k[i] || b->first.v[i] != sp->v[i] ||
            b->first.ld[i] != sp->ld[i])
            return 0;
    return (b->zero && sp->n[1] == 0) || (b->same && sp->n[0] == b->first.n[0]);
}

static void
att_flush(const struct block_op *op, struct att_block *b, float *S)
{
    const struct block_attn *at = op->at;
    float lse[KERN_ATT_Q];
    int i;

    kern_attend_block(op->K, b->nq, b->o, S, at->scratch_n, b->q, b->nk, b->first.k,
                      b->first.v, b->first.ld, b->zero ? INT_MAX : b->first.n[0], at->hd,
                      at->scale, lse);
    if (at->lse)
        for (i = 0; i < b->nq; i++)
            at->lse[(size_t)b->h[i] * op->R + b->r[i]] = lse[i];
    b->nq = 0;
}

/*
 * Attention of rows [r0, r1)'s query heads of kv head g: the queries that
 * read the same keys go through kern_attend_block together (a query's
 * result there does not depend on its company, so the blocking is free
 * to follow the rows and the heads).
 */
static void
attend_rows(const struct block_op *op, int r0, int r1, int g, float *S)
{
    const struct block_attn *at = op->at;
    int grp = at->nh / at->nkv, r, i;
    struct block_spans sp;
    struct att_block b;

    b.nq = 0;
    for (r = r0; r < r1; r++) {
        memset(&sp, 0, sizeof(sp));
        at->kv.spans(at->kv.ctx, op->layer, r, at->mla ? 0 : g, &sp);
        for (i = 0; i < grp; i++) {
            int h = g * grp + i;
            if (b.nq && !att_fits(&b, &sp))
                att_flush(op, &b, S);
            if (!b.nq) {
                b.first = sp;
                b.zero = b.same = 1;
            }
            b.zero = b.zero && sp.n[1] == 0;
            b.same = b.same && sp.n[0] == b.first.n[0];
            b.h[b.nq] = h;
            b.r[b.nq] = r;
            b.nk[b.nq] = sp.n[0] + sp.n[1];
            b.o[b.nq] = at->att + (size_t)r * at->QD + (size_t)h * at->hd;
            b.q[b.nq] = at->qkv + (size_t)r * at->QKV + (size_t)h * at->hd;
            b.nq++;
        }
    }
    if (b.nq)
        att_flush(op, &b, S);
}

/* The k largest of v[0..n), best first, ties to the lower index. */
static void
top_k(const float *v, int n, int k, int *out)
{
    int j, i;

    for (j = 0; j < k; j++) {
        int best = -1;
        for (i = 0; i < n; i++) {
            int taken = 0, q;
            for (q = 0; q < j && !taken; q++)
                taken = out[q] == i;
            if (!taken && (best < 0 || v[i] > v[best]))
                best = i;
        }
        out[j] = best;
    }
}

void
block_route_row(const struct model_moe *cfg, const float *p, const float *bias, int *ids,
                float *wts)
{
    int E = cfg->n_experts, k = cfg->top_k, e;
    float choice[1024];
    unsigned char keep[1024];

    if (E > 1024)
        die("block: %d experts (at most 1024 are routed)", E);
    /* the bias chooses, the scores weigh (DeepSeek-V3 report, 2.1.2) */
    for (e = 0; e < E; e++)
        choice[e] = bias ? p[e] + bias[e] : p[e];
    if (cfg->n_group > 1) {
        /* groups ranked by the sum of their two best choices; experts outside the
           topk_group best groups are masked to 0, as transformers does */
        int G = cfg->n_group, per = E / G, g, gi[64], best[2];
        float gs[64];
        if (G > 64)
            die("block: n_group %d (at most 64)", G);
        for (g = 0; g < G; g++) {
            top_k(choice + g * per, per, per < 2 ? per : 2, best);
            gs[g] = choice[g * per + best[0]] + (per < 2 ? 0.0f : choice[g * per + best[1]]);
        }
        top_k(gs, G, cfg->topk_group, gi);
        memset(keep, 0, (size_t)E);
        for (g = 0; g < cfg->topk_group; g++)
            memset(keep + gi[g] * per, 1, (size_t)per);
        for (e = 0; e < E; e++)
            if (!keep[e])
                choice[e] = 0.0f;
    }
    top_k(choice, E, k, ids);
    block_route_weights(cfg, p, ids, wts);
}

void
block_route_weights(const struct model_moe *cfg, const float *p, const int *ids, float *wts)
{
    int k = cfg->top_k, j;
    float sum = 0.0f;

    for (j = 0; j < k; j++) {
        if (ids[j] < 0 || ids[j] >= cfg->n_experts)
            die("block: expert %d out of range [0, %d)", ids[j], cfg->n_experts);
        wts[j] = p[ids[j]];
        sum += wts[j];
    }
    if (cfg->norm_topk) {
        float d = cfg->sigmoid ? sum + 1e-20f : sum;
        for (j = 0; j < k; j++)
            wts[j] /= d;
    }
    for (j = 0; j < k; j++)
        wts[j] *= cfg->scaling;
}

/* Router scores and choices of rows [r0, r1). */
static void
route_rows(const struct block_op *op, int r0, int r1)
{
    const struct block_moe *mo = op->moe;
    int E = mo->E, r, e;

    op->K->mm(mo->probs + (size_t)r0 * E, (size_t)E, op->in + (size_t)r0 * mo->C,
              (size_t)mo->C, mo->router, r1 - r0, mo->C, 0, E, NULL, 0);
    for (r = r0; r < r1; r++) {
        float *p = mo->probs + (size_t)r * E, mx = -INFINITY, sum = 0.0f;
        if (mo->cfg->sigmoid) {
            for (e = 0; e < E; e++)
                p[e] = 1.0f / (1.0f + expf(-p[e]));
        } else {
            for (e = 0; e < E; e++)
                mx = p[e] > mx ? p[e] : mx;
            for (e = 0; e < E; e++) {
                p[e] = expf(p[e] - mx);
                sum += p[e];
            }
            for (e = 0; e < E; e++)
                p[e] /= sum;
        }
        const int *rp = mo->replay ? mo->replay + (size_t)r * mo->ld_replay : NULL;
        int *ids = mo->ids + (size_t)r * mo->k;
        if (rp && rp[0] >= 0) {
            /* routing replay: the recorded experts, weighed by today's router */
            memcpy(ids, rp, (size_t)mo->k * sizeof(int));
            block_route_weights(mo->cfg, p, ids, mo->wts + (size_t)r * mo->k);
        } else
            block_route_row(mo->cfg, p, mo->router_bias, ids, mo->wts + (size_t)r * mo->k);
    }
}

/* Slots of every choice, expert by expert, each expert's in row order. */
static void
group_slots(const struct block_moe *mo, int R)
{
    int E = mo->E, k = mo->k, n = R * k, i, e;
    int *fill = mo->start + E + 1; /* scratch after start: E more ints */

    memset(mo->start, 0, (size_t)(E + 1) * sizeof(int));
    for (i = 0; i < n; i++)
        mo->start[mo->ids[i] + 1]++;
    for (e = 0; e < E; e++) {
        mo->start[e + 1] += mo->start[e];
        fill[e] = mo->start[e];
    }
    for (i = 0; i < n; i++) {
        int s = fill[mo->ids[i]]++;
        mo->slot[i] = s;
        mo->slot_row[s] = i / k;
    }
}

void
block_op_run(const struct block_op *op, int c, int tid)
{
    switch (op->kind) {
    case BOP_NORM: {
        int r0 = c * NORM_ROWS, r1 = PT_MIN(op->R, r0 + NORM_ROWS), r;
        size_t C = (size_t)op->OC, ld = op->ldi ? op->ldi : C;
        for (r = r0; r < r1; r++)
            rmsnorm_forward(op->out + (size_t)r * C, op->rstd ? op->rstd + r : NULL,
                            op->in + (size_t)(op->rows ? op->rows[r] : r) * ld, op->w, 1,
                            op->OC, op->eps);
        break;
    }
    case BOP_MM: {
        int r0, rt, c0, c1, r;
        size_t OC = (size_t)op->OC;
        tile_of(op->R, op->OC, op->w16 != NULL, c, &r0, &rt, &c0, &c1);
        if (op->addend && op->addend != op->out)
            for (r = r0; r < r0 + rt; r++)
                memcpy(op->out + r * OC + c0, op->addend + r * OC + c0,
                       (size_t)(c1 - c0) * sizeof(float));
        if (op->w16)
            op->K16->mm(op->out + (size_t)r0 * OC, OC, op->in + (size_t)r0 * op->IC,
                        (size_t)op->IC, op->w16, rt, c0, c1, op->bias, op->addend != NULL);
        else
            op->K->mm(op->out + (size_t)r0 * OC, OC, op->in + (size_t)r0 * op->IC,
                      (size_t)op->IC, op->w, rt, op->IC, c0, c1, op->bias, op->addend != NULL);
        if (op->lora)
            lora_mm_add(op->lora, op->K, op->out + (size_t)r0 * OC, OC, op->lu, r0, rt, c0,
                        c1);
        break;
    }
    case BOP_MM_SWIGLU: {
        int r0, rt, a, b, r;
        size_t H = (size_t)op->OC;
        float *gu;
        const float *in;
        tile_of(op->R, op->OC, op->w16 != NULL, c, &r0, &rt, &a, &b);
        gu = op->out + (size_t)r0 * 2 * H;
        in = op->in + (size_t)r0 * op->IC;
        if (op->w16) {   /* gate's columns [a, b) and up's [H + a, H + b) of one matrix */
            op->K16->mm(gu, 2 * H, in, (size_t)op->IC, op->w16, rt, a, b, NULL, 0);
            op->K16->mm(gu, 2 * H, in, (size_t)op->IC, op->w16, rt, (int)H + a, (int)H + b,
                        NULL, 0);
        } else {
            op->K->mm(gu, 2 * H, in, (size_t)op->IC, op->w, rt, op->IC, a, b, NULL, 0);
            op->K->mm(gu + H, 2 * H, in, (size_t)op->IC, op->w + H * op->IC, rt, op->IC, a,
                      b, NULL, 0);
        }
        if (op->lora) {   /* gate columns [a, b), then up's [H + a, H + b) */
            lora_mm_add(op->lora, op->K, gu, 2 * H, op->lu, r0, rt, a, b);
            lora_mm_add(op->lora, op->K, gu, 2 * H, op->lu, r0, rt, (int)H + a, (int)H + b);
        }
        for (r = 0; r < rt; r++)
            swiglu_span(op->h + (size_t)(r0 + r) * H, gu + (size_t)r * 2 * H,
                        gu + (size_t)r * 2 * H + H, a, b);
        break;
    }
    case BOP_QK:
        if (op->at->mla)
            mla_key(op->at, op->layer, c);
        else
            qk_prep(op->at, op->layer, c, 0, op->at->nkv);
        break;
    case BOP_MLA_Q:
        mla_query(op, c / op->at->nh, c % op->at->nh);
        break;
    case BOP_MLA_UV: {
        /* the head's value W_UV o: o its latent sum (the first rkv floats of
           its attention output), W_UV its v rows of kv_b_proj */
        const struct block_attn *at = op->at;
        int h = c % at->nh, r0 = (c / at->nh) * MM_TILE_ROWS;
        int rt = PT_MIN(MM_TILE_ROWS, op->R - r0), OD = at->nh * at->vd;
        op->K->mm(at->vo + (size_t)r0 * OD + (size_t)h * at->vd, (size_t)OD,
                  at->att + (size_t)r0 * at->QD + (size_t)h * at->hd, (size_t)at->QD,
                  at->wkv_b + ((size_t)h * (at->nope + at->vd) + at->nope) * at->rkv, rt,
                  at->rkv, 0, at->vd, NULL, 0);
        break;
    }
    case BOP_ATTEND: {
        const struct block_attn *at = op->at;
        float *S = at->scratch + (size_t)tid * KERN_ATT_Q * at->scratch_n;
        int g = c % at->nkv, r;
        if (op->fused) {
            r = c / at->nkv;
            qk_prep(at, op->layer, r, g, g + 1);
            attend_rows(op, r, r + 1, g, S);
        } else {
            r = (c / at->nkv) * ATT_ROWS;
            attend_rows(op, r, PT_MIN(op->R, r + ATT_ROWS), g, S);
        }
        break;
    }
    case BOP_ROUTE:
        route_rows(op, c * NORM_ROWS, PT_MIN(op->R, (c + 1) * NORM_ROWS));
        break;
    case BOP_MOE_GROUP:
        group_slots(op->moe, op->R);
        break;
    case BOP_MOE_GATHER: {
        const struct block_moe *mo = op->moe;
        int s0 = c * NORM_ROWS, s1 = PT_MIN(op->R * mo->k, s0 + NORM_ROWS), s;
        for (s = s0; s < s1; s++)
            memcpy(mo->xe + (size_t)s * mo->C, op->in + (size_t)mo->slot_row[s] * mo->C,
                   (size_t)mo->C * sizeof(float));
        break;
    }
    case BOP_MOE_UP: {
        const struct block_moe *mo = op->moe;
        int ncb = (mo->Hm + MM_FEW_COLS - 1) / MM_FEW_COLS, e = c / ncb;
        int a = (c % ncb) * MM_FEW_COLS, b = PT_MIN(mo->Hm, a + MM_FEW_COLS), r;
        int s0 = mo->start[e], n = mo->start[e + 1] - s0;
        size_t Hm = (size_t)mo->Hm, C = (size_t)mo->C;
        const float *W = mo->experts + (size_t)e * 3 * Hm * C;
        float *gu = mo->gue + (size_t)s0 * 2 * Hm;
        if (n == 0)
            break;
        if (mo->experts16) {
            const struct bf16w *W16 = &mo->experts16[2 * e];
            mo->K16->mm(gu, 2 * Hm, mo->xe + (size_t)s0 * C, C, W16, n, a, b, NULL, 0);
            mo->K16->mm(gu, 2 * Hm, mo->xe + (size_t)s0 * C, C, W16, n, (int)Hm + a,
                        (int)Hm + b, NULL, 0);
        } else {
            op->K->mm(gu, 2 * Hm, mo->xe + (size_t)s0 * C, C, W, n, mo->C, a, b, NULL, 0);
            op->K->mm(gu + Hm, 2 * Hm, mo->xe + (size_t)s0 * C, C, W + Hm * C, n, mo->C, a,
                      b, NULL, 0);
        }
        for (r = 0; r < n; r++)
            swiglu_span(mo->he + (size_t)(s0 + r) * Hm, gu + (size_t)r * 2 * Hm,
                        gu + (size_t)r * 2 * Hm + Hm, a, b);
        break;
    }
    case BOP_MOE_DOWN: {
        const struct block_moe *mo = op->moe;
        int ncb = (mo->C + MM_FEW_COLS - 1) / MM_FEW_COLS, e = c / ncb;
        int a = (c % ncb) * MM_FEW_COLS, b = PT_MIN(mo->C, a + MM_FEW_COLS);
        int s0 = mo->start[e], n = mo->start[e + 1] - s0;
        size_t Hm = (size_t)mo->Hm, C = (size_t)mo->C;
        if (n == 0)
            break;
        if (mo->experts16)
            mo->K16->mm(mo->ye + (size_t)s0 * C, C, mo->he + (size_t)s0 * Hm, Hm,
                        &mo->experts16[2 * e + 1], n, a, b, NULL, 0);
        else
            op->K->mm(mo->ye + (size_t)s0 * C, C, mo->he + (size_t)s0 * Hm, Hm,
                      mo->experts + (size_t)e * 3 * Hm * C + 2 * Hm * C, n, mo->Hm, a, b,
                      NULL, 0);
        break;
    }
    case BOP_MOE_COMBINE: {
        const struct block_moe *mo = op->moe;
        int r0 = c * NORM_ROWS, r1 = PT_MIN(op->R, r0 + NORM_ROWS), r, j, i;
        size_t C = (size_t)mo->C;
        for (r = r0; r < r1; r++) {
            float *o = op->out + (size_t)r * C;
            const float *x = op->addend + (size_t)r * C;
            for (i = 0; i < mo->C; i++) {
                float acc = 0.0f;
                for (j = 0; j < mo->k; j++)
                    acc += mo->wts[(size_t)r * mo->k + j] *
                           mo->ye[(size_t)mo->slot[(size_t)r * mo->k + j] * C + i];
                if (mo->ys)
                    acc += mo->ys[(size_t)r * C + i];
                o[i] = x[i] + acc;
            }
        }
        break;
    }
    case BOP_LORA_A:
        lora_a_run(op->lora, op->K, op->lu, op->in, op->R, c, tid);
        break;
    }
}

static void
op_task(void *ctx, int task, int tid)
{
    block_op_run(ctx, task, tid);
}

void
block_run(const struct block_op *ops, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        int nc = block_op_chunks(&ops[i]);
        if (nc > 0)
            pool_run(op_task, (void *)&ops[i], nc);
    }
}

/* Product p's adapters among a layer's lm (NULL: none), or NULL. */
static const struct lora_mm *
adapter(const struct lora_mm *lm, enum lora_prod p)
{
    return lm && lm[p].n > 0 ? &lm[p] : NULL;
}

/* The BOP_LORA_A before product p when it has adapters: 1 op, else 0. */
static int
lora_op(struct block_op *op, const struct lora_mm *lm, enum lora_prod p, int R,
        const struct kernels *K, const float *in, float *lu)
{
    if (!adapter(lm, p))
        return 0;
    *op = (struct block_op){.kind = BOP_LORA_A, .R = R, .K = K, .in = in,
                            .lora = &lm[p], .lu = lu};
    return 1;
}

/*
 * MLA's attention (model.h's struct model_mla): norm; one product for q
 * (or q_a) and kv_a; q_a_layernorm and q_b_proj; the absorbed queries;
 * the key; attention over the latent keys; each head's value; o_proj.
 * Never fused: the key is prepared once per row, for every head.
 */
static int
mla_ops(struct block_op *ops, const struct model *m, int l, int R, const struct kernels *K,
        const struct block_layer_io *io, struct block_attn *at)
{
    const struct model_config *c = &m->cfg;
    const struct model_layer *w = &m->w.layers[l];
    struct model_attn_dims d;
    const struct w16_layer *w16 = m->w16 ? &m->w16->layers[l] : NULL;
    const struct kernels16 *K16 = m->w16 ? &m->w16->K : NULL;
    int C = c->dim, n = 0, qlora = c->mla.q_lora_rank > 0;

    model_attn_dims(c, &d);
    at->mla = 1;
    at->nh = at->nkv = c->n_heads;
    at->hd = d.hd;
    at->QD = d.QD;
    at->QKV = d.QKV;
    at->scale = block_attn_scale(c);
    at->eps = c->norm_eps;
    at->q_norm = at->k_norm = NULL;
    at->qkv = io->qkv;
    at->att = io->att;
    at->nope = c->mla.nope;
    at->rope = c->mla.rope;
    at->vd = c->mla.v_dim;
    at->rkv = c->mla.kv_lora_rank;
    at->interleave = c->mla.interleave;
    at->qf = qlora ? io->mla_qf : io->mla_a;
    at->ldqf = (size_t)(qlora ? d.QF : d.A);
    at->kva = io->mla_a + d.QA;
    at->ldkva = (size_t)d.A;
    at->wkv_b = w->wkv_b;
    at->kv_norm = w->kv_a_norm;
    at->kvrstd = io->rstdkv;
    at->vo = io->vo;
    ops[n++] = (struct block_op){.kind = BOP_NORM, .R = R, .K = K, .out = io->ln,
                                 .in = io->x, .w = w->attn_norm, .rstd = io->rstd1, .OC = C,
                                 .eps = c->norm_eps};
    ops[n++] = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = io->mla_a,
                                 .in = io->ln, .w = w->wq, .IC = C, .OC = d.A,
                                 .w16 = w16 ? &w16->qkv : NULL, .K16 = K16};
    if (qlora) {
        ops[n++] = (struct block_op){.kind = BOP_NORM, .R = R, .K = K, .out = io->mla_qn,
                                     .in = io->mla_a, .ldi = (size_t)d.A, .w = w->q_a_norm,
                                     .rstd = io->rstdq, .OC = d.QA,
                                     .eps = MODEL_MLA_NORM_EPS};
        ops[n++] = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = io->mla_qf,
                                     .in = io->mla_qn, .w = w->wq_b, .IC = d.QA, .OC = d.QF,
                                     .w16 = w16 ? &w16->qb : NULL, .K16 = K16};
    }
    ops[n++] = (struct block_op){.kind = BOP_MLA_Q, .R = R, .K = K, .layer = l, .at = at};
    ops[n++] = (struct block_op){.kind = BOP_QK, .R = R, .K = K, .layer = l, .at = at};
    ops[n++] = (struct block_op){.kind = BOP_ATTEND, .R = R, .K = K, .layer = l, .at = at};
    ops[n++] = (struct block_op){.kind = BOP_MLA_UV, .R = R, .K = K, .layer = l, .at = at};
    ops[n++] = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = io->xmid,
                                 .in = io->vo, .addend = io->x, .w = w->wo, .IC = d.OD,
                                 .OC = C, .w16 = w16 ? &w16->o : NULL, .K16 = K16};
    return n;
}

int
block_layer_ops(struct block_op *ops, const struct model *m, int l, int R,
                const struct kernels *K, const struct block_layer_io *io,
                struct block_attn *at, struct block_moe *moe, int fused)
{
    const struct model_config *c = &m->cfg;
    const struct model_layer *w = &m->w.layers[l];
    const struct lora_mm *lm = m->lora ? &m->lora->mm[(size_t)l * LORA_NP] : NULL;
    const struct w16_layer *w16 = m->w16 ? &m->w16->layers[l] : NULL;
    const struct kernels16 *K16 = m->w16 ? &m->w16->K : NULL;
    int C = c->dim, H = w->mlp_hidden, n = 0;

    if (c->mla.kv_lora_rank > 0) {
        n = mla_ops(ops, m, l, R, K, io, at);
        goto mlp;
    }
    at->nh = c->n_heads;
    at->nkv = c->n_kv_heads;
    at->hd = c->head_dim;
    at->QD = c->n_heads * c->head_dim;
    at->QKV = at->QD + 2 * c->n_kv_heads * c->head_dim;
    at->scale = 1.0f / sqrtf((float)c->head_dim);
    at->eps = c->norm_eps;
    at->q_norm = w->q_norm;
    at->k_norm = w->k_norm;
    at->qkv = io->qkv;
    at->att = io->att;

    ops[n++] = (struct block_op){.kind = BOP_NORM, .R = R, .K = K, .out = io->ln,
                                 .in = io->x, .w = w->attn_norm, .rstd = io->rstd1, .OC = C,
                                 .eps = c->norm_eps};
    n += lora_op(ops + n, lm, LORA_P_QKV, R, K, io->ln, io->lu);
    ops[n++] = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = io->qkv, .in = io->ln,
                                 .w = w->wq, .bias = w->bq, .IC = C, .OC = at->QKV,
                                 .lora = adapter(lm, LORA_P_QKV), .lu = io->lu,
                                 .w16 = w16 ? &w16->qkv : NULL, .K16 = K16};
    if (!fused)
        ops[n++] = (struct block_op){.kind = BOP_QK, .R = R, .K = K, .layer = l, .at = at};
    ops[n++] = (struct block_op){.kind = BOP_ATTEND, .R = R, .K = K, .layer = l,
                                 .fused = fused, .at = at};
    n += lora_op(ops + n, lm, LORA_P_O, R, K, io->att, io->lu);
    ops[n++] = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = io->xmid,
                                 .in = io->att, .addend = io->x, .w = w->wo, .IC = at->QD,
                                 .OC = C, .lora = adapter(lm, LORA_P_O), .lu = io->lu,
                                 .w16 = w16 ? &w16->o : NULL, .K16 = K16};
mlp:
    ops[n++] = (struct block_op){.kind = BOP_NORM, .R = R, .K = K, .out = io->ln,
                                 .in = io->xmid, .w = w->mlp_norm, .rstd = io->rstd2, .OC = C,
                                 .eps = c->norm_eps};
    if (!w->router) {
        n += lora_op(ops + n, lm, LORA_P_GU, R, K, io->ln, io->lu);
        ops[n++] = (struct block_op){.kind = BOP_MM_SWIGLU, .R = R, .K = K, .out = io->gu,
                                     .in = io->ln, .w = w->w_gate, .h = io->h, .IC = C,
                                     .OC = H, .lora = adapter(lm, LORA_P_GU), .lu = io->lu,
                                     .w16 = w16 ? &w16->gu : NULL, .K16 = K16};
        n += lora_op(ops + n, lm, LORA_P_DOWN, R, K, io->h, io->lu);
        ops[n++] = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = io->xout,
                                     .in = io->h, .addend = io->xmid, .w = w->w_down,
                                     .IC = H, .OC = C, .lora = adapter(lm, LORA_P_DOWN),
                                     .lu = io->lu, .w16 = w16 ? &w16->down : NULL,
                                     .K16 = K16};
        return n;
    }
    /* a mixture of experts: route, group the choices by expert, one product
       per expert over its rows, then the weighted sum (and shared experts) */
    moe->cfg = &c->moe;
    moe->E = c->moe.n_experts;
    moe->k = c->moe.top_k;
    moe->Hm = c->moe.hidden;
    moe->C = C;
    moe->router = w->router;
    moe->router_bias = w->router_bias;
    moe->experts = w->experts;
    moe->experts16 = w16 ? w16->experts : NULL;
    moe->K16 = K16;
    moe->ys = H > 0 ? io->ys : NULL;
    ops[n++] = (struct block_op){.kind = BOP_ROUTE, .R = R, .K = K, .in = io->ln, .moe = moe};
    ops[n++] = (struct block_op){.kind = BOP_MOE_GROUP, .R = R, .K = K, .moe = moe};
    ops[n++] = (struct block_op){.kind = BOP_MOE_GATHER, .R = R, .K = K, .in = io->ln,
                                 .moe = moe};
    ops[n++] = (struct block_op){.kind = BOP_MOE_UP, .R = R, .K = K, .moe = moe};
    ops[n++] = (struct block_op){.kind = BOP_MOE_DOWN, .R = R, .K = K, .moe = moe};
    if (H > 0) {
        ops[n++] = (struct block_op){.kind = BOP_MM_SWIGLU, .R = R, .K = K, .out = io->gu,
                                     .in = io->ln, .w = w->w_gate, .h = io->h, .IC = C,
                                     .OC = H, .w16 = w16 ? &w16->gu : NULL, .K16 = K16};
        ops[n++] = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = io->ys,
                                     .in = io->h, .w = w->w_down, .IC = H, .OC = C,
                                     .w16 = w16 ? &w16->down : NULL, .K16 = K16};
    }
    ops[n++] = (struct block_op){.kind = BOP_MOE_COMBINE, .R = R, .K = K, .out = io->xout,
                                 .addend = io->xmid, .moe = moe};
    return n;
}

void
block_head_ops(struct block_op ops[2], const struct model *m, const struct kernels *K, int R,
               const int *rows, const float *x, float *lnf, float *rstd, float *logits)
{
    const struct model_config *c = &m->cfg;

    ops[0] = (struct block_op){.kind = BOP_NORM, .R = R, .K = K, .out = lnf, .in = x,
                               .w = m->w.norm, .rstd = rstd, .rows = rows, .OC = c->dim,
                               .eps = c->norm_eps};
    ops[1] = (struct block_op){.kind = BOP_MM, .R = R, .K = K, .out = logits, .in = lnf,
                               .w = m->w.lm_head, .IC = c->dim, .OC = c->vocab_size,
                               .w16 = m->w16 && m->w.lm_head ? &m->w16->head : NULL,
                               .K16 = m->w16 ? &m->w16->K : NULL};
}

void
block_embed(float *x, const struct model *m, const int *ids, size_t n)
{
    size_t t, C = (size_t)m->cfg.dim;
    int V = m->cfg.vocab_size;

    for (t = 0; t < n; t++) {
        if (ids[t] < 0 || ids[t] >= V)
            die("model: token id %d out of range [0, %d)", ids[t], V);
        memcpy(x + t * C, m->w.embed + (size_t)ids[t] * C, C * sizeof(float));
    }
}
