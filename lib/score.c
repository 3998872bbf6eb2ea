/*
 * score.c - the scorer loop of score.h: one record at a time, or a
 * window of records whose jobs run on lib/pool's workers, in batches on
 * the loop's thread, or on a backend that completes them in any order.
 * Records wait to be written in input order in lib/window's in-order
 * window: a fixed one of 4 * jobs records for the workers (under the
 * loop's lock) or of SCORE_MAX_PENDING for the batches, a growing one
 * for a backend.
 */
#include "score.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "rec.h"
#include "window.h"

/* Records waiting for a batch at most (score_stages.batch). */
#define SCORE_MAX_PENDING 4096

/*
 * The checks every scorer shares: 1 when rec is to be scored (its
 * completion in *comp), 0 when it passes through, -1 when it is to be
 * rejected (the field in *field, the reason in *why: static).
 */
static int
route(const struct scorer *s, json_t *r, const char **comp, const char **field,
      const char **why)
{
    switch (sample_domain_match(&s->domains, r, why)) {
    case -1:
        *field = "domain";
        return -1;
    case 0:
        return 0;
    }
    if (rec_check_rewards(r, why)) {
        *field = "rewards";
        return -1;
    }
    if (rec_get_str(r, "completion", comp, why)) {
        *field = "completion";
        return -1;
    }
    return 1;
}

/*
 * A routed record out: passed through (k 3), rejected (k -1), or scored
 * (k as score returns it), in the name of file:line (file NULL: the
 * current input position).
 */
static void
emit(struct tool *t, const struct scorer *s, struct score_counts *c, json_t *r, int k,
     double reward, const char *file, long line, const char *field, struct sbuf *why)
{
    if (k == 3) {
        tool_write(t, r);
        c->passed++;
        return;
    }
    if (k < 0) {
        tool_reject_at(t, file, line, r, field, "%s", sbuf_str(why));
        return;
    }
    rec_set_reward(r, s->name, reward);
    c->scored++;
    c->hits += k > 0;
    tool_write(t, r);
    tool_progress(t, "%ld records, %ld %s", t->nread, c->hits, s->hit);
}

/* route() as emit() takes it: k, and the reason into why. */
static int
route_k(const struct scorer *s, json_t *r, const char **comp, const char **field,
        struct sbuf *why)
{
    const char *w = NULL;
    int k = route(s, r, comp, field, &w);

    if (k < 0)
        sbuf_adds(why, w);
    return k == 0 ? 3 : k;
}

static void
run_simple(struct tool *t, const struct scorer *s, struct score_counts *c)
{
    struct sbuf why = SBUF_INIT;
    json_t *r;

    while ((r = tool_next(t)) != NULL) {
        const char *comp, *field = NULL;
        double reward = 0;
        int k;

        sbuf_reset(&why);
        k = route_k(s, r, &comp, &field, &why);
        if (k == 1)
            k = s->score(s->ctx, r, comp, &reward, &field, &why);
        emit(t, s, c, r, k, reward, NULL, 0, field, &why);
        json_decref(r);
    }
    sbuf_release(&why);
}

/* ---- Staged scorers: records in flight ---- */

struct item {
    json_t *rec;            /* NULL: rejected on reading (nothing to write) */
    const char *file;       /* borrowed from the tool */
    long line;
    void *job;              /* NULL: done on reading (k, reward) */
    int k;
    double reward;
    const char *field;
    struct sbuf why;
};

struct score_window {
    struct tool *t;
    const struct scorer *s;
    const struct score_stages *st;
    struct score_counts *c;
    struct window win;          /* of struct item, the records in flight */
    pthread_mutex_t mu;         /* workers: guards win, next and eof */
    pthread_cond_t work_cv, done_cv;
    size_t next;                /* workers: the first record no worker took */
    int eof;
};

/* Writes (or rejects) a finished item and empties it. */
static void
finish(struct score_window *w, struct item *it)
{
    const struct scorer *s = w->s;

    if (it->rec && it->job) {
        sbuf_reset(&it->why);
        it->field = NULL;
        it->k = w->st->finish(s->ctx, it->rec, it->job, &it->reward, &it->field, &it->why);
    }
    if (it->rec && w->st->no_write) {
        w->c->passed += it->k == 3;
        w->c->scored += it->k >= 0 && it->k <= 1;
        w->c->hits += it->k == 1;
    } else if (it->rec)
        emit(w->t, s, w->c, it->rec, it->k, it->reward, it->file, it->line, it->field,
             &it->why);
    json_decref(it->rec);
    it->rec = NULL;
    it->job = NULL;
}

