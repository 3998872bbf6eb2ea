/*
 * test_w16.c - bf16 copies of a model's matrices (w16.h): the bf16
 * forward's log-probabilities against the fp32 forward of the same
 * weights rounded to bf16 (the difference left is the activations'
 * rounding) and of the unrounded weights, on a dense and a
 * mixture-of-experts model; every kernel set the same bits; a refresh
 * after the weights change equals fresh copies.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kern.h"
#include "model.h"
#include "util.h"
#include "w16.h"

static struct model_config
config(int moe)
{
    struct model_config c;

    memset(&c, 0, sizeof(c));
    c.arch = MODEL_CAUSAL_LM;
    strcpy(c.model_type, moe ? "qwen3_moe" : "llama");
    c.dim = 64;
    c.hidden_dim = 96;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 16;
    c.vocab_size = 83;
    c.max_pos = 128;
    c.norm_eps = 1e-6f;
    c.rope_theta = 10000.0f;
    c.qk_norm = moe;
    c.num_labels = 1;
    c.bos_id = c.eos_id = c.pad_id = -1;
    if (moe) {
        c.moe.n_experts = 8;
        c.moe.top_k = 2;
        c.moe.hidden = 32;
        c.moe.norm_topk = 1;
        c.moe.n_group = c.moe.topk_group = 1;
        c.moe.scaling = 1.0f;
        c.moe.sparse_step = 1;
    }
    return c;
}

static struct model *
model_of(int moe, int round)
{
    struct model_config c = config(moe);
    struct model *m = model_new(&c);
    size_t i;

    model_init_random(m, 7, 0.15f);
    if (round)
        for (i = 0; i < m->nparams; i++)
            m->params[i] = bf16_to_f32(bf16_from_f32(m->params[i]));
    return m;
}

#define NT 96

static void
logps(struct model *m, float *lp)
{
    static int ids[NT], tg[NT];
    int len = NT, i;
    struct model_batch b = {NT, ids, tg, 1, &len, NULL};
    struct rng r;

    rng_seed(&r, 3);
    for (i = 0; i < NT; i++)
        ids[i] = (int)rng_below(&r, (uint64_t)m->cfg.vocab_size);
    model_batch_shift_targets(&b, NULL, tg);
    model_forward(m, &b, 1.0f, lp, NULL, NULL, MODEL_FWD_NOGRAD);
}

static void
test_accuracy(int moe)
{
    struct model *f = model_of(moe, 0), *fr = model_of(moe, 1), *h = model_of(moe, 0);
    float a[NT], ar[NT], b[NT];
    double d_round = 0, d_full = 0, d_any = 0, mean = 0;
    int i, within = 0;

    model_use_bf16(h, KERN16_AUTO, 0);
    logps(f, a);
    logps(fr, ar);
    logps(h, b);
    for (i = 0; i < NT - 1; i++) {
        double dr = fabs((double)b[i] - ar[i]);
        d_round = fmax(d_round, dr);
        d_full = fmax(d_full, fabs((double)b[i] - a[i]));
        d_any += b[i] != ar[i];
        mean += dr / (NT - 1);
        within += dr < 2e-2;
    }
    /* the bf16 path is taken (its activations are rounded too) ... */
    CHECK_MSG(d_any > 0, "moe %d: bf16 forward equals the fp32 one", moe);
    /* ... and close (bf16 keeps 8 significant bits: 2^-9 relative per
       rounding): every token (dense), nearly every one where a rounding may
       flip a router's choice */
    if (!moe)
        CHECK_MSG(d_round < 0.1 && mean < 0.015 && d_full < 0.1,
                  "dense: |dlogp| max %g mean %g against rounded weights, max %g against fp32",
                  d_round, mean, d_full);
    else
        CHECK_MSG(within >= (NT - 1) * 9 / 10, "moe: %d of %d tokens within 2e-2", within,
                  NT - 1);
    model_free(f);
    model_free(fr);
    model_free(h);
}

/*
 * Every kernel set the CPU has gives the same bits (kern.h's one chain),
 * but AMX, whose sums are its own: close to the chain's.  A sum one fp32
 * rounding apart can round the next layer's activation to another bf16
 * (2^-8 relative), so the log-probs move by more than fp32 roundings, but
 * well inside the bf16-against-fp32 bound of test_logps (0.1).
 */
