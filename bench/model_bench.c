/*
 * model_bench.c - training-step throughput of lib/model (forward, backward
 * and AdamW) on random tokens, and the machine's sgemm peak.  Built and
 * run by bench/model.sh; prints one JSON line per measurement.
 *
 *   model_bench peak
 *   model_bench step PRESET B T STEPS [f32|bf16]
 *   model_bench profile PRESET B T STEPS [f32|bf16]  (bench/dense.md's breakdown)
 * bf16: bf16 products forward and backward (w16.h), fp32 master weights.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "model.h"
#include "optim.h"
#include "pool.h"
#include "util.h"
#include "w16.h"

static int use_bf16;

/*
 * GFLOP/s of a large square sgemm, the best of 10 runs, done both ways:
 * split over the pool as the model splits its products (one
 * single-threaded sgemm per block), and by OpenBLAS's own threads.  The
 * peak is the better of the two.
 */
static double
best_gflops(int n, const float *a, const float *b, float *c, int openblas)
{
    double best = 0;
    int i;

    for (i = 0; i < 11; i++) {
        double t = now_sec(), g;
        if (openblas)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0,
                        c, n);
        else
            matmul_forward(c, a, b, NULL, (size_t)n, n, n);
        g = 2.0 * n * n * (double)n / (now_sec() - t) / 1e9;
        if (i > 0 && g > best)
            best = g;
    }
    return best;
}

static void
peak(void)
{
    int n = 2048, i, th = pool_threads();
    float *a = xmalloc((size_t)n * n * 4), *b = xmalloc((size_t)n * n * 4),
          *c = xmalloc((size_t)n * n * 4);
    double gp, go;

    for (i = 0; i < n * n; i++)
        a[i] = b[i] = (float)(i % 7) * 0.1f;
    gp = best_gflops(n, a, b, c, 0);
    openblas_set_num_threads(th);
    go = best_gflops(n, a, b, c, 1);
    openblas_set_num_threads(1);
    printf("{\"what\": \"sgemm_peak\", \"n\": %d, \"threads\": %d, \"pool_gflops\": %.1f, "
           "\"openblas_gflops\": %.1f, \"gflops\": %.1f}\n", n, th, gp, go, gp > go ? gp : go);
    free(a);
    free(b);
    free(c);
}

/* A model of shape c with random weights, AdamW, and B rows of T random
   tokens, every token but each row's first a target of weight -1/targets. */
struct bench {
    struct model *m;
    struct optim *o;
    struct model_batch b;
    int *ids, *tg, *sl, ntg;
    float *lp, *dl;
};

static void
bench_new(struct bench *x, const struct model_config *c, int B, int T)
{
    struct optim_config oc;
    struct rng r;
    size_t N = (size_t)B * T, t;
    int s;

    x->m = model_new(c);
    model_init_random(x->m, 1, 0.02f);
    if (use_bf16)
        model_use_bf16(x->m, KERN16_AUTO, 1);
    optim_config_default(&oc);
    oc.lr = 1e-4f;
    x->o = optim_new(&oc, x->m->nparams);
    ckpt_optim_no_decay(x->o, x->m);
    x->ids = xmalloc(N * sizeof(int));
    x->tg = xmalloc(N * sizeof(int));
    x->sl = xmalloc((size_t)B * sizeof(int));
    x->lp = xmalloc(N * 4);
    x->dl = xmalloc(N * 4);
    rng_seed(&r, 2);
    for (t = 0; t < N; t++)
        x->ids[t] = (int)rng_below(&r, (uint64_t)c->vocab_size);
    for (s = 0; s < B; s++)
        x->sl[s] = T;
    x->b = (struct model_batch){N, x->ids, x->tg, (size_t)B, x->sl, NULL};
    model_batch_shift_targets(&x->b, NULL, x->tg);
    x->ntg = 0;
    for (t = 0; t < N; t++)
        x->ntg += x->tg[t] >= 0;
    for (t = 0; t < N; t++)
        x->dl[t] = x->tg[t] >= 0 ? -1.0f / x->ntg : 0.0f;
}

static void
bench_free(struct bench *x)
{
    optim_free(x->o);
    model_free(x->m);
    free(x->ids);
    free(x->tg);
    free(x->sl);
    free(x->lp);
    free(x->dl);
}

/* One training step; the seconds of its forward, backward and optimizer
   step added to sec[0..2]. */
