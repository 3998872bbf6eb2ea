/*
 * sample.h - the rules that sample records share between the tools that
 * read them (posttrain-records(5)): which scorer takes a record (the
 * domain rule), and the sampling settings a sample was drawn with (the
 * "sampling" object that gen writes and logp, pack and update read),
 * and the readers of its fields: rewards at dotted paths, token ids.
 *
 * What it is not: the JSONL streams (rec.h) or the tool loop (tool.h).
 * Everything here is a pure function of its arguments.
 *
 * The domain rule, the same in every scorer:
 *   - a "domain" that is not a string is a bad record (reject it);
 *   - a record with a string domain is scored when the selection names
 *     it, or, for a selection without names, when it is not one of the
 *     selection's exceptions;
 *   - a record without "domain" is scored only by a selection that takes
 *     untagged records: one that takes every record (score-format
 *     without --domain, score-rm --all-domains), or score-math's default
 *     (math data sets are often converted without a domain).  A
 *     selection by --domain never takes an untagged record.
 *
 *     static const char *const math[] = {"math"};
 *     struct sample_domains d = {math, 1, NULL, 0, 1};
 *     switch (sample_domain_match(&d, rec, &why)) {
 *     case -1: reject(rec, "domain", why); break;
 *     case 0:  pass(rec); break;
 *     default: score(rec);
 *     }
 *
 * The sampling object: {"temperature":T,"top_p":P,"top_k":K,"min_p":M},
 * all four present, with gen's ranges (T >= 0, 0 < P <= 1, K >= 0,
 * 0 <= M <= 1).  The recorded logprobs are log softmax(logits / T) over
 * the whole vocabulary (T = 1 when T = 0, greedy), so the temperature a
 * reader recomputes them at is sample_logp_temperature().
 */
#ifndef POSTTRAIN_SAMPLE_H
#define POSTTRAIN_SAMPLE_H

#include <jansson.h>

#include "chat.h"
#include "model.h"
#include "sampler.h"
#include "util.h"

/* ---- the domain rule ---- */

struct sample_domains {
    const char *const *names;  /* scored domains (borrowed); n == 0: all but except */
    int n;
    const char *const *except; /* with n == 0: domains left out (borrowed) */
    int nexcept;
    int untagged;              /* records without "domain" are scored */
};

/*
 * Is rec scored under d?  1 yes, 0 no (passed through unchanged), -1 when
 * its "domain" is not a string (*why gets a static message).
 */
int sample_domain_match(const struct sample_domains *d, const json_t *rec,
                        const char **why);

/* ---- fields and rewards ---- */

/*
 * The value at key in rec: key is a field name or a dotted path into
 * nested objects ("rewards.format"); a field whose name is exactly key
 * wins over the path.  Returns a borrowed reference or NULL.  advantage,
 * rejsample and stats read rewards (and stats its --answer-key) here.
 */
json_t *sample_field(const json_t *rec, const char *key);

/*
 * The reward at key (see sample_field) as a finite number: returns 0 and
 * stores it, or -1 with *why (static) = "missing", "not a number" (null
 * included) or "not a finite number".
 */
int sample_reward(const json_t *rec, const char *key, double *out, const char **why);

/* ---- token fields ---- */

/*
 * rec's token-id array key (prompt_ids, completion_ids, chosen_ids, ...):
 * 0 with the array in *out (borrowed from rec), or -1 with the reason
 * appended to why: "missing", "not an array", "empty" (when nonempty),
 * or "element I is not a token id" followed by "(an integer >= 0)" or,
 * with vocab > 0, "in [0, vocab)".  pack and logp read samples here.
 */
int sample_get_ids(const json_t *rec, const char *key, int vocab, int nonempty,
                   const json_t **out, struct sbuf *why);

/*
 * rec's log-probability array key (logprobs, old_logprobs, ref_logprobs):
 * n (SIZE_MAX: any number) finite numbers <= 0, one per token of `of`.
 * 0 with the array in *out (borrowed from rec), or -1 with the reason
 * appended to why: "missing", "not an array", "N values for n OF",
 * "element I is not a number" or "element I is not a log-probability
 * (finite, <= 0)".  pack and advantage's KL term read them here.
 */
int sample_get_logprobs(const json_t *rec, const char *key, size_t n, const char *of,
                        const json_t **out, struct sbuf *why);

/* ---- routes ---- */

/*
 * Routes (model.h): per completion token, per sparse layer, the top_k
 * experts of the forward whose logits gave the token, as gen --routes
 * writes them: [[[e, ...], ...], ...].  sample_routes_get() reads the
 * routes array a of n tokens (n == SIZE_MAX: any count; of names what n
 * counts) for a model of config c into out ((n, model_route_width(c))
 * ints, or NULL to check only): 0, or -1 with the reason appended to why
 * (the token count, a token's layer count, a layer's expert count, an
 * expert out of range or chosen twice).  sample_routes_new() is the
 * JSON of n tokens' routes rt (n, model_route_width(c)); result is new.
 */
int sample_routes_get(const json_t *a, const struct model_config *c, size_t n, const char *of,
                      int *out, struct sbuf *why);
