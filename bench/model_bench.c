/*
 * model_bench.c - training-step throughput of lib/model (forward, backward
 * and AdamW) on random tokens, and the machine's sgemm peak.  Built and
 * run by bench/model.sh; prints one JSON line per measurement.
 *
 *   model_bench peak
 *   model_bench step PRESET B T STEPS
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

static void
step_bench(const char *preset, int B, int T, int steps)
{
    struct model_config c;
    struct optim_config oc;
    struct model *m;
    struct optim *o;
    struct model_batch b;
    struct rng r;
    size_t N = (size_t)B * T, t;
    int *ids = xmalloc(N * sizeof(int)), *tg = xmalloc(N * sizeof(int));
    int *sl = xmalloc((size_t)B * sizeof(int)), s, ntg = 0;
    float *lp = xmalloc(N * 4), *dl = xmalloc(N * 4);
    double t0, best = 1e30, total = 0, flops, loss = 0;

    if (ckpt_preset(preset, &c))
        die("unknown preset '%s'", preset);
    m = model_new(&c);
    model_init_random(m, 1, 0.02f);
    optim_config_default(&oc);
    oc.lr = 1e-4f;
    o = optim_new(&oc, m->nparams);
    ckpt_optim_no_decay(o, m);
    rng_seed(&r, 2);
    for (t = 0; t < N; t++)
        ids[t] = (int)rng_below(&r, (uint64_t)c.vocab_size);
    for (s = 0; s < B; s++)
        sl[s] = T;
    b = (struct model_batch){N, ids, tg, (size_t)B, sl};
    model_batch_shift_targets(&b, NULL, tg);
    for (t = 0; t < N; t++)
        ntg += tg[t] >= 0;
    for (t = 0; t < N; t++)
        dl[t] = tg[t] >= 0 ? -1.0f / ntg : 0.0f;
    flops = 3.0 * model_flops_forward(m, &b);
    /* one untimed step plans the arena */
    for (s = -1; s < steps; s++) {
        t0 = now_sec();
        model_forward(m, &b, 1.0f, lp, NULL, NULL, 0);
        model_zero_grad(m);
        model_backward(m, &b, dl, NULL, NULL);
        optim_step(o, m->params, m->grads, 1.0f);
        t0 = now_sec() - t0;
        if (s >= 0) {
            total += t0;
            best = t0 < best ? t0 : best;
        }
        loss = 0;
        for (t = 0; t < N; t++)
            loss -= lp[t] / ntg;
    }
    printf("{\"what\": \"step\", \"impl\": \"posttrain\", \"preset\": \"%s\", \"B\": %d, "
           "\"T\": %d, \"params\": %zu, \"steps\": %d, \"sec_per_step\": %.4f, "
           "\"best_sec\": %.4f, \"tokens_per_sec\": %.1f, \"best_tokens_per_sec\": %.1f, "
           "\"gflop_per_step\": %.1f, \"gflops\": %.1f, \"loss\": %.4f}\n",
           preset, B, T, m->nparams, steps, total / steps, best, N / (total / steps), N / best,
           flops / 1e9, flops / best / 1e9, loss);
    optim_free(o);
    model_free(m);
    free(ids);
    free(tg);
    free(sl);
    free(lp);
    free(dl);
}

int
main(int argc, char **argv)
{
    int th = model_threads_env();

    util_setprog(argv[0]);
    if (th)
        model_set_threads(th);
    if (argc == 2 && strcmp(argv[1], "peak") == 0)
        peak();
    else if (argc == 6 && strcmp(argv[1], "step") == 0)
        step_bench(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    else
        die("usage: model_bench peak | step PRESET B T STEPS");
    return 0;
}
