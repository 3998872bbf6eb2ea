/*
 * score.h - the loop every rule-based scorer shares: each record is
 * routed by the domain rule (sample.h), checked (a "rewards" object that
 * rec_set_reward() can extend, a string "completion"), scored by the
 * scorer's callback, given rewards.<name> and the new reward sum, and
 * written in input order; bad records are rejected through the tool
 * (tool.h: fail fast, or --max-errors and --rejects).  A score-* tool is
 * its options plus one callback.
 *
 * A scorer whose work is slow and blocking (score-code's sandboxes) gives
 * three stages instead of one callback (score_run_jobs): prepare on the loop's thread
 * checks the record and hands back a job, run does the job on one of
 * `jobs` workers of lib/pool (each with its own slot number, for state
 * such as a sandbox), and finish on the loop's thread turns the job's
 * result into the reward.  A window of 4 * jobs records is in flight;
 * they are still written in input order.
 *
 * A scorer whose jobs go to a backend that takes many and completes them
 * later, in any order (score-rm's judge on lib/gen or on a server), gives
 * drive instead: the backend pulls jobs with score_window_next and hands
 * each back with score_window_done; the window (lib/window's) holds the
 * records between, and writes them in input order.
 *
 * What it is not: a backend (forward passes and decoding are lib/gen's
 * and rm.c's, HTTP is oaic.c's); rm_stream.c wires score-rm's to it,
 * with the judge's prompts and verdicts.
 *
 *     static int
 *     check(void *ctx, json_t *rec, const char *comp, double *reward,
 *           const char **field, struct sbuf *why)
 *     {
 *         ... *reward = ok ? 1 : 0; return ok;      (-1: reject rec)
 *     }
 *     struct scorer s = {"format", domains, "well-formed", check, &opts};
 *     struct score_counts c;
 *     tool_start(&t, argc - optind, argv + optind);
 *     score_run(&t, &s, &c);
 *     return tool_finish(&t);
 */
#ifndef POSTTRAIN_SCORE_H
#define POSTTRAIN_SCORE_H

#include <jansson.h>

#include "sample.h"
#include "tool.h"
#include "util.h"

struct scorer {
    const char *name;               /* the reward: rewards.<name> */
    struct sample_domains domains;  /* which records are scored */
    const char *hit;                /* progress: "N records, M <hit>" */
    /*
     * Scores rec (borrowed; the callback may add fields to it), whose
     * completion is comp: sets *reward and returns 1 for a hit, 0 for a
     * miss, or -1 to reject rec, with the field in *field (static) and
     * the reason in why.
     */
    int (*score)(void *ctx, json_t *rec, const char *comp, double *reward,
                 const char **field, struct sbuf *why);
    void *ctx;
};

struct score_window;

struct score_counts {
    long scored, hits, passed;  /* rejected records are the tool's count */
};

/* Reads every record of t (started) and writes it scored or passed. */
void score_run(struct tool *t, const struct scorer *s, struct score_counts *c);

/*
 * The three stages of a scorer whose work runs on workers.  prepare
 * (on the loop's thread) returns as struct scorer's score does, or 2
 * with *job set (the scorer's; the loop only hands it on): then
 * run(ctx, slot, job) runs on a worker (slot in [0, jobs), one job at a
 * time per slot; strings borrowed from rec stay valid), and
 * finish(ctx, rec, job, ...) on the loop's thread returns as score does
 * and frees job.  finish may reject with *field NULL (a failure that is
 * not the record's, such as a sandbox that did not start).
 */
struct score_stages {
    int (*prepare)(void *ctx, json_t *rec, const char *comp, void **job, double *reward,
                   const char **field, struct sbuf *why);
    void (*run)(void *ctx, int slot, void *job);
    int (*finish)(void *ctx, json_t *rec, void *job, double *reward, const char **field,
                  struct sbuf *why);
    int jobs;   /* workers; 0: batches on the loop's thread (below) */
    /*
     * jobs 0: run_batch(ctx, jobs, n) runs n queued jobs at once on the
     * loop's thread (score-rm's forward passes), in input order: when
     * `batch` are queued (0: 1), before one whose cost (cost(job), or 0)
     * would take the batch past batch_cost (0: no bound; a job alone may
     * exceed it), when 4096 records wait, and at the end.
     */
    void (*run_batch)(void *ctx, void **jobs, size_t n);
    size_t batch, batch_cost;
    size_t (*cost)(void *job);
    /*
     * jobs 0 and drive set: drive(ctx, w) runs the backend until the
     * input's end, taking each job with score_window_next(w, ...) and,
     * once its result is in the job, giving it back with
     * score_window_done(w, ticket) (within drive, in any order; run and
     * run_batch unused).  finish runs in input order, as above.
     */
    void (*drive)(void *ctx, struct score_window *w);
    int no_write;   /* count and finish every record, write none */
};

/*
 * As score_run, s's stages in st (s->score unused): a window of
 * 4 * st->jobs records in flight, written in input order (lib/pool runs
 * the reader and the workers: pool_set_threads(jobs + 1)), or with
 * jobs 0 the batches above, or drive's backend (the window grows to hold
 * every record read and not yet written).  A record the checks or prepare refuse is
 * rejected when it is read; one finish refuses, when its turn comes.
 */
void score_run_jobs(struct tool *t, const struct scorer *s, const struct score_stages *st,
                    struct score_counts *c);

/*
 * From drive: reads records until one has a job and returns 1 with *job
 * (prepare's) and *ticket (names it to score_window_done), or 0 at the
 * input's end (and at every call after).  Records without a job are
 * written, or rejected, in their turn.
 */
int score_window_next(struct score_window *w, void **job, size_t *ticket);
/* From drive: ticket's job is complete; writes the records whose turn it is. */
void score_window_done(struct score_window *w, size_t ticket);

#endif
