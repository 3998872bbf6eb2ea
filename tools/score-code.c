/*
 * score-code - runs the code block of each "code" sample against the
 * record's tests in a bubblewrap sandbox and writes rewards.code, the
 * fraction of tests passed.  Records of other domains pass through
 * unchanged; output order is input order.  See score-code(1).
 *
 * The loop is lib/score's, its jobs on lib/pool's workers: each runs one
 * sandbox at a time, a window of 4 * jobs records is in flight.  This is
 * options and the three stages of a record (prepare, run, finish).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codeblock.h"
#include "codeeval.h"
#include "sample.h"
#include "sandbox.h"
#include "score.h"
#include "tool.h"

static const char usage[] =
    "usage: score-code [-j N] [-t SEC] [--wall SEC] [-m MIB] [--nproc N]\n"
    "                  [--output-limit BYTES] [--lang LANG] [--bwrap PATH] [--uid N]\n"
    "                  [options] [FILE...]\n"
    "Scores the code block of each record of domain \"code\" against its tests,\n"
    "run in a bubblewrap sandbox: rewards.code = passed / total.\n"
    "\n";

struct ctx {
    struct code_opts opts;
    const char *lang;           /* of records without 'lang' */
    struct sandbox *sb;         /* one per worker slot */
};

/* A sandbox run of one record: its task and, after run, the verdicts. */
struct job {
    struct code_task task;      /* strings borrowed from the record */
    enum code_verdict *verdicts;
    enum code_run_status status;
    struct sbuf why;            /* when status is not CODE_RUN_OK */
};

/* Records of domain "code"; the rest, untagged ones too, pass. */
static const char *const code_name[] = {"code"};

/* Checks rec and finds its program: 2 with a job, 0 (no code block), -1. */
static int
prepare(void *vctx, json_t *rec, const char *text, void **out, double *reward,
        const char **field, struct sbuf *why)
{
    struct ctx *c = vctx;
    const char *lang = c->lang, *w;
    struct job *j;
    enum code_lang l;
    size_t off, len;

    if (json_object_get(rec, "lang") && rec_get_str(rec, "lang", &lang, &w) != 0) {
        *field = "lang";
        sbuf_adds(why, w);
        return -1;
    }
    if (code_lang_parse(lang, &l) != 0) {
        *field = "lang";
        sbuf_addf(why, "'%s' is not " CODE_LANGS_TEXT, lang);
        return -1;
    }
    j = xcalloc(1, sizeof(*j));
    if (code_task_parse(rec, &c->opts, &j->task, field, why) != 0) {
        free(j);
        return -1;
    }
    /* The canonical name, which codeblock.h knows the aliases of. */
    if (!codeblock_find(text, strlen(text), code_lang_name(l), &off, &len)) {
        *reward = code_record_set(rec, NULL, NULL, "no_code");
        code_task_release(&j->task);
        free(j);
        return 0;
    }
    j->task.prog = (struct code_program){ l, text + off, len };
    j->verdicts = xcalloc(j->task.ntests, sizeof(*j->verdicts));
    *out = j;
    return 2;
}

static void
run(void *vctx, int slot, void *vjob)
{
    struct ctx *c = vctx;
    struct job *j = vjob;

    j->status = codeeval_run(&c->sb[slot], slot, &c->opts, &j->task, j->verdicts, &j->why);
}

/* The verdicts into rec; a sandbox that failed rejects it. */
static int
finish(void *vctx, json_t *rec, void *vjob, double *reward, const char **field,
       struct sbuf *why)
{
    struct job *j = vjob;
    int k;

    (void)vctx;
    if (j->status == CODE_RUN_INFRA) {
        *field = NULL;
        sbuf_addf(why, "infra_error: %s", sbuf_str(&j->why));
        k = -1;
    } else if (j->status == CODE_RUN_CHECKER) {
        *field = "checker";
        sbuf_adds(why, sbuf_str(&j->why));
        k = -1;
    } else {
        *reward = code_record_set(rec, &j->task, j->verdicts, NULL);
        k = *reward >= 1;
    }
    code_task_release(&j->task);
    sbuf_release(&j->why);
    free(j->verdicts);
    free(j);
    return k;
}

