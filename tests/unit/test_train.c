/*
 * test_train - the losses against hand-computed values, and training on
 * tiny in-memory models: SFT lowers held-out loss, GRPO moves log-probs
 * with the sign of the advantage, gradient accumulation and packing do
 * not change the weights, the schedule's end points, and a Bradley-Terry
 * reward model learns correct-vs-wrong arithmetic.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ckpt.h"
#include "train.h"

/* ---- helpers ---- */

/* A row from segments given as lengths, with mask, adv and old arrays. */
static void
row_make(struct pack_row *r, size_t nseg, const int *seg, const int *ids,
         const unsigned char *mask, const float *adv, const float *old)
{
    size_t s, n = 0;

    memset(r, 0, sizeof(*r));
    for (s = 0; s < nseg; s++)
        n += (size_t)seg[s];
    r->n = n;
    r->nseg = nseg;
    r->seg = xmalloc(nseg * sizeof(int));
    memcpy(r->seg, seg, nseg * sizeof(int));
    r->ids = xmalloc(n * sizeof(int));
    memcpy(r->ids, ids, n * sizeof(int));
    r->mask = xmalloc(n);
    memcpy(r->mask, mask, n);
    if (adv) {
        r->adv = xmalloc(nseg * sizeof(float));
        memcpy(r->adv, adv, nseg * sizeof(float));
    }
    if (old) {
        r->old = xmalloc(n * sizeof(float));
        memcpy(r->old, old, n * sizeof(float));
    }
}

static struct model_config
tiny_config(int arch, int vocab)
{
    struct model_config c;

    memset(&c, 0, sizeof(c));
    c.arch = arch;
    strcpy(c.model_type, "llama");
    c.dim = 32;
    c.hidden_dim = 48;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.vocab_size = vocab;
    c.max_pos = 64;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_embeddings = 1;
    c.num_labels = 1;
    c.bos_id = c.eos_id = c.pad_id = -1;
    return c;
}

static struct optim *
make_optim(struct model *m, float lr)
{
    struct optim_config oc;
    struct optim *o;

    optim_config_default(&oc);
    oc.lr = lr;
    oc.min_lr = lr;
    oc.schedule = OPTIM_CONSTANT;
    oc.warmup_steps = 0;
    oc.weight_decay = 0.0f;
    o = optim_new(&oc, m->nparams);
    ckpt_optim_no_decay(o, m);
    return o;
}

static struct model *
make_model(int arch, int vocab, uint64_t seed)
{
    struct model_config c = tiny_config(arch, vocab);
    struct model *m = model_new(&c);

    model_init_random(m, seed, 0.1f);
    return m;
}

/* ||a - b|| / ||a|| over n floats. */
static double
rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)a[i] * a[i];
    }
    return sqrt(d / s);
}

/* ---- losses by hand ---- */

