/*
 * test_infer.c - the KV-cache forward against model_forward (the
 * training forward) on small random models: log-probabilities of every
 * position to 1e-4; bit-identical rows whatever the batch, the thread
 * count, the prefill chunking; each matrix kernel against the naive
 * double-precision product.  All of it again with bf16 weights (w16.h),
 * where both forwards take the bf16 products.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "infer.h"
#include "model.h"
#include "util.h"
#include "w16.h"

/* the models of the tests compute in bf16 (w16.h) */
static int bf16_mode;

/* Models with Multi-head Latent Attention and DeepSeekMoE layers instead. */
static int use_mla;

static struct model *
small_model(int bias, int max_pos, uint64_t seed)
{
    struct model_config c;
    struct model *m;

    memset(&c, 0, sizeof(c));
    c.arch = MODEL_CAUSAL_LM;
    strcpy(c.model_type, "llama");
    c.dim = 48;
    c.hidden_dim = 80;
    c.n_layers = 2;
    c.n_heads = 6;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.vocab_size = 61;
    c.max_pos = max_pos;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_embeddings = !bias;
    c.attn_bias = bias;
    c.num_labels = 1;
    c.bos_id = c.eos_id = c.pad_id = -1;
    if (use_mla) {
        strcpy(c.model_type, "deepseek_v3");
        c.attn_bias = 0;
        c.n_kv_heads = c.n_heads;
        c.mla = (struct model_mla){.q_lora_rank = bias ? 20 : 0, .kv_lora_rank = 12,
                                   .nope = 6, .rope = 8, .v_dim = 5, .interleave = 1};
        c.head_dim = 8;
        c.rope = (struct model_rope_scaling){.type = MODEL_ROPE_YARN, .factor = 4.0,
                                             .orig_max_pos = 40, .mscale = 1.0,
                                             .mscale_all_dim = 0.8};
        c.moe = (struct model_moe){.n_experts = 4, .top_k = 2, .hidden = 16, .norm_topk = 1,
                                   .sigmoid = 1, .n_group = 2, .topk_group = 1,
                                   .scaling = 2.5f, .n_shared = 1, .score_bias = 1,
                                   .first_dense = 1, .sparse_step = 1};
        m = model_new(&c);
        model_init_random(m, seed, 0.3f);
        return m;
    }
    m = model_new(&c);
    /* large weights so the distributions are far from uniform */
    model_init_random(m, seed, 0.3f);
    if (bias) {
        size_t i;
        const struct model_tensor *t =
            model_find_tensor(m, "model.layers.0.self_attn.q_proj.bias");
        struct rng r;
        rng_seed(&r, seed + 1);
        for (i = 0; i < t->n; i++)
            m->params[t->off + i] = (float)rng_normal(&r) * 0.5f;
    }
    if (bf16_mode)
        model_use_bf16(m, KERN16_AUTO, 0);
    return m;
}

static int
have(enum infer_kernel k)
{
    __builtin_cpu_init();
    if (k == INFER_KERNEL_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == INFER_KERNEL_AVX512)
        return __builtin_cpu_supports("avx512f");
    return 1;
}

static void
test_kernels(void)
{
    static const int shapes[][3] = { { 1, 16, 4 }, { 7, 37, 13 }, { 9, 64, 33 }, { 4, 5, 1 } };
    enum infer_kernel ks[] = { INFER_KERNEL_C, INFER_KERNEL_AVX2, INFER_KERNEL_AVX512 };
    size_t si, ki;
    struct rng r;

    rng_seed(&r, 3);
    for (si = 0; si < ARRAY_LEN(shapes); si++) {
        int R = shapes[si][0], IC = shapes[si][1], OC = shapes[si][2], i;
        float *in = malloc(sizeof(float) * (size_t)(R * IC));
        float *W = malloc(sizeof(float) * (size_t)(OC * IC));
        float *ref = malloc(sizeof(float) * (size_t)(R * OC));
        float *out = malloc(sizeof(float) * (size_t)(R * OC));
        for (i = 0; i < R * IC; i++)
            in[i] = (float)rng_normal(&r);
        for (i = 0; i < OC * IC; i++)
            W[i] = (float)rng_normal(&r);
        matmul_forward_ref(ref, in, W, NULL, (size_t)R, IC, OC);
        for (ki = 0; ki < ARRAY_LEN(ks); ki++) {
            double md = 0;
            if (!have(ks[ki]))
                continue;
            infer_matmul(ks[ki], out, in, W, R, IC, OC, 0);
            for (i = 0; i < R * OC; i++)
                md = fmax(md, fabs(out[i] - ref[i]));
            CHECK_MSG(md < 1e-4, "kernel %s shape %zu: max diff %g",
                      infer_kernel_name(ks[ki]), si, md);
            /* accumulate: out += in W^T gives 2 ref */
            infer_matmul(ks[ki], out, in, W, R, IC, OC, 1);
            for (md = 0, i = 0; i < R * OC; i++)
                md = fmax(md, fabs(out[i] - 2 * ref[i]));
            CHECK_MSG(md < 2e-4, "kernel %s shape %zu accumulate: max diff %g",
                      infer_kernel_name(ks[ki]), si, md);
        }
        free(in);
        free(W);
        free(ref);
        free(out);
    }
}

