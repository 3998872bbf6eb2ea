/*
 * test_dist - the balance of rows over ranks by hand, the one-rank
 * collectives, and data parallelism simulated in one process: the
 * gradients and stats of train_step_part over complementary shares add
 * up to train_step's over the whole batch (the aggregation weights come
 * from the whole batch), and recomputed old log-probs stay with the share
 * that computed them.  The MPI collectives are tested by
 * tests/cli/update/mpi.sh.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dist.h"
#include "train.h"

static void
test_assign(void)
{
    size_t a[] = {5, 9, 2, 9, 4}, b[] = {1, 1, 1, 1};
    int own[5], i;

    /* 9 (#1) -> 0, 9 (#3) -> 1, 5 (#0) -> 0 (tie), 4 (#4) -> 1, 2 (#2) -> 1 */
    dist_assign(a, 5, 2, own);
    CHECK(own[0] == 0 && own[1] == 0 && own[2] == 1 && own[3] == 1 && own[4] == 1);
    dist_assign(b, 4, 3, own);
    CHECK(own[0] == 0 && own[1] == 1 && own[2] == 2 && own[3] == 0);
    dist_assign(a, 5, 1, own);
    for (i = 0; i < 5; i++)
        CHECK(own[i] == 0);
    dist_assign(a, 0, 2, own);
}

static void
test_one_rank(void)
{
    float x[3] = {1.5f, -2.0f, 3.25f};
    double d[2] = {0.1, 0.2};
    uint64_t u[1] = {7};
    struct pack_row *rows = NULL;
    int argc = 1;
    char *args[] = {(char *)"test_dist", NULL}, **argv = args;

    CHECK(dist_init(&argc, &argv) == 1);
    CHECK(dist_rank() == 0 && dist_size() == 1 && dist_local_size() == 1);
    dist_sum_f32(x, 3);
    dist_sum_f64(d, 2);
    dist_sum_u64(u, 1);
    CHECK(x[0] == 1.5f && x[1] == -2.0f && x[2] == 3.25f);
    CHECK(d[0] == 0.1 && d[1] == 0.2 && u[0] == 7);
    CHECK(dist_bcast_rows(&rows, 5) == 5 && rows == NULL);
    dist_finalize();
}

/* ---- shares ---- */

struct capture {
    float *g;
    double d[16];
    uint64_t u[16];
    size_t nd, nu;
};

static void
capture(void *ctx, float *g, size_t n, double *d, size_t nd, uint64_t *u, size_t nu)
{
    struct capture *c = ctx;

    c->g = xmalloc(n * sizeof(float));
    memcpy(c->g, g, n * sizeof(float));
    memcpy(c->d, d, nd * sizeof(double));
    memcpy(c->u, u, nu * sizeof(uint64_t));
    c->nd = nd;
    c->nu = nu;
}

static struct model *
tiny(void)
{
    struct model_config c;
    struct model *m;

    memset(&c, 0, sizeof(c));
    c.arch = MODEL_CAUSAL_LM;
    strcpy(c.model_type, "llama");
    c.dim = 16;
    c.hidden_dim = 32;
    c.n_layers = 1;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.head_dim = 8;
    c.vocab_size = 40;
    c.max_pos = 32;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_embeddings = 1;
    c.num_labels = 1;
    c.bos_id = c.eos_id = c.pad_id = -1;
    m = model_new(&c);
    model_init_random(m, 5, 0.1f);
    return m;
}