static void
test_aggregation(void)
{
    /* one row, segments of 3 and 4 tokens; advantages +1 and -1 */
    static const int seg[2] = {3, 4}, ids[7] = {1, 2, 3, 4, 5, 6, 7};
    static const unsigned char mask[7] = {0, 1, 1, 0, 1, 1, 1};
    static const float adv[2] = {1.0f, -1.0f};
    float logp[7] = {0, -1, -2, 0, -1, -1, -1}, old[7], w[7], dl[7];
    struct pack_row r;
    struct train_config c;
    struct train_stats st;
    double loss;
    int i;

    memcpy(old, logp, sizeof(old));
    /* the last token's ratio is 1.1: loss there -1.1 * (-1) = 1.1 */
    old[6] = logp[6] - logf(1.1f);
    row_make(&r, 2, seg, ids, mask, adv, NULL);
    train_config_default(&c, TRAIN_GRPO);

    /* token losses: -1 -1 | +1 +1 +1.1 */
    c.agg = TRAIN_TOKEN_MEAN;
    train_weights(&c, &r, 1, w);
    memset(&st, 0, sizeof(st));
    loss = train_token_loss(&c, &r, 1, w, logp, old, NULL, NULL, dl, NULL, &st);
    CHECK_NEAR(loss, 1.1 / 5, 1e-6);
    CHECK_NEAR(dl[6], 1.1 / 5, 1e-6);
    CHECK_NEAR(dl[1], -1.0 / 5, 1e-6);
    CHECK_NEAR(dl[0], 0.0, 0);
    CHECK(st.targets == 5);

    c.agg = TRAIN_SEQ_MEAN_TOKEN_MEAN;
    train_weights(&c, &r, 1, w);
    loss = train_token_loss(&c, &r, 1, w, logp, old, NULL, NULL, dl, NULL, &st);
    CHECK_NEAR(loss, (-2.0 / 2 + 3.1 / 3) / 2, 1e-6);
    CHECK_NEAR(dl[1], -1.0 / 4, 1e-6);
    CHECK_NEAR(dl[6], 1.1 / 6, 1e-6);

    c.agg = TRAIN_SEQ_MEAN_TOKEN_SUM_NORM;
    c.norm_len = 4;
    train_weights(&c, &r, 1, w);
    loss = train_token_loss(&c, &r, 1, w, logp, old, NULL, NULL, dl, NULL, &st);
    CHECK_NEAR(loss, (-2.0 / 4 + 3.1 / 4) / 2, 1e-6);
    c.norm_len = 0; /* C = the longest target span, 3 */
    train_weights(&c, &r, 1, w);
    loss = train_token_loss(&c, &r, 1, w, logp, old, NULL, NULL, dl, NULL, &st);
    CHECK_NEAR(loss, (-2.0 / 3 + 3.1 / 3) / 2, 1e-6);

    /* sft: mean negative log-likelihood of the targets */
    train_config_default(&c, TRAIN_SFT);
    train_weights(&c, &r, 1, w);
    loss = train_token_loss(&c, &r, 1, w, logp, old, NULL, NULL, dl, NULL, &st);
    CHECK_NEAR(loss, (1 + 2 + 1 + 1 + 1) / 5.0, 1e-6);
    CHECK_NEAR(dl[2], -1.0 / 5, 1e-7);

    /* the weights split across two rows equal those of one row */
    {
        struct pack_row two[2];
        static const int s0[1] = {3}, s1[1] = {4};
        float w2[7];
        c.agg = TRAIN_SEQ_MEAN_TOKEN_MEAN;
        row_make(&two[0], 1, s0, ids, mask, adv, NULL);
        row_make(&two[1], 1, s1, ids + 3, mask + 3, adv + 1, NULL);
        train_weights(&c, &r, 1, w);
        train_weights(&c, two, 2, w2);
        for (i = 0; i < 7; i++)
            CHECK_NEAR(w[i], w2[i], 0);
        pack_row_release(&two[0]);
        pack_row_release(&two[1]);
    }
    pack_row_release(&r);
}