/*
 * Reads the next record into it: 0, or -1 at the end of the input.  A
 * record the checks or prepare refuse is rejected here, at its position
 * (it->rec NULL after).  it->job is set when the record has a job to
 * run, else it is done.
 */
static int
fill(struct score_window *w, struct item *it)
{
    const struct scorer *s = w->s;
    const char *comp;
    json_t *r = tool_next(w->t);

    if (!r)
        return -1;
    it->file = tool_file(w->t);
    it->line = tool_line(w->t);
    it->rec = r;
    it->job = NULL;
    it->reward = 0;
    it->field = NULL;
    sbuf_reset(&it->why);
    it->k = route_k(s, r, &comp, &it->field, &it->why);
    if (it->k == 1)
        it->k = w->st->prepare(s->ctx, r, comp, &it->job, &it->reward, &it->field, &it->why);
    if (it->k < 0) {
        tool_reject(w->t, r, it->field, "%s", sbuf_str(&it->why));
        json_decref(r);
        it->rec = NULL;
    }
    if (it->k != 2)
        it->job = NULL;
    return 0;
}

/* ---- On workers: a window of 4 * jobs records ---- */

/* A worker: runs the job of each waiting record, in slot. */
static void
worker(struct score_window *w, int slot)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct item *it;
        size_t seq;

        if (w->next < w->win.head)
            w->next = w->win.head;
        while (w->next < w->win.tail && window_is_done(&w->win, w->next))
            w->next++;
        if (w->next == w->win.tail) {
            if (w->eof)
                break;
            pthread_cond_wait(&w->work_cv, &w->mu);
            continue;
        }
        seq = w->next++;
        it = window_at(&w->win, seq);
        pthread_mutex_unlock(&w->mu);
        w->st->run(w->s->ctx, slot, it->job);
        pthread_mutex_lock(&w->mu);
        window_done(&w->win, seq);
        pthread_cond_broadcast(&w->done_cv);
    }
    pthread_mutex_unlock(&w->mu);
}

/*
 * The reader: keeps the window full, in input order, and writes each
 * record at its head as soon as it is finished.  Only the reader takes
 * slots, so the one it fills or finishes (outside the lock) is its own.
 */
static void
reader(struct score_window *w)
{
    for (;;) {
        struct item *it;
        int more;

        pthread_mutex_lock(&w->mu);
        while ((it = window_pop(&w->win)) != NULL) {
            pthread_mutex_unlock(&w->mu);
            finish(w, it);
            pthread_mutex_lock(&w->mu);
        }
        if (w->eof && window_count(&w->win) == 0) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        if (w->eof || (it = window_slot(&w->win)) == NULL) {
            pthread_cond_wait(&w->done_cv, &w->mu);
            pthread_mutex_unlock(&w->mu);
            continue;
        }
        pthread_mutex_unlock(&w->mu);

        /* room in the window: one more record (the slot is free) */
        more = fill(w, it) == 0;
        pthread_mutex_lock(&w->mu);
        if (more) {
            window_push(&w->win, it->job == NULL);
            if (it->job)
                pthread_cond_signal(&w->work_cv);
        } else {
            w->eof = 1;
            pthread_cond_broadcast(&w->work_cv);
        }
        pthread_mutex_unlock(&w->mu);
    }
}

/* lib/pool task: 0 is the reader, 1..jobs the workers (slot task - 1). */
static void
task(void *ctx, int task_no, int tid)
{
    (void)tid;
    if (task_no == 0)
        reader(ctx);
    else
        worker(ctx, task_no - 1);
}

