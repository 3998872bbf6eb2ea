/*
 * test_run - an update run's plan against batches cut by hand and a
 * Fisher-Yates shuffle written out here, the hashes that tie a saved run
 * to its rows and options, the saved state read back (and refused when
 * the rows or options differ), the optimizer settings, the rows each
 * mode refuses, and the report lines.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "ckpt.h"
#include "run.h"

#define NROWS 5

static const int lens[NROWS] = {3, 5, 2, 7, 1};

/* Rows of lens[k] tokens, ids k + i, every token a target. */
static void
make_rows(struct pack_row *rows)
{
    size_t k, i;

    memset(rows, 0, NROWS * sizeof(*rows));
    for (k = 0; k < NROWS; k++) {
        struct pack_row *w = &rows[k];
        w->n = (size_t)lens[k];
        w->ids = xmalloc(w->n * sizeof(int));
        w->mask = xmalloc(w->n);
        for (i = 0; i < w->n; i++) {
            w->ids[i] = (int)(k + i);
            w->mask[i] = 1;
        }
        w->nseg = 1;
        w->seg = xmalloc(sizeof(int));
        w->seg[0] = lens[k];
    }
}

static void
free_rows(struct pack_row *rows)
{
    size_t k;

    for (k = 0; k < NROWS; k++)
        pack_row_release(&rows[k]);
}

static void
plan_of(struct run_plan *p, const struct pack_row *rows, long batch, long batch_tokens,
        long epochs, int shuffle)
{
    memset(p, 0, sizeof(*p));
    p->rows = rows;
    p->nrows = NROWS;
    p->batch = batch;
    p->batch_tokens = batch_tokens;
    p->epochs = epochs;
    p->mu = 1;
    p->shuffle = shuffle;
    p->seed = 42;
    p->mode = TRAIN_SFT;
    run_plan_init(p);
}

static void
test_batches(const struct pack_row *rows)
{
    struct run_plan p;
    struct run_pos at;
    size_t i;

    /* --batch 2: [0, 2) [2, 4) [4, 5), the input order */
    plan_of(&p, rows, 2, 0, 3, 0);
    CHECK(p.total == 9);
    CHECK(run_plan_epoch(&p, 1) == 3);
    for (i = 0; i < NROWS; i++)
        CHECK(p.order[i] == i);
    CHECK(p.start[0] == 0 && p.start[1] == 2 && p.start[2] == 4 && p.start[3] == 5);
    run_plan_after(&p, 1, 0, &at);
    CHECK(at.epoch == 1 && at.batch == 1);
    run_plan_after(&p, 1, 2, &at);
    CHECK(at.epoch == 2 && at.batch == 0);
    run_plan_release(&p);

    /* --batch-tokens 6: 3+5, 2+7, 1 (a batch closes once it holds 6) */
    plan_of(&p, rows, 16, 6, 1, 0);
    CHECK(run_plan_epoch(&p, 0) == 3);
    CHECK(p.start[1] == 2 && p.start[2] == 4 && p.start[3] == 5);
    run_plan_release(&p);

    /* --batch 0: one batch; mu steps each */
    plan_of(&p, rows, 0, 0, 2, 0);
    p.mu = 3;
    run_plan_release(&p);
    run_plan_init(&p);
    CHECK(p.total == 6);
    CHECK(run_plan_epoch(&p, 0) == 1 && p.start[1] == NROWS);
    run_plan_release(&p);
}

/* The shuffle of a saved run must stay the one it ran with. */
static void
test_shuffle(const struct pack_row *rows)
{
    struct run_plan p;
    size_t want[NROWS], i, j, t;
    struct rng g;
    long e;
    int differs = 0;

    plan_of(&p, rows, 2, 0, 3, 1);
    for (e = 0; e < 3; e++) {
        for (i = 0; i < NROWS; i++)
            want[i] = i;
        rng_seed(&g, 42 ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(e + 1)));
        for (i = NROWS; i > 1; i--) {
            j = (size_t)rng_below(&g, i);
            t = want[i - 1];
            want[i - 1] = want[j];
            want[j] = t;
        }
        run_plan_epoch(&p, e);
        for (i = 0; i < NROWS; i++) {
            CHECK(p.order[i] == want[i]);
            differs |= p.order[i] != i;
        }
    }
    CHECK(differs);
    run_plan_release(&p);
}