static void
test_clip_and_kl(void)
{
    struct train_config c;
    float g, ref;
    int clip;
    double kl, l;

    train_config_default(&c, TRAIN_GRPO);
    /* A > 0, r = 1.5 > 1.28: clipped above, no gradient */
    l = train_grpo_token(&c, logf(1.5f), 0.0f, NULL, 1.0f, &g, &clip, &kl);
    CHECK_NEAR(l, -1.28, 1e-6);
    CHECK(g == 0.0f && clip == 1);
    /* A > 0, r = 0.5: the unclipped term is smaller, gradient -r A */
    l = train_grpo_token(&c, logf(0.5f), 0.0f, NULL, 1.0f, &g, &clip, &kl);
    CHECK_NEAR(l, -0.5, 1e-6);
    CHECK_NEAR(g, -0.5, 1e-6);
    CHECK(clip == 0);
    /* A < 0, r = 0.5 < 0.8: clipped below */
    l = train_grpo_token(&c, logf(0.5f), 0.0f, NULL, -1.0f, &g, &clip, &kl);
    CHECK_NEAR(l, 0.8, 1e-6);
    CHECK(g == 0.0f && clip == -1);
    /* A < 0, r = 1.5: not clipped (the surrogate keeps pushing down) */
    l = train_grpo_token(&c, logf(1.5f), 0.0f, NULL, -2.0f, &g, &clip, &kl);
    CHECK_NEAR(l, 3.0, 1e-6);
    CHECK_NEAR(g, 3.0, 1e-6);
    CHECK(clip == 0);
    /* inside [0.8, 1.28]: plain ratio */
    l = train_grpo_token(&c, logf(1.2f), 0.0f, NULL, 1.0f, &g, &clip, &kl);
    CHECK_NEAR(l, -1.2, 1e-6);
    CHECK_NEAR(g, -1.2, 1e-6);
    /* separate bounds: clip-high 0.28 lets r = 1.25 through, 0.2 would not */
    c.clip_high = 0.2f;
    train_grpo_token(&c, logf(1.25f), 0.0f, NULL, 1.0f, &g, &clip, &kl);
    CHECK(clip == 1 && g == 0.0f);

    /* k3 KL: 0 with its gradient when the policy equals the reference */
    train_config_default(&c, TRAIN_GRPO);
    c.beta = 0.1f;
    ref = -1.3f;
    l = train_grpo_token(&c, -1.3f, -1.3f, &ref, 0.0f, &g, &clip, &kl);
    CHECK(kl == 0.0);
    CHECK(g == 0.0f);
    CHECK_NEAR(l, 0.0, 0);
    /* ref - logp = 0.5: kl = e^0.5 - 1.5, dkl/dlogp = 1 - e^0.5 */
    ref = -0.5f;
    l = train_grpo_token(&c, -1.0f, -1.0f, &ref, 0.0f, &g, &clip, &kl);
    CHECK_NEAR(kl, exp(0.5) - 1.5, 1e-6);
    CHECK_NEAR(l, 0.1 * (exp(0.5) - 1.5), 1e-7);
    CHECK_NEAR(g, 0.1 * (1 - exp(0.5)), 1e-7);
}

static void
test_pair_loss(void)
{
    static const int seg[2] = {2, 2}, ids[4] = {1, 2, 1, 3};
    static const unsigned char mask[4] = {0, 1, 0, 1};
    float sc[2] = {2.0f, 1.0f}, ds[2];
    struct pack_row r;
    struct train_config c;
    struct train_stats st;
    double l;

    row_make(&r, 2, seg, ids, mask, NULL, NULL);
    r.pair = xmalloc(2);
    r.pair[0] = 1;
    r.pair[1] = 0;
    train_config_default(&c, TRAIN_RM);
    memset(&st, 0, sizeof(st));
    l = train_pair_loss(&c, &r, 1, sc, 1.0, ds, &st);
    CHECK_NEAR(l, log1p(exp(-1.0)), 1e-7);
    CHECK_NEAR(ds[0], -1.0 / (1.0 + exp(1.0)), 1e-7);
    CHECK_NEAR(ds[1], 1.0 / (1.0 + exp(1.0)), 1e-7);
    CHECK(st.correct == 1 && st.pairs == 1);
    /* margin 1.5: d = -0.5 */
    c.margin = 1.5f;
    l = train_pair_loss(&c, &r, 1, sc, 0.5, ds, &st);
    CHECK_NEAR(l, 0.5 * log1p(exp(0.5)), 1e-7);
    pack_row_release(&r);
}

static void
test_schedule(void)
{
    struct optim_config oc;

    optim_config_default(&oc);
    oc.warmup_steps = 3;
    train_schedule_span(&oc, 0, 10);
    CHECK_NEAR(optim_lr(&oc, 0), 5e-6 / 3, 1e-12);
    CHECK_NEAR(optim_lr(&oc, 2), 5e-6, 1e-12);
    CHECK_NEAR(optim_lr(&oc, 3), 5e-6, 1e-12);
    CHECK(optim_lr(&oc, 4) < 5e-6);
    CHECK_NEAR(optim_lr(&oc, 9), 1e-6, 1e-12);
    CHECK(optim_lr(&oc, 8) > 1e-6);
    /* a run starting at global step 10 for 5 steps, no warmup */
    oc.warmup_steps = 0;
    train_schedule_span(&oc, 10, 5);
    CHECK(oc.total_steps == 14);
}

/* ---- training on a tiny model ---- */

