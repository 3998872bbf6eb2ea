/*
 * kern16_bench.c - the bf16 matrix kernels of kern.h against the fp32
 * one, at one product shape: out (R x O) = in (R x K) . W^T, W random,
 * the columns split over THREADS pool threads as the model splits them.
 * Built and run by bench/kern16.sh; one JSON line per kernel:
 *
 *   kern16_bench R K O THREADS SETS     SETS: comma list of f32, c, avx2,
 *                                       avx512, avx512bf16, amx, auto
 *
 * GFLOP/s counts 2 R K O per call; GB/s counts the weight bytes read once
 * per call (4 K O for fp32, 2 K O for bf16), the figure that bounds
 * decoding.  Each is the best call of those within about 0.3 s, after one
 * call that warms the page tables.  Small matrices are copied until the
 * copies pass 256 MiB and the calls go round them, so the weights come
 * from memory, as a whole model's do, not from the last-level cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern.h"
#include "pool.h"
#include "util.h"

#define MIN_BYTES ((size_t)256 << 20)

struct job {
    int R, K, O, nt, ncopy, cur;
    const float *in, *const *W;
    float *out;
    const struct bf16w *w;
    struct kernels k32;
    struct kernels16 k16;
    int f32;
};

static void
part(void *ctx, int task, int tid)
{
    struct job *j = ctx;
    int panels = (j->O + 15) / 16;
    int o0 = PT_MIN(j->O, panels * task / j->nt * 16);
    int o1 = PT_MIN(j->O, panels * (task + 1) / j->nt * 16);

    (void)tid;
    if (j->f32)
        j->k32.mm(j->out, (size_t)j->O, j->in, (size_t)j->K, j->W[j->cur], j->R, j->K, o0, o1,
                  NULL, 0);
    else
        j->k16.mm(j->out, (size_t)j->O, j->in, (size_t)j->K, j->w + j->cur, j->R, o0, o1, NULL,
                  0);
}

static double
best_call(struct job *j)
{
    double best = 1e30, start = now_sec(), t;
    int n = 0;

    pool_run(part, j, j->nt);
    do {
        j->cur = (j->cur + 1) % j->ncopy;
        t = now_sec();
        pool_run(part, j, j->nt);
        t = now_sec() - t;
        best = t < best ? t : best;
        n++;
    } while (now_sec() - start < 0.3 || n < 2);
    return best;
}

int
main(int argc, char **argv)
{
    struct job j;
    struct bf16w *w;
    float **W;
    struct rng r;
    char *sets, *s;
    size_t i, nin, nw;
    int c;
    double t32 = 0;

    if (argc != 6)
        die("usage: kern16_bench R K O THREADS SETS");
    memset(&j, 0, sizeof j);
    j.R = atoi(argv[1]);
    j.K = atoi(argv[2]);
    j.O = atoi(argv[3]);
    j.nt = atoi(argv[4]);
    if (j.R < 1 || j.K < 1 || j.O < 1 || j.nt < 1)
        die("kern16_bench: bad shape or threads");
    pool_set_threads(j.nt);
    nin = (size_t)j.R * (size_t)j.K;
    nw = (size_t)j.O * (size_t)j.K;
    j.in = xmalloc(nin * sizeof(float));
    j.ncopy = (int)((MIN_BYTES + nw * 4 - 1) / (nw * 4));
    W = xmalloc(sizeof(float *) * (size_t)j.ncopy);
    w = xmalloc(sizeof(struct bf16w) * (size_t)j.ncopy);
    j.out = xmalloc((size_t)j.R * (size_t)j.O * sizeof(float));
    memset(j.out, 0, (size_t)j.R * (size_t)j.O * sizeof(float));
    rng_seed(&r, 1);
    for (i = 0; i < nin; i++)
        ((float *)j.in)[i] = (float)rng_normal(&r);
    /* the copies hold the same values in their own memory */
    for (c = 0; c < j.ncopy; c++) {
        W[c] = xmalloc(nw * sizeof(float));
        bf16w_alloc(&w[c], j.O, j.K);
        if (c) {
            memcpy(W[c], W[0], nw * sizeof(float));
            memcpy(w[c].p, w[0].p, (size_t)(j.O + 15) / 16 * 16 * (size_t)w[0].Kp * 2);
            continue;
        }
        for (i = 0; i < nw; i++)
            W[c][i] = (float)rng_normal(&r) * 0.03f;
        bf16w_pack_f32(&w[c], W[c], (size_t)j.K, 0, j.O);
    }
    j.W = (const float *const *)W;
    j.w = w;
    j.k32 = kernels_for(INFER_KERNEL_AUTO);
    sets = xstrdup(argv[5]);
    for (s = strtok(sets, ","); s; s = strtok(NULL, ",")) {
        double t, flop = 2.0 * j.R * (double)j.K * j.O, bytes;
        const char *name;
        enum kern16 k;
        j.f32 = !strcmp(s, "f32");
        if (j.f32) {
            name = infer_kernel_name(j.k32.id);
            bytes = 4.0 * (double)nw;
        } else {
            for (k = KERN16_AUTO; k <= KERN16_AMX; k++)
                if (!strcmp(s, kern16_name(k)))
                    break;
            if (k > KERN16_AMX)
                die("kern16_bench: no kernel set %s", s);
            if (!kern16_cpu_has(k) && k != KERN16_AUTO) {
                printf("{\"R\": %d, \"K\": %d, \"O\": %d, \"dtype\": \"bf16\", \"kernel\": "
                       "\"%s\", \"skipped\": \"not on this CPU\"}\n",
                       j.R, j.K, j.O, s);
                continue;
            }
            j.k16 = kernels16_for(k);
            name = kern16_name(j.k16.id);
            bytes = 2.0 * (double)nw;
        }
        t = best_call(&j);
        if (j.f32)
            t32 = t;
        printf("{\"R\": %d, \"K\": %d, \"O\": %d, \"threads\": %d, \"dtype\": \"%s\", "
               "\"kernel\": \"%s\", \"ms\": %.3f, \"gflops\": %.1f, \"weight_gbs\": %.1f, "
               "\"speed_vs_f32\": %.2f}\n",
               j.R, j.K, j.O, j.nt, j.f32 ? "f32" : "bf16", name, t * 1e3, flop / t / 1e9,
               bytes / t / 1e9, t32 > 0 ? t32 / t : 0.0);
        fflush(stdout);
    }
    free(sets);
    for (c = 0; c < j.ncopy; c++) {
        bf16w_free(&w[c]);
        free(W[c]);
    }
    free(w), free(W);
    free((void *)j.in), free(j.out);
    return 0;
}
