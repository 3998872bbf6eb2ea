/*
 * gen-decode.c - decode throughput of lib/infer on a preset shape with
 * random weights, for bench/gen.sh: prefill P-token prompts, then time
 * decode steps only (no sampling: the next token is a fixed function of
 * the step, so both sides of the comparison do the same work).
 *
 *   gen-decode SHAPE PROMPTS G STEPS THREADS [f32|bf16]   -> "tokens/s N ..."
 *   gen-decode --prefill SHAPE N THREADS [f32|bf16]      -> "tokens/s N"
 * SHAPE is a preset name or an HF config.json; bf16: bf16 products (w16.h).
 * --prefill times infer_prefill() of one N-token prompt (prompt processing,
 * llama-bench's ppN), after an untimed one of the same length into the same
 * prefix, so the cache's buffers are allocated and touched before the clock.
 *   gen-decode --bandwidth THREADS              -> "read-GB/s N memcpy-GB/s N"
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "infer.h"
#include "util.h"
#include "w16.h"

#define P 32

struct part {
    const float *a;
    size_t n;
    double sum;
};

static void *
sum_part(void *v)
{
    struct part *p = v;
    float s[16] = { 0 };
    size_t i;
    int j;

    for (i = 0; i + 16 <= p->n; i += 16)
        for (j = 0; j < 16; j++)
            s[j] += p->a[i + j];
    for (j = 0; j < 16; j++)
        p->sum += s[j];
    return NULL;
}

/* Read bandwidth: threads summing halves of a 1 GiB array; best of 5. */
static void
bandwidth(int nt)
{
    size_t n = (size_t)1 << 28, i;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    double best = 0, bestc = 0;
    volatile double sink = 0; /* keeps the sums alive */
    int r, t;

    for (i = 0; i < n; i++)
        a[i] = b[i] = (float)(i & 7);
    for (r = 0; r < 5; r++) {
        pthread_t th[64];
        struct part pp[64];
        double t0 = now_sec(), dt;
        for (t = 0; t < nt; t++) {
            pp[t].a = a + n / nt * t;
            pp[t].n = n / nt;
            pp[t].sum = 0;
            pthread_create(&th[t], NULL, sum_part, &pp[t]);
        }
        for (t = 0; t < nt; t++) {
            pthread_join(th[t], NULL);
            sink += pp[t].sum;
        }
        dt = now_sec() - t0;
        best = PT_MAX(best, n * sizeof(float) / dt / 1e9);
        t0 = now_sec();
        memcpy(b, a, n * sizeof(float));
        dt = now_sec() - t0;
        bestc = PT_MAX(bestc, n * sizeof(float) / dt / 1e9);
    }
    printf("read-GB/s %.2f memcpy-GB/s %.2f\n", best, bestc);
    free(a);
    free(b);
}

/* The shape of a preset name or config.json path into c. */
static void
shape(const char *name, struct model_config *c)
{
    if (ckpt_preset(name, c) != 0) {
        struct sbuf err = SBUF_INIT;
        if (ckpt_read_config(name, c, NULL, &err))
            die("%s", sbuf_str(&err));
        sbuf_release(&err);
    }
}

/* --prefill SHAPE N THREADS [f32|bf16]: prompt-processing tokens/s. */
static void
prefill(int argc, char **argv)
{
    struct model_config c;
    struct model *m;
    struct infer *inf;
    struct infer_prefix pre;
    int n, nt, t, *ids;
    float *lg;
    double t0, dt;

    if (argc != 5 && !(argc == 6 && (!strcmp(argv[5], "f32") || !strcmp(argv[5], "bf16"))))
        die("usage: gen-decode --prefill PRESET|CONFIG.json N THREADS [f32|bf16]");
    shape(argv[2], &c);
    n = atoi(argv[3]);
    nt = atoi(argv[4]);
    if (n < 1 || n > c.max_pos || nt < 1)
        die("--prefill: N must be 1..%d and THREADS >= 1", c.max_pos);
    m = model_new(&c);
    model_init_random(m, 1, 0.02f);
    if (argc == 6 && !strcmp(argv[5], "bf16"))
        model_use_bf16(m, KERN16_AUTO, 0);
    inf = infer_new(m, 1, nt, INFER_KERNEL_AUTO);
    ids = xmalloc(sizeof(int) * (size_t)n);
    lg = xmalloc(sizeof(float) * (size_t)c.vocab_size);
    for (t = 0; t < n; t++)
        ids[t] = (t * 31 + 1) % c.vocab_size;
    infer_prefix_init(&pre, inf);
    infer_prefill(inf, &pre, ids, n, lg);
    infer_prefix_reset(&pre);
    t0 = now_sec();
    infer_prefill(inf, &pre, ids, n, lg);
    dt = now_sec() - t0;
    printf("tokens/s %.2f params %zu kernel %s\n", n / dt, m->nparams,
           infer_kernel_name(infer_kernel_of(inf)));
    infer_prefix_release(&pre);
    infer_free(inf);
    model_free(m);
    free(ids);
    free(lg);
}