/* Sample s of a counting task: x, x+1, x+2, ... (mod V), prompt 2 tokens. */
static void
count_rows(struct pack_row *rows, size_t n, int first, int len, int V, int packed)
{
    int ids[64], seg[8];
    unsigned char mask[64];
    size_t i;
    int j, k;

    if (!packed) {
        for (i = 0; i < n; i++) {
            for (j = 0; j < len; j++) {
                ids[j] = (first + (int)i + j) % V;
                mask[j] = j >= 2;
            }
            seg[0] = len;
            row_make(&rows[i], 1, seg, ids, mask, NULL, NULL);
        }
        return;
    }
    /* two samples per row */
    for (i = 0; i < n / 2; i++) {
        for (k = 0; k < 2; k++) {
            for (j = 0; j < len; j++) {
                ids[k * len + j] = (first + (int)(2 * i) + k + j) % V;
                mask[k * len + j] = j >= 2;
            }
            seg[k] = len;
        }
        row_make(&rows[i], 2, seg, ids, mask, NULL, NULL);
    }
}

static void
release_rows(struct pack_row *rows, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        pack_row_release(&rows[i]);
}

static void
test_sft_heldout(void)
{
    struct model *m = make_model(MODEL_CAUSAL_LM, 13, 1);
    struct optim *o = make_optim(m, 3e-3f);
    struct pack_row tr_rows[8], ho[2];
    struct train_config c;
    struct trainer t;
    struct train_stats st;
    double before, after;
    int s;

    count_rows(tr_rows, 8, 0, 10, 13, 0);
    count_rows(ho, 2, 9, 10, 13, 0); /* starts 9 and 10: unseen */
    train_config_default(&c, TRAIN_SFT);
    trainer_init(&t, &c, m, o);
    before = train_eval(&t, ho, 2, NULL);
    for (s = 0; s < 40; s++)
        train_step(&t, tr_rows, 8, 0, &st);
    after = train_eval(&t, ho, 2, NULL);
    fprintf(stderr, "sft: held-out loss %.4f -> %.4f\n", before, after);
    CHECK_MSG(after < 0.5 * before, "held-out loss %g -> %g", before, after);
    CHECK(st.lr == 3e-3f && st.grad_norm > 0);
    trainer_release(&t);
    release_rows(tr_rows, 8);
    release_rows(ho, 2);
    optim_free(o);
    model_free(m);
}

/* GRPO on one sample with advantage adv: the change of its targets' NLL. */
static double
grpo_shift(float adv)
{
    static const int seg[1] = {6}, ids[6] = {3, 1, 4, 1, 5, 9};
    static const unsigned char mask[6] = {0, 0, 1, 1, 1, 1};
    struct model *m = make_model(MODEL_CAUSAL_LM, 13, 2);
    struct optim *o = make_optim(m, 1e-3f);
    struct pack_row r;
    struct train_config c;
    struct trainer t;
    struct train_stats st;
    double before, after;
    int s;

    row_make(&r, 1, seg, ids, mask, &adv, NULL);
    train_config_default(&c, TRAIN_GRPO);
    c.recompute_old = 1;
    trainer_init(&t, &c, m, o);
    before = train_eval(&t, &r, 1, NULL);
    for (s = 0; s < 3; s++) {
        train_step(&t, &r, 1, s, &st);
        if (s == 0) /* first pass: the ratio is exactly 1 */
            CHECK_NEAR(st.ratio_sum / (double)st.targets, 1.0, 0);
    }
    after = train_eval(&t, &r, 1, NULL);
    trainer_release(&t);
    pack_row_release(&r);
    optim_free(o);
    model_free(m);
    return after - before;
}

static void
test_grpo_sign(void)
{
    double up = grpo_shift(1.0f), down = grpo_shift(-1.0f);

    fprintf(stderr, "grpo: NLL change %+.4f (A = +1), %+.4f (A = -1)\n", up, down);
    CHECK_MSG(up < -1e-3, "positive advantage: NLL change %g", up);
    CHECK_MSG(down > 1e-3, "negative advantage: NLL change %g", down);
}

/* Trains 3 GRPO steps over rows with micro-batches of micro tokens. */
static struct model *
grpo_run(struct pack_row *rows, size_t n, size_t micro)
{
    struct model *m = make_model(MODEL_CAUSAL_LM, 13, 3);
    struct optim *o = make_optim(m, 1e-3f);
    struct train_config c;
    struct trainer t;
    struct train_stats st;
    int s;

    train_config_default(&c, TRAIN_GRPO);
    c.micro_tokens = micro;
    trainer_init(&t, &c, m, o);
    for (s = 0; s < 3; s++)
        train_step(&t, rows, n, s, &st);
    trainer_release(&t);
    optim_free(o);
    return m;
}