static void
test_sets(void)
{
    enum kern16 ks[] = { KERN16_C, KERN16_AVX2, KERN16_AVX512, KERN16_AVX512BF16, KERN16_AMX };
    float ref[NT], got[NT];
    size_t k;

    for (k = 0; k < ARRAY_LEN(ks); k++) {
        struct model *m;
        if (!kern16_cpu_has(ks[k]))
            continue;
        m = model_of(1, 0);
        model_use_bf16(m, ks[k], 0);
        logps(m, k == 0 ? ref : got);
        if (k > 0 && ks[k] != KERN16_AMX)
            CHECK_MSG(memcmp(ref, got, sizeof(ref)) == 0, "%s differs from c",
                      kern16_name(ks[k]));
        if (ks[k] == KERN16_AMX) {
            double d = 0;
            int t;
            for (t = 0; t < NT; t++)
                d = fmax(d, fabs((double)ref[t] - got[t]));
            CHECK_MSG(d < 0.03, "amx: |dlogp| %g from the chain's", d);
        }
        model_free(m);
    }
}

/* After a change of the weights, a refresh equals copies made anew. */
static void
test_refresh(void)
{
    struct model *m = model_of(1, 0), *n = model_of(1, 0);
    float a[NT], b[NT];
    size_t i;

    model_use_bf16(m, KERN16_AUTO, 0);
    logps(m, a);
    for (i = 0; i < m->nparams; i++)
        m->params[i] = n->params[i] = m->params[i] * 1.25f;
    model_w16_refresh(m);
    model_use_bf16(n, KERN16_AUTO, 0);
    logps(m, a);
    logps(n, b);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    model_free(m);
    model_free(n);
}

static float
r16(float x)
{
    return bf16_to_f32(bf16_from_f32(x));
}

/*
 * The backward's products against kern.h's chain computed here: din =
 * dout W and dW += dout^T in, operands rounded to bf16, each element summed
 * in index order in fp32 (a bf16 product is exact in fp32).
 */
static void
test_backward_products(void)
{
    struct model *m = model_of(0, 0);
    const float *W = m->w.layers[0].wo;
    int OC = m->cfg.dim, IC = m->cfg.n_heads * m->cfg.head_dim, N = 37, r, o, k, th;
    float *dout = malloc(sizeof(float) * (size_t)N * OC), *in = malloc(sizeof(float) * (size_t)N * IC);
    float *din = malloc(sizeof(float) * (size_t)N * IC), *dW = malloc(sizeof(float) * (size_t)OC * IC);
    float *dW0 = malloc(sizeof(float) * (size_t)OC * IC);
    float *din1 = malloc(sizeof(float) * (size_t)N * IC), *dW1 = malloc(sizeof(float) * (size_t)OC * IC);
    struct rng g;
    int bad_in = 0, bad_w = 0, amx;

    rng_seed(&g, 9);
    for (r = 0; r < N * OC; r++)
        dout[r] = (float)rng_normal(&g);
    for (r = 0; r < N * IC; r++)
        in[r] = (float)rng_normal(&g);
    for (r = 0; r < OC * IC; r++)
        dW0[r] = (float)rng_normal(&g);
    model_use_bf16(m, KERN16_AUTO, 1);
    amx = m->w16->K.id == KERN16_AMX;
    CHECK(w16_matmul_backward(m->w16, NULL, NULL, dout, in, m->w.layers[0].router, (size_t)N,
                              IC, OC) == 0);
    for (th = 1; th <= 2; th++) {
        model_set_threads(th);
        memcpy(dW, dW0, sizeof(float) * (size_t)OC * IC);
        CHECK(w16_matmul_backward(m->w16, din, dW, dout, in, W, (size_t)N, IC, OC) == 1);
        /* the chain's bits; AMX's own sums within a few fp32 roundings of it */
        for (r = 0; r < N; r++)
            for (k = 0; k < IC; k++) {
                float acc = 0.0f;
                double mag = 0;
                for (o = 0; o < OC; o++) {
                    acc += r16(dout[r * OC + o]) * r16(W[(size_t)o * IC + k]);
                    mag += fabs(r16(dout[r * OC + o]) * r16(W[(size_t)o * IC + k]));
                }
                bad_in += amx ? !(fabs(acc - din[r * IC + k]) <= OC * ldexp(mag, -23))
                              : acc != din[r * IC + k];
            }
        for (o = 0; o < OC; o++)
            for (k = 0; k < IC; k++) {
                float acc = 0.0f;
                double mag = fabs(dW0[o * IC + k]);
                for (r = 0; r < N; r++) {
                    acc += r16(dout[r * OC + o]) * r16(in[r * IC + k]);
                    mag += fabs(r16(dout[r * OC + o]) * r16(in[r * IC + k]));
                }
                bad_w += amx ? !(fabs(dW0[o * IC + k] + acc - dW[o * IC + k]) <=
                                 N * ldexp(mag, -23))
                             : dW0[o * IC + k] + acc != dW[o * IC + k];
            }
        /* whatever the threads, the same bits */
        if (th == 1) {
            memcpy(din1, din, sizeof(float) * (size_t)N * IC);
            memcpy(dW1, dW, sizeof(float) * (size_t)OC * IC);
        } else
            CHECK(!memcmp(din1, din, sizeof(float) * (size_t)N * IC) &&
                  !memcmp(dW1, dW, sizeof(float) * (size_t)OC * IC));
    }
    CHECK_MSG(bad_in == 0 && bad_w == 0, "%d din and %d dW elements off the chain (amx: beyond its bound)", bad_in,
              bad_w);
    model_set_threads(2);
    model_free(m);
    free(dout);
    free(in);
    free(din);
    free(dW);
    free(dW0);
    free(din1);
    free(dW1);
}