/* Row r: two segments of uneven lengths, a prompt token unmasked. */
static void
make_rows(struct pack_row *rows, size_t n, int grpo)
{
    size_t r, t;

    for (r = 0; r < n; r++) {
        struct pack_row *w = &rows[r];
        memset(w, 0, sizeof(*w));
        w->nseg = 2;
        w->seg = xmalloc(2 * sizeof(int));
        w->seg[0] = 2 + (int)(r * 5 % 7);
        w->seg[1] = 3 + (int)(r % 3);
        w->n = (size_t)(w->seg[0] + w->seg[1]);
        w->ids = xmalloc(w->n * sizeof(int));
        w->mask = xmalloc(w->n);
        for (t = 0; t < w->n; t++) {
            w->ids[t] = (int)((r * 11 + t * 7) % 40);
            w->mask[t] = t != 0 && t != (size_t)w->seg[0];
        }
        if (grpo) {
            w->adv = xmalloc(2 * sizeof(float));
            w->adv[0] = r % 2 ? 1.0f : -0.5f;
            w->adv[1] = 0.25f * (float)r;
        }
    }
}

static void
free_rows(struct pack_row *rows, size_t n)
{
    size_t r;

    for (r = 0; r < n; r++)
        pack_row_release(&rows[r]);
}

/* One step of mode/agg on the share mine (NULL: all), captured. */
static void
run_share(enum train_mode mode, enum train_agg agg, const unsigned char *mine,
          struct capture *c, struct pack_row *rows, size_t n, size_t *nparams)
{
    struct model *m = tiny();
    struct optim_config oc;
    struct optim *o;
    struct train_config tc;
    struct trainer tr;
    struct train_stats st;

    optim_config_default(&oc);
    o = optim_new(&oc, m->nparams);
    train_config_default(&tc, mode);
    tc.agg = agg;
    tc.micro_tokens = 12;
    tc.recompute_old = mode == TRAIN_GRPO;
    trainer_init(&tr, &tc, m, o);
    trainer_set_reduce(&tr, capture, c);
    train_step_part(&tr, rows, n, mine, 0, &st);
    *nparams = m->nparams;
    trainer_release(&tr);
    optim_free(o);
    model_free(m);
}

static void
test_shares(enum train_mode mode, enum train_agg agg)
{
    enum { N = 7 };
    struct pack_row all[N], part[N];
    unsigned char a[N] = {1, 0, 0, 1, 1, 0, 1}, b[N];
    struct capture cf, ca, cb;
    size_t np, i, k;
    double d = 0, s = 0;

    for (i = 0; i < N; i++)
        b[i] = !a[i];
    make_rows(all, N, mode == TRAIN_GRPO);
    make_rows(part, N, mode == TRAIN_GRPO);
    run_share(mode, agg, NULL, &cf, all, N, &np);
    run_share(mode, agg, a, &ca, part, N, &np);
    if (mode == TRAIN_GRPO)
        for (i = 0; i < N; i++)
            CHECK_MSG((part[i].old != NULL) == a[i], "row %zu: old only in its share", i);
    run_share(mode, agg, b, &cb, part, N, &np);
    for (i = 0; i < np; i++) {
        double e = (double)ca.g[i] + cb.g[i] - cf.g[i];
        d += e * e;
        s += (double)cf.g[i] * cf.g[i];
    }
    CHECK(s > 0);
    CHECK_MSG(sqrt(d / s) < 1e-5, "shares' gradients: relative difference %g", sqrt(d / s));
    for (k = 0; k < cf.nu; k++)
        CHECK_MSG(ca.u[k] + cb.u[k] == cf.u[k], "count %zu: %llu + %llu != %llu", k,
                  (unsigned long long)ca.u[k], (unsigned long long)cb.u[k],
                  (unsigned long long)cf.u[k]);
    CHECK(cf.u[0] == N);
    CHECK_REL(ca.d[0] + cb.d[0], cf.d[0], 1e-5, 1e-9);
    free(ca.g);
    free(cb.g);
    free(cf.g);
    free_rows(all, N);
    free_rows(part, N);
}

int
main(void)
{
    model_set_threads(1);
    test_assign();
    test_one_rank();
    test_shares(TRAIN_SFT, TRAIN_TOKEN_MEAN);
    test_shares(TRAIN_GRPO, TRAIN_SEQ_MEAN_TOKEN_MEAN);
    test_shares(TRAIN_GRPO, TRAIN_SEQ_MEAN_TOKEN_SUM_NORM);
    return check_done();
}
