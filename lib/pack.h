/*
 * pack.h - packing training samples into sequences of at most L tokens,
 * and reading packed records back (see posttrain-records(5)).
 *
 * What it is: the conversion of input records to segments (a sample
 * record's prompt_ids + completion_ids, an SFT record rendered with the
 * chat format, a preference record's chosen and rejected answers), the
 * bin packing, the packed record, and its checker.  What it is not: the
 * loss (train.h) or the tokenizer (tok.h, chat.h).  A text record (a
 * pretraining document) is one segment with the loss on every token but
 * its first.
 *
 * A unit is what is placed whole in one bin: a sample, or a preference
 * pair (its chosen and then its rejected segment).  Two strategies:
 *
 *   best-fit-decreasing over a window of W units (W = 0: the whole
 *   stream): units sorted by length, longest first (input order among
 *   equals), each put in the open bin with the least room that holds it,
 *   else in a new bin.  At most 11/9 OPT + 4 bins (Johnson 1973).
 *
 *   first-fit, streaming: each unit goes to the oldest open bin that holds
 *   it; a full bin is emitted at once, and when more than max_open bins
 *   are open the oldest is emitted.  Memory: max_open bins.
 *
 * Both are deterministic: the same input gives the same output bytes.
 * Bins are emitted in the order they were opened and the segments of a
 * bin in input order.
 *
 * Packed record invariants (pack_row_parse() checks each one):
 *   - sum(segments) = len(ids) = len(loss_mask) = len(old_logprobs) =
 *     len(ref_logprobs); each segment >= 1; len(ids) <= L;
 *   - loss_mask[t] = 1 means ids[t] is a training target (predicted from
 *     the tokens before it in its segment), so the first token of each
 *     segment has loss_mask 0;
 *   - old_logprobs[t], ref_logprobs[t] are log-probabilities of ids[t]
 *     (<= 0) where loss_mask[t] = 1, and 0 elsewhere;
 *   - advantage, src, pair and margin have one entry per segment;
 *   - pair (reward models): 1 for a chosen segment, 0 for the rejected
 *     segment right after it; margin is the same on both;
 *   - sampling, when the samples carry one (sample.h), is theirs: the
 *     samples of one stream must agree on it, and update reads the
 *     temperature of its GRPO ratio there.
 *
 *     struct packer *p = packer_new(&cfg, chat);   (chat may be NULL)
 *     while ((rec = next()) != NULL) {
 *         if (packer_add(p, rec, &field, &why) < 0) reject(rec, field, why);
 *         while ((out = packer_next(p)) != NULL) { write(out); json_decref(out); }
 *     }
 *     packer_finish(p);  ... drain packer_next() ...;  packer_free(p);
 */
#ifndef POSTTRAIN_PACK_H
#define POSTTRAIN_PACK_H

#include <jansson.h>
#include <stddef.h>

#include "chat.h"
#include "model.h"
#include "util.h"

struct pack_config {
    size_t L;          /* capacity of a packed sequence, tokens */
    int truncate;      /* cut a unit longer than L instead of rejecting it */
    int first_fit;     /* streaming first-fit, else best-fit-decreasing */
    size_t window;     /* BFD: units per window, 0 = the whole stream */
    size_t max_open;   /* first-fit: open bins kept (>= 1) */
    int last_turn_only;/* conversations: loss on the last assistant turn
                          only, not on every one */
};

/* L 1024, best-fit-decreasing over the whole stream, 16 open bins. */
void pack_config_default(struct pack_config *c);

/* Fields a stream carries; the first unit fixes them for the stream. */
enum pack_fields {
    PACK_ADV = 1 << 0,    /* advantage per segment */
    PACK_OLD = 1 << 1,    /* old_logprobs per token */
    PACK_REF = 1 << 2,    /* ref_logprobs per token */
    PACK_PAIR = 1 << 3,   /* pair per segment (reward-model pairs) */
    PACK_MARGIN = 1 << 4, /* margin per segment */
    PACK_ROUTES = 1 << 5, /* routes per segment (gen --routes) */
};

struct pack_stats {
    size_t records;    /* units packed */
    size_t segments;
    size_t tokens;     /* real tokens written */
    size_t bins;       /* packed records written */
    size_t truncated;  /* units cut to fit L */
};

struct packer;

/*
 * New packer.  chat (borrowed, may be NULL) renders SFT and preference
 * records given as text; without it only records holding ids are taken.
 */
struct packer *packer_new(const struct pack_config *cfg, struct chat *chat);
void packer_free(struct packer *p);

/*
 * Converts rec (not taken) into a unit and places it.  Returns 0, or -1
 * with *field (static or borrowed from rec, may be NULL) and a reason in
 * why; the packer is then unchanged.
 */
int packer_add(struct packer *p, const json_t *rec, const char **field, struct sbuf *why);
/* Places every unit still held (end of input). */
void packer_finish(struct packer *p);
/* The next packed record ready (new reference), or NULL. */
json_t *packer_next(struct packer *p);
/* Counters so far (borrowed). */
const struct pack_stats *packer_stats(const struct packer *p);

/*
 * Best-fit-decreasing of n lengths (each <= L) into bins of capacity L:
 * bin_of[i] receives the bin of item i, bins numbered in the order they
 * were opened.  Returns the number of bins.
 */
size_t pack_bfd(const size_t *len, size_t n, size_t L, size_t *bin_of);

/* ---- Reading packed records ---- */

/*
 * A packed record as typed arrays, token-aligned: mask[t], old[t], ref[t]
 * describe ids[t].  Arrays absent from the record are NULL.  Owned by the
 * row: pack_row_release() frees them.
 */
struct pack_row {
    size_t n;          /* tokens */
    int *ids;
    unsigned char *mask;
    float *old, *ref;  /* (n) or NULL */
    size_t nseg;
    int *seg;          /* (nseg) lengths */
    float *adv;        /* (nseg) or NULL */
    signed char *pair; /* (nseg) 1 chosen, 0 rejected, or NULL */
    float *margin;     /* (nseg) or NULL */
    int *routes;       /* (n, model_route_width()) or NULL: pack_row_routes() */
    size_t nroutes;    /* n model_route_width() */
};

/*
 * Parses and checks a packed record against every invariant above (L = 0:
 * no length limit).  Returns 0, or -1 with *field and a reason in why
 * (row then holds nothing to free).
 */
int pack_row_parse(const json_t *rec, size_t L, struct pack_row *row, const char **field,
                   struct sbuf *why);
void pack_row_release(struct pack_row *row);

/*
 * The routes of rec (a packed record that row was parsed from) for a
 * model of config c into row->routes: model.h's model_batch.routes of
 * the row's tokens, -1 (route afresh) but where a segment's routes say.
 * rec's "routes" holds, per segment, null or the routes (sample.h) of
 * the segment's last m < length tokens, token j's experts those of the
 * row before it.  Returns 0, or -1 with a reason in why (field
 * "routes").
 */
int pack_row_routes(struct pack_row *row, const json_t *rec, const struct model_config *c,
                    struct sbuf *why);

#endif
