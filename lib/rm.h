/*
 * rm.h - model-based rewards (score-rm(1)): which records a reward model
 * scores, the text a scalar reward model reads and its batched scores,
 * the normalization of scores, the judge's prompt templates, the parsing
 * of a judge's verdict, and the two stream drivers of score-rm.
 *
 * What it is not: the training of a reward model (update --rm, train.h)
 * or decoding (gen.h).
 *
 * Invariants: a verdict that is missing or does not parse gives reward 0
 * and found = 0, never a value read from elsewhere in the text; a scalar
 * score is the same bits however the samples were batched
 * (MODEL_FWD_EXACT).
 *
 *     struct rm_verdict v;
 *     rm_verdict_parse(text, len, RM_VERDICT_SCORE, 10, &v);
 *     if (v.found) reward = v.reward;         (Score: 7/10 -> 0.7)
 *
 *     struct rm_template tp;
 *     if (rm_template_parse(&tp, text, len, &err)) die(...);
 *     const char *val[RM_NSLOTS] = {question, reference, response, a, b};
 *     rm_template_render(&tp, val, &out);
 *     rm_template_release(&tp);
 */
#ifndef POSTTRAIN_RM_H
#define POSTTRAIN_RM_H

#include <jansson.h>
#include <stddef.h>

#include "chat.h"
#include "gen.h"
#include "model.h"
#include "oaic.h"
#include "tok.h"
#include "util.h"

/* ---- Which records ---- */

/* Domains with a rule-based scorer, left out by default. */
#define RM_RULE_DOMAINS "math, code"

struct rm_domains {
    const char *const *names; /* borrowed; n == 0: the default set */
    int n;
    int all;                  /* score every record, with or without domain */
};

/*
 * Is rec scored?  1 yes, 0 no (passed through), -1 when its domain is
 * not a string (*why static).  Default: records whose domain is a string
 * other than math and code; a record without domain is left to
 * score-math, which scores those.  The rule is sample.h's; this only
 * says which selection score-rm's options make.
 */
int rm_domain_match(const struct rm_domains *d, const json_t *rec, const char **why);
/* The sample.h selection of d, for lib/score (its names borrowed from d). */
struct sample_domains;
void rm_domains_rule(const struct rm_domains *d, struct sample_domains *s);

/* ---- The scalar reward model ---- */

/* What --with-reference puts between the prompt and the reference. */
#define RM_REFERENCE_HEADER "\n\nReference answer:\n"

/*
 * Appends the user turn the reward model reads to out: prompt, or with a
 * reference (not NULL), prompt RM_REFERENCE_HEADER reference.
 */
void rm_user_turn(const char *prompt, const char *reference, struct sbuf *out);

/*
 * Appends the ids of one scored sample to out: chat_prompt(system, user)
 * then chat_response(completion), ending in the end-of-turn token, as
 * pack(1) renders the chosen side of a preference record for update --rm.
 */
void rm_sample_ids(struct chat *c, const char *system, const char *user,
                   const char *completion, struct tok_ids *out);

/* Samples waiting for one forward pass, laid end to end. */
struct rm_batch {
    int *ids;
    size_t ntok, cap_tok;
    int *seg;              /* (nseg) lengths */
    float *scores;         /* (nseg) after rm_batch_score() */
    size_t nseg, cap_seg;
};
#define RM_BATCH_INIT { NULL, 0, 0, NULL, NULL, 0, 0 }

/* Adds a sample of n >= 1 ids (copied). */
void rm_batch_add(struct rm_batch *b, const int *ids, size_t n);
/*
 * Scores every sample with m (MODEL_SEQ_CLS): scores[i] is the scalar
 * head at the last token of sample i, bit for bit the same whatever else
 * is in the batch (MODEL_FWD_EXACT).
 */
void rm_batch_score(struct model *m, struct rm_batch *b);
/* Forgets the samples, keeps the buffers. */
void rm_batch_clear(struct rm_batch *b);
void rm_batch_release(struct rm_batch *b);

/* ---- Normalization ---- */

/* Running mean and sum of squared deviations (Welford 1962). */
struct rm_moments {
    long n;
    double mean, m2;
};
void rm_moments_add(struct rm_moments *mo, double x);

/*
 * The statistics a score is normalized with: r = (s - mean) / std.
 * model is the content hash of the reward model they were fitted with
 * ("" when given by hand), with_reference how the text was rendered.
 */
struct rm_norm {
    double mean, std;
    long count;
    char model[17];
    int with_reference;
};

/*
 * From moments: std is the sample standard deviation (n - 1, as
 * torch.std).  Returns 0, or -1 with *why (static) when n < 2 or the
 * scores are all equal.
 */
int rm_norm_from_moments(const struct rm_moments *mo, struct rm_norm *nm, const char **why);
/* The stats file's object (new): {"mean", "std", "count", "model", "with_reference"}. */
json_t *rm_norm_to_json(const struct rm_norm *nm);
/* Reads the object back; returns 0, or -1 with "field 'x': ..." in err. */
int rm_norm_from_json(const json_t *js, struct rm_norm *nm, struct sbuf *err);

/* ---- Judge templates ---- */

enum rm_slot {
    RM_QUESTION = 0,  /* {question}: the record's prompt */
    RM_REFERENCE,     /* {reference}: the reference answer */
    RM_RESPONSE,      /* {response}: the completion judged */
    RM_RESPONSE_A,    /* {response_a}: the first of a pair */
    RM_RESPONSE_B,    /* {response_b}: the second of a pair */
    RM_NSLOTS,
};

/*
 * A parsed template: literal text and {name} placeholders; {{ and }} are
 * literal braces; any other brace is literal text too, unless it opens
 * {word} with a word of lowercase letters and underscores that is not a
 * slot name, which is an error (a misspelt placeholder).
 */
