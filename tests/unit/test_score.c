/*
 * test_score.c - the scorer loop: routing by the domain rule, the checks
 * before the callback, the reward fields and the rejects, on a file of
 * records written here with the expected output written out by hand;
 * the staged loop (score_run_jobs) on workers that finish out of order,
 * its output still in input order; a backend that hands jobs back out
 * of order (drive), the output in input order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "score.h"

/* reward 1 and a hit for "yes", 0 for anything else, reject "bad" */
static int
yes(void *ctx, json_t *rec, const char *comp, double *reward, const char **field,
    struct sbuf *why)
{
    int *calls = ctx;

    (*calls)++;
    if (strcmp(comp, "bad") == 0) {
        *field = "completion";
        sbuf_adds(why, "is bad");
        return -1;
    }
    json_object_set_new(rec, "seen", json_true());
    *reward = strcmp(comp, "yes") == 0;
    return strcmp(comp, "yes") == 0;
}

static char *
slurp(const char *path)
{
    static char buf[16384];
    FILE *f = fopen(path, "r");
    size_t n;

    CHECK(f != NULL);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A tool reading files[0], writing out, rejects to rej under --max-errors 10. */
static void
start(struct tool *t, char **files, const char *out, const char *rej)
{
    tool_init(t, "test_score", "usage: test_score\n");
    t->output = out;
    t->max_errors = 10;
    t->rejects_path = rej;
    t->quiet = 1;
    tool_start(t, 1, files);
}

/*
 * Stages: "n<digits>" is a job whose worker computes reward digits/100
 * after sleeping longer for earlier records; "now" is scored at once
 * (0.5); "late" fails in finish with no field; "bad" is rejected by
 * prepare.
 */
struct sjob {
    const char *comp;
    double reward;
    int slot;
};

static int
s_prepare(void *ctx, json_t *rec, const char *comp, void **job, double *reward,
          const char **field, struct sbuf *why)
{
    struct sjob *j;

    (void)ctx;
    (void)rec;
    if (strcmp(comp, "bad") == 0) {
        *field = "completion";
        sbuf_adds(why, "is bad");
        return -1;
    }
    if (strcmp(comp, "now") == 0) {
        *reward = 0.5;
        return 0;
    }
    j = xcalloc(1, sizeof(*j));
    j->comp = comp;
    j->slot = -1;
    *job = j;
    return 2;
}

static void
s_run(void *ctx, int slot, void *job)
{
    struct sjob *j = job;
    struct timespec ts = {0, 0};

    (void)ctx;
    if (j->comp[0] == 'n') {
        j->reward = atoi(j->comp + 1) / 100.0;
        ts.tv_nsec = (long)(100 - atoi(j->comp + 1)) * 200000L;
        nanosleep(&ts, NULL);
    }
    j->slot = slot;
}

static int
s_finish(void *ctx, json_t *rec, void *job, double *reward, const char **field,
         struct sbuf *why)
{
    struct sjob *j = job;
    int k = 1, *bad_slots = ctx;

    if (j->slot < 0 || j->slot >= 3)
        (*bad_slots)++;
    if (strcmp(j->comp, "late") == 0) {
        *field = NULL;
        sbuf_adds(why, "infra_error: no sandbox");
        k = -1;
    } else {
        json_object_set_new(rec, "slot_ok", json_true());
        *reward = j->reward;
    }
    free(j);
    return k;
}

/*
 * Checks that path holds records "i" 0..n-1 but skip_a and skip_b, in
 * that order, each as kind(i) says: 0 passed through, 1 scored at once
 * (0.5), 2 a job's (i/100, "slot_ok").
 */
static void
check_out(const char *path, int n, int skip_a, int skip_b, int (*kind)(int))
{
    json_error_t je;
    char *got = slurp(path), *line, *save = NULL;
    int want = 0;

    for (line = strtok_r(got, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *g = json_loads(line, 0, &je), *x;
        int gi = (int)json_integer_value(json_object_get(g, "i"));
        if (want == skip_a || want == skip_b)
            want++;
        CHECK_MSG(gi == want, "record %d where %d was due", gi, want);
        x = json_object_get(json_object_get(g, "rewards"), "x");
        if (kind(gi) == 0)
            CHECK(!json_object_get(g, "rewards"));
        else if (kind(gi) == 1)
            CHECK(json_real_value(x) == 0.5 && !json_object_get(g, "slot_ok"));
        else
            CHECK(json_real_value(x) == gi / 100.0 && json_object_get(g, "slot_ok"));
        json_decref(g);
        want++;
    }
    CHECK(want == n);
}

static int
jobs_kind(int i)
{
    return i % 10 == 3 ? 0 : i % 10 == 5 ? 1 : 2;
}

static void
test_jobs(void)
{
    static const char *const math[] = {"math"};
    struct tool t;
    struct scorer s = {"x", {math, 1, NULL, 0, 1}, "yes", NULL, NULL};
    struct score_stages st = {.prepare = s_prepare, .run = s_run, .finish = s_finish, .jobs = 3};
    struct score_counts c;
    char name[] = "jobs.jsonl", *files[] = {name};
    int bad_slots = 0, i;
    FILE *f = fopen("jobs.jsonl", "w");

    CHECK(f != NULL);
    for (i = 0; i < 40; i++) {
        if (i % 10 == 3)
            fprintf(f, "{\"i\":%d,\"domain\":\"code\",\"completion\":\"n1\"}\n", i);
        else if (i % 10 == 5)
            fprintf(f, "{\"i\":%d,\"domain\":\"math\",\"completion\":\"now\"}\n", i);
        else if (i == 17)
            fprintf(f, "{\"i\":%d,\"domain\":\"math\",\"completion\":\"late\"}\n", i);
        else if (i == 21)
            fprintf(f, "{\"i\":%d,\"domain\":\"math\",\"completion\":\"bad\"}\n", i);
        else
            fprintf(f, "{\"i\":%d,\"domain\":\"math\",\"completion\":\"n%d\"}\n", i, i);
    }
    fclose(f);
    s.ctx = &bad_slots;
    start(&t, files, "jobs.out", "jobs.rej");
    score_run_jobs(&t, &s, &st, &c);
    CHECK(tool_finish(&t) == 0);
    CHECK(bad_slots == 0);
    CHECK(c.scored == 40 - 4 - 2 && c.passed == 4 && t.nrejected == 2);
    check_out("jobs.out", 40, 17, 21, jobs_kind);
    CHECK(strstr(slurp("jobs.rej"), "\"error\":\"infra_error: no sandbox\",\"file\":"
                                    "\"jobs.jsonl\",\"line\":18") != NULL);
    CHECK(strstr(slurp("jobs.rej"), "\"error\":\"field 'completion': is bad\",\"file\":"
                                    "\"jobs.jsonl\",\"line\":22") != NULL);
}

/*
 * Batches: each job costs its completion's length; at most 3 jobs and 8
 * of cost a batch.  The batches' sizes are logged in order, and every
 * reward is the size of the batch its record was scored in.
 */
struct blog {
    size_t sizes[16], n;
};

struct bjob {
    size_t len, batch;
};

static int
b_prepare(void *ctx, json_t *rec, const char *comp, void **job, double *reward,
          const char **field, struct sbuf *why)
{
    struct bjob *j;

    (void)ctx;
    (void)rec;
    (void)reward;
    (void)field;
    (void)why;
    j = xcalloc(1, sizeof(*j));
    j->len = strlen(comp);
    *job = j;
    return 2;
}

static size_t
b_cost(void *job)
{
    return ((struct bjob *)job)->len;
}

static void
b_batch(void *ctx, void **jobs, size_t n)
{
    struct blog *log = ctx;
    size_t i;

    log->sizes[log->n++] = n;
    for (i = 0; i < n; i++)
        ((struct bjob *)jobs[i])->batch = n;
}

static int
b_finish(void *ctx, json_t *rec, void *job, double *reward, const char **field,
         struct sbuf *why)
{
    (void)ctx;
    (void)rec;
    (void)field;
    (void)why;
    *reward = (double)((struct bjob *)job)->batch;
    free(job);
    return 1;
}

static void
test_batches(void)
{
    static const char *const math[] = {"math"};
    struct tool t;
    struct blog log = {{0}, 0};
    struct scorer s = {"x", {math, 1, NULL, 0, 1}, "yes", NULL, &log};
    struct score_stages st = {.prepare = b_prepare, .finish = b_finish, .run_batch = b_batch,
                              .batch = 3, .batch_cost = 8, .cost = b_cost};
    struct score_counts c;
    char name[] = "b.jsonl", *files[] = {name};
    FILE *f = fopen("b.jsonl", "w");

    CHECK(f != NULL);
    /* costs 2 2 2 | 5 | p 6 (5 + 6 > 8) | 9 (alone past 8) | 1 */
    fputs("{\"completion\":\"aa\"}\n{\"completion\":\"bb\"}\n{\"completion\":\"cc\"}\n"
          "{\"completion\":\"ddddd\"}\n{\"domain\":\"code\",\"completion\":\"p\"}\n"
          "{\"completion\":\"eeeeee\"}\n{\"completion\":\"fffffffff\"}\n"
          "{\"completion\":\"g\"}\n", f);
    fclose(f);
    start(&t, files, "b.out", "b.rej");
    score_run_jobs(&t, &s, &st, &c);
    CHECK(tool_finish(&t) == 0);
    CHECK(log.n == 5 && log.sizes[0] == 3 && log.sizes[1] == 1 && log.sizes[2] == 1
          && log.sizes[3] == 1 && log.sizes[4] == 1);
    CHECK(c.scored == 7 && c.passed == 1);
    CHECK_STREQ(slurp("b.out"),
                "{\"completion\":\"aa\",\"rewards\":{\"x\":3.0},\"reward\":3.0}\n"
                "{\"completion\":\"bb\",\"rewards\":{\"x\":3.0},\"reward\":3.0}\n"
                "{\"completion\":\"cc\",\"rewards\":{\"x\":3.0},\"reward\":3.0}\n"
                "{\"completion\":\"ddddd\",\"rewards\":{\"x\":1.0},\"reward\":1.0}\n"
                "{\"domain\":\"code\",\"completion\":\"p\"}\n"
                "{\"completion\":\"eeeeee\",\"rewards\":{\"x\":1.0},\"reward\":1.0}\n"
                "{\"completion\":\"fffffffff\",\"rewards\":{\"x\":1.0},\"reward\":1.0}\n"
                "{\"completion\":\"g\",\"rewards\":{\"x\":1.0},\"reward\":1.0}\n");
    /* no_write: counted, nothing written */
    log.n = 0;
    st.no_write = 1;
    start(&t, files, "b2.out", "b2.rej");
    score_run_jobs(&t, &s, &st, &c);
    CHECK(tool_finish(&t) == 0);
    CHECK(c.scored == 7 && c.passed == 1 && log.n == 5);
    CHECK_STREQ(slurp("b2.out"), "");
}

/*
 * A backend that completes out of order: drive takes jobs three at a
 * time and hands each group back newest first, so every completion but
 * the last of a group comes before an older record's.  Its jobs are
 * s_prepare's, finished by s_finish (each done as slot 0, bad_slots first
 * for it).
 */
struct adrive {
    int bad_slots;
    size_t tickets[3];
    struct sjob *jobs[3];
    int held, done, out_of_order, nexts_after_end;
    size_t last_done;
};

static void
a_drive(void *ctx, struct score_window *w)
{
    struct adrive *d = ctx;
    void *job;
    size_t ticket;
    int got;

    do {
        got = score_window_next(w, &job, &ticket);
        if (got) {
            d->jobs[d->held] = job;
            d->tickets[d->held++] = ticket;
        }
        if (!got || d->held == 3)
            while (d->held > 0) {
                struct sjob *j = d->jobs[--d->held];
                j->reward = j->comp[0] == 'n' ? atoi(j->comp + 1) / 100.0 : 0;
                j->slot = 0;
                if (d->done++ > 0 && d->tickets[d->held] < d->last_done)
                    d->out_of_order++;
                d->last_done = d->tickets[d->held];
                score_window_done(w, d->tickets[d->held]);
            }
    } while (got);
    d->nexts_after_end += score_window_next(w, &job, &ticket);
}

static int
async_kind(int i)
{
    return i % 5 == 1 || i >= 18 ? 0 : i == 4 ? 1 : 2;
}

static void
test_async(void)
{
    static const char *const math[] = {"math"};
    struct tool t;
    struct adrive d;
    struct scorer s = {"x", {math, 1, NULL, 0, 1}, "yes", NULL, &d};
    struct score_stages st = {.prepare = s_prepare, .finish = s_finish, .drive = a_drive};
    struct score_counts c;
    char name[] = "async.jsonl", *files[] = {name};
    int i;
    FILE *f = fopen("async.jsonl", "w");

    CHECK(f != NULL);
    /* 1, 6, 11, 16, 18, 19 pass through (the last two after every job) */
    for (i = 0; i < 20; i++) {
        if (i % 5 == 1 || i >= 18)
            fprintf(f, "{\"i\":%d,\"domain\":\"code\",\"completion\":\"n1\"}\n", i);
        else if (i == 4)
            fprintf(f, "{\"i\":%d,\"domain\":\"math\",\"completion\":\"now\"}\n", i);
        else if (i == 7)
            fprintf(f, "{\"i\":%d,\"domain\":\"math\",\"completion\":\"bad\"}\n", i);
        else if (i == 12)
            fprintf(f, "{\"i\":%d,\"domain\":\"math\",\"completion\":\"late\"}\n", i);
        else
            fprintf(f, "{\"i\":%d,\"domain\":\"math\",\"completion\":\"n%d\"}\n", i, i);
    }
    fclose(f);
    memset(&d, 0, sizeof(d));
    start(&t, files, "async.out", "async.rej");
    score_run_jobs(&t, &s, &st, &c);
    CHECK(tool_finish(&t) == 0);
    CHECK(d.done == 12 && d.out_of_order > 0 && d.nexts_after_end == 0 && d.bad_slots == 0);
    CHECK(c.scored == 20 - 6 - 2 && c.passed == 6 && t.nrejected == 2);
    check_out("async.out", 20, 7, 12, async_kind);
    CHECK(strstr(slurp("async.rej"), "\"error\":\"infra_error: no sandbox\",\"file\":"
                                     "\"async.jsonl\",\"line\":13") != NULL);
    CHECK(strstr(slurp("async.rej"), "\"error\":\"field 'completion': is bad\",\"file\":"
                                     "\"async.jsonl\",\"line\":8") != NULL);
}

int
main(void)
{
    static const char *const math[] = {"math"};
    struct tool t;
    struct scorer s = {"x", {math, 1, NULL, 0, 1}, "yes", yes, NULL};
    struct score_counts c;
    char name[] = "in.jsonl", *files[] = {name};
    int calls = 0;
    FILE *f = fopen("in.jsonl", "w");

    CHECK(f != NULL);
    fputs("{\"domain\":\"math\",\"completion\":\"yes\"}\n"
          "{\"domain\":\"code\",\"completion\":\"yes\"}\n"
          "{\"completion\":\"no\",\"rewards\":{\"y\":2}}\n"
          "{\"domain\":1,\"completion\":\"yes\"}\n"
          "{\"domain\":\"math\",\"completion\":\"bad\"}\n"
          "{\"domain\":\"math\",\"rewards\":[]}\n"
          "{\"domain\":\"math\"}\n",
          f);
    fclose(f);
    s.ctx = &calls;
    start(&t, files, "out.jsonl", "rej.jsonl");
    score_run(&t, &s, &c);
    CHECK(tool_finish(&t) == 0);
    CHECK(c.scored == 2 && c.hits == 1 && c.passed == 1 && calls == 3);
    CHECK(t.nrejected == 4);
    CHECK_STREQ(slurp("out.jsonl"),
                "{\"domain\":\"math\",\"completion\":\"yes\",\"seen\":true,"
                "\"rewards\":{\"x\":1.0},\"reward\":1.0}\n"
                "{\"domain\":\"code\",\"completion\":\"yes\"}\n"
                "{\"completion\":\"no\",\"rewards\":{\"y\":2,\"x\":0.0},\"seen\":true,"
                "\"reward\":2.0}\n");
    CHECK(strstr(slurp("rej.jsonl"), "\"error\":\"field 'domain': not a string\"") != NULL);
    CHECK(strstr(slurp("rej.jsonl"), "\"error\":\"field 'completion': is bad\"") != NULL);
    CHECK(strstr(slurp("rej.jsonl"), "\"field\":\"rewards\"") != NULL);
    CHECK(strstr(slurp("rej.jsonl"), "\"error\":\"field 'completion': missing\"") != NULL);
    test_jobs();
    test_batches();
    test_async();
    return check_done();
}
