/*
 * oaigen.c - gen --server (see oaigen.h): records to requests, responses
 * to sample records, and the resume file.
 */
#include "oaigen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "rec.h"
#include "sample.h"

struct pend {                   /* one record in flight */
    json_t *rec;
    char *file;
    long line;
};

struct run {
    struct tool *t;
    const struct oaigen_config *gc;
    json_t *seen;               /* id -> line, every id of the input */
    json_t *have;               /* ids already in the resume file */
    FILE *out;                  /* resume: FILE, appended */
    struct sbuf line;
    struct sample_conv conv;    /* a messages record's turns */
    long skipped, written;
};

static void
has_suffix_die(const struct tool *t, const char *path)
{
    size_t n = strlen(path);

    if (strcmp(path, "-") == 0 || (n >= 4 && strcmp(path + n - 4, ".zst") == 0) || t->zstd)
        tool_usage_error(t, "--resume needs -o FILE, a plain (not zstd) file");
}

void
oaigen_check_resume(const struct tool *t, const char *path)
{
    if (!path)
        tool_usage_error(t, "--resume needs -o FILE");
    has_suffix_die(t, path);
}

/*
 * Reads the resume file back (see oaigen.h), cuts what is incomplete and
 * fills run->have; returns the file open for appending.
 */
static FILE *
resume_open(struct run *run, const char *path)
{
    FILE *f = fopen(path, "r+");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    off_t pos = 0, cut = 0, gstart = 0;
    long lineno = 0, glines = 0, groups = 0, records = 0, gline0 = 0;
    char *gid = NULL;
    unsigned char *ks = xcalloc((size_t)run->gc->params.n, 1);
    int G = run->gc->params.n, partial = 0;
    struct sbuf err = SBUF_INIT;

    if (!f && errno == ENOENT) {
        f = fopen(path, "a");
        if (!f)
            die_errno("'%s'", path);
        free(ks);
        return f;
    }
    if (!f)
        die_errno("'%s'", path);
    while ((n = getline(&buf, &cap, f)) > 0) {
        json_t *r, *g, *k;
        lineno++;
        if (buf[n - 1] != '\n') {
            partial = 1;          /* cut below */
            break;
        }
        r = json_parse(buf, (size_t)n - 1, &err);
        g = json_object_get(r, "group");
        k = json_object_get(r, "k");
        if (!r || !json_is_string(g) || !json_is_integer(k) || json_integer_value(k) < 0 ||
            json_integer_value(k) >= G) {
            die("%s:%ld: %s (--resume reads back sample records of G = %d)", path, lineno,
                !r ? sbuf_str(&err) : !json_is_string(g) ? "field 'group': not a string"
                                                          : "field 'k': not in 0..G-1",
                G);
        }
        if (!gid || strcmp(gid, json_string_value(g)) != 0) {
            if (gid && glines != G)
                die("%s:%ld: group '%s' has %ld records, not G = %d (only the last group"
                    " of a resumed file may be short)", path, gline0, gid, glines, G);
            if (gid) {
                json_object_set_new(run->have, gid, json_true());
                groups++;
            }
            free(gid);
            gid = xstrdup(json_string_value(g));
            memset(ks, 0, (size_t)G);
            glines = 0;
            gstart = pos;
            gline0 = lineno;
        }
        if (ks[json_integer_value(k)]++)
            die("%s:%ld: field 'k': %lld twice in group '%s'", path, lineno,
                (long long)json_integer_value(k), gid);
        glines++;
        records++;
        pos += n;
        json_decref(r);
    }
    cut = pos;
    if (gid && glines == G) {
        json_object_set_new(run->have, gid, json_true());
        groups++;
    } else if (gid) {
        cut = gstart;             /* a short last group */
        records -= glines;
        partial = 1;
    }
    if (ferror(f))
        die_errno("'%s'", path);
    if (ftruncate(fileno(f), cut) != 0)
        die_errno("'%s'", path);
    fclose(f);
    if (!run->t->quiet)
        warnx_("%s: resuming after %ld groups (%ld records)%s", path, groups, records,
               partial ? "; an incomplete end was cut off" : "");
    f = fopen(path, "a");
    if (!f)
        die_errno("'%s'", path);
    free(gid);
    free(buf);
    free(ks);
    sbuf_release(&err);
    return f;
}