/* Rows of grouped samples with advantages; packed: 2 samples a row. */
static void
adv_rows(struct pack_row *rows, int packed)
{
    static const float advs[4] = {1.0f, -0.5f, 0.25f, -0.75f};
    int ids[32], seg[2], k, j, len;
    unsigned char mask[32];
    float adv[2];
    size_t n = 0, r;

    for (r = 0; r < (packed ? 2u : 4u); r++) {
        int per = packed ? 2 : 1, pos = 0;
        for (k = 0; k < per; k++) {
            int i = (int)r * per + k;
            len = 5 + i;
            for (j = 0; j < len; j++) {
                ids[pos + j] = (i * 3 + j * 5) % 13;
                mask[pos + j] = j >= 2;
            }
            seg[k] = len;
            adv[k] = advs[i];
            pos += len;
        }
        row_make(&rows[n++], (size_t)per, seg, ids, mask, adv, NULL);
    }
}

static void
test_accumulation_and_packing(void)
{
    struct pack_row un[4], pk[2];
    struct model *a, *b, *p;
    double d1, d2;

    adv_rows(un, 0);
    adv_rows(pk, 1);
    a = grpo_run(un, 4, 1 << 20);   /* one micro-batch */
    b = grpo_run(un, 4, 1);         /* one row per micro-batch: 4 */
    p = grpo_run(pk, 2, 1);         /* the same samples packed 2 per row */
    d1 = rel_diff(a->params, b->params, a->nparams);
    d2 = rel_diff(a->params, p->params, a->nparams);
    fprintf(stderr, "accumulation %.3g, packing %.3g\n", d1, d2);
    CHECK_MSG(d1 <= 1e-6, "accumulation 1 vs 4: relative difference %g", d1);
    CHECK_MSG(d2 <= 1e-6, "packed vs unpacked: relative difference %g", d2);
    /* and the steps did move the weights */
    {
        struct model *z = make_model(MODEL_CAUSAL_LM, 13, 3);
        CHECK(rel_diff(z->params, a->params, a->nparams) > 1e-4);
        model_free(z);
    }
    model_free(a);
    model_free(b);
    model_free(p);
    release_rows(un, 4);
    release_rows(pk, 2);
}

/* ---- reward model ---- */

enum { PLUS = 10, EQ = 11 };

/* The pair for a + b with wrong answer w: rows of one pair each. */
static void
pair_row(struct pack_row *r, int a, int b, int wrong)
{
    int ids[10] = {a, PLUS, b, EQ, a + b, a, PLUS, b, EQ, wrong};
    static const int seg[2] = {5, 5};
    static const unsigned char mask[10] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 1};

    row_make(r, 2, seg, ids, mask, NULL, NULL);
    r->pair = xmalloc(2);
    r->pair[0] = 1;
    r->pair[1] = 0;
}

static void
test_reward_model(void)
{
    struct model *m = make_model(MODEL_SEQ_CLS, 12, 4);
    struct optim *o = make_optim(m, 3e-3f);
    struct pack_row train[50], held[25];
    struct train_config c;
    struct trainer t;
    struct train_stats st;
    struct rng g;
    int a, b, s, n = 0, h = 0;
    double acc;

    /* a, b in 0..4: two wrong answers per problem to train on, a third held out */
    rng_seed(&g, 7);
    for (a = 0; a < 5; a++) {
        for (b = 0; b < 5; b++) {
            int w[3], k = 0;
            while (k < 3) {
                int x = (int)rng_below(&g, 10), j, dup = x == a + b;
                for (j = 0; j < k; j++)
                    dup |= w[j] == x;
                if (!dup)
                    w[k++] = x;
            }
            pair_row(&train[n++], a, b, w[0]);
            pair_row(&train[n++], a, b, w[1]);
            pair_row(&held[h++], a, b, w[2]);
        }
    }
    train_config_default(&c, TRAIN_RM);
    trainer_init(&t, &c, m, o);
    for (s = 0; s < 150; s++)
        train_step(&t, train, (size_t)n, 0, &st);
    train_eval(&t, held, (size_t)h, &st);
    acc = (double)st.correct / (double)st.pairs;
    fprintf(stderr, "reward model: held-out pairwise accuracy %.3f\n", acc);
    CHECK_MSG(acc >= 0.9, "held-out pairwise accuracy %g", acc);
    trainer_release(&t);
    release_rows(train, (size_t)n);
    release_rows(held, (size_t)h);
    optim_free(o);
    model_free(m);
}

