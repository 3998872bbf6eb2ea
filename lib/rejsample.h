/*
 * rejsample.h - rejection sampling for SFT data: from each scored group
 * keep the best samples and turn them into SFT records.  DeepSeek-R1,
 * sec. 2.3.3: sample from the RL checkpoint, keep only correct responses,
 * filter out mixed languages, long paragraphs and code blocks.  Here the
 * filters are a reward threshold, R1's format reward, and exact
 * duplicates; the ranking is the reward, then the shorter completion
 * (R1's answers are accurate but long: among correct ones prefer the
 * concise), then the order within the group.
 *
 * Per group, each sample is a candidate unless (first reason counts)
 *   - its reward is below min_reward,
 *   - require_format and rewards.format != 1,
 *   - strip_think and the <think> block is unclosed or nothing follows it.
 * Candidates are ranked, and the first best of them with distinct
 * responses are kept.  The response is the completion, or with
 * strip_think the answer outside the think block as lib/think splits
 * it (think_answer()).
 *
 *     struct rejsample_cand c[G];   (filled from the group)
 *     long dups = 0;
 *     size_t kept = rejsample_select(c, G, 2, &dups);   c[0], c[1] win
 *
 * Everything but rejsample_run() needs only jansson and util.h.
 */
#ifndef POSTTRAIN_REJSAMPLE_H
#define POSTTRAIN_REJSAMPLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Number of UTF-8 code points in s (len bytes); continuation bytes not counted. */
size_t rejsample_utf8_len(const char *s, size_t len);

/* ---- ranking ---- */

struct rejsample_cand {
    double reward;
    size_t length;      /* code points of the completion */
    size_t index;       /* position in the group */
    const char *resp;   /* the response it would become (borrowed) */
    size_t resp_len;
    uint64_t hash;      /* hash64 of resp */
};

/*
 * Sorts the n candidates c by reward (higher first), completion length
 * (shorter first), then index, and moves the first best of them with
 * distinct responses to c[0..k), in rank order.  Adds to *dups the
 * candidates passed over as an exact duplicate of one kept.  Returns k.
 */
size_t rejsample_select(struct rejsample_cand *c, size_t n, size_t best, long *dups);

/*
 * The SFT record of a kept sample (new reference; sample is borrowed):
 * a copy without the per-sample fields (group, k, completion, finish,
 * prompt_ids, completion_ids, logprobs, ref_logprobs, policy,
 * advantage), with "response" set to resp and "source" to {"group",
 * "k", "policy", "finish"} (those present).  reward, rewards and every
 * other field stay.  With suffix_id, a string id becomes "ID/K" so that
 * several samples of one prompt keep distinct ids.
 */
json_t *rejsample_record(const json_t *sample, const char *resp, size_t resp_len,
                         int suffix_id);

/* ---- rejsample(1) ---- */

struct tool;

struct rejsample_opts {
    const char *key;    /* reward field or dotted path, "reward" */
    size_t best;        /* keep at most this many per group, >= 1 */
    int has_min;        /* min_reward applies */
    double min_reward;  /* keep reward >= min_reward */
    int require_format; /* rewards.format must be 1 */
    int strip_think;    /* response without the think block */
};

struct rejsample_counts {
    long groups, samples;   /* read and accepted */
    long below_min;         /* reward < min_reward */
    long unformatted;       /* rewards.format != 1 */
    long no_answer;         /* unclosed think block or empty answer */
    long duplicates;        /* exact duplicates passed over */
    long kept;              /* records written */
    long empty_groups;      /* groups with nothing kept */
};

/*
 * Reads t's input group by group and writes the SFT records of the kept
 * samples to t's output.  A group with a bad record (reward not a finite
 * number, completion not a string, rewards.format missing under
 * require_format) goes to t's error policy whole.  Fills c (zeroed
 * first).  t must have been started.
 */
void rejsample_run(struct tool *t, const struct rejsample_opts *o,
                   struct rejsample_counts *c);

#endif