static void
bench_step(struct bench *x, double *sec)
{
    double t0 = now_sec(), t1, t2;

    model_forward(x->m, &x->b, 1.0f, x->lp, NULL, NULL, 0);
    t1 = now_sec();
    model_zero_grad(x->m);
    model_backward(x->m, &x->b, x->dl, NULL, NULL);
    t2 = now_sec();
    optim_step(x->o, x->m->params, x->m->grads, 1.0f);
    model_w16_refresh(x->m);
    sec[0] += t1 - t0;
    sec[1] += t2 - t1;
    sec[2] += now_sec() - t2;
}

static void
step_bench(const char *preset, int B, int T, int steps)
{
    struct model_config c;
    struct bench x;
    size_t N = (size_t)B * T, t;
    int s;
    double best = 1e30, total = 0, flops, loss = 0;

    if (ckpt_preset(preset, &c))
        die("unknown preset '%s'", preset);
    bench_new(&x, &c, B, T);
    flops = 3.0 * model_flops_forward(x.m, &x.b);
    /* one untimed step plans the arena */
    for (s = -1; s < steps; s++) {
        double sec[3] = { 0, 0, 0 }, dt;
        bench_step(&x, sec);
        dt = sec[0] + sec[1] + sec[2];
        if (s >= 0) {
            total += dt;
            best = dt < best ? dt : best;
        }
        loss = 0;
        for (t = 0; t < N; t++)
            loss -= x.lp[t] / x.ntg;
    }
    printf("{\"what\": \"step\", \"impl\": \"posttrain\", \"dtype\": \"%s\", "
           "\"preset\": \"%s\", \"B\": %d, "
           "\"T\": %d, \"params\": %zu, \"steps\": %d, \"sec_per_step\": %.4f, "
           "\"best_sec\": %.4f, \"tokens_per_sec\": %.1f, \"best_tokens_per_sec\": %.1f, "
           "\"gflop_per_step\": %.1f, \"gflops\": %.1f, \"loss\": %.4f}\n",
           use_bf16 ? "bf16" : "f32", preset, B, T, x.m->nparams, steps, total / steps, best, N / (total / steps), N / best,
           flops / 1e9, flops / best / 1e9, loss);
    bench_free(&x);
}

/*
 * Where a step's time goes: the forward (the layers, the head's products
 * and log-softmax), the backward and AdamW, each the mean over STEPS steps
 * after an untimed one; then the same for a model of the same shape with
 * one layer, whose time minus one layer's share of the first is the
 * embedding, the head (its logits, log-softmax and their gradients) and
 * the final norm.  One JSON line per model.
 */
static void
profile(const char *preset, int B, int T, int steps)
{
    struct model_config c;
    int layers[2], k, s;

    if (ckpt_preset(preset, &c))
        die("unknown preset '%s'", preset);
    layers[0] = c.n_layers;
    layers[1] = 1;
    for (k = 0; k < 2; k++) {
        struct bench x;
        double sec[3] = { 0, 0, 0 }, skip[3] = { 0, 0, 0 }, t0;
        c.n_layers = layers[k];
        bench_new(&x, &c, B, T);
        bench_step(&x, skip);
        t0 = now_sec();
        for (s = 0; s < steps; s++)
            bench_step(&x, sec);
        /* from, to: CLOCK_MONOTONIC, for perf record -k CLOCK_MONOTONIC's --time */
        printf("{\"what\": \"profile\", \"preset\": \"%s\", \"layers\": %d, \"B\": %d, "
               "\"T\": %d, \"steps\": %d, \"forward_sec\": %.3f, \"backward_sec\": %.3f, "
               "\"optim_sec\": %.3f, \"from\": %.6f, \"to\": %.6f}\n", preset, layers[k], B,
               T, steps, sec[0] / steps, sec[1] / steps, sec[2] / steps, t0, now_sec());
        fflush(stdout);
        bench_free(&x);
    }
}

int
main(int argc, char **argv)
{
    int th = model_threads_env();

    util_setprog(argv[0]);
    if (th)
        model_set_threads(th);
    if (argc == 7 && (!strcmp(argv[6], "bf16") || !strcmp(argv[6], "f32"))) {
        use_bf16 = !strcmp(argv[6], "bf16");
        argc--;
    }
    if (argc == 2 && strcmp(argv[1], "peak") == 0)
        peak();
    else if (argc == 6 && strcmp(argv[1], "step") == 0)
        step_bench(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    else if (argc == 6 && strcmp(argv[1], "profile") == 0)
        profile(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    else
        die("usage: model_bench peak | step PRESET B T STEPS [f32|bf16] | "
            "profile PRESET B T STEPS [f32|bf16]");
    return 0;
}
