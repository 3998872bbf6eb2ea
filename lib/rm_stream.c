/*
 * rm_stream.c - score-rm(1)'s drivers, each a staged scorer of
 * lib/score: the scalar reward model (its batches one forward each), and
 * the judge, whose prompts lib/gen's continuous batching or the server
 * client (oaic.h) pulls from lib/score's window and whose verdicts they
 * hand back to it.  lib/score writes the records in input order, those
 * of other domains too.  The pieces they use are in rm.c; see rm.h.
 */
#include "rm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "oai.h"
#include "sample.h"
#include "score.h"
#include "tool.h"

/* A string field: 0, or -1 with *why (static). */
static int
str_of(const json_t *rec, const char *key, int optional, const char **out, const char **why)
{
    const json_t *v = json_object_get(rec, key);

    *out = NULL;
    if (!v && optional)
        return 0;
    if (!json_is_string(v)) {
        *why = v ? "not a string" : "missing";
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/*
 * The conversation of a messages sample: its turns before the completion
 * (a final assistant turn of messages is the data set's reference answer
 * and is left out).  *last_user is the index of the last user turn, or
 * -1.  Returns the number of turns, or -1 with *field (borrowed from cv
 * or static) and *why.
 */
static long
conv_of(json_t *rec, struct sample_conv *cv, long *last_user, const char **field,
        const char **why)
{
    size_t n, i;

    if (sample_conv_get(cv, rec, why) < 0) {
        *field = sbuf_str(&cv->field);
        return -1;
    }
    n = cv->n - (size_t)cv->response;
    *last_user = -1;
    for (i = 0; i < n; i++)
        if (cv->m[i].role == CHAT_ROLE_USER)
            *last_user = (long)i;
    if (*last_user < 0) {
        *field = "messages";
        *why = "no user turn";
        return -1;
    }
    return (long)n;
}

/* ============================== Scalar ============================== */

/*
 * The scalar model as lib/score's staged scorer: prepare renders a
 * sample's ids, run_batch scores a batch of them in one forward, finish
 * writes "rm" and the reward (or, fitting, adds to the moments).
 */
struct scalar {
    struct model *m;
    struct chat *c;
    const struct rm_scalar_opts *o;
    struct rm_moments *fitted;
    struct rm_batch b;
    struct sbuf user;
    struct tok_ids ids;
    struct sample_conv cv;
};

struct scalar_job {
    float score;
    size_t n;
    int ids[];          /* (n) */
};

static int
scalar_prepare(void *ctx, json_t *rec, const char *comp, void **job, double *reward,
               const char **field, struct sbuf *why)
{
    struct scalar *sc = ctx;
    const struct rm_scalar_opts *o = sc->o;
    const char *w, *sys, *prompt, *ref = NULL;
    struct scalar_job *j;

    (void)reward;
    if (json_object_get(rec, "messages")) {
        long n, lu;
        if (o->with_reference && str_of(rec, *field = o->reference_field, 0, &ref, &w) < 0)
            goto bad;
        if ((n = conv_of(rec, &sc->cv, &lu, field, &w)) < 0)
            goto bad;
        /* the reference goes after the last question, as below */
        sbuf_reset(&sc->user);
        rm_user_turn(sc->cv.m[lu].content, ref, &sc->user);
        sc->cv.m[lu].content = sbuf_str(&sc->user);
        sc->ids.n = 0;
        chat_conv(sc->c, sc->cv.m, (size_t)n, 1, &sc->ids, NULL);
        chat_response(sc->c, comp, &sc->ids);
    } else {
        if (str_of(rec, *field = "prompt", 0, &prompt, &w) < 0
            || str_of(rec, *field = "system", 1, &sys, &w) < 0
            || (o->with_reference
                && str_of(rec, *field = o->reference_field, 0, &ref, &w) < 0))
            goto bad;
        sbuf_reset(&sc->user);
        rm_user_turn(prompt, ref, &sc->user);
        sc->ids.n = 0;
        rm_sample_ids(sc->c, sys, sbuf_str(&sc->user), comp, &sc->ids);
    }
    if (sc->ids.n > (size_t)sc->m->cfg.max_pos) {
        *field = "completion";
        sbuf_addf(why, "the sample is %zu tokens in the chat format, the model's context"
                  " is %d", sc->ids.n, sc->m->cfg.max_pos);
        return -1;
    }
    j = xmalloc(sizeof(*j) + xmul(sc->ids.n, sizeof(int)));
    j->n = sc->ids.n;
    memcpy(j->ids, sc->ids.v, j->n * sizeof(int));
    *job = j;
    return 2;
bad:
    sbuf_adds(why, w);
    return -1;
}

static size_t
scalar_cost(void *job)
{
    return ((struct scalar_job *)job)->n;
}

static void
scalar_batch(void *ctx, void **jobs, size_t n)
{
    struct scalar *sc = ctx;
    size_t i;

    rm_batch_clear(&sc->b);
    for (i = 0; i < n; i++)
        rm_batch_add(&sc->b, ((struct scalar_job *)jobs[i])->ids,
                     ((struct scalar_job *)jobs[i])->n);
    rm_batch_score(sc->m, &sc->b);
    for (i = 0; i < n; i++)
        ((struct scalar_job *)jobs[i])->score = sc->b.scores[i];
}

static int
scalar_finish(void *ctx, json_t *rec, void *job, double *reward, const char **field,
              struct sbuf *why)
{
    struct scalar *sc = ctx;
    const struct rm_scalar_opts *o = sc->o;
    json_t *sj = json_float(((struct scalar_job *)job)->score), *info;
    double r = json_real_value(sj);

    (void)field;
    (void)why;
    free(job);
    if (o->fit) {
        rm_moments_add(sc->fitted, r);
        json_decref(sj);
        return 1;
    }
    if (o->norm)
        r = (r - o->norm->mean) / o->norm->std;
    info = json_object();
    json_object_set_new(info, "score", sj);
    json_object_set_new(rec, "rm", info);
    *reward = o->weight * r;
    return 1;
}

void
rm_scalar_run(struct tool *t, struct model *m, struct chat *c, const struct rm_scalar_opts *o,
              struct rm_counts *cnt, struct rm_moments *fitted)
{
    struct scalar sc = {m, c, o, fitted, RM_BATCH_INIT, SBUF_INIT, TOK_IDS_INIT,
                        SAMPLE_CONV_INIT};
    struct scorer s = {o->name, {NULL, 0, NULL, 0, 0}, "scored", NULL, &sc};
    struct score_stages st = {
        .prepare = scalar_prepare, .run_batch = scalar_batch, .finish = scalar_finish,
        .batch = o->batch, .batch_cost = o->batch_tokens, .cost = scalar_cost,
        .no_write = o->fit,
    };
    struct score_counts sco;

    rm_domains_rule(&o->domains, &s.domains);
    score_run_jobs(t, &s, &st, &sco);
    memset(cnt, 0, sizeof(*cnt));
    cnt->scored = sco.scored;
    cnt->passed = sco.passed;
    rm_batch_release(&sc.b);
    sbuf_release(&sc.user);
    tok_ids_release(&sc.ids);
    sample_conv_release(&sc.cv);
}

/* ============================== Judge ============================== */

/*
 * The judge as lib/score's staged scorer: prepare renders the judge
 * prompt, drive runs lib/gen or the server client, which take the
 * prompts from the window and put each judge's text in its job, and
 * finish parses the verdict.
 */
struct judge {
    struct tool *t;
    const struct rm_judge_opts *o;
    struct chat *chat;
    const struct model *m;       /* NULL: on a server */
    const char *prefix;          /* text the assistant turn opened with */
    struct gen *g;
    struct oaic *c;              /* on a server */
    struct oai_params p;
    const char *url;
    struct score_window *w;
    struct tok_ids ids;          /* the last prepared prompt's (lib/gen copies them) */
    struct sbuf prompt, id;
    struct sample_conv conv;     /* a messages sample's conversation */
};

struct judge_job {
    size_t ticket;
    char *sid;                   /* the stream name gen borrows until emit */
    size_t sidlen;
    int failed;                  /* the request failed for good: text is why */
    struct sbuf text;            /* the judge's text, its opening included */
    char *finish;
};

/* The stream name of a record: its id and k, else its line. */
static void
stream_id(struct judge *j, const json_t *rec)
{
    const json_t *id = json_object_get(rec, "id"), *k = json_object_get(rec, "k");

    sbuf_reset(&j->id);
    if (json_is_string(id))
        sbuf_add(&j->id, json_string_value(id), json_string_length(id));
    else
        sbuf_addf(&j->id, "%s:%ld", tool_file(j->t), tool_line(j->t));
    if (json_is_integer(k))
        sbuf_addf(&j->id, "#%lld", (long long)json_integer_value(k));
}

/*
 * Renders the judge prompt of rec into out: 0, or -1 with *field
 * (borrowed from cv or static) and *why.
 */
static int
judge_prompt(const struct rm_judge_opts *o, json_t *rec, struct sample_conv *cv,
             struct sbuf *out, const char **field, const char **why)
{
    const char *val[RM_NSLOTS] = {0}, *second = NULL;
    long lu;

    /* a conversation's question is its last user turn */
    if (json_object_get(rec, "messages")) {
        if (conv_of(rec, cv, &lu, field, why) < 0)
            return -1;
        val[RM_QUESTION] = cv->m[lu].content;
    } else if (str_of(rec, *field = "prompt", 0, &val[RM_QUESTION], why))
        return -1;
    if (str_of(rec, *field = "completion", 0, &val[RM_RESPONSE], why)
        || ((o->tpl->used & (1u << RM_REFERENCE))
            && str_of(rec, *field = o->reference_field, 0, &val[RM_REFERENCE], why))
        || (o->second && str_of(rec, *field = o->second, 0, &second, why)))
        return -1;
    val[RM_RESPONSE_A] = o->swap ? second : val[RM_RESPONSE];
    val[RM_RESPONSE_B] = o->swap ? val[RM_RESPONSE] : second;
    sbuf_reset(out);
    rm_template_render(o->tpl, val, out);
    return 0;
}

static int
judge_prepare(void *ctx, json_t *rec, const char *comp, void **job, double *reward,
              const char **field, struct sbuf *why)
{
    struct judge *j = ctx;
    struct judge_job *jb;
    const char *w;

    (void)comp;
    (void)reward;
    if (judge_prompt(j->o, rec, &j->conv, &j->prompt, field, &w) < 0) {
        sbuf_adds(why, w);
        return -1;
    }
    if (j->m) {
        j->ids.n = 0;
        chat_prompt(j->chat, NULL, sbuf_str(&j->prompt), &j->ids);
        if (j->ids.n >= (size_t)j->m->cfg.max_pos) {
            *field = "completion";
            sbuf_addf(why, "the judge prompt is %zu tokens, the judge's context is %d",
                      j->ids.n, j->m->cfg.max_pos);
            return -1;
        }
    }
    stream_id(j, rec);
    jb = xcalloc(1, sizeof(*jb));
    jb->sid = xstrndup(j->id.buf, j->id.len);
    jb->sidlen = j->id.len;
    *job = jb;
    return 2;
}

/*
 * Sets rec's verdict fields from the judge's text and *reward; returns
 * 1 when the text has a verdict, else 0 (reward 0).
 */
static int
judge_verdict(const struct rm_judge_opts *o, json_t *rec, const char *text, size_t len,
              const char *finish, double *reward)
{
    struct rm_verdict v;
    json_t *info, *rat;
    double r;

    rm_verdict_parse(text, len, o->kind, o->scale, &v);
    r = v.reward;
    if (v.found && o->kind == RM_VERDICT_PAIR && o->swap)
        r = 1 - r;
    info = json_object();
    rat = json_stringn(text, v.rationale_len);
    json_object_set_new(info, "rationale", rat ? rat : json_string(""));
    json_object_set_new(info, "verdict", v.has_line
                            ? json_stringn(text + v.line, v.line_len)
                            : json_null());
    if (!json_object_get(info, "verdict"))
        json_object_set_new(info, "verdict", json_null());
    json_object_set_new(info, "reason", json_string(v.found ? "scored" : "no_answer"));
    json_object_set_new(info, "finish", json_string(finish));
    json_object_set_new(rec, "rm_judge", info);
    *reward = v.found ? o->weight * r : 0;
    return v.found;
}

static int
judge_finish(void *ctx, json_t *rec, void *job, double *reward, const char **field,
             struct sbuf *why)
{
    struct judge *j = ctx;
    struct judge_job *jb = job;
    int k;

    if (jb->failed) {
        *field = NULL;
        sbuf_addf(why, "%s: %s", j->url, sbuf_str(&jb->text));
        k = -1;
    } else
        k = judge_verdict(j->o, rec, jb->text.buf, jb->text.len, jb->finish, reward);
    free(jb->sid);
    free(jb->finish);
    sbuf_release(&jb->text);
    free(jb);
    return k;
}

/* Runs the scorer, drive being lib/gen or the server client. */
static void
judge_score(struct judge *j, void (*drive)(void *, struct score_window *),
            struct rm_counts *cnt)
{
    struct scorer s = {j->o->name, {NULL, 0, NULL, 0, 0}, "with a verdict", NULL, j};
    struct score_stages st = {
        .prepare = judge_prepare, .finish = judge_finish, .drive = drive,
    };
    struct score_counts sco;

    rm_domains_rule(&j->o->domains, &s.domains);
    score_run_jobs(j->t, &s, &st, &sco);
    memset(cnt, 0, sizeof(*cnt));
    cnt->scored = sco.scored;
    cnt->passed = sco.passed;
    cnt->no_verdict = sco.scored - sco.hits;
    tok_ids_release(&j->ids);
    sbuf_release(&j->prompt);
    sbuf_release(&j->id);
    sample_conv_release(&j->conv);
}

/* ---- the judge on lib/gen ---- */

/* The next job from the window, its ticket in it; NULL at the end. */
static struct judge_job *
judge_take(struct judge *j)
{
    void *job;
    size_t ticket;

    if (!score_window_next(j->w, &job, &ticket))
        return NULL;
    ((struct judge_job *)job)->ticket = ticket;
    return job;
}

static int
judge_next(void *ctx, struct gen_prompt *gp)
{
    struct judge *j = ctx;
    struct judge_job *jb = judge_take(j);

    if (!jb)
        return 0;
    gp->user = jb;
    gp->id = jb->sid;
    gp->idlen = jb->sidlen;
    gp->ids = j->ids.v;
    gp->n = (int)j->ids.n;
    return 1;
}

static void
judge_emit(void *ctx, const struct gen_prompt *gp, const struct gen_sample *s, int G)
{
    struct judge *j = ctx;
    struct judge_job *jb = gp->user;

    (void)G;
    sbuf_adds(&jb->text, j->prefix);
    sbuf_add(&jb->text, s[0].text, s[0].len);
    jb->finish = xstrdup(s[0].finish);
    score_window_done(j->w, jb->ticket);
}

static void
judge_drive(void *ctx, struct score_window *w)
{
    struct judge *j = ctx;

    j->w = w;
    gen_run(j->g, judge_next, judge_emit, j);
}

void
rm_judge_run(struct tool *t, const struct model *m, struct tok *tk, struct chat *c,
             const struct rm_judge_opts *o, struct rm_counts *cnt)
{
    struct judge j;

    memset(&j, 0, sizeof(j));
    j.t = t;
    j.o = o;
    j.chat = c;
    j.m = m;
    j.prefix = (c->flags & CHAT_THINK) ? "<think>\n" : "";
    j.g = gen_new(m, tk, c, &o->gen);
    judge_score(&j, judge_drive, cnt);
    gen_free(j.g);
}

void
rm_judge_render(struct tool *t, const struct rm_judge_opts *o, struct rm_counts *cnt)
{
    struct sbuf prompt = SBUF_INIT;
    struct sample_conv cv = SAMPLE_CONV_INIT;
    json_t *rec;

    memset(cnt, 0, sizeof(*cnt));
    while ((rec = tool_next(t)) != NULL) {
        const char *why, *field;
        int in = rm_domain_match(&o->domains, rec, &why);

        if (in < 0)
            tool_reject(t, rec, "domain", "%s", why);
        else if (in == 0) {
            cnt->passed++;
            tool_write(t, rec);
        } else if (judge_prompt(o, rec, &cv, &prompt, &field, &why) < 0)
            tool_reject(t, rec, field, "%s", why);
        else {
            json_object_set_new(rec, "judge_prompt",
                                json_stringn(sbuf_str(&prompt), prompt.len));
            cnt->scored++;
            tool_write(t, rec);
        }
        json_decref(rec);
    }
    sbuf_release(&prompt);
    sample_conv_release(&cv);
}

/* ---- the judge on a server (oaic.h) ---- */

static int
rjudge_next(void *ctx, void **user, struct sbuf *body)
{
    struct judge *j = ctx;
    struct judge_job *jb = judge_take(j);

    if (!jb)
        return 0;
    oai_body(body, &j->p, NULL, sbuf_str(&j->prompt), jb->sid);
    *user = jb;
    return 1;
}

static void
rjudge_done(void *ctx, void *user, const struct oaic_result *res)
{
    struct judge *j = ctx;
    struct judge_job *jb = user;
    struct oai_response r;

    if (!res->ok) {
        jb->failed = 1;
        sbuf_adds(&jb->text, res->why);
    } else if (oai_response_parse(&r, res->body, res->len, OAI_CHAT, 1, &jb->text) != 0)
        jb->failed = 1;
    else {
        json_t *c = r.choice[0].completion;
        sbuf_add(&jb->text, json_string_value(c), json_string_length(c));
        jb->finish = xstrdup(r.choice[0].finish);
        oai_response_release(&r);
    }
    score_window_done(j->w, jb->ticket);
}

static void
rjudge_drive(void *ctx, struct score_window *w)
{
    struct judge *j = ctx;

    j->w = w;
    oaic_run(j->c, "/chat/completions", rjudge_next, rjudge_done, j);
}

void
rm_judge_server_run(struct tool *t, const struct rm_judge_opts *o, const struct oaic_config *cc,
                    const char *model, struct rm_counts *cnt)
{
    struct judge j;

    memset(&j, 0, sizeof(j));
    j.t = t;
    j.o = o;
    j.prefix = "";
    j.url = cc->url;
    j.p.ep = OAI_CHAT;
    j.p.model = model;
    j.p.n = 1;
    j.p.temperature = o->gen.sampler.temperature;
    j.p.top_p = -1;
    j.p.top_k = -1;
    j.p.max_tokens = o->gen.max_tokens;
    j.p.has_seed = 1;
    j.p.seed = o->gen.seed;
    j.p.stops = o->gen.stops;
    j.p.nstops = o->gen.nstops;
    j.p.send_user = 1;
    j.c = oaic_new(cc);
    judge_score(&j, rjudge_drive, cnt);
    oaic_free(j.c);
}