/* The next prompt record to ask for, its body built; 0 at the end. */
static int
next_job(void *ctx, void **user, struct sbuf *body)
{
    struct run *run = ctx;
    struct tool *t = run->t;
    json_t *rec;

    while ((rec = tool_next(t)) != NULL) {
        const char *id, *prompt, *why, *system;
        size_t nturns;
        json_t *first;
        struct pend *p;

        if (rec_get_str(rec, "id", &id, &why) != 0) {
            tool_reject(t, rec, "id", "%s", why);
            goto skip;
        }
        if (sample_prompt_get(&run->conv, rec, run->gc->system, &prompt, &system, &nturns,
                              &why) < 0) {
            tool_reject(t, rec, sbuf_str(&run->conv.field), "%s", why);
            goto skip;
        }
        if (!prompt && run->gc->params.ep == OAI_COMPLETIONS) {
            tool_reject(t, rec, "messages",
                        "the completions endpoint takes a prompt (use chat)");
            goto skip;
        }
        if (system && *system && run->gc->params.ep == OAI_COMPLETIONS) {
            tool_reject(t, rec, "system",
                        "the completions endpoint takes the prompt alone (use chat)");
            goto skip;
        }
        first = json_object_get(run->seen, id);
        if (first) {
            tool_reject(t, rec, "id", "'%s' is also the id of line %lld (ids must be"
                        " unique: each names a group)", id, (long long)json_integer_value(first));
            goto skip;
        }
        json_object_set_new(run->seen, id, json_integer(tool_line(t)));
        if (json_object_get(run->have, id)) {
            run->skipped++;
            goto skip;
        }
        if (!prompt) {
            oai_body_conv(body, &run->gc->params, run->conv.m, nturns, id);
        } else {
            if (run->gc->system)
                json_object_set_new(rec, "system", json_string(run->gc->system));
            oai_body(body, &run->gc->params, system, prompt, id);
        }
        p = xcalloc(1, sizeof(*p));
        p->rec = rec;
        p->file = xstrdup(tool_file(t));
        p->line = tool_line(t);
        *user = p;
        return 1;
skip:
        json_decref(rec);
    }
    return 0;
}

static void
write_rec(struct run *run, const json_t *o)
{
    if (!run->out) {
        tool_write(run->t, o);
        return;
    }
    sbuf_reset(&run->line);
    json_emit(&run->line, o);
    sbuf_addc(&run->line, '\n');
    if (fwrite(run->line.buf, 1, run->line.len, run->out) != run->line.len)
        die_errno("'%s'", run->gc->resume);
}

static void
job_done(void *ctx, void *user, const struct oaic_result *res)
{
    struct run *run = ctx;
    struct pend *p = user;
    const struct oai_params *op = &run->gc->params;
    struct oai_response r;
    struct sbuf err = SBUF_INIT;
    int k;

    if (!res->ok) {
        tool_reject_at(run->t, p->file, p->line, p->rec, NULL, "%s: %s", run->gc->client.url,
                       res->why);
        goto out;
    }
    if (oai_response_parse(&r, res->body, res->len, op->ep, op->n, &err) != 0) {
        tool_reject_at(run->t, p->file, p->line, p->rec, NULL, "%s: %s", run->gc->client.url,
                       sbuf_str(&err));
        goto out;
    }
    for (k = 0; k < op->n; k++) {
        struct oai_choice *c = &r.choice[k];
        json_t *o = json_copy(p->rec), *usage = json_object();
        long ntok = c->ids ? (long)json_array_size(c->ids)
                  : c->logprobs ? (long)json_array_size(c->logprobs)
                  : op->n == 1 ? r.completion_tokens : -1;
        json_object_set(o, "group", json_object_get(p->rec, "id"));
        json_object_set_new(o, "k", json_integer(k));
        json_object_set(o, "completion", c->completion);
        json_object_set_new(o, "finish", json_string(c->finish));
        if (r.prompt_ids)
            json_object_set(o, "prompt_ids", r.prompt_ids);
        if (c->ids)
            json_object_set(o, "completion_ids", c->ids);
        if (c->logprobs)
            json_object_set(o, "logprobs", c->logprobs);
        json_object_set_new(o, "policy", json_string(r.model ? r.model : op->model));
        if (r.prompt_tokens >= 0)
            json_object_set_new(usage, "prompt_tokens", json_integer(r.prompt_tokens));
        if (ntok >= 0)
            json_object_set_new(usage, "completion_tokens", json_integer(ntok));
        json_object_set_new(o, "usage", usage);
        write_rec(run, o);
        json_decref(o);
    }
    run->written++;
    if (run->out && fflush(run->out) != 0)
        die_errno("'%s'", run->gc->resume);
    oai_response_release(&r);
    tool_progress(run->t, "%ld prompts answered", run->written);
out:
    sbuf_release(&err);
    json_decref(p->rec);
    free(p->file);
    free(p);
}

void
oaigen_run(struct tool *t, const struct oaigen_config *gc)
{
    struct run run;
    struct oaic *c;

    memset(&run, 0, sizeof(run));
    run.t = t;
    run.gc = gc;
    run.seen = json_object();
    run.have = json_object();
    if (gc->resume)
        run.out = resume_open(&run, gc->resume);
    c = oaic_new(&gc->client);
    oaic_run(c, gc->params.ep == OAI_CHAT ? "/chat/completions" : "/completions", next_job,
             job_done, &run);
    oaic_free(c);
    if (run.out) {
        if (fflush(run.out) != 0 || fsync(fileno(run.out)) != 0 || fclose(run.out) != 0)
            die_errno("'%s'", gc->resume);
    }
    if (gc->resume && run.skipped && !t->quiet)
        warnx_("%ld prompts were already in '%s'", run.skipped, gc->resume);
    json_decref(run.seen);
    json_decref(run.have);
    sbuf_release(&run.line);
    sample_conv_release(&run.conv);
}