/* log softmax(row)[t] in double. */
static double
logsoftmax(const float *row, int V, int t)
{
    double m = -INFINITY, s = 0;
    int i;

    for (i = 0; i < V; i++)
        m = fmax(m, row[i]);
    for (i = 0; i < V; i++)
        s += exp(row[i] - m);
    return row[t] - m - log(s);
}

/* -sum_i p_i log p_i of softmax(row), in double. */
static double
entropy_of(const float *row, int V)
{
    double h = 0;
    int i;

    for (i = 0; i < V; i++) {
        double lp = logsoftmax(row, V, i);
        h -= exp(lp) * lp;
    }
    return h;
}

static int
argmax(const float *row, int V)
{
    int i, b = 0;

    for (i = 1; i < V; i++)
        if (row[i] > row[b])
            b = i;
    return b;
}

/*
 * Prefill a prompt, decode greedily, then check log softmax of every
 * position's logits at several targets against model_forward, and the
 * entropy of each prediction (update's entropy metric and bonus) against
 * the entropy of the logits.
 */
static void
test_against_training(int bias, int nthreads, enum infer_kernel kern)
{
    struct model *m = small_model(bias, 160, 11);
    int V = m->cfg.vocab_size, P = 70, G = 20, N = P + G, i, t;
    struct infer *inf = infer_new(m, 4, nthreads, kern);
    struct infer_prefix p;
    struct infer_seq s, *sp = &s;
    int *ids = malloc(sizeof(int) * (size_t)N), *tg = malloc(sizeof(int) * (size_t)N);
    float *lg = malloc(sizeof(float) * (size_t)(G + 1) * (size_t)V);
    float *logp = malloc(sizeof(float) * (size_t)N), *ent = malloc(sizeof(float) * (size_t)N);
    double md = 0, me = 0;
    struct model_batch b;
    struct rng r;
    int W = model_route_width(&m->cfg);
    int *rt = malloc(sizeof(int) * (size_t)(N * W + 1));
    float *logp0 = malloc(sizeof(float) * (size_t)N);

    rng_seed(&r, 5);
    for (i = 0; i < P; i++)
        ids[i] = (int)rng_below(&r, (uint64_t)V);
    infer_prefix_init(&p, inf);
    infer_prefill(inf, &p, ids, P, lg);
    for (i = 0; i < N * W; i++)
        rt[i] = -1;
    if (W)  /* row P - 1 predicts the first completion token */
        CHECK(infer_routes(inf, -1, rt + (size_t)(P - 1) * W) == W);
    if (use_mla) /* the cache: latent and rope key per token and layer, no values */
        CHECK(p.kvd == 12 + 8 && p.v == NULL);
    infer_seq_init(&s, inf, &p);
    for (t = 0; t < G; t++) {
        ids[P + t] = argmax(lg + (size_t)t * V, V);
        {
            const float *o = infer_decode(inf, &sp, &ids[P + t], 1);
            memcpy(lg + (size_t)(t + 1) * V, o, sizeof(float) * (size_t)V);
            if (W)
                infer_routes(inf, 0, rt + (size_t)(P + t) * W);
        }
    }
    /* positions P-1 .. N-2 predict ids[P..N-1]; try 3 targets each */
    b.ntok = (size_t)N;
    b.ids = ids;
    b.targets = tg;
    b.nseg = 1;
    b.seg_len = &N;
    b.routes = NULL;
    for (int k = 0; k < 3; k++) {
        for (i = 0; i < N; i++)
            tg[i] = -1;
        for (t = 0; t < G; t++)
            tg[P - 1 + t] = k == 0 ? ids[P + t] : (int)rng_below(&r, (uint64_t)V);
        model_forward(m, &b, 1.0f, logp, ent, NULL, MODEL_FWD_NOGRAD);
        for (t = 0; t < G; t++) {
            double mine = logsoftmax(lg + (size_t)t * V, V, tg[P - 1 + t]);
            md = fmax(md, fabs(mine - logp[P - 1 + t]));
            me = fmax(me, fabs(entropy_of(lg + (size_t)t * V, V) - ent[P - 1 + t]));
        }
        if (k == 0 && W) {
            /* the experts infer chose, replayed: the same routing, the same bits;
               the experts of row P moved: that row's prediction moves */
            memcpy(logp0, logp, sizeof(float) * (size_t)N);
            b.routes = rt;
            model_forward(m, &b, 1.0f, logp, NULL, NULL, MODEL_FWD_NOGRAD);
            CHECK(memcmp(logp0, logp, sizeof(float) * (size_t)N) == 0);
            for (i = 0; i < W; i++)
                rt[(size_t)P * W + i] = (rt[(size_t)P * W + i] + 1) % m->cfg.moe.n_experts;
            model_forward(m, &b, 1.0f, logp, NULL, NULL, MODEL_FWD_NOGRAD);
            CHECK(logp[P] != logp0[P] && logp[P - 1] == logp0[P - 1]);
            b.routes = NULL;
        }
    }
    CHECK_MSG(md < 1e-4, "%s%s bias %d mla %d threads %d: max logprob diff %g",
              infer_kernel_name(kern), bf16_mode ? " bf16" : "", bias, use_mla, nthreads, md);
    CHECK_MSG(me < 1e-4, "%s%s bias %d mla %d threads %d: max entropy diff %g",
              infer_kernel_name(kern), bf16_mode ? " bf16" : "", bias, use_mla, nthreads, me);
    /* the greedy tokens are not all the same: the test sees real logits */
    for (t = 1, i = 0; t < G; t++)
        i += ids[P + t] != ids[P];
    CHECK(i > 0);
    infer_seq_release(&s);
    infer_prefix_release(&p);
    infer_free(inf);
    model_free(m);
    free(ids);
    free(tg);
    free(lg);
    free(logp);
    free(ent);
    free(logp0);
    free(rt);
}

