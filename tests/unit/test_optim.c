/*
 * test_optim.c - AdamW and the learning-rate schedules against values
 * computed by hand (the AdamW recurrence of PyTorch's documentation,
 * worked out in double), clipping, weight-decay exclusion, and a tiny
 * model that learns a fixed set of sequences (loss falls to near zero).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "optim.h"

static void
test_adamw(void)
{
    struct optim_config c;
    struct optim *o;
    float p = 1.0f, g[3] = {0.5f, -0.25f, 1.0f};
    /* p_t by hand: lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01 */
    const double want[3] = {0.899000002, 0.8714672987058463, 0.804784672376384};

    optim_config_default(&c);
    c.lr = 0.1f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = 0.01f;
    c.grad_clip = 0;
    c.schedule = OPTIM_CONSTANT;
    o = optim_new(&c, 1);
    for (int t = 0; t < 3; t++) {
        optim_step(o, &p, &g[t], 1.0f);
        CHECK_NEAR(p, want[t], 2e-7);
    }
    CHECK(o->step == 3);
    CHECK_NEAR(o->m[0], 0.118, 1e-7);
    CHECK_NEAR(o->v[0], 0.00131193775, 1e-7);  /* float betas */
    optim_free(o);
}

static void
test_clip_and_decay(void)
{
    struct optim_config c;
    struct optim *o;
    float p[4] = {1, 1, 1, 1}, g[4] = {3, 4, 0, 0};
    double n;

    optim_config_default(&c);
    c.lr = 0.5f;
    c.weight_decay = 0.2f;
    c.grad_clip = 1.0f;
    c.schedule = OPTIM_CONSTANT;
    o = optim_new(&c, 4);
    optim_no_decay(o, 3, 1);
    /* grad_scale 2: the norm is |(6, 8)| = 10, clipped to 1 */
    n = optim_step(o, p, g, 2.0f);
    CHECK_NEAR(n, 10.0, 1e-9);
    CHECK_NEAR(o->m[0], 0.1 * 0.6, 1e-6);
    CHECK_NEAR(o->m[1], 0.1 * 0.8, 1e-6);
    /* zero gradient: decayed param shrinks by lr*wd, excluded one stays */
    CHECK_NEAR(p[2], 1.0 - 0.5 * 0.2, 1e-7);
    CHECK(p[3] == 1.0f);
    /* the first step moves by lr (m/sqrt v = 1) on top of the decay */
    CHECK_NEAR(p[0], 0.9 - 0.5, 1e-6);
    CHECK_NEAR(optim_grad_norm(g, 4), 5.0, 1e-12);
    optim_free(o);
}

static void
test_schedule(void)
{
    struct optim_config c;
    enum optim_schedule s;

    optim_config_default(&c);
    CHECK(c.lr == 5e-6f && c.min_lr == 1e-6f && c.schedule == OPTIM_COSINE);
    c.warmup_steps = 10;
    c.total_steps = 110;
    CHECK_REL(optim_lr(&c, 0), 5e-7, 1e-6, 0);
    CHECK_REL(optim_lr(&c, 4), 2.5e-6, 1e-6, 0);
    CHECK_REL(optim_lr(&c, 9), 5e-6, 1e-6, 0);
    CHECK_REL(optim_lr(&c, 10), 5e-6, 1e-6, 0);
    CHECK_REL(optim_lr(&c, 35), 4.414213562373096e-06, 1e-6, 0);
    CHECK_REL(optim_lr(&c, 60), 3e-6, 1e-6, 0);
    CHECK_REL(optim_lr(&c, 110), 1e-6, 1e-6, 0);
    CHECK_REL(optim_lr(&c, 200), 1e-6, 1e-6, 0);
    c.schedule = OPTIM_CONSTANT;
    CHECK_REL(optim_lr(&c, 60), 5e-6, 1e-6, 0);
    CHECK_REL(optim_lr(&c, 4), 2.5e-6, 1e-6, 0);
    CHECK(optim_schedule_parse("cosine", &s) == 0 && s == OPTIM_COSINE);
    CHECK(optim_schedule_parse("linear", &s) == -1);
    CHECK_STREQ(optim_schedule_name(OPTIM_CONSTANT), "constant");
}

