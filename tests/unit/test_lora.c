/*
 * test_lora.c - lib/lora: adapter gradients against central differences
 * (every target set, dropout, rsLoRA, the reward model's head), the base
 * left without gradients, a merged model's log-probs against base +
 * adapter, the KV-cache forward against the training forward with an
 * adapter (bit for bit), the PEFT files' round trip byte for byte, and
 * bad adapter directories.  On a mixture of experts the MLP targets adapt
 * the dense layers only (a sparse layer's experts take no adapter).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "infer.h"
#include "lora.h"
#include "model.h"
#include "util.h"

static struct rng rng;
/* the mixture of experts tiny_config gives the next models, or NULL */
static const struct model_moe *moe_cfg;

static struct model_config
tiny_config(int arch, int qk_norm)
{
    struct model_config c = {0};

    c.arch = arch;
    strcpy(c.model_type, "llama");
    c.dim = 16;
    c.hidden_dim = 24;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 4;
    c.vocab_size = 13;
    c.max_pos = 64;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_embeddings = 1;
    c.qk_norm = qk_norm;
    c.num_labels = 1;
    c.bos_id = c.eos_id = c.pad_id = -1;
    if (moe_cfg) {
        strcpy(c.model_type, "qwen3_moe");
        c.moe = *moe_cfg;
    }
    return c;
}

enum { NTOK = 20, NSEG = 3 };
static const int seg_len[NSEG] = {7, 4, 9};
static int ids[NTOK], tg[NTOK];
static float wlp[NTOK], wsc[NSEG];

static double
loss(struct model *m, const struct model_batch *b, int flags)
{
    float lp[NTOK], sc[NSEG];
    double L = 0;

    model_forward(m, b, 1.0f, lp, NULL, sc, flags);
    if (m->cfg.arch == MODEL_SEQ_CLS)
        for (size_t s = 0; s < b->nseg; s++)
            L += (double)wsc[s] * sc[s];
    else
        for (size_t t = 0; t < b->ntok; t++)
            L += (double)wlp[t] * lp[t];
    return L;
}

/* Random A and B (a new adapter's B is zero, whose A gets no gradient). */
static void
randomize(struct lora *lo, float std)
{
    for (size_t k = 0; k < lo->nparams; k++)
        lo->params[k] = (float)(rng_normal(&rng) * std);
}

static void
test_grad(int arch, unsigned targets, double dropout, int rslora, int qk_norm)
{
    struct model_config c = tiny_config(arch, qk_norm);
    struct model *m = model_new(&c);
    struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, NULL};
    struct lora_config lc;
    struct lora *lo;
    float *dir, *save;

    model_init_random(m, 7, 0.3f);
    lora_config_default(&lc);
    lc.r = 3;
    lc.alpha = 5;
    lc.targets = targets;
    lc.dropout = dropout;
    lc.rslora = rslora;
    lo = lora_new(m, &lc, 11, NULL);
    randomize(lo, 0.15f);
    lo->key = 42;
    m->lora = lo;
    m->att_block = 4;
    m->logit_chunk = 4;
    loss(m, &b, 0);
    lora_zero_grad(lo);
    model_backward(m, &b, wlp, NULL, wsc);
    CHECK(m->grads == NULL);   /* the base is frozen: no gradient buffer */
    dir = xmalloc(lo->nparams * sizeof(float));
    save = xmalloc(lo->nparams * sizeof(float));
    for (int i = 0; i < lo->ntensors; i++) {
        const struct lora_tensor *t = &lo->tensors[i];
        float *p = lo->params + t->off, *g = lo->grads + t->off;
        double an = 0, gn = 0, lp, lm, fd;
        /* 4e-3: float rounding of the loss dominates below, curvature above;
           with experts 5e-4, as a larger step flips the router's top-k
           choices (a jump in the loss, not its slope) */
        const float eps = moe_cfg ? 5e-4f : 4e-3f;
        for (size_t k = 0; k < t->n; k++) {
            dir[k] = rng_normal(&rng) > 0 ? 1.0f : -1.0f;
            an += (double)dir[k] * g[k];
            gn += fabs(g[k]);
            save[k] = p[k];
        }
        for (size_t k = 0; k < t->n; k++)
            p[k] = save[k] + eps * dir[k];
        lp = loss(m, &b, 0);
        for (size_t k = 0; k < t->n; k++)
            p[k] = save[k] - eps * dir[k];
        lm = loss(m, &b, 0);
        memcpy(p, save, t->n * sizeof(float));
        fd = (lp - lm) / (2 * eps);
        CHECK_MSG(gn > 0 && fabs(fd - an) <= 1e-2 * fmax(fabs(an), 1e-2 * gn),
                  "arch %d targets %#x dropout %g rslora %d qk_norm %d %s: analytic %g vs "
                  "central difference %g", arch, targets, dropout, rslora, qk_norm, t->name,
                  an, fd);
    }
    /* dropout only in training forwards: two inference passes agree with
       each other, and differ from a training pass */
    if (dropout > 0) {
        double a = loss(m, &b, MODEL_FWD_NOGRAD), a2 = loss(m, &b, MODEL_FWD_NOGRAD);
        double tr = loss(m, &b, 0);
        CHECK(a == a2);
        CHECK(a != tr);
    }
    free(dir);
    free(save);
    m->lora = NULL;
    lora_free(lo);
    model_free(m);
}

