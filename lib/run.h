/*
 * run.h - an update run: its plan (epochs of batches over the packed
 * rows), where it stands and how it is saved, so --resume continues it
 * bit for bit; the optimizer settings it starts from; what each mode
 * needs of a row; and the JSON lines it reports (metrics, --eval).
 *
 * The plan.  Epoch e orders the rows by a Fisher-Yates shuffle seeded by
 * (seed, e), or keeps the input order; the order is cut into batches of
 * `batch` rows (0: one batch), or of rows until they hold `batch_tokens`
 * tokens.  Each batch is mu optimizer steps.  Two hashes tie a saved run
 * to what it ran on: `data` over every row's fields in input order,
 * `plan` over the options that shape the batches (batch, batch_tokens,
 * epochs, mu, shuffle, seed).
 *
 * Where a run stands: the epoch and batch to do next and the steps done,
 * saved as the "run" object of trainer_state.json (ckpt.h writes the
 * file, state_extra): {"run": {"mode": "sft", "epoch": E, "batch": B,
 * "steps": N, "data": "16 hex digits", "plan": "16 hex digits"}}.  A run
 * that finished has epoch = epochs and batch 0.
 *
 * What it is not: the step itself (train.h), the checkpoint files
 * (ckpt.h, lora.h) or the ranks (dist.h); the tool reads the records and
 * writes the lines.
 *
 *     struct run_plan p = {rows, nrows, 16, 0, 2, 1, 1, seed, TRAIN_SFT};
 *     struct run_pos at = {0};
 *     run_plan_init(&p);
 *     if (resume && run_resume(&p, in, &at, &err)) die("%s", sbuf_str(&err));
 *     for (e = at.epoch; e < p.epochs; e++) {
 *         nb = run_plan_epoch(&p, e);
 *         for (b = e == at.epoch ? at.batch : 0; b < nb; b++)
 *             ... rows p.order[p.start[b] .. p.start[b + 1]) ...
 *     }
 *     state = run_state_json(&p, &at);  (at: run_plan_after() of the last batch)
 *     run_plan_release(&p);
 */
#ifndef POSTTRAIN_RUN_H
#define POSTTRAIN_RUN_H

#include <jansson.h>
#include <stdint.h>

#include "model.h"
#include "optim.h"
#include "pack.h"
#include "train.h"
#include "util.h"

struct run_plan {
    /* set by the caller */
    const struct pack_row *rows;    /* borrowed */
    size_t nrows;
    long batch;         /* rows per batch; 0: the whole input */
    long batch_tokens;  /* > 0: rows until they hold this many tokens */
    long epochs;        /* passes over the rows, >= 1 */
    long mu;            /* optimizer steps per batch, >= 1 */
    int shuffle;        /* 0: every epoch in the input order */
    uint64_t seed;
    enum train_mode mode;   /* the name saved with the state */
    /* set by run_plan_init */
    uint64_t data, plan;    /* the hashes above */
    long total;             /* optimizer steps of the whole run */
    /* set by run_plan_epoch: the epoch's row order and its batches,
     * batch k being order[start[k]] .. order[start[k + 1] - 1] (owned) */
    size_t *order, *start;
    size_t nbatches;
};

/* Where a run stands: the next epoch and batch, the steps done. */
struct run_pos {
    long epoch, batch, steps;
};

/* Hashes the rows and the options, counts the steps; allocates the scratch. */
void run_plan_init(struct run_plan *p);
/* Fills order and start for epoch e; returns the number of batches. */
size_t run_plan_epoch(struct run_plan *p, long e);
/* at after batch b of epoch e (run_plan_epoch(p, e) last): the next one. */
void run_plan_after(const struct run_plan *p, long e, long b, struct run_pos *at);
void run_plan_release(struct run_plan *p);

/* The trainer-state object of p standing at `at` (new): {"run": {...}}. */
json_t *run_state_json(const struct run_plan *p, const struct run_pos *at);

/*
 * Reads where the run saved in checkpoint dir stands, for --resume.
 * Returns 0, or -1 with the reason in err: no trainer state ("PATH: why
 * (--resume needs the checkpoint's trainer state)"), no "run" object,
 * or other rows (data) or other options (plan) than p's.  A complete
 * run (at->epoch >= p->epochs) is the caller's to refuse.
 */
int run_resume(const struct run_plan *p, const char *dir, struct run_pos *at, struct sbuf *err);

/*
 * Optimizer settings from the command line, each NAN or -1 where not
 * given, laid over the carried or default configuration.
 */
struct run_optset {
    double lr, min_lr, wd, b1, b2, clip;
    long warmup, total;
    int schedule;       /* enum optim_schedule, or -1 */
};

void run_optset_init(struct run_optset *s);
void run_optset_apply(const struct run_optset *s, struct optim_config *c);
/*
 * A mode's fresh optimizer: sft 5e-6 cosine to 1e-6, grpo 1e-6
 * constant, rm 1e-5 cosine to 1e-6 (optim.h's defaults otherwise).
 */
void run_mode_defaults(enum train_mode mode, struct optim_config *c);

/*
 * Checks what the mode of c needs of row w beyond pack.h's invariants:
 * ids inside m's vocabulary, segments within its positions, advantage
 * (grpo), ref_logprobs (--distill, beta > 0), old_logprobs (old_records),
 * pair (rm).  Returns 0, or -1 with the field (static) and why.
 */
int run_row_check(const struct train_config *c, int old_records, const struct model_config *m,
                  const struct pack_row *w, const char **field, struct sbuf *why);

/*
 * The metrics line of one optimizer step (new): step (o's, after the
 * step), epoch, iter (grpo), loss, lr, grad_norm, counts, tokens_per_s,
 * grpo's ratios, clipping, KL, entropy and mismatch, rm's accuracy, and
 * the sparse layers' expert load since the last line (m's counters are
 * reset).
 */
json_t *run_metrics_json(const struct train_config *c, const struct optim *o, long epoch,
                         int iter, const struct train_stats *st, double secs, struct model *m);

/* The --eval line (new): loss, rows, tokens, and pairs/accuracy or targets. */
json_t *run_eval_json(enum train_mode mode, size_t nrows, const struct train_stats *st);

#endif
