/*
 * test_score.c - the scorer loop: routing by the domain rule, the checks
 * before the callback, the reward fields and the rejects, on a file of
 * records written here with the expected output written out by hand;
 * the staged loop (score_run_jobs) on workers that finish out of order,
 * its output still in input order.
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

static void
test_jobs(void)
{
    static const char *const math[] = {"math"};
    struct tool t;
    struct scorer s = {"x", {math, 1, NULL, 0, 1}, "yes", NULL, NULL};
    struct score_stages st = {s_prepare, s_run, s_finish, 3};
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
    {
        /* every record but 17 and 21, in input order, each as the rules say */
        json_error_t je;
        char *got = slurp("jobs.out"), *line, *save = NULL;
        int want = 0;
        for (line = strtok_r(got, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            json_t *g = json_loads(line, 0, &je), *x;
            int gi = (int)json_integer_value(json_object_get(g, "i"));
            if (want == 17 || want == 21)
                want++;
            CHECK_MSG(gi == want, "record %d where %d was due", gi, want);
            x = json_object_get(json_object_get(g, "rewards"), "x");
            if (gi % 10 == 3)
                CHECK(!json_object_get(g, "rewards"));
            else if (gi % 10 == 5)
                CHECK(json_real_value(x) == 0.5 && !json_object_get(g, "slot_ok"));
            else
                CHECK(json_real_value(x) == gi / 100.0 && json_object_get(g, "slot_ok"));
            json_decref(g);
            want++;
        }
        CHECK(want == 40);
    }
    CHECK(strstr(slurp("jobs.rej"), "\"error\":\"infra_error: no sandbox\",\"file\":"
                                    "\"jobs.jsonl\",\"line\":18") != NULL);
    CHECK(strstr(slurp("jobs.rej"), "\"error\":\"field 'completion': is bad\",\"file\":"
                                    "\"jobs.jsonl\",\"line\":22") != NULL);
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
    return check_done();
}