static void
test_hashes(struct pack_row *rows)
{
    struct run_plan p, q;
    uint64_t h = 42;
    long v;
    int s = 0;

    plan_of(&p, rows, 2, 0, 3, 0);
    /* plan: batch, batch_tokens, epochs, mu (longs), shuffle (int), from the seed */
    v = 2;
    h = hash64(&v, sizeof(v), h);
    v = 0;
    h = hash64(&v, sizeof(v), h);
    v = 3;
    h = hash64(&v, sizeof(v), h);
    v = 1;
    h = hash64(&v, sizeof(v), h);
    h = hash64(&s, sizeof(s), h);
    CHECK(p.plan == h);
    plan_of(&q, rows, 2, 0, 3, 0);
    CHECK(q.data == p.data && q.plan == p.plan);
    run_plan_release(&q);
    plan_of(&q, rows, 3, 0, 3, 0);
    CHECK(q.data == p.data && q.plan != p.plan);
    run_plan_release(&q);
    rows[4].ids[0]++;
    plan_of(&q, rows, 2, 0, 3, 0);
    CHECK(q.data != p.data && q.plan == p.plan);
    run_plan_release(&q);
    rows[4].ids[0]--;
    run_plan_release(&p);
}

static void
write_state(const char *dir, json_t *js)
{
    char path[256];

    mkdir(dir, 0777);
    snprintf(path, sizeof(path), "%s/%s", dir, CKPT_TRAINER_STATE);
    CHECK(json_dump_file(js, path, 0) == 0);
    json_decref(js);
}

static void
test_state(struct pack_row *rows)
{
    struct sbuf err = SBUF_INIT;
    struct run_plan p, q;
    struct run_pos at = {1, 2, 7}, back = {0, 0, 0};
    json_t *js, *run;
    char hex[24];

    plan_of(&p, rows, 2, 0, 3, 0);
    js = run_state_json(&p, &at);
    run = json_object_get(js, "run");
    CHECK_STREQ(json_string_value(json_object_get(run, "mode")), "sft");
    CHECK(json_integer_value(json_object_get(run, "epoch")) == 1);
    CHECK(json_integer_value(json_object_get(run, "batch")) == 2);
    CHECK(json_integer_value(json_object_get(run, "steps")) == 7);
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)p.plan);
    CHECK_STREQ(json_string_value(json_object_get(run, "plan")), hex);
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)p.data);
    CHECK_STREQ(json_string_value(json_object_get(run, "data")), hex);
    json_object_set_new(js, "global_step", json_integer(7));
    write_state("a", js);

    CHECK(run_resume(&p, "a", &back, &err) == 0);
    CHECK(back.epoch == 1 && back.batch == 2 && back.steps == 7);
    CHECK_STREQ(sbuf_str(&err), "");

    /* other options, other rows */
    plan_of(&q, rows, 3, 0, 3, 0);
    CHECK(run_resume(&q, "a", &back, &err) == -1);
    CHECK_STREQ(sbuf_str(&err),
                "a/trainer_state.json: the run had other batch, epoch, shuffle or --mu options");
    run_plan_release(&q);
    sbuf_reset(&err);
    rows[0].ids[0]++;
    plan_of(&q, rows, 2, 0, 3, 0);
    rows[0].ids[0]--;
    CHECK(run_resume(&q, "a", &back, &err) == -1);
    CHECK(strstr(sbuf_str(&err), "a/trainer_state.json: the run was on other packed records")
          == sbuf_str(&err));
    run_plan_release(&q);

    /* no run object; no file */
    write_state("b", json_pack("{s:i}", "global_step", 3));
    sbuf_reset(&err);
    CHECK(run_resume(&p, "b", &back, &err) == -1);
    CHECK_STREQ(sbuf_str(&err),
                "b/trainer_state.json: field 'run': missing or incomplete (not saved by update)");
    sbuf_reset(&err);
    CHECK(run_resume(&p, "c", &back, &err) == -1);
    CHECK(strncmp(sbuf_str(&err), "c/trainer_state.json: ", 22) == 0);
    CHECK(strstr(sbuf_str(&err), " (--resume needs the checkpoint's trainer state)") != NULL);
    run_plan_release(&p);
    sbuf_release(&err);
}

static void
test_optset(void)
{
    struct run_optset s;
    struct optim_config c, d;

    run_mode_defaults(TRAIN_GRPO, &c);
    CHECK(c.lr == 1e-6f && c.min_lr == 1e-6f && c.schedule == OPTIM_CONSTANT);
    run_mode_defaults(TRAIN_RM, &c);
    CHECK(c.lr == 1e-5f && c.min_lr == 1e-6f);
    run_mode_defaults(TRAIN_SFT, &c);
    optim_config_default(&d);
    CHECK(memcmp(&c, &d, sizeof(c)) == 0);
    run_optset_init(&s);
    run_optset_apply(&s, &c);
    CHECK(memcmp(&c, &d, sizeof(c)) == 0);
    s.lr = 0.5;
    s.warmup = 0;
    s.schedule = OPTIM_CONSTANT;
    run_optset_apply(&s, &c);
    CHECK(c.lr == 0.5f && c.warmup_steps == 0 && c.schedule == OPTIM_CONSTANT);
    CHECK(c.min_lr == d.min_lr && c.beta1 == d.beta1 && c.total_steps == d.total_steps);
}

