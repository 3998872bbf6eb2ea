/*
 * stats.h - summaries of a record stream, overall and per domain: record
 * and group counts, mean reward, accuracy, pass@k, maj@k, completion
 * lengths (characters and tokens) with percentiles, finish reasons.
 *
 * Records are fed one at a time in stream order.  Consecutive records that
 * share "group" form a group (the samples of one prompt); a record without
 * "group" is a group of its own.  Memory: the records of one group, 8 bytes
 * per group seen (to detect a split group) and 16 bytes per completion
 * for the length percentiles (overall and per domain).
 *
 *     struct stats_opts o;
 *     stats_opts_init(&o);
 *     struct stats *s = stats_new(&o);
 *     while ((r = next())) {
 *         if (stats_add(s, r, &field, &why) < 0) report(field, why);
 *         json_decref(r);
 *     }
 *     stats_finish(s);
 *     stats_table(s, &sb);  or  json_t *j = stats_json(s);
 *     stats_free(s);
 *
 * Definitions (stats(1) has the user-facing version):
 *   correct    the reward (opts.reward_key, default "reward") is at least
 *              opts.threshold (default 1)
 *   accuracy   correct records / records with a reward
 *   pass@k     per group of n >= k rewarded samples with c correct, the
 *              unbiased estimator of Chen et al. (2021), "Evaluating Large
 *              Language Models Trained on Code", 1 - C(n-c,k)/C(n,k),
 *              averaged over those groups
 *   maj@k      per group of n >= k samples, majority vote over the
 *              extracted answers of its first k samples (ties go to the
 *              answer seen first); 1 when that answer's first sample is
 *              correct, averaged over the groups
 */
#ifndef POSTTRAIN_STATS_H
#define POSTTRAIN_STATS_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

#define STATS_MAX_K 16

struct stats_opts {
    const char *reward_key;   /* dotted path, e.g. "rewards.math" (borrowed) */
    double threshold;
    int ks[STATS_MAX_K];      /* k values of pass@k and maj@k, ascending */
    int nk;                   /* 0: 1, 2, 4, ... up to the largest group */
    const char *answer_key;   /* dotted path of the extracted answer */
};

/* Defaults: "reward", 1.0, nk 0, "math.extracted". */
void stats_opts_init(struct stats_opts *o);

struct stats;

/* New, empty summary; o is copied (its strings stay borrowed). */
struct stats *stats_new(const struct stats_opts *o);
/*
 * Adds rec (borrowed; a reference is kept while its group is open).
 * Returns 0, or -1 when its group already ended earlier in the stream, or
 * its k repeats one of its group's, or its group is not a string, or its
 * reward is there but not a number, or its completion_ids are there but
 * not token ids (sample.h), or its domain is not a string: the record
 * is then not counted, *field (static, or the reward key) names the
 * field and the reason is appended to why.
 */
int stats_add(struct stats *s, json_t *rec, const char **field, struct sbuf *why);
/* Closes the open group.  Call once, after the last stats_add. */
void stats_finish(struct stats *s);

/* Appends the aligned table (metrics as rows, "all" then each domain as
 * columns) to sb. */
void stats_table(struct stats *s, struct sbuf *sb);
/* The same numbers as a JSON object (new reference). */
json_t *stats_json(struct stats *s);
void stats_free(struct stats *s);

/* ---- the estimators, exposed for tests and other tools ---- */

/*
 * pass@k for one group: n samples, c correct, k <= n.  Computed as
 * 1 - prod_{i=n-c+1}^{n} (1 - k/i), the numerically stable form from the
 * paper's code, equal to 1 - C(n-c,k)/C(n,k); 1 when n - c < k.
 */
double stats_pass_at_k(long n, long c, long k);

/*
 * The p-th percentile (0..100) of sorted[0..n-1] (ascending), by linear
 * interpolation between closest ranks (NumPy's default): position
 * p/100 * (n-1).  n > 0.
 */
double stats_percentile(const double *sorted, size_t n, double p);

/*
 * The content of the last \boxed{...} in s, braces balanced (borrowed
 * pointer into s and its length), or NULL when there is none.  \fbox{}
 * counts as \boxed{}.
 */
const char *stats_last_boxed(const char *s, size_t *len);


/* ---- plots of training metrics ---- */

/*
 * Metric curves from records such as update's metrics JSONL: every number
 * in a record (nested objects flattened to dotted names) is a point of
 * that metric's curve, at x = the record's "step" when it has one, else
 * its 1-based position.  plot_write() draws one PNG per metric with
 * gnuplot(1).  Memory: 16 bytes per point.
 *
 *     struct plot *p = plot_new();
 *     while ((r = next())) { plot_add(p, r); json_decref(r); }
 *     plot_write(p, "plots");       (plots/reward.png, plots/kl.png, ...)
 *     plot_free(p);
 */
struct plot;

struct plot *plot_new(void);
/* Adds the numbers of rec (borrowed). */
void plot_add(struct plot *p, const json_t *rec);
/* Number of metrics collected. */
size_t plot_count(const struct plot *p);
/*
 * Writes DIR/NAME.png for every metric (NAME with characters other than
 * [A-Za-z0-9._-] turned into '_'), each through a temporary file
 * (tmpfile.h) renamed into place.  Creates DIR if needed.  Dies when gnuplot cannot be run or
 * fails.  Returns the number of images written.
 */
size_t plot_write(struct plot *p, const char *dir);
void plot_free(struct plot *p);

#endif