json_t *sample_routes_new(const int *rt, size_t n, const struct model_config *c);
/*
 * A sample's routes a (nc tokens) laid on the rows of its np + nc tokens
 * (np >= 1): rows (np + nc, model_route_width(c)) all -1 (route afresh)
 * but row np - 1 + j, which predicts completion token j, holding token j's
 * experts (model.h's model_batch.routes).  0, or -1 as sample_routes_get().
 */
int sample_routes_place(const json_t *a, const struct model_config *c, size_t np, size_t nc,
                        int *rows, struct sbuf *why);

/* ---- the sampling settings ---- */

struct sample_sampling {
    double temperature;  /* >= 0; 0 is greedy */
    double top_p;        /* (0, 1] */
    long long top_k;     /* >= 0; 0 is off */
    double min_p;        /* [0, 1] */
};

/*
 * Reads rec's "sampling".  Returns 1 and fills *s when it is there and
 * good, 0 when rec has none, -1 when it is bad: *field then names the
 * field ("sampling" or "sampling.top_p", static) and *why says what is
 * wrong (static).
 */
int sample_sampling_get(const json_t *rec, struct sample_sampling *s,
                        const char **field, const char **why);

/*
 * The settings of the sampler configuration c, each float written as
 * the shortest decimal that reads back as the same float (0.7f is 0.7).
 */
void sample_sampling_of(struct sample_sampling *s, const struct sampler_config *c);

/* Sets rec's "sampling" to s (a new object; rec keeps it). */
void sample_sampling_set(json_t *rec, const struct sample_sampling *s);

/* 1 when a and b are the same settings. */
int sample_sampling_eq(const struct sample_sampling *a, const struct sample_sampling *b);

/* The temperature the logprobs of a sample drawn with s are taken at. */
double sample_logp_temperature(const struct sample_sampling *s);

/*
 * The run-wide temperature of a stream of samples, for logp and update:
 * the first record with a "sampling" object fixes it, and every later
 * one must have the same settings.  A temperature given as an option
 * overrides the records and turns the check off.
 */
struct sample_temp {
    int fixed;                  /* given as an option */
    int seen;                   /* a record has fixed it */
    double temperature;         /* the temperature to use */
    struct sample_sampling first;
};

/* Starts with the option's temperature (fixed = 1), or 1 until a record says. */
void sample_temp_init(struct sample_temp *st, int fixed, double temperature);
/*
 * Takes rec's sampling settings.  0 when rec agrees (or has none, or the
 * option overrides); -1 when its "sampling" is bad or differs from the
 * first record's: *field names the field (static), the reason is
 * appended to why.
 */
int sample_temp_take(struct sample_temp *st, const json_t *rec, const char **field,
                     struct sbuf *why);
void sample_temp_release(struct sample_temp *st);

/* ---- the conversation of a record (sample_conv.c) ---- */

/*
 * A record's conversation as chat turns: its "messages" array
 * ([{role, content}, ...]; roles system, user, assistant, tool; an
 * assistant turn may carry "reasoning_content"), or its
 * "system"/"prompt"/"response" fields read as [system,] user
 * [, assistant].  A record with both forms is a bad record, as is one
 * with neither.  The strings are borrowed from the record.
 *
 *     struct sample_conv cv = SAMPLE_CONV_INIT;
 *     if (sample_conv_get(&cv, rec, &field, &why) < 0)
 *         reject(rec, sbuf_str(&cv.field), why);
 *     chat_conv(chat, cv.m, cv.n, 1, &ids, NULL);
 *     sample_conv_release(&cv);
 */
struct sample_conv {
    struct chat_msg *m;     /* the turns (owned array, borrowed strings) */
    size_t n, cap;
    int messages;           /* 1: from "messages", 0: prompt/response */
    int response;           /* the last turn is the record's assistant
                               turn ("response", or a final assistant
                               message) */
    struct sbuf field;      /* the bad field after a failure (owned) */
};

#define SAMPLE_CONV_INIT {NULL, 0, 0, 0, 0, SBUF_INIT}

/*
 * Reads rec's conversation into cv (reused across records).  Returns 0,
 * or -1 with cv->field naming the bad field ("messages[2].role") and
 * *why what is wrong (static).
 */
int sample_conv_get(struct sample_conv *cv, const json_t *rec, const char **why);
void sample_conv_release(struct sample_conv *cv);

/*
 * The prompt of a record for sampling, as gen takes it: for a record
 * with "messages", its conversation with a final assistant turn (the
 * reference) left out, system (when not NULL) replacing or adding the
 * system turn; returns the number of turns in *n (at least 1) and
 * sets *text NULL.  Otherwise its "prompt" (non-empty) into *text and
 * "system" (or system when not NULL; NULL when neither) into *sys.
 * Returns 0, or -1 with cv->field and *why (static) as sample_conv_get.
 * rec is modified only when system replaces or adds a system turn.
 */
int sample_prompt_get(struct sample_conv *cv, json_t *rec, const char *system,
                      const char **text, const char **sys, size_t *n, const char **why);

#endif