/* A merged model's log-probs (scores) against the base's with the adapter. */
static void
test_merge(int arch, unsigned targets, int rslora)
{
    struct model_config c = tiny_config(arch, 1);
    struct model *m = model_new(&c), *mm = model_new(&c);
    struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, NULL};
    struct lora_config lc;
    struct lora *lo;
    float lp[NTOK], lq[NTOK], sc[NSEG], sd[NSEG], base[NTOK];
    double maxd = 0, moved = 0;

    model_init_random(m, 3, 0.3f);
    memcpy(mm->params, m->params, m->nparams * sizeof(float));
    lora_config_default(&lc);
    lc.r = 4;
    lc.alpha = 8;
    lc.targets = targets;
    lc.rslora = rslora;
    lo = lora_new(m, &lc, 5, NULL);
    randomize(lo, 0.2f);
    model_forward(m, &b, 1.0f, base, NULL, sc, MODEL_FWD_NOGRAD);
    m->lora = lo;
    model_forward(m, &b, 1.0f, lp, NULL, sc, MODEL_FWD_NOGRAD);
    lora_merge(lo, mm);
    model_forward(mm, &b, 1.0f, lq, NULL, sd, MODEL_FWD_NOGRAD);
    if (arch == MODEL_SEQ_CLS) {
        for (int s = 0; s < NSEG; s++)
            maxd = fmax(maxd, fabs((double)sc[s] - sd[s]));
    } else {
        for (int t = 0; t < NTOK; t++) {
            maxd = fmax(maxd, fabs((double)lp[t] - lq[t]));
            moved = fmax(moved, fabs((double)lp[t] - base[t]));
        }
        CHECK_MSG(moved > 1e-3, "targets %#x: the adapter moved no log-prob", targets);
    }
    CHECK_MSG(maxd <= 1e-5, "arch %d targets %#x rslora %d: merged differs by %g", arch,
              targets, rslora, maxd);
    m->lora = NULL;
    lora_free(lo);
    model_free(m);
    model_free(mm);
}