/*
 * Many parameters (several chunks): 1 and 2 threads take bit-identical
 * steps, and a no-decay range across a chunk boundary is honoured.
 */
static void
test_large(void)
{
    enum { N = 100000 };
    struct optim_config c;
    float *p[2], *g = malloc(N * sizeof(float));
    struct rng r;
    double n1 = 0, n2 = 0;

    optim_config_default(&c);
    c.lr = 1e-2f;
    c.weight_decay = 0.5f;
    c.schedule = OPTIM_CONSTANT;
    rng_seed(&r, 4);
    for (int i = 0; i < N; i++)
        g[i] = (float)rng_normal(&r);
    for (int i = 32760; i < 32780; i++)
        g[i] = 0.0f;
    for (int k = 0; k < 2; k++) {
        struct optim *o = optim_new(&c, N);
        p[k] = malloc(N * sizeof(float));
        for (int i = 0; i < N; i++)
            p[k][i] = 1.0f;
        optim_no_decay(o, 32768 - 4, 8);
        model_set_threads(k + 1);
        for (int s = 0; s < 3; s++)
            *(k ? &n2 : &n1) = optim_step(o, p[k], g, 1.0f);
        optim_free(o);
    }
    model_set_threads(1);
    CHECK(n1 == n2);
    CHECK(memcmp(p[0], p[1], N * sizeof(float)) == 0);
    /* zero gradient: decayed by (1 - lr wd)^3, or not at all */
    CHECK_NEAR(p[0][32760], pow(1 - 0.01 * 0.5, 3), 1e-6);
    CHECK(p[0][32764] == 1.0f && p[0][32768] == 1.0f && p[0][32771] == 1.0f);
    CHECK_NEAR(p[0][32772], pow(1 - 0.01 * 0.5, 3), 1e-6);
    free(p[0]);
    free(p[1]);
    free(g);
}

/* SFT on four fixed sequences packed in one batch: mean NLL -> ~0. */
static void
test_learns(void)
{
    struct model_config c = {0};
    struct optim_config oc;
    enum { NSEG = 4, LEN = 10, N = NSEG * LEN };
    int ids[N], tg[N], sl[NSEG] = {LEN, LEN, LEN, LEN};
    float lp[N], dl[N];
    double first = 0, loss = 0;
    struct rng r;

    c.arch = MODEL_CAUSAL_LM;
    strcpy(c.model_type, "llama");
    c.dim = 32;
    c.hidden_dim = 64;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.vocab_size = 16;
    c.max_pos = 64;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000;
    c.tie_embeddings = 1;
    c.bos_id = c.eos_id = c.pad_id = -1;
    struct model *m = model_new(&c);
    struct model_batch b = {N, ids, tg, NSEG, sl, NULL};
    model_init_random(m, 5, 0.02f);
    rng_seed(&r, 9);
    for (int t = 0; t < N; t++)
        ids[t] = (int)rng_below(&r, 16);
    model_batch_shift_targets(&b, NULL, tg);
    optim_config_default(&oc);
    oc.lr = 1e-2f;
    oc.schedule = OPTIM_CONSTANT;
    oc.weight_decay = 0;
    struct optim *o = optim_new(&oc, m->nparams);
    int ntg = 0;
    for (int t = 0; t < N; t++)
        ntg += tg[t] >= 0;
    for (int step = 0; step < 120; step++) {
        model_forward(m, &b, 1.0f, lp, NULL, NULL, 0);
        loss = 0;
        for (int t = 0; t < N; t++) {
            loss -= lp[t] / ntg;
            dl[t] = tg[t] >= 0 ? -1.0f / ntg : 0.0f;
        }
        if (step == 0)
            first = loss;
        model_zero_grad(m);
        model_backward(m, &b, dl, NULL, NULL);
        optim_step(o, m->params, m->grads, 1.0f);
    }
    fprintf(stderr, "learn: loss %.4f -> %.4f\n", first, loss);
    CHECK(first > 2.0);             /* ~ln 16 at the start */
    CHECK(loss < 0.05);
    optim_free(o);
    model_free(m);
}

int
main(void)
{
    model_set_threads(1);
    test_adamw();
    test_clip_and_decay();
    test_schedule();
    test_large();
    test_learns();
    return check_done();
}
