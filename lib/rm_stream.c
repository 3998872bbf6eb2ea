/*
 * rm_stream.c - score-rm(1)'s drivers: the scalar reward model as a
 * staged scorer of lib/score (its batches one forward each), and the
 * judge over lib/gen's continuous batching (gen pulls the prompts and
 * hands the verdicts back, so it keeps its own queue of records in
 * order).  Records come out in input order, those of other domains too.
 * The pieces they use are in rm.c; see rm.h.
 */
#include "rm.h"

#include <math.h>
#include <stdint.h>
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

/* A string field, or -1 after rejecting the record. */
static int
need_str(struct tool *t, json_t *rec, const char *key, int optional, const char **out)
{
    const char *why;

    if (str_of(rec, key, optional, out, &why) < 0) {
        tool_reject(t, rec, key, "%s", why);
        return -1;
    }
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

/* conv_of(), or -1 after rejecting rec. */
static long
conv_turns(struct tool *t, json_t *rec, struct sample_conv *cv, long *last_user)
{
    const char *field, *why;
    long n = conv_of(rec, cv, last_user, &field, &why);

    if (n < 0)
        tool_reject(t, rec, field, "%s", why);
    return n;
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
 * The records read and not yet written, in input order: a ring of
 * entries, each a pass-through record (done at once) or a judged one
 * (done when gen hands its verdict back).  gen emits prompts in the order
 * it took them, so the head is always the oldest record.
 */
struct entry {
    json_t *rec;
    char *sid;                   /* the stream name gen borrows until emit */
    int done;
};

struct judge {
    struct tool *t;
    const struct rm_judge_opts *o;
    struct chat *chat;
    const struct model *m;
    const char *prefix;          /* text the assistant turn opened with */
    struct rm_counts *cnt;
    struct entry *q;
    size_t head, n, cap;         /* ring */
    uint64_t seq;                /* entries pushed so far */
    struct tok_ids ids;
    struct sbuf prompt, id, text;
    struct sample_conv conv;     /* a messages sample's conversation */
};

static struct entry *
q_at(struct judge *j, uint64_t seq)
{
    uint64_t first = j->seq - j->n;

    return &j->q[(j->head + (size_t)(seq - first)) % j->cap];
}

static uint64_t
q_push(struct judge *j, json_t *rec, int done)
{
    if (j->n == j->cap) {
        size_t nc = j->cap ? 2 * j->cap : 64, i;
        struct entry *q = xmalloc(xmul(nc, sizeof(*q)));
        for (i = 0; i < j->n; i++)
            q[i] = j->q[(j->head + i) % j->cap];
        free(j->q);
        j->q = q;
        j->cap = nc;
        j->head = 0;
    }
    j->q[(j->head + j->n) % j->cap] = (struct entry){rec, NULL, done};
    j->n++;
    return j->seq++;
}

static void
q_flush(struct judge *j)
{
    while (j->n > 0 && j->q[j->head].done) {
        json_t *rec = j->q[j->head].rec;
        tool_write(j->t, rec);
        json_decref(rec);
        j->head = (j->head + 1) % j->cap;
        j->n--;
    }
}

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

/* Renders the judge prompt of rec into out; -1 after rejecting rec. */
static int
judge_prompt(struct tool *t, const struct rm_judge_opts *o, json_t *rec,
             struct sample_conv *cv, struct sbuf *out)
{
    const char *val[RM_NSLOTS] = {0}, *second = NULL;
    long lu;

    /* a conversation's question is its last user turn */
    if (json_object_get(rec, "messages")) {
        if (conv_turns(t, rec, cv, &lu) < 0)
            return -1;
        val[RM_QUESTION] = cv->m[lu].content;
    } else if (need_str(t, rec, "prompt", 0, &val[RM_QUESTION]))
        return -1;
    if (need_str(t, rec, "completion", 0, &val[RM_RESPONSE])
        || ((o->tpl->used & (1u << RM_REFERENCE))
            && need_str(t, rec, o->reference_field, 0, &val[RM_REFERENCE]))
        || (o->second && need_str(t, rec, o->second, 0, &second)))
        return -1;
    val[RM_RESPONSE_A] = o->swap ? second : val[RM_RESPONSE];
    val[RM_RESPONSE_B] = o->swap ? val[RM_RESPONSE] : second;
    sbuf_reset(out);
    rm_template_render(o->tpl, val, out);
    return 0;
}

static int
judge_next(void *ctx, struct gen_prompt *gp)
{
    struct judge *j = ctx;
    const struct rm_judge_opts *o = j->o;
    struct tool *t = j->t;
    json_t *rec;

    while ((rec = tool_next(t)) != NULL) {
        const char *why;
        int in = rm_domain_match(&o->domains, rec, &why);
        uint64_t seq;

        if (in < 0) {
            tool_reject(t, rec, "domain", "%s", why);
            json_decref(rec);
            continue;
        }
        if (in == 0) {
            j->cnt->passed++;
            q_push(j, rec, 1);
            q_flush(j);
            continue;
        }
        if (judge_prompt(t, o, rec, &j->conv, &j->prompt)) {
            json_decref(rec);
            continue;
        }
        j->ids.n = 0;
        chat_prompt(j->chat, NULL, sbuf_str(&j->prompt), &j->ids);
        if (j->ids.n >= (size_t)j->m->cfg.max_pos) {
            tool_reject(t, rec, "completion",
                        "the judge prompt is %zu tokens, the judge's context is %d",
                        j->ids.n, j->m->cfg.max_pos);
            json_decref(rec);
            continue;
        }
        stream_id(j, rec);
        seq = q_push(j, rec, 0);
        q_at(j, seq)->sid = xstrndup(j->id.buf, j->id.len);
        gp->user = (void *)(uintptr_t)seq;
        gp->id = q_at(j, seq)->sid;
        gp->idlen = j->id.len;
        gp->ids = j->ids.v;
        gp->n = (int)j->ids.n;
        return 1;
    }
    return 0;
}

/* Sets rec's verdict fields and reward from the judge's text. */
static void
judge_verdict(const struct rm_judge_opts *o, struct rm_counts *cnt, json_t *rec,
              const char *text, size_t len, const char *finish)
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
    rec_set_reward(rec, o->name, v.found ? o->weight * r : 0);
    if (!v.found)
        cnt->no_verdict++;
    cnt->scored++;
}

static void
judge_emit(void *ctx, const struct gen_prompt *gp, const struct gen_sample *s, int G)
{
    struct judge *j = ctx;
    struct entry *e = q_at(j, (uint64_t)(uintptr_t)gp->user);

    (void)G;
    sbuf_reset(&j->text);
    sbuf_adds(&j->text, j->prefix);
    sbuf_add(&j->text, s[0].text, s[0].len);
    judge_verdict(j->o, j->cnt, e->rec, j->text.buf, j->text.len, s[0].finish);
    e->done = 1;
    free(e->sid);
    e->sid = NULL;
    q_flush(j);
    tool_progress(j->t, "%ld judged (%ld without verdict), %ld passed through",
                  j->cnt->scored, j->cnt->no_verdict, j->cnt->passed);
}

void
rm_judge_run(struct tool *t, const struct model *m, struct tok *tk, struct chat *c,
             const struct rm_judge_opts *o, struct rm_counts *cnt)
{
    struct judge j;
    struct gen *g;

    memset(&j, 0, sizeof(j));
    memset(cnt, 0, sizeof(*cnt));
    j.t = t;
    j.o = o;
    j.chat = c;
    j.m = m;
    j.cnt = cnt;
    j.prefix = (c->flags & CHAT_THINK) ? "<think>\n" : "";
    g = gen_new(m, tk, c, &o->gen);
    gen_run(g, judge_next, judge_emit, &j);
    gen_free(g);
    q_flush(&j);
    free(j.q);
    tok_ids_release(&j.ids);
    sbuf_release(&j.prompt);
    sbuf_release(&j.id);
    sbuf_release(&j.text);
    sample_conv_release(&j.conv);
}

void
rm_judge_render(struct tool *t, const struct rm_judge_opts *o, struct rm_counts *cnt)
{
    struct sbuf prompt = SBUF_INIT;
    struct sample_conv cv = SAMPLE_CONV_INIT;
    json_t *rec;

    memset(cnt, 0, sizeof(*cnt));
    while ((rec = tool_next(t)) != NULL) {
        const char *why;
        int in = rm_domain_match(&o->domains, rec, &why);

        if (in < 0)
            tool_reject(t, rec, "domain", "%s", why);
        else if (in == 0) {
            cnt->passed++;
            tool_write(t, rec);
        } else if (judge_prompt(t, o, rec, &cv, &prompt) == 0) {
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

struct rjob {
    json_t *rec;
    char *file;
    long line;
    int judged;                  /* 0: passed through */
};

struct rjudge {
    struct judge j;              /* t, o, cnt, prompt and id */
    struct oai_params p;
    const char *url;
};

static int
rjudge_next(void *ctx, void **user, struct sbuf *body)
{
    struct rjudge *rj = ctx;
    struct judge *j = &rj->j;
    struct tool *t = j->t;
    json_t *rec;

    while ((rec = tool_next(t)) != NULL) {
        const char *why;
        int in = rm_domain_match(&j->o->domains, rec, &why);
        struct rjob *job;

        if (in < 0) {
            tool_reject(t, rec, "domain", "%s", why);
            json_decref(rec);
            continue;
        }
        if (in > 0 && judge_prompt(t, j->o, rec, &j->conv, &j->prompt)) {
            json_decref(rec);
            continue;
        }
        job = xcalloc(1, sizeof(*job));
        job->rec = rec;
        job->file = xstrdup(tool_file(t));
        job->line = tool_line(t);
        job->judged = in > 0;
        if (in > 0) {
            stream_id(j, rec);
            oai_body(body, &rj->p, NULL, sbuf_str(&j->prompt), sbuf_str(&j->id));
        }
        *user = job;
        return 1;
    }
    return 0;
}

static void
rjudge_done(void *ctx, void *user, const struct oaic_result *res)
{
    struct rjudge *rj = ctx;
    struct judge *j = &rj->j;
    struct rjob *job = user;
    struct oai_response r;
    struct sbuf err = SBUF_INIT;

    if (!job->judged) {
        j->cnt->passed++;
        tool_write(j->t, job->rec);
    } else if (!res->ok) {
        tool_reject_at(j->t, job->file, job->line, job->rec, NULL, "%s: %s", rj->url,
                       res->why);
    } else if (oai_response_parse(&r, res->body, res->len, OAI_CHAT, 1, &err) != 0) {
        tool_reject_at(j->t, job->file, job->line, job->rec, NULL, "%s: %s", rj->url,
                       sbuf_str(&err));
    } else {
        json_t *c = r.choice[0].completion;
        judge_verdict(j->o, j->cnt, job->rec, json_string_value(c), json_string_length(c),
                      r.choice[0].finish);
        tool_write(j->t, job->rec);
        oai_response_release(&r);
        tool_progress(j->t, "%ld judged (%ld without verdict), %ld passed through",
                      j->cnt->scored, j->cnt->no_verdict, j->cnt->passed);
    }
    sbuf_release(&err);
    json_decref(job->rec);
    free(job->file);
    free(job);
}

void
rm_judge_server_run(struct tool *t, const struct rm_judge_opts *o, const struct oaic_config *cc,
                    const char *model, struct rm_counts *cnt)
{
    struct rjudge rj;
    struct oaic *c;

    memset(&rj, 0, sizeof(rj));
    memset(cnt, 0, sizeof(*cnt));
    rj.j.t = t;
    rj.j.o = o;
    rj.j.cnt = cnt;
    rj.url = cc->url;
    rj.p.ep = OAI_CHAT;
    rj.p.model = model;
    rj.p.n = 1;
    rj.p.temperature = o->gen.sampler.temperature;
    rj.p.top_p = -1;
    rj.p.top_k = -1;
    rj.p.max_tokens = o->gen.max_tokens;
    rj.p.has_seed = 1;
    rj.p.seed = o->gen.seed;
    rj.p.stops = o->gen.stops;
    rj.p.nstops = o->gen.nstops;
    rj.p.send_user = 1;
    c = oaic_new(cc);
    oaic_run(c, "/chat/completions", rjudge_next, rjudge_done, &rj);
    oaic_free(c);
    sbuf_release(&rj.j.prompt);
    sbuf_release(&rj.j.id);
    sample_conv_release(&rj.j.conv);
}