/* With an adapter, infer.c's prefill gives model_forward's log-probs bit for bit. */
static void
test_infer_identity(void)
{
    struct model_config c = tiny_config(MODEL_CAUSAL_LM, 1);
    struct model *m = model_new(&c);
    struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, NULL};
    struct lora_config lc;
    struct lora *lo;
    struct infer *inf;
    struct infer_prefix p;
    float lp[NTOK], logits[13];
    int same = 0, n = 0;

    model_init_random(m, 9, 0.3f);
    lora_config_default(&lc);
    lc.r = 2;
    lc.targets = (1u << LORA_Q) | (1u << LORA_V) | (1u << LORA_UP) | (1u << LORA_DOWN);
    lo = lora_new(m, &lc, 2, NULL);
    randomize(lo, 0.3f);
    m->lora = lo;
    model_forward(m, &b, 1.0f, lp, NULL, NULL, MODEL_FWD_NOGRAD);
    inf = infer_new(m, 4, 2, INFER_KERNEL_AUTO);
    infer_prefix_init(&p, inf);
    for (int t = 0; t < seg_len[0] - 1; t++) {   /* the first segment, token by token */
        float v;
        infer_prefill(inf, &p, &ids[t], 1, logits);
        logprob_row(&v, NULL, logits, c.vocab_size, tg[t], 1.0f, 0, 0, 0);
        same += v == lp[t];
        n++;
    }
    CHECK_MSG(same == n, "%d of %d log-probs the same float", same, n);
    infer_prefix_release(&p);
    infer_free(inf);
    m->lora = NULL;
    lora_free(lo);
    model_free(m);
}

static char *
slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = xmalloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

static int
same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;

    free(x);
    free(y);
    return same;
}

static void
write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");

    fputs(s, f);
    fclose(f);
}

/* Save, load, save: the same bytes, the same numbers. */
static void
test_roundtrip(int arch)
{
    struct model_config c = tiny_config(arch, 0);
    struct model *m = model_new(&c);
    struct lora_config lc;
    struct lora *lo, *lo2;
    struct sbuf err = SBUF_INIT;

    model_init_random(m, 4, 0.3f);
    lora_config_default(&lc);
    lc.r = 3;
    lc.alpha = 6;
    lc.dropout = 0.05;
    lc.targets = (1u << LORA_K) | (1u << LORA_O) | (1u << LORA_GATE);
    lo = lora_new(m, &lc, 8, "some/base");
    randomize(lo, 0.5f);
    CHECK(lora_save(lo, "a1", NULL, NULL, &err) == 0);
    lo2 = lora_load("a1", m, &err);
    CHECK_MSG(lo2 != NULL, "%s", sbuf_str(&err));
    if (lo2) {
        CHECK(lo2->nparams == lo->nparams &&
              memcmp(lo2->params, lo->params, lo->nparams * sizeof(float)) == 0);
        CHECK(lo2->cfg.r == 3 && lo2->cfg.alpha == 6 && lo2->cfg.dropout == 0.05 &&
              lo2->cfg.targets == lc.targets);
        CHECK(lora_save(lo2, "a2", NULL, NULL, &err) == 0);
        CHECK(same_file("a1/adapter_config.json", "a2/adapter_config.json"));
        CHECK(same_file("a1/adapter_model.safetensors", "a2/adapter_model.safetensors"));
    }
    system("rm -rf a1 a2");
    lora_free(lo);
    lora_free(lo2);
    model_free(m);
    sbuf_release(&err);
}