int
main(int argc, char **argv)
{
    struct model_config c;
    struct model *m;
    struct infer *inf;
    struct infer_prefix *pre;
    struct infer_seq *seq, **sp;
    int np, G, steps, nt, B, i, t, *tok, ids[P];
    float *lg;
    double t0, dt;

    util_setprog(argv[0]);
    if (argc == 3 && strcmp(argv[1], "--bandwidth") == 0) {
        bandwidth(atoi(argv[2]));
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--prefill") == 0) {
        prefill(argc, argv);
        return 0;
    }
    if (argc != 6 && !(argc == 7 && (!strcmp(argv[6], "f32") || !strcmp(argv[6], "bf16"))))
        die("usage: gen-decode PRESET|CONFIG.json PROMPTS G STEPS THREADS [f32|bf16]");
    shape(argv[1], &c);
    np = atoi(argv[2]);
    G = atoi(argv[3]);
    steps = atoi(argv[4]);
    nt = atoi(argv[5]);
    B = np * G;
    m = model_new(&c);
    model_init_random(m, 1, 0.02f);
    if (argc == 7 && !strcmp(argv[6], "bf16"))
        model_use_bf16(m, KERN16_AUTO, 0);
    inf = infer_new(m, B, nt, INFER_KERNEL_AUTO);
    pre = xcalloc((size_t)np, sizeof(*pre));
    seq = xcalloc((size_t)B, sizeof(*seq));
    sp = xcalloc((size_t)B, sizeof(*sp));
    tok = xcalloc((size_t)B, sizeof(int));
    lg = xmalloc(sizeof(float) * (size_t)c.vocab_size);
    for (i = 0; i < np; i++) {
        for (t = 0; t < P; t++)
            ids[t] = (t * 31 + i * 7 + 1) % c.vocab_size;
        infer_prefix_init(&pre[i], inf);
        infer_prefill(inf, &pre[i], ids, P, lg);
    }
    for (i = 0; i < B; i++) {
        infer_seq_init(&seq[i], inf, &pre[i / G]);
        sp[i] = &seq[i];
    }
    /* one warm-up step, then the timed ones */
    for (i = 0; i < B; i++)
        tok[i] = (i * 13 + 5) % c.vocab_size;
    infer_decode(inf, sp, tok, B);
    t0 = now_sec();
    for (t = 0; t < steps; t++) {
        for (i = 0; i < B; i++)
            tok[i] = (i * 13 + t * 7 + 5) % c.vocab_size;
        infer_decode(inf, sp, tok, B);
    }
    dt = now_sec() - t0;
    /* the cache's bytes per token over all layers: keys and values, or MLA's
       latent and rope key alone */
    printf("tokens/s %.2f params %zu kernel %s cache-bytes/token %zu\n", B * steps / dt,
           m->nparams, infer_kernel_name(infer_kernel_of(inf)),
           (size_t)pre[0].layers * (size_t)pre[0].kvd * sizeof(float) * (pre[0].v ? 2 : 1));
    for (i = 0; i < B; i++)
        infer_seq_release(&seq[i]);
    for (i = 0; i < np; i++)
        infer_prefix_release(&pre[i]);
    infer_free(inf);
    model_free(m);
    free(pre);
    free(seq);
    free(sp);
    free(tok);
    free(lg);
    return 0;
}