static void
test_row_check(struct pack_row *rows)
{
    struct sbuf why = SBUF_INIT;
    struct train_config c;
    struct model_config m;
    const char *field = NULL;
    struct pack_row *w = &rows[3];     /* 7 tokens, ids 3..9 */

    memset(&m, 0, sizeof(m));
    m.vocab_size = 10;
    m.max_pos = 7;
    train_config_default(&c, TRAIN_SFT);
    CHECK(run_row_check(&c, 0, &m, w, &field, &why) == 0);
    m.vocab_size = 9;
    CHECK(run_row_check(&c, 0, &m, w, &field, &why) == -1);
    CHECK_STREQ(field, "ids");
    CHECK_STREQ(sbuf_str(&why), "element 6 is 9, outside the vocabulary of 9");
    m.vocab_size = 10;
    m.max_pos = 6;
    sbuf_reset(&why);
    CHECK(run_row_check(&c, 0, &m, w, &field, &why) == -1);
    CHECK_STREQ(field, "segments");
    m.max_pos = 7;
    train_config_default(&c, TRAIN_GRPO);
    c.mode = TRAIN_GRPO;
    sbuf_reset(&why);
    CHECK(run_row_check(&c, 0, &m, w, &field, &why) == -1);
    CHECK_STREQ(field, "advantage");
    w->adv = xcalloc(1, sizeof(float));
    CHECK(run_row_check(&c, 0, &m, w, &field, &why) == 0);
    CHECK(run_row_check(&c, 1, &m, w, &field, &why) == -1);
    CHECK_STREQ(field, "old_logprobs");
    c.beta = 0.1f;
    CHECK(run_row_check(&c, 0, &m, w, &field, &why) == -1);
    CHECK_STREQ(field, "ref_logprobs");
    train_config_default(&c, TRAIN_RM);
    c.mode = TRAIN_RM;
    CHECK(run_row_check(&c, 0, &m, w, &field, &why) == -1);
    CHECK_STREQ(field, "pair");
    sbuf_release(&why);
}

static void
test_lines(void)
{
    struct train_config c;
    struct train_stats st;
    struct optim_config oc;
    struct optim *o;
    json_t *js;

    memset(&st, 0, sizeof(st));
    st.loss = 1.5;
    st.targets = 4;
    st.tokens = 10;
    st.ratio_sum = 6;
    st.clip_low = 1;
    st.clip_high = 1;
    st.pairs = 4;
    st.correct = 3;
    optim_config_default(&oc);
    o = optim_new(&oc, 4);
    o->step = 3;
    train_config_default(&c, TRAIN_GRPO);
    c.mode = TRAIN_GRPO;
    js = run_metrics_json(&c, o, 1, 2, &st, 2.0, NULL);
    CHECK(json_integer_value(json_object_get(js, "step")) == 3);
    CHECK(json_integer_value(json_object_get(js, "iter")) == 2);
    CHECK(json_real_value(json_object_get(js, "ratio")) == 1.5);
    CHECK(json_real_value(json_object_get(js, "clip_frac")) == 0.5);
    CHECK(json_real_value(json_object_get(js, "tokens_per_s")) == 5.0);
    CHECK(!json_object_get(js, "logp_mismatch") && !json_object_get(js, "accuracy"));
    json_decref(js);
    train_config_default(&c, TRAIN_RM);
    c.mode = TRAIN_RM;
    js = run_metrics_json(&c, o, 0, 0, &st, 0.0, NULL);
    CHECK(!json_object_get(js, "iter") && !json_object_get(js, "ratio"));
    CHECK(json_real_value(json_object_get(js, "accuracy")) == 0.75);
    json_decref(js);
    js = run_eval_json(TRAIN_RM, 9, &st);
    CHECK(json_integer_value(json_object_get(js, "rows")) == 9);
    CHECK(json_real_value(json_object_get(js, "accuracy")) == 0.75);
    CHECK(!json_object_get(js, "targets"));
    json_decref(js);
    js = run_eval_json(TRAIN_SFT, 9, &st);
    CHECK(json_integer_value(json_object_get(js, "targets")) == 4 && !json_object_get(js, "pairs"));
    json_decref(js);
    optim_free(o);
}

int
main(void)
{
    struct pack_row rows[NROWS];

    make_rows(rows);
    test_batches(rows);
    test_shuffle(rows);
    test_hashes(rows);
    test_state(rows);
    test_optset();
    test_row_check(rows);
    test_lines();
    free_rows(rows);
    return check_done();
}