/* A bad adapter_config.json field is named with the file. */
static void
test_bad_config(void)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"peft_type\": \"IA3\", \"r\": 2, \"target_modules\": [\"q_proj\"]}",
         "field 'peft_type'"},
        {"{\"peft_type\": \"LORA\", \"r\": 0, \"target_modules\": [\"q_proj\"]}", "field 'r'"},
        {"{\"peft_type\": \"LORA\", \"r\": 2, \"target_modules\": [\"qkv\"]}",
         "field 'target_modules'"},
        {"{\"peft_type\": \"LORA\", \"r\": 2, \"target_modules\": [\"q_proj\"], "
         "\"use_dora\": true}", "field 'use_dora'"},
        {"{\"peft_type\": \"LORA\", \"r\": 2, \"target_modules\": [\"q_proj\"], "
         "\"bias\": \"all\"}", "field 'bias'"},
        {"{\"peft_type\": \"LORA\", \"r\": 2, \"target_modules\": [\"q_proj\"], "
         "\"lora_dropout\": 1.5}", "field 'lora_dropout'"},
        {"{\"peft_type\": \"LORA\", \"r\": 2}", "field 'target_modules': missing"},
        /* a good config, but the weights file is another rank's */
        {"{\"peft_type\": \"LORA\", \"r\": 5, \"target_modules\": [\"k_proj\", \"o_proj\", "
         "\"gate_proj\"]}", "has shape [3, 16], the base model and r 5 need [5, 16]"},
    };
    struct model_config c = tiny_config(MODEL_CAUSAL_LM, 0);
    struct model *m = model_new(&c);
    struct lora_config lc;
    struct lora *lo;
    struct sbuf err = SBUF_INIT;

    lora_config_default(&lc);
    lc.r = 3;
    lc.targets = (1u << LORA_K) | (1u << LORA_O) | (1u << LORA_GATE);
    lo = lora_new(m, &lc, 8, NULL);
    CHECK(lora_save(lo, "bad", NULL, NULL, &err) == 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lora *x;
        unlink("bad/adapter_config.json");
        write_text("bad/adapter_config.json", cases[i].json);
        sbuf_reset(&err);
        x = lora_load("bad", m, &err);
        CHECK_MSG(!x && strstr(sbuf_str(&err), "bad/adapter") &&
                  strstr(sbuf_str(&err), cases[i].want), "case %zu: %s", i, sbuf_str(&err));
        lora_free(x);
    }
    /* a tensor of another layer count */
    unlink("bad/adapter_config.json");
    write_text("bad/adapter_config.json", "{\"peft_type\": \"LORA\", \"r\": 3, "
               "\"target_modules\": [\"k_proj\", \"o_proj\"]}");
    sbuf_reset(&err);
    lo = (lora_free(lo), lora_load("bad", m, &err));
    CHECK_MSG(!lo && strstr(sbuf_str(&err), "adapter_model.safetensors: tensor "
                            "'base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight' is "
                            "not one of the adapter's"), "%s", sbuf_str(&err));
    system("rm -rf bad");
    lora_free(lo);
    model_free(m);
    sbuf_release(&err);
}

static void
test_targets_parse(void)
{
    unsigned t;
    const char *why;

    CHECK(lora_targets_parse("q,v", &t, &why) == 0 && t == ((1u << LORA_Q) | (1u << LORA_V)));
    CHECK(lora_targets_parse("gate_proj,down", &t, &why) == 0 &&
          t == ((1u << LORA_GATE) | (1u << LORA_DOWN)));
    CHECK(lora_targets_parse("all", &t, &why) == 0 && t == LORA_ALL_TARGETS);
    CHECK(lora_targets_parse("q,,v", &t, &why) == -1);
    CHECK(lora_targets_parse("qkv", &t, &why) == -1);
}

/* A new adapter: B zero (the model unchanged), A within PEFT's bound. */
static void
test_init(void)
{
    struct model_config c = tiny_config(MODEL_CAUSAL_LM, 0);
    struct model *m = model_new(&c);
    struct lora_config lc;
    struct lora *lo;
    int bad = 0;
    double amax = 0;

    lora_config_default(&lc);
    lo = lora_new(m, &lc, 1, NULL);
    for (int i = 0; i < lo->ntensors; i++) {
        const struct lora_tensor *t = &lo->tensors[i];
        for (size_t k = 0; k < t->n; k++) {
            float v = lo->params[t->off + k];
            if (t->is_b)
                bad += v != 0.0f;
            else {
                bad += fabs(v) > 1.0 / sqrt((double)t->shape[1]);
                amax = fmax(amax, fabs(v) * sqrt((double)t->shape[1]));
            }
        }
    }
    CHECK(bad == 0);
    CHECK(amax > 0.9);   /* uniform over the whole bound */
    CHECK(lo->scale == 2.0f);
    lora_free(lo);
    model_free(m);
}

