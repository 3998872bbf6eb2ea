/*
 * test_sandbox.c - the sandbox's steps, limits and isolation, with small
 * shell and Python programs whose results are known by hand.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sandbox.h"

static struct sandbox sb;
static struct sandbox_limits lim;
static struct sbuf err;     /* the last sandbox_run's reason, appended */

/* Runs one step: sh -c script with input; fills res. */
static int
run_sh(const char *script, const char *input, struct sandbox_result *res)
{
    struct sandbox_job job = SANDBOX_JOB_INIT;
    struct sandbox_step *s = sandbox_job_add(&job, &lim);
    int rc;

    sandbox_step_arg(s, "/bin/sh");
    sandbox_step_arg(s, "-c");
    sandbox_step_arg(s, script);
    if (input)
        sandbox_step_input(s, input, strlen(input));
    rc = sandbox_run(&sb, 0, &job, res, &err);
    sandbox_job_release(&job);
    return rc;
}

static const char *
out(struct sandbox_result *res, size_t i)
{
    return sbuf_str(&res->steps[i].out);
}

int
main(int argc, char **argv)
{
    struct sandbox_result res = SANDBOX_RESULT_INIT;
    struct sandbox_job job = SANDBOX_JOB_INIT;
    struct sandbox_step *s;
    char big[200000];

    if (sandbox_is_runner(argc, argv))
        return sandbox_runner_main();
    sandbox_init(&sb, NULL);
    sandbox_limits_default(&lim);
    lim.wall_sec = 1;
    lim.cpu_sec = 1;

    /* stdin to stdout, exit status, stderr. */
    CHECK(run_sh("cat; echo err >&2; exit 3", "hello\n", &res) == 0);
    CHECK(res.n == 1 && res.steps[0].status == SANDBOX_EXITED && res.steps[0].code == 3);
    CHECK_STREQ(out(&res, 0), "hello\n");
    CHECK_STREQ(sbuf_str(&res.steps[0].err), "err\n");

    /* Input larger than a pipe buffer goes through whole. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(run_sh("wc -c", big, &res) == 0);
    CHECK(atol(out(&res, 0)) == (long)sizeof(big) - 1);

    /* The view from inside: unprivileged, clean environment, /tmp as the
     * working directory, no host /home or /root, only loopback. */
    CHECK(run_sh("id -u; pwd; env | sort | tr '\\n' ' '; echo; "
                 "ls / | tr '\\n' ' '; echo; ls /sys/class/net 2>/dev/null | wc -l; "
                 "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '", NULL, &res) == 0);
    {
        const char *o = out(&res, 0);
        char want[512];

        snprintf(want, sizeof(want), "%d\n/tmp\n", getuid() == 0 ? 64000 : (int)getuid());
        CHECK_MSG(strncmp(o, want, strlen(want)) == 0, "%s", o);
        CHECK_MSG(strstr(o, "HOME=/tmp LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin "
                            "PWD=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0") != NULL,
                  "%s", o);
        CHECK_MSG(strstr(o, "home") == NULL && strstr(o, "root") == NULL
                  && strstr(o, "work") == NULL, "%s", o);
        CHECK_MSG(strstr(o, "\nlo\n") != NULL && strstr(o, "eth") == NULL, "%s", o);
    }

    /* Wall clock: a sleeper is killed at 1 s. */
    CHECK(run_sh("sleep 30", NULL, &res) == 0);
    CHECK(res.steps[0].status == SANDBOX_TIMEOUT);
    CHECK(res.steps[0].wall_sec < 5);

    /* CPU: a spinning loop ends with the CPU limit or the wall clock. */
    lim.wall_sec = 10;
    CHECK(run_sh("while :; do :; done", NULL, &res) == 0);
    CHECK(res.steps[0].status == SANDBOX_TIMEOUT);
    CHECK(res.steps[0].wall_sec < 9);
    lim.wall_sec = 1;

    /* Output over the cap: stopped, kept up to the cap. */
    lim.out_bytes = 1000;
    CHECK(run_sh("yes", NULL, &res) == 0);
    CHECK(res.steps[0].status == SANDBOX_OUTPUT_LIMIT);
    CHECK(res.steps[0].out.len == 1000);
    /* stderr is drained and its tail kept: never a limit. */
    lim.err_bytes = 100;
    CHECK(run_sh("yes | head -c 3000000 >&2; printf 'end\\n' >&2; echo done", NULL, &res) == 0);
    CHECK(res.steps[0].status == SANDBOX_EXITED && res.steps[0].code == 0);
    CHECK_STREQ(sbuf_str(&res.steps[0].out), "done\n");
    CHECK(res.steps[0].err.len == 100);
    CHECK(memcmp(res.steps[0].err.buf + 96, "end\n", 4) == 0);
    CHECK(memcmp(res.steps[0].err.buf, "y\ny\n", 4) == 0);
    CHECK(run_sh("yes >&2", NULL, &res) == 0);
    CHECK(res.steps[0].status == SANDBOX_TIMEOUT && res.steps[0].err.len == 100);
    /* Exactly the cap is fine. */
    CHECK(run_sh("head -c 1000 /dev/zero", NULL, &res) == 0);
    CHECK(res.steps[0].status == SANDBOX_EXITED && res.steps[0].out.len == 1000);
    sandbox_limits_default(&lim);
    lim.wall_sec = 1;
    lim.cpu_sec = 1;

    /* File size: RLIMIT_FSIZE is an output limit. */
    lim.fsize_bytes = 4096;
    CHECK(run_sh("exec head -c 100000 /dev/zero > f", NULL, &res) == 0);
    CHECK(res.steps[0].status == SANDBOX_OUTPUT_LIMIT);
    lim.fsize_bytes = 0;
    sandbox_limits_default(&lim);
    lim.wall_sec = 1;
    lim.cpu_sec = 1;

    /* A signal. */
    CHECK(run_sh("kill -SEGV $$", NULL, &res) == 0);
    CHECK(res.steps[0].status == SANDBOX_SIGNALED && res.steps[0].code == 11);

    /* Read-only system, writable /tmp; the root is read-only too. */
    CHECK(run_sh("touch /usr/x 2>/dev/null || echo ro; touch /x 2>/dev/null || echo ro; "
                 "touch /dev/x 2>/dev/null || echo ro; touch /tmp/x && echo rw", NULL,
                 &res) == 0);
    CHECK_STREQ(out(&res, 0), "ro\nro\nro\nrw\n");

    /* Several steps: files, needs, state kept in /tmp, leftovers killed. */
    s = sandbox_job_add(&job, &lim);
    sandbox_step_file(s, "a.sh", "echo a; (sleep 100 &); exit 0\n", 30);
    sandbox_step_arg(s, "/bin/sh");
    sandbox_step_arg(s, "a.sh");
    s = sandbox_job_add(&job, &lim);
    s->needs = 0;
    sandbox_step_arg(s, "/bin/sh");
    sandbox_step_arg(s, "-c");
    sandbox_step_arg(s, "cat a.sh | wc -l; ls /proc | grep -c '^[0-9]'; exit 1");
    s = sandbox_job_add(&job, &lim);
    s->needs = 1;
    sandbox_step_arg(s, "/bin/true");
    s = sandbox_job_add(&job, &lim);
    sandbox_step_arg(s, "/nonexistent");
    CHECK(sandbox_run(&sb, 1, &job, &res, &err) == 0);
    CHECK(res.n == 4);
    CHECK_STREQ(out(&res, 0), "a\n");
    /* 1 line; processes: the runner, sh, and ls or grep (the sleeper is gone). */
    CHECK_MSG(strncmp(out(&res, 1), "1\n", 2) == 0 && atoi(out(&res, 1) + 2) <= 4,
              "%s", out(&res, 1));
    CHECK(res.steps[1].status == SANDBOX_EXITED && res.steps[1].code == 1);
    CHECK(res.steps[2].status == SANDBOX_SKIPPED);
    CHECK(res.steps[3].status == SANDBOX_START_FAILED);
    sandbox_job_release(&job);

    /* Process limit: a fork bomb is contained (fork fails) and cleaned up. */
    lim.nproc = 8;
    lim.wall_sec = 10;
    CHECK(run_sh("i=0; while [ $i -lt 50 ]; do sleep 0.5 & i=$((i+1)); done; "
                 "wait; echo done", NULL, &res) == 0);
    CHECK_MSG(res.steps[0].status == SANDBOX_EXITED && res.steps[0].code != 0
              && strstr(sbuf_str(&res.steps[0].err), "fork") != NULL,
              "%s %d %s", sandbox_status_name(res.steps[0].status), res.steps[0].code,
              sbuf_str(&res.steps[0].err));
    /* The same with room for them: the limit, not the script, stopped it. */
    lim.nproc = 64;
    CHECK(run_sh("i=0; while [ $i -lt 50 ]; do sleep 0.5 & i=$((i+1)); done; "
                 "wait; echo done", NULL, &res) == 0);
    CHECK_STREQ(out(&res, 0), "done\n");
    lim.nproc = 0;
    lim.wall_sec = 1;

    /* Infrastructure error: bwrap missing, distinct from any verdict. */
    {
        struct sandbox bad;

        sandbox_init(&bad, "/nonexistent/bwrap");
        bad.retries = 0;
        s = sandbox_job_add(&job, &lim);
        sandbox_step_arg(s, "/bin/true");
        sbuf_reset(&err);
        CHECK(sandbox_run(&bad, 0, &job, &res, &err) == -1);
        CHECK(strstr(sbuf_str(&err), "/nonexistent/bwrap") != NULL);
        CHECK(res.n == 0);
        sandbox_job_release(&job);
        sandbox_release(&bad);
    }

    sandbox_result_release(&res);
    sandbox_release(&sb);
    sbuf_release(&err);
    return check_done();
}
