/*
 * tool.c - the common options, the input loop, the error policy and the
 * group reader that every record tool shares.  See tool.h.
 */
#include "tool.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "model.h"
#include "w16.h"

void
tool_init(struct tool *t, const char *name, const char *usage)
{
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->usage = usage;
    t->prog.name = name;
    t->prog.header = usage;
    t->level = 3;
    t->cur = -1;
    util_setprog(name);
}

void
tool_usage(const struct tool *t)
{
    opt_usage(&t->prog);
}

void
tool_usage_error(const struct tool *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    opt_usage_verror(&t->prog, fmt, ap);
}

int
tool_parse(struct tool *t, const struct opt *opts, int argc, char **argv)
{
    const struct opt common[] = {
        OPT_GROUP("Common options:\n"),
        OPT_STRING('o', "output", &t->output, "FILE",
                   "write to FILE (complete or absent), not stdout"),
        OPT_BOOL('z', "zstd", &t->zstd, "compress the output (implied by a .zst name)"),
        OPT_INT(0, "level", &t->level, "N", 1, 19, "zstd level, 1-19 (default 3)"),
        OPT_INT(0, "zstd-threads", &t->zstd_threads, "N", 0, 256,
                "compress with N threads (default 0: inline)"),
        OPT_LONG(0, "max-errors", &t->max_errors, "N", 0, LONG_MAX,
                 "go on past up to N bad records (default 0)"),
        OPT_STRING(0, "rejects", &t->rejects_path, "FILE",
                   "write bad records there, whole, with the reason"),
        OPT_BOOL('q', "quiet", &t->quiet, "no summary on stderr"),
        OPT_BOOL(0, "progress", &t->progress, "progress on stderr even when it is not a TTY"),
        OPT_BOOL(0, "unbuffered", &t->unbuffered, "flush after each record"),
        OPT_HELP(),
        OPT_VERSION(),
        OPT_END(),
    };
    const struct opt *tabs[] = {opts, common, NULL};

    return opt_parse(&t->prog, tabs, argc, argv);
}

/* ---- shared option groups ---- */

void
tool_model_init(struct tool_model *mo)
{
    memset(mo, 0, sizeof(*mo));
    mo->lm.format = CHAT_AUTO;
}

void
tool_model_check(struct tool *t, struct tool_model *mo)
{
    if (mo->think && mo->no_think)
        tool_usage_error(t, "give --think or --no-think, not both");
    mo->lm.chat_flags = (mo->think ? CHAT_THINK : 0) | (mo->no_think ? CHAT_NO_THINK : 0);
}

int
tool_model_threads(const struct tool_model *mo)
{
    int n = mo->threads ? mo->threads : model_threads_env();

    return n ? n : (int)PT_MAX(1, sysconf(_SC_NPROCESSORS_ONLN));
}

int
tool_opt_key(void *value, const char *arg, struct sbuf *why)
{
    if (!*arg) {
        sbuf_adds(why, "empty field name");
        return -1;
    }
    *(const char **)value = arg;
    return 0;
}

int
tool_opt_format(void *value, const char *arg, struct sbuf *why)
{
    if (chat_parse_format(arg, value) < 0) {
        sbuf_addf(why, "unknown chat format '%s'", arg);
        return -1;
    }
    return 0;
}

int
tool_opt_stop(void *value, const char *arg, struct sbuf *why)
{
    struct tool_model *mo = value;

    if (mo->nstops == TOOL_MAX_STOPS)
        sbuf_addf(why, "more than %d stop strings", TOOL_MAX_STOPS);
    else if (!*arg)
        sbuf_adds(why, "the stop string is empty");
    else
        mo->stops[mo->nstops++] = arg;
    return why->len ? -1 : 0;
}

int
tool_opt_ckpt_dtype(void *value, const char *arg, struct sbuf *why)
{
    (void)why;
    return ckpt_parse_dtype(arg, value) ? -1 : 0;
}

int
tool_opt_dtype(void *value, const char *arg, struct sbuf *why)
{
    int k = w16_parse_dtype(arg);

    (void)why;
    if (k < 0)
        return -1;
    *(int *)value = k;
    return 0;
}