/* A sparse layer's MLP gets no adapter: layer 0's gate, up, down only. */
static void
test_sparse_layout(void)
{
    struct model_config c = tiny_config(MODEL_CAUSAL_LM, 0);
    struct model *m = model_new(&c);
    struct lora_config lc;
    struct lora *lo;
    int mlp0 = 0, mlp1 = 0, attn = 0;

    lora_config_default(&lc);
    lo = lora_new(m, &lc, 1, NULL);
    for (int i = 0; i < lo->ntensors; i++) {
        const struct lora_tensor *t = &lo->tensors[i];
        if (t->tgt >= LORA_GATE)
            t->layer == 0 ? mlp0++ : mlp1++;
        else
            attn++;
    }
    CHECK(mlp0 == 6 && mlp1 == 0 && attn == 16);
    lora_free(lo);
    model_free(m);
}

int
main(void)
{
    unsigned q = 1u << LORA_Q, v = 1u << LORA_V, k = 1u << LORA_K;

    rng_seed(&rng, 1);
    model_set_threads(2);
    for (int t = 0; t < NTOK; t++) {
        ids[t] = (int)rng_below(&rng, 13);
        wlp[t] = (float)rng_normal(&rng);
    }
    for (int s = 0; s < NSEG; s++)
        wsc[s] = (float)rng_normal(&rng);
    {
        struct model_batch b = {NTOK, ids, tg, NSEG, seg_len, NULL};
        model_batch_shift_targets(&b, NULL, tg);
    }
    test_targets_parse();
    test_init();
    test_grad(MODEL_CAUSAL_LM, LORA_ALL_TARGETS, 0, 0, 1);
    test_grad(MODEL_CAUSAL_LM, q, 0, 0, 0);
    test_grad(MODEL_CAUSAL_LM, k | (1u << LORA_UP), 0, 1, 1);
    test_grad(MODEL_CAUSAL_LM, v | (1u << LORA_O) | (1u << LORA_DOWN), 0.3, 0, 0);
    test_grad(MODEL_CAUSAL_LM, LORA_ALL_TARGETS, 0.25, 1, 1);
    test_grad(MODEL_SEQ_CLS, q | v, 0, 0, 0);
    test_merge(MODEL_CAUSAL_LM, LORA_ALL_TARGETS, 0);
    test_merge(MODEL_CAUSAL_LM, q, 0);
    test_merge(MODEL_CAUSAL_LM, k, 1);
    test_merge(MODEL_CAUSAL_LM, v | (1u << LORA_GATE), 0);
    test_merge(MODEL_CAUSAL_LM, (1u << LORA_UP) | (1u << LORA_DOWN) | (1u << LORA_O), 0);
    test_merge(MODEL_SEQ_CLS, q | k, 0);
    test_infer_identity();
    {
        /* layer 0 dense, layer 1 sparse (Qwen3-MoE's router); then
           DeepSeek's router with a shared expert in every layer */
        struct model_moe qm = {.n_experts = 4, .top_k = 2, .hidden = 8, .norm_topk = 1,
                              .n_group = 1, .topk_group = 1, .scaling = 1.0f,
                              .sparse_step = 1};
        struct model_moe d = {.n_experts = 6, .top_k = 2, .hidden = 8, .norm_topk = 1,
                              .sigmoid = 1, .n_group = 3, .topk_group = 2, .scaling = 2.5f,
                              .n_shared = 1, .score_bias = 1, .sparse_step = 1};
        qm.mlp_only[0] = 1;
        moe_cfg = &qm;
        test_sparse_layout();
        test_grad(MODEL_CAUSAL_LM, LORA_ALL_TARGETS, 0, 0, 1);
        test_merge(MODEL_CAUSAL_LM, LORA_ALL_TARGETS, 0);
        moe_cfg = &d;
        test_grad(MODEL_CAUSAL_LM, q | (1u << LORA_O) | (1u << LORA_DOWN), 0.2, 0, 0);
        test_merge(MODEL_CAUSAL_LM, LORA_ALL_TARGETS, 1);
        moe_cfg = NULL;
    }
    test_roundtrip(MODEL_CAUSAL_LM);
    test_roundtrip(MODEL_SEQ_CLS);
    test_bad_config();
    return check_done();
}