/*
 * Rows do not depend on the batch: sequence 0 decoded alone and among
 * others (other prefixes, other lengths), with 1 and 2 threads, and its
 * prompt prefilled whole or decoded token by token: the same bits.
 */
static void
test_invariance(enum infer_kernel kern)
{
    struct model *m = small_model(0, 160, 21);
    int V = m->cfg.vocab_size, P = 67, T = 12, nseq = 5, i, t, th;
    int ids[67];
    float *ref = malloc(sizeof(float) * (size_t)(T + 1) * (size_t)V);
    float *first = malloc(sizeof(float) * (size_t)V);
    struct rng r;

    rng_seed(&r, 8);
    for (i = 0; i < P; i++)
        ids[i] = (int)rng_below(&r, (uint64_t)V);
    for (th = 1; th <= 2; th++) {
        for (int batch = 1; batch <= 2; batch++) {
            struct infer *inf = infer_new(m, 8, th, kern);
            struct infer_prefix p[5];
            struct infer_seq s[5], *sp[5];
            int tok[5], n = batch == 1 ? 1 : nseq, same = 1;
            for (i = 0; i < n; i++) {
                /* sequence 0 has the reference prompt; others are shorter */
                int len = i == 0 ? P : 10 + 7 * i, *pi = i == 0 ? ids : ids + i;
                infer_prefix_init(&p[i], inf);
                infer_prefill(inf, &p[i], pi, len, first);
                infer_seq_init(&s[i], inf, &p[i]);
                sp[i] = &s[i];
                tok[i] = argmax(first, V);
                if (i == 0 && th == 1 && batch == 1)
                    memcpy(ref, first, sizeof(float) * (size_t)V);
                else if (i == 0)
                    same &= memcmp(ref, first, sizeof(float) * (size_t)V) == 0;
            }
            for (t = 0; t < T; t++) {
                /* vary the batch: sequences 3.. join late */
                int nn = batch == 1 ? 1 : (t < 4 ? 3 : n);
                const float *o = infer_decode(inf, sp, tok, nn);
                if (th == 1 && batch == 1)
                    memcpy(ref + (size_t)(t + 1) * V, o, sizeof(float) * (size_t)V);
                else
                    same &= memcmp(ref + (size_t)(t + 1) * V, o,
                                   sizeof(float) * (size_t)V) == 0;
                for (i = 0; i < nn; i++)
                    tok[i] = argmax(o + (size_t)i * V, V);
            }
            CHECK_MSG(same, "%s%s threads %d batch %d: row 0 differs",
                      infer_kernel_name(kern), bf16_mode ? " bf16" : "", th, batch);
            for (i = 0; i < n; i++) {
                infer_seq_release(&s[i]);
                infer_prefix_release(&p[i]);
            }
            infer_free(inf);
        }
    }
    /* the prompt through decode steps, one token at a time, no prefix */
    {
        struct infer *inf = infer_new(m, 2, 1, kern);
        struct infer_seq s, *sp = &s;
        const float *o = NULL;
        infer_seq_init(&s, inf, NULL);
        for (i = 0; i < P; i++)
            o = infer_decode(inf, &sp, &ids[i], 1);
        CHECK(memcmp(o, ref, sizeof(float) * (size_t)V) == 0);
        infer_seq_release(&s);
        infer_free(inf);
    }
    free(ref);
    free(first);
    model_free(m);
}

int
main(void)
{
    enum infer_kernel ks[] = { INFER_KERNEL_C, INFER_KERNEL_AVX2, INFER_KERNEL_AVX512 };
    size_t i;

    test_kernels();
    for (bf16_mode = 0; bf16_mode <= 1; bf16_mode++)
        for (i = 0; i < ARRAY_LEN(ks); i++) {
            if (!have(ks[i]))
                continue;
            test_against_training(0, 1, ks[i]);
            test_against_training(1, 2, ks[i]);
            test_invariance(ks[i]);
            use_mla = 1;   /* bias: q_lora_rank */
            test_against_training(0, 1, ks[i]);
            test_against_training(1, 2, ks[i]);
            test_invariance(ks[i]);
            use_mla = 0;
        }
    return check_done();
}