/* ---- the GRPO family against tests/ref/grpo_losses.py (PyTorch autograd) ---- */

static void
json_floats(const json_t *a, float *out)
{
    size_t i;
    json_t *v;

    json_array_foreach(a, i, v)
        out[i] = (float)json_number_value(v);
}

/* The step's metric sums of one reference case against the reference's. */
static void
check_metrics(size_t k, const json_t *m, const struct train_stats *st)
{
    static const char *const sums[] = {"ratio_sum", "ratio_max", "kl_sum", "is_sum"};
    const double got[] = {st->ratio_sum, st->ratio_max, st->kl_sum, st->is_sum};
    size_t i;

    for (i = 0; i < sizeof(sums) / sizeof(sums[0]); i++) {
        double want = json_number_value(json_object_get(m, sums[i]));
        CHECK_MSG(fabs(got[i] - want) <= 1e-6 * (1 + fabs(want)), "case %zu %s %.9g vs %.9g",
                  k, sums[i], got[i], want);
    }
    CHECK_MSG(st->clip_low == (size_t)json_integer_value(json_object_get(m, "clip_low")),
              "case %zu clip_low %zu", k, st->clip_low);
    CHECK_MSG(st->clip_high == (size_t)json_integer_value(json_object_get(m, "clip_high")),
              "case %zu clip_high %zu", k, st->clip_high);
    CHECK_MSG(st->is_capped == (size_t)json_integer_value(json_object_get(m, "is_capped")),
              "case %zu is_capped %zu", k, st->is_capped);
}

