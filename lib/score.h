/*
 * score.h - the loop every rule-based scorer shares: each record is
 * routed by the domain rule (sample.h), checked (a "rewards" object that
 * rec_set_reward() can extend, a string "completion"), scored by the
 * scorer's callback, given rewards.<name> and the new reward sum, and
 * written in input order; bad records are rejected through the tool
 * (tool.h: fail fast, or --max-errors and --rejects).  A score-* tool is
 * its options plus one callback.
 *
 * What it is not: a batching or parallel scorer (score-code runs
 * sandboxes on lib/pool, score-rm batches forward passes); those use the
 * same domain rule and reward fields through sample.h and rec.h.
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

struct score_counts {
    long scored, hits, passed;  /* rejected records are the tool's count */
};

/* Reads every record of t (started) and writes it scored or passed. */
void score_run(struct tool *t, const struct scorer *s, struct score_counts *c);

#endif