/*
 * A whole model's gradient with bf16 products forward and backward against
 * fp32's: close.  (Thread invariance is the products' (above); the fp32
 * attention and norm backward around them are what they are in fp32.)
 */
static void
test_backward_model(void)
{
    struct model *f = model_of(1, 0), *h = model_of(1, 0);
    static int ids[NT], tg[NT];
    int len = NT, i;
    struct model_batch b = {NT, ids, tg, 1, &len, NULL};
    float lp[NT], dl[NT];
    double num = 0, den = 0, moved = 0;
    struct rng r;

    rng_seed(&r, 4);
    for (i = 0; i < NT; i++)
        ids[i] = (int)rng_below(&r, (uint64_t)f->cfg.vocab_size);
    model_batch_shift_targets(&b, NULL, tg);
    for (i = 0; i < NT; i++)
        dl[i] = tg[i] >= 0 ? -1.0f / NT : 0.0f;
    model_zero_grad(f);
    model_forward(f, &b, 1.0f, lp, NULL, NULL, 0);
    model_backward(f, &b, dl, NULL, NULL);
    /* forward-only copies: the backward multiplies in fp32 */
    model_use_bf16(h, KERN16_AUTO, 0);
    model_zero_grad(h);
    model_forward(h, &b, 1.0f, lp, NULL, NULL, 0);
    model_backward(h, &b, dl, NULL, NULL);
    {
        float *g0 = malloc(sizeof(float) * h->nparams);
        memcpy(g0, h->grads, sizeof(float) * h->nparams);
        model_w16_free(h->w16);
        h->w16 = NULL;
        model_use_bf16(h, KERN16_AUTO, 1);
        model_zero_grad(h);
        model_forward(h, &b, 1.0f, lp, NULL, NULL, 0);
        model_backward(h, &b, dl, NULL, NULL);
        for (i = 0; i < (int)h->nparams; i++)
            moved += g0[i] != h->grads[i];
        free(g0);
    }
    CHECK_MSG(moved > 0, "the bf16 backward is not taken");
    for (i = 0; i < (int)f->nparams; i++) {
        num += ((double)h->grads[i] - f->grads[i]) * ((double)h->grads[i] - f->grads[i]);
        den += (double)f->grads[i] * f->grads[i];
    }
    CHECK_MSG(den > 0 && sqrt(num / den) < 0.05, "bf16 gradient off fp32's by %g (relative)",
              sqrt(num / den));
    model_free(f);
    model_free(h);
}

int
main(void)
{
    model_set_threads(2);
    test_accuracy(0);
    test_accuracy(1);
    test_sets();
    test_refresh();
    test_backward_products();
    test_backward_model();
    return check_done();
}