struct rm_template {
    char *text;            /* the literal pieces, NUL-separated (owned) */
    size_t *lit;           /* (npart) offset of piece i in text */
    int *slot;             /* (npart) slot after piece i, or -1 */
    size_t npart;
    unsigned used;         /* bit (1 << slot) for each slot present */
};

/* The name of a slot ("question", ...; static). */
const char *rm_slot_name(enum rm_slot s);
/*
 * Parses text (len bytes).  Returns 0, or -1 with "line N: ..." appended
 * to err.  A template must use {response} or {response_a}.
 */
int rm_template_parse(struct rm_template *tp, const char *text, size_t len, struct sbuf *err);
/* Appends the template with each slot replaced by val[slot] to out. */
void rm_template_render(const struct rm_template *tp, const char *const val[RM_NSLOTS],
                        struct sbuf *out);
/* 1 if the template compares two responses ({response_b}). */
int rm_template_pairwise(const struct rm_template *tp);
void rm_template_release(struct rm_template *tp);

/* ---- Verdicts ---- */

enum rm_verdict_kind {
    RM_VERDICT_SCORE = 0, /* "Score: 7/10" and its variants */
    RM_VERDICT_PAIR,      /* "[[A]]", "[[B]]", "[[C]]" (tie) */
};

struct rm_verdict {
    int found;            /* 1: a well-formed verdict */
    double reward;        /* in [0, 1]; 0 unless found */
    double value, scale;  /* score: value out of scale */
    char choice;          /* pair: 'A', 'B' or 'C'; 0 otherwise */
    size_t line, line_len;/* the verdict line (white space trimmed), when one was tried */
    int has_line;
    size_t rationale_len; /* text[0, rationale_len): what came before it, trimmed */
};

/*
 * Finds and parses the verdict at the end of a judge's text.
 *
 * Score: the verdict line is the last line that, once '*' and '_' are
 * removed and leading '#', '>', '-' and white space are skipped, starts
 * with "score", "rating", "final score", "overall score", "final rating"
 * or "overall rating" (any case) then ':' or '=', or starts with "[[".
 * After the keyword and its ':' the line must be exactly VALUE, or
 * VALUE "/" SCALE, or VALUE "out of" SCALE, either bare or inside
 * [[ ]], then an optional '.': VALUE and SCALE unsigned decimals, 0 <=
 * VALUE <= SCALE, SCALE > 0; scale defaults to default_scale.  The
 * reward is VALUE / SCALE.
 *
 * Pair: the verdict line is the last line containing "[["; it must hold
 * exactly one "[[" and it must be [[A]] (reward 1), [[B]] (0) or [[C]]
 * (a tie, 0.5).
 *
 * A verdict line that breaks these rules is malformed: found = 0, never
 * an earlier line.  rationale_len covers the text before the verdict
 * line, or all of it when there is none.
 */
void rm_verdict_parse(const char *text, size_t len, enum rm_verdict_kind kind,
                      double default_scale, struct rm_verdict *v);

/* ---- score-rm's stream drivers ---- */

struct tool;

struct rm_counts {
    long scored, passed, no_verdict;
};

struct rm_scalar_opts {
    struct rm_domains domains;
    int with_reference;
    const char *reference_field; /* "response" */
    const char *name;            /* rewards.<name>, "rm" */
    double weight;
    const struct rm_norm *norm;  /* NULL: raw scores */
    size_t batch, batch_tokens;  /* samples, tokens per forward */
    int fit;                     /* write no records: fit into *fitted */
};

/*
 * Reads t's records; scores the chosen ones with m (MODEL_SEQ_CLS) in
 * batches, records in input order: "rm": {"score": raw} and
 * rewards.<name> = weight * (normalized) score.  With o->fit nothing is
 * written and the scores' moments go to *fitted.  Bad records go to t's
 * error policy.  t must have been started.
 */
void rm_scalar_run(struct tool *t, struct model *m, struct chat *c,
                   const struct rm_scalar_opts *o, struct rm_counts *cnt,
                   struct rm_moments *fitted);

struct rm_judge_opts {
    struct rm_domains domains;
    const struct rm_template *tpl;
    enum rm_verdict_kind kind;
    double scale;                /* default scale of score verdicts */
    const char *reference_field; /* "response" */
    const char *second;          /* field of response B (pairwise) */
    int swap;                    /* the completion is response B */
    const char *name;
    double weight;
    struct gen_config gen;
};

/*
 * Reads t's records; for each chosen one renders the template, has m
 * write a rationale and a verdict (lib/gen, continuous batching), and
 * writes the record in input order with "rm_judge": {"rationale",
 * "verdict", "reason", "finish"} and rewards.<name> = weight * reward.
 */
void rm_judge_run(struct tool *t, const struct model *m, struct tok *tk, struct chat *c,
                  const struct rm_judge_opts *o, struct rm_counts *cnt);

/*
 * As rm_judge_run with the judge on an OpenAI-compatible server (model
 * names it there): the rendered template is one chat request per record
 * (temperature, max_tokens, seed and stops from o->gen; the record's
 * stream name, id#k, as user), many in flight, retried as oaic.h says;
 * a record whose request fails for good goes to t's error policy with
 * the reason.  Records in input order.
 */
void rm_judge_server_run(struct tool *t, const struct rm_judge_opts *o,
                         const struct oaic_config *cc, const char *model,
                         struct rm_counts *cnt);

/*
 * As rm_judge_run without a model: writes each chosen record with
 * "judge_prompt", the rendered template, the exact user turn the judge
 * would read (SFT data for a judge, inspection).
 */
void rm_judge_render(struct tool *t, const struct rm_judge_opts *o, struct rm_counts *cnt);

#endif