static void
test_reference_losses(void)
{
    char path[4096];
    const char *top = getenv("TOP");
    json_error_t je;
    json_t *all, *cs;
    size_t k, nclip = 0, ncap = 0;

    snprintf(path, sizeof(path), "%s/tests/ref/grpo_losses.json", top ? top : ".");
    all = json_load_file(path, 0, &je);
    CHECK_MSG(all != NULL, "%s: %s", path, je.text);
    if (!all)
        return;
    json_array_foreach(all, k, cs) {
        const json_t *cf = json_object_get(cs, "cfg");
        const json_t *jseg = json_object_get(cs, "seg"), *jmask = json_object_get(cs, "mask");
        size_t nseg = json_array_size(jseg), n = json_array_size(jmask), i;
        int seg[8], *ids = xcalloc(n, sizeof(int));
        unsigned char *mask = xmalloc(n);
        float adv[8], *old = xmalloc(n * sizeof(float)), *logp = xmalloc(n * sizeof(float));
        float *b = xmalloc(n * sizeof(float)), *ent = xmalloc(n * sizeof(float));
        float *w = xmalloc(n * sizeof(float)), *isw = xmalloc(n * sizeof(float));
        float *dl = xmalloc(n * sizeof(float)), *de = xmalloc(n * sizeof(float));
        float *want = xmalloc(n * sizeof(float));
        struct train_config c;
        struct train_stats st;
        struct pack_row r;
        const char *is = json_string_value(json_object_get(cf, "is"));
        double loss, scale;

        for (i = 0; i < nseg; i++)
            seg[i] = (int)json_integer_value(json_array_get(jseg, i));
        for (i = 0; i < n; i++)
            mask[i] = (unsigned char)json_integer_value(json_array_get(jmask, i));
        json_floats(json_object_get(cs, "adv"), adv);
        json_floats(json_object_get(cs, "old"), old);
        json_floats(json_object_get(cs, "logp"), logp);
        json_floats(json_object_get(cs, "b"), b);
        json_floats(json_object_get(cs, "ent"), ent);
        row_make(&r, nseg, seg, ids, mask, adv, NULL);
        r.ref = xmalloc(n * sizeof(float));
        json_floats(json_object_get(cs, "ref"), r.ref);

        train_config_default(&c, TRAIN_GRPO);
        CHECK(train_objective_parse(json_string_value(json_object_get(cf, "obj")), &c.obj) == 0);
        CHECK(train_kl_parse(json_string_value(json_object_get(cf, "kl")), &c.kl) == 0);
        CHECK(train_agg_parse(json_string_value(json_object_get(cf, "agg")), &c.agg) == 0);
        c.beta = (float)json_number_value(json_object_get(cf, "beta"));
        c.clip_low = (float)json_number_value(json_object_get(cf, "clip_low"));
        c.clip_high = (float)json_number_value(json_object_get(cf, "clip_high"));
        c.ent_coef = (float)json_number_value(json_object_get(cf, "ent_coef"));
        c.distill = (float)json_number_value(json_object_get(cf, "distill"));
        c.is_level = strcmp(is, "off") == 0 ? TRAIN_IS_OFF
                     : strcmp(is, "seq") == 0 ? TRAIN_IS_SEQ : TRAIN_IS_TOKEN;
        c.is_mask = (int)json_integer_value(json_object_get(cf, "mask"));
        c.is_cap = (float)json_number_value(json_object_get(cf, "cap"));

        memset(&st, 0, sizeof(st));
        train_weights(&c, &r, 1, w);
        json_floats(json_object_get(cs, "w"), want);
        for (i = 0; i < n; i++)
            CHECK_MSG(fabs(w[i] - want[i]) <= 1e-7, "case %zu w[%zu] %g vs %g", k, i, w[i],
                      want[i]);
        train_is_weights(&c, &r, 1, old, b, isw, &st);
        json_floats(json_object_get(cs, "isw"), want);
        for (i = 0; i < n; i++)
            CHECK_MSG(fabs(isw[i] - want[i]) <= 1e-6 * (1 + fabs(want[i])),
                      "case %zu isw[%zu] %g vs %g", k, i, isw[i], want[i]);
        ncap += st.is_capped;
        memcpy(isw, want, n * sizeof(float));
        loss = train_token_loss(&c, &r, 1, w, logp, old, isw, ent, dl, de, &st);
        scale = 1 + fabs(json_number_value(json_object_get(cs, "loss")));
        CHECK_MSG(fabs(loss - json_number_value(json_object_get(cs, "loss"))) <= 1e-5 * scale,
                  "case %zu (%s) loss %.9g vs %.9g", k,
                  json_string_value(json_object_get(cf, "obj")), loss,
                  json_number_value(json_object_get(cs, "loss")));
        json_floats(json_object_get(cs, "dlogp"), want);
        for (i = 0; i < n; i++)
            CHECK_MSG(fabs(dl[i] - want[i]) <= 1e-5 * (1e-2 + fabs(want[i])),
                      "case %zu dlogp[%zu] %.9g vs %.9g", k, i, dl[i], want[i]);
        json_floats(json_object_get(cs, "dent"), want);
        for (i = 0; i < n; i++)
            CHECK_MSG(fabs(de[i] - want[i]) <= 1e-6 * (1e-2 + fabs(want[i])),
                      "case %zu dent[%zu] %.9g vs %.9g", k, i, de[i], want[i]);
        check_metrics(k, json_object_get(cs, "metrics"), &st);
        nclip += st.clip_low + st.clip_high;
        pack_row_release(&r);
        free(ids);
        free(mask);
        free(old);
        free(logp);
        free(b);
        free(ent);
        free(w);
        free(isw);
        free(dl);
        free(de);
        free(want);
    }
    /* the data reach the bounds: both the clipping and the cap are exercised */
    CHECK(nclip > 0);
    CHECK(ncap > 0);
    printf("reference losses: %zu cases, %zu clipped tokens, %zu capped weights\n", k, nclip,
           ncap);
    json_decref(all);
}

int
main(void)
{
    model_set_threads(1);
    test_aggregation();
    test_clip_and_kl();
    test_reference_losses();
    test_pair_loss();
    test_schedule();
    test_sft_heldout();
    test_grpo_sign();
    test_accumulation_and_packing();
    test_reward_model();
    return check_done();
}