static void
run_workers(struct score_window *w)
{
    window_init(&w->win, sizeof(struct item), (size_t)w->st->jobs * 4, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work_cv, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    /* a thread each for the reader and the workers (pool.h) */
    pool_set_threads(w->st->jobs + 1);
    pool_run(task, w, w->st->jobs + 1);
    pthread_cond_destroy(&w->work_cv);
    pthread_cond_destroy(&w->done_cv);
    pthread_mutex_destroy(&w->mu);
}

/* ---- In batches, on the loop's thread ---- */

/* The jobs queued in the window and their cost. */
struct queued {
    size_t n, cost;
};

/* Runs the queued jobs of the window as one batch and writes every record. */
static void
flush(struct score_window *w, void **jobs, struct queued *q)
{
    struct item *it;
    size_t i, n = 0;

    for (i = w->win.head; i < w->win.tail; i++) {
        it = window_at(&w->win, i);
        if (it->rec && it->job)
            jobs[n++] = it->job;
    }
    if (n)
        w->st->run_batch(w->s->ctx, jobs, n);
    for (i = w->win.head; i < w->win.tail; i++)
        if (!window_is_done(&w->win, i))
            window_done(&w->win, i);
    while ((it = window_pop(&w->win)) != NULL)
        finish(w, it);
    q->n = q->cost = 0;
}

/* Puts *it at the window's tail, taking the slot's buffers in exchange. */
static void
push(struct score_window *w, struct item *it)
{
    struct item *slot = window_slot(&w->win), old = *slot;

    *slot = *it;
    *it = old;
    window_push(&w->win, slot->job == NULL);
}

static void
run_batches(struct score_window *w)
{
    const struct score_stages *st = w->st;
    size_t max = st->batch ? st->batch : 1;
    struct queued q = {0, 0};
    void **jobs;
    struct item it;

    /* records waiting: the batch's and those read between its jobs */
    window_init(&w->win, sizeof(struct item), SCORE_MAX_PENDING, 0);
    jobs = xcalloc(max, sizeof(*jobs));
    memset(&it, 0, sizeof(it));
    while (fill(w, &it) == 0) {
        size_t cost;

        if (!it.job) {
            if (window_count(&w->win) == 0)
                finish(w, &it);
            else {
                if (window_count(&w->win) == w->win.cap)
                    flush(w, jobs, &q);
                push(w, &it);
            }
            continue;
        }
        cost = st->cost ? st->cost(it.job) : 0;
        if (q.n > 0 && st->batch_cost && q.cost + cost > st->batch_cost)
            flush(w, jobs, &q);
        push(w, &it);
        q.n++;
        q.cost += cost;
        if (q.n >= max || window_count(&w->win) == w->win.cap)
            flush(w, jobs, &q);
    }
    flush(w, jobs, &q);
    sbuf_release(&it.why);
    free(jobs);
}

/* ---- Completed by a backend, in any order ---- */

/* Writes the finished items at the head. */
static void
write_head(struct score_window *w)
{
    struct item *it;

    while ((it = window_pop(&w->win)) != NULL)
        finish(w, it);
}

int
score_window_next(struct score_window *w, void **job, size_t *ticket)
{
    while (!w->eof) {
        struct item *it = window_slot(&w->win);     /* the window grows */
        size_t seq;

        if (fill(w, it) < 0) {
            w->eof = 1;
            break;
        }
        seq = window_push(&w->win, it->job == NULL);
        if (it->job) {
            *job = it->job;
            *ticket = seq;
            return 1;
        }
        write_head(w);
    }
    return 0;
}

void
score_window_done(struct score_window *w, size_t ticket)
{
    window_done(&w->win, ticket);
    write_head(w);
}

static void
release_item(void *ctx, void *slot)
{
    struct item *it = slot;

    (void)ctx;
    sbuf_release(&it->why);
}

static void
run_async(struct score_window *w)
{
    window_init(&w->win, sizeof(struct item), 64, 1);
    w->st->drive(w->s->ctx, w);
    /* the backend has handed back every job it took */
    assert(window_count(&w->win) == 0);
    write_head(w);
}

void
score_run_jobs(struct tool *t, const struct scorer *s, const struct score_stages *st,
               struct score_counts *c)
{
    struct score_window w;

    memset(c, 0, sizeof(*c));
    memset(&w, 0, sizeof(w));
    w.t = t;
    w.s = s;
    w.st = st;
    w.c = c;
    if (st->jobs > 0)
        run_workers(&w);
    else if (st->drive)
        run_async(&w);
    else
        run_batches(&w);
    window_release(&w.win, release_item, NULL);
}

void
score_run(struct tool *t, const struct scorer *s, struct score_counts *c)
{
    memset(c, 0, sizeof(*c));
    run_simple(t, s, c);
}