/* --lang: a language code_lang_parse knows. */
static int
cb_lang(void *v, const char *arg, struct sbuf *why)
{
    enum code_lang l;

    (void)why;
    if (code_lang_parse(arg, &l) != 0)
        return -1;
    *(const char **)v = arg;
    return 0;
}

int
main(int argc, char **argv)
{
    struct tool t;
    struct ctx c;
    struct score_counts cnt;
    const char *bwrap = NULL;
    long mem = 1024, nproc, out_bytes, uid = 64000, jobs, k;
    double wall = 0;
    int argi;

    if (sandbox_is_runner(argc, argv))
        return sandbox_runner_main();
    memset(&c, 0, sizeof(c));
    code_opts_default(&c.opts);
    c.lang = "python";
    jobs = sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1)
        jobs = 1;
    nproc = c.opts.run.nproc;
    out_bytes = (long)c.opts.run.out_bytes;
    tool_init(&t, "score-code", usage);
    {
        struct opt opts[] = {
            OPT_LONG('j', "jobs", &jobs, "N", 1, 1024,
                     "sandboxes at once (default: number of cores)"),
            OPT_DOUBLE('t', "timeout", &c.opts.run.cpu_sec, "SEC", 0.01, 86400,
                       "CPU-time limit per test (default 5)"),
            OPT_DOUBLE(0, "wall", &wall, "SEC", 0.01, 86400,
                       "wall-clock limit per test (default 2 * timeout + 5)"),
            OPT_LONG('m', "memory", &mem, "MIB", 16, 1L << 20,
                     "address-space limit per process (default 1024)"),
            OPT_LONG(0, "nproc", &nproc, "N", 1, 4096,
                     "processes and threads per test (default 32)"),
            OPT_LONG(0, "output-limit", &out_bytes, "BYTES", 1, 1L << 30,
                     "stdout and stderr cap per test (default 1048576)"),
            OPT_CALL(0, "lang", &c.lang, "LANG", cb_lang, CODE_LANGS_TEXT,
                     "language of records without 'lang' (default python):\n"
                     "python, c, cpp, java, go, rust or javascript"),
            OPT_DOUBLE(0, "float-tolerance", &c.opts.float_tol, "EPS", 0, 1,
                       "outputs compared token by token, numbers\n"
                       "within absolute or relative error EPS"),
            OPT_BOOL(0, "subtasks", &c.opts.subtasks, "score records with 'subtasks' by subtask"),
            OPT_STRING(0, "bwrap", &bwrap, "PATH", "the bubblewrap program (default: bwrap in PATH)"),
            OPT_LONG(0, "uid", &uid, "N", 1, 4000000000L,
                     "when root, sandboxes run as uids N..N+jobs-1\n"
                     "(default 64000)"),
            OPT_END(),
        };
        struct opt *o;
        for (o = opts; o->type != OPT_T_END; o++)
            o->flags |= OPT_NAME_LONG;
        opt_find(opts, "float-tolerance")->flags |= OPT_OPEN_MIN;
        argi = tool_parse(&t, opts, argc, argv);
    }
    c.opts.run.mem_bytes = (uint64_t)mem << 20;
    c.opts.run.nproc = nproc;
    c.opts.run.out_bytes = (uint64_t)out_bytes;
    c.opts.run.wall_sec = wall ? wall : 2 * c.opts.run.cpu_sec + 5;
    c.sb = xcalloc((size_t)jobs, sizeof(*c.sb));
    for (k = 0; k < jobs; k++) {
        sandbox_init(&c.sb[k], bwrap);
        c.sb[k].uid_base = (uid_t)uid;
    }
    tool_start(&t, argc - argi, argv + argi);
    {
        struct scorer sc = {"code", {code_name, 1, NULL, 0, 0}, "correct", NULL, &c};
        struct score_stages st = {.prepare = prepare, .run = run, .finish = finish,
                                  .jobs = (int)jobs};
        score_run_jobs(&t, &sc, &st, &cnt);
    }
    for (k = 0; k < jobs; k++)
        sandbox_release(&c.sb[k]);
    free(c.sb);
    return tool_finish(&t);
}
