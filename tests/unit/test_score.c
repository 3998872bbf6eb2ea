/*
 * test_score.c - the scorer loop: routing by the domain rule, the checks
 * before the callback, the reward fields and the rejects, on a file of
 * records written here with the expected output written out by hand.
 */
#include <stdio.h>
#include <string.h>

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
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n;

    CHECK(f != NULL);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
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
    tool_init(&t, "test_score", "usage: test_score\n");
    t.output = "out.jsonl";
    t.max_errors = 10;
    t.rejects_path = "rej.jsonl";
    t.quiet = 1;
    tool_start(&t, 1, files);
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
    return check_done();
}