/* Dies when the output would overwrite one of the inputs. */
static void
check_not_input(const struct tool *t, const char *path)
{
    struct stat so, si;
    int i;

    if (!path || strcmp(path, "-") == 0 || stat(path, &so) != 0)
        return;
    for (i = 0; i < t->ninputs; i++)
        if (strcmp(t->inputs[i], "-") != 0 && stat(t->inputs[i], &si) == 0
            && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            tool_usage_error(t, "'%s' is both an input and an output", path);
}

static void
start(struct tool *t, int argc, char **argv, int with_out)
{
    static char *dash[] = { (char *)"-" };
    int flags = t->unbuffered ? ROUT_UNBUFFERED : 0;

    t->ninputs = argc > 0 ? argc : 1;
    t->inputs = argc > 0 ? argv : dash;
    if (t->max_errors > 0 && !t->rejects_path)
        tool_usage_error(t, "--max-errors needs --rejects FILE, so no record is lost");
    if (with_out)
        check_not_input(t, t->output);
    check_not_input(t, t->rejects_path);
    if (with_out) {
        t->out = rout_open(t->output, flags | (t->zstd ? ROUT_ZSTD : 0), t->level);
        rout_zstd_threads(t->out, t->zstd_threads);
    }
    if (t->rejects_path)
        t->rejects = rout_open(t->rejects_path, flags, t->level);
    t->tty = isatty(2);
    t->t0 = now_sec();
}

void
tool_start(struct tool *t, int argc, char **argv)
{
    start(t, argc, argv, 1);
}

void
tool_start_noout(struct tool *t, int argc, char **argv)
{
    start(t, argc, argv, 0);
}

const char *
tool_file(const struct tool *t)
{
    if (t->cur < 0 || t->cur >= t->ninputs)
        return "<none>";
    return strcmp(t->inputs[t->cur], "-") == 0 ? "<stdin>" : t->inputs[t->cur];
}

long
tool_line(const struct tool *t)
{
    return t->in ? rin_lineno(t->in) : 0;
}

static void
reject_v(struct tool *t, const char *file, long line, const json_t *rec,
         const char *raw, size_t rawlen, const char *field, const char *fmt, va_list ap)
{
    struct sbuf msg = SBUF_INIT;
    size_t prefix;
    json_t *r;

    sbuf_addf(&msg, "%s:%ld: ", file, line);
    prefix = msg.len;
    if (field)
        sbuf_addf(&msg, "field '%s': ", field);
    {
        char buf[1024];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        sbuf_adds(&msg, buf);
    }
    if (t->nrejected >= t->max_errors) {
        if (t->max_errors > 0)
            die("%s (more than %ld bad records)", msg.buf, t->max_errors);
        die("%s", msg.buf);
    }
    t->nrejected++;
    r = json_object();
    json_object_set_new(r, "error", json_string(msg.buf + prefix));
    json_object_set_new(r, "file", json_string(file));
    json_object_set_new(r, "line", json_integer(line));
    if (field)
        json_object_set_new(r, "field", json_string(field));
    if (rec)
        json_object_set(r, "record", (json_t *)rec);
    else if (raw) {
        /* Not valid UTF-8 perhaps: keep the bytes as they were, escaped. */
        json_t *s = json_stringn_nocheck(raw, rawlen);
        json_object_set_new(r, "raw", s);
    }
    rout_write(t->rejects, r);
    json_decref(r);
    sbuf_release(&msg);
}

void
tool_reject_at(struct tool *t, const char *file, long line, const json_t *rec,
               const char *field, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    reject_v(t, file ? file : tool_file(t), file ? line : tool_line(t), rec, NULL, 0,
             field, fmt, ap);
    va_end(ap);
}

void
tool_reject(struct tool *t, const json_t *rec, const char *field, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    reject_v(t, tool_file(t), tool_line(t), rec, NULL, 0, field, fmt, ap);
    va_end(ap);
}

static void
reject_raw(struct tool *t, const char *fmt, ...)
{
    va_list ap;
    const char *raw;
    size_t n;

    raw = rin_rawline(t->in, &n);
    va_start(ap, fmt);
    reject_v(t, tool_file(t), tool_line(t), NULL, raw, n, NULL, fmt, ap);
    va_end(ap);
}

json_t *
tool_next(struct tool *t)
{
    for (;;) {
        struct sbuf why = SBUF_INIT;
        enum rin_status st;
        json_t *r;

        if (!t->in) {
            if (t->cur + 1 >= t->ninputs)
                return NULL;
            t->cur++;
            t->in = rin_open(t->inputs[t->cur]);
        }
        r = rin_next(t->in, &st, &why);
        if (r) {
            t->nread++;
            return r;
        }
        if (st == RIN_BADLINE) {
            t->nread++;
            reject_raw(t, "%s", sbuf_str(&why));
            sbuf_release(&why);
            continue;
        }
        rin_close(t->in);
        t->in = NULL;
    }
}

void
tool_write(struct tool *t, const json_t *rec)
{
    rout_write(t->out, rec);
    t->nwritten++;
}

void
tool_progress(struct tool *t, const char *fmt, ...)
{
    double now;
    va_list ap;

    if (t->quiet || !(t->tty || t->progress))
        return;
    now = now_sec();
    if (now - t->last_progress < 0.5)
        return;
    t->last_progress = now;
    fprintf(stderr, "\r%s: ", t->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(t->tty ? "\033[K" : "\n", stderr);
    t->progress_shown = 1;
}

int
tool_finish(struct tool *t)
{
    if (t->progress_shown && t->tty)
        fputc('\n', stderr);
    if (t->in) {
        rin_close(t->in);
        t->in = NULL;
    }
    if (t->rejects) {
        rout_close(t->rejects);
        t->rejects = NULL;
    }
    if (t->out) {
        rout_close(t->out);
        t->out = NULL;
    }
    if (t->nrejected > 0)
        warnx_("%ld of %ld records rejected (see '%s')", t->nrejected, t->nread,
               t->rejects_path);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Groups                                                              */
/* ------------------------------------------------------------------ */

struct group_reader {
    struct tool *t;
    char *key;
    json_t *next;            /* first record of the next group */
    const char *next_file;
    long next_line;
    uint64_t *seen;          /* open-addressing set of group-id hashes; 0 = empty */
    size_t nseen, cap;
};

struct group_reader *
group_reader_new(struct tool *t, const char *key)
{
    struct group_reader *gr = xcalloc(1, sizeof(*gr));

    gr->t = t;
    gr->key = xstrdup(key);
    gr->cap = 1024;
    gr->seen = xcalloc(gr->cap, sizeof(uint64_t));
    return gr;
}

void
group_reader_free(struct group_reader *gr)
{
    if (!gr)
        return;
    json_decref(gr->next);
    free(gr->seen);
    free(gr->key);
    free(gr);
}

static uint64_t
id_hash(const char *id)
{
    uint64_t h = hash64(id, strlen(id), 0x67726f7570ULL);

    return h ? h : 1;
}

/* Returns 1 if h was already in the set, else adds it and returns 0. */
static int
seen_add(struct group_reader *gr, uint64_t h)
{
    size_t i;

    if (2 * (gr->nseen + 1) > gr->cap) {
        uint64_t *old = gr->seen;
        size_t oldcap = gr->cap, j;
        gr->cap *= 2;
        gr->seen = xcalloc(gr->cap, sizeof(uint64_t));
        gr->nseen = 0;
        for (j = 0; j < oldcap; j++)
            if (old[j])
                seen_add(gr, old[j]);
        free(old);
    }
    for (i = h & (gr->cap - 1); gr->seen[i]; i = (i + 1) & (gr->cap - 1))
        if (gr->seen[i] == h)
            return 1;
    gr->seen[i] = h;
    gr->nseen++;
    return 0;
}

void
group_release(struct group *g)
{
    size_t i;

    for (i = 0; i < g->n; i++)
        json_decref(g->recs[i]);
    free(g->recs);
    free(g->lines);
    free(g->files);
    free(g->id);
    memset(g, 0, sizeof(*g));
}

static void
group_push(struct group *g, json_t *r, const char *file, long line)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 16;
        g->recs = xrealloc(g->recs, g->cap * sizeof(*g->recs));
        g->lines = xrealloc(g->lines, g->cap * sizeof(*g->lines));
        g->files = xrealloc(g->files, g->cap * sizeof(*g->files));
    }
    g->recs[g->n] = r;
    g->lines[g->n] = line;
    g->files[g->n] = file;
    g->n++;
}

/* Next record carrying a string key (others go to the error policy). */
static json_t *
next_keyed(struct group_reader *gr, const char **id)
{
    json_t *r;

    while ((r = tool_next(gr->t)) != NULL) {
        const char *why;
        if (rec_get_str(r, gr->key, id, &why) == 0)
            return r;
        tool_reject(gr->t, r, gr->key, "%s", why);
        json_decref(r);
    }
    return NULL;
}

/* Takes the stashed first record of the next group, or reads one. */
static json_t *
take_next(struct group_reader *gr, const char **id, const char **file, long *line)
{
    json_t *r = gr->next;

    if (r) {
        gr->next = NULL;
        rec_get_str(r, gr->key, id, NULL);
        *file = gr->next_file;
        *line = gr->next_line;
        return r;
    }
    r = next_keyed(gr, id);
    *file = tool_file(gr->t);
    *line = tool_line(gr->t);
    return r;
}

/*
 * The index in g of a record with the same integer "k" as r (the sample's
 * index in its group: two are one sample twice, e.g. streams concatenated
 * over a shared group), or -1.
 */
static long
same_k(const struct group *g, const json_t *r)
{
    json_t *k = json_object_get(r, "k");
    size_t i;

    if (!json_is_integer(k))
        return -1;
    for (i = 0; i < g->n; i++) {
        json_t *o = json_object_get(g->recs[i], "k");
        if (json_is_integer(o) && json_integer_value(o) == json_integer_value(k))
            return (long)i;
    }
    return -1;
}

/*
 * Reads records while their key equals id: each is pushed to g (unless
 * its k repeats one of g's: rejected), or, with g NULL, rejected as part
 * of a split group.  The first record of another
 * group is stashed for the next call.
 */
static void
read_run(struct group_reader *gr, const char *id, struct group *g)
{
    const char *rid;
    json_t *r;

    while ((r = next_keyed(gr, &rid)) != NULL) {
        const char *f = tool_file(gr->t);
        long l = tool_line(gr->t);
        if (strcmp(rid, id) != 0) {
            gr->next = r;
            gr->next_file = f;
            gr->next_line = l;
            return;
        }
        if (g && same_k(g, r) >= 0) {
            tool_reject_at(gr->t, f, l, r, "k", "%lld is also the k of line %ld in group '%s'",
                           (long long)json_integer_value(json_object_get(r, "k")),
                           g->lines[same_k(g, r)], id);
            json_decref(r);
        } else if (g)
            group_push(g, r, f, l);
        else {
            tool_reject_at(gr->t, f, l, r, gr->key,
                           "group '%s' is split: it appeared earlier in the stream", id);
            json_decref(r);
        }
    }
}

int
group_next(struct group_reader *gr, struct group *g)
{
    const char *id, *file;
    long line;
    size_t i;
    json_t *r;

    for (i = 0; i < g->n; i++)
        json_decref(g->recs[i]);
    g->n = 0;
    free(g->id);
    g->id = NULL;
    while ((r = take_next(gr, &id, &file, &line)) != NULL) {
        char *myid = xstrdup(id);
        if (seen_add(gr, id_hash(myid))) {
            tool_reject_at(gr->t, file, line, r, gr->key,
                           "group '%s' is split: it appeared earlier in the stream", myid);
            json_decref(r);
            read_run(gr, myid, NULL);
            free(myid);
            continue;
        }
        g->id = myid;
        group_push(g, r, file, line);
        read_run(gr, myid, g);
        return 1;
    }
    return 0;
}
