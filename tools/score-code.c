/*
 * score-code - runs the code block of each "code" sample against the
 * record's tests in a bubblewrap sandbox and writes rewards.code, the
 * fraction of tests passed.  Records of other domains pass through
 * unchanged; output order is input order.  See score-code(1).
 *
 * On lib/pool's threads: task 0 reads and checks records and writes them
 * in order; tasks 1..jobs each run one sandbox at a time.  A window of
 * 4 * jobs records is in flight.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codeblock.h"
#include "codeeval.h"
#include "pool.h"
#include "sample.h"
#include "sandbox.h"
#include "tool.h"

static const char usage[] =
    "usage: score-code [-j N] [-t SEC] [--wall SEC] [-m MIB] [--nproc N]\n"
    "                  [--output-limit BYTES] [--lang LANG] [--bwrap PATH] [--uid N]\n"
    "                  [options] [FILE...]\n"
    "Scores the code block of each record of domain \"code\" against its tests,\n"
    "run in a bubblewrap sandbox: rewards.code = passed / total.\n"
    "  -j, --jobs N           sandboxes at once (default: number of cores)\n"
    "  -t, --timeout SEC      CPU-time limit per test (default 5)\n"
    "      --wall SEC         wall-clock limit per test (default 2 * timeout + 5)\n"
    "  -m, --memory MIB       address-space limit per process (default 1024)\n"
    "      --nproc N          processes and threads per test (default 32)\n"
    "      --output-limit BYTES  stdout and stderr cap per test (default 1048576)\n"
    "      --lang LANG        language of records without 'lang' (default python)\n"
    "      --bwrap PATH       the bubblewrap program (default: bwrap in PATH)\n"
    "      --uid N            when root, sandboxes run as uids N..N+jobs-1\n"
    "                         (default 64000)\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_NPROC = TOOL_OPT_FIRST_FREE,
    OPT_OUTPUT_LIMIT,
    OPT_LANG,
    OPT_BWRAP,
    OPT_UID,
    OPT_WALL,
};

static const struct option longopts[] = {
    TOOL_LONGOPTS,
    {"jobs", required_argument, NULL, 'j'},
    {"timeout", required_argument, NULL, 't'},
    {"memory", required_argument, NULL, 'm'},
    {"nproc", required_argument, NULL, OPT_NPROC},
    {"output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT},
    {"lang", required_argument, NULL, OPT_LANG},
    {"bwrap", required_argument, NULL, OPT_BWRAP},
    {"uid", required_argument, NULL, OPT_UID},
    {"wall", required_argument, NULL, OPT_WALL},
    {NULL, 0, NULL, 0},
};

/* ---- the window of records in flight ---- */

struct item {
    json_t *rec;
    const char *file;       /* borrowed from the tool */
    long line;
    int work;               /* a worker must score it */
    int done;
    enum code_lang lang;
    const char *code;       /* borrowed from rec */
    size_t code_len;
    struct code_test *tests;
    size_t ntests;
    enum code_verdict *verdicts;
    int infra;
    char err[512];
};

struct shared {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    struct item *ring;
    size_t cap;
    size_t head, next, tail;    /* head <= next <= tail */
    int eof;
    const char *bwrap;
    uid_t uid;
    struct code_opts opts;
    struct tool *t;
    const char *lang;       /* of records without 'lang' */
};

/* A worker: runs the sandbox of each item marked work, in slot. */
static void
worker(struct shared *sh, int slot)
{
    struct sandbox sb;

    sandbox_init(&sb, sh->bwrap);
    sb.uid_base = sh->uid;
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        struct item *it;

        while (sh->next < sh->tail && !sh->ring[sh->next % sh->cap].work)
            sh->next++;
        if (sh->next == sh->tail) {
            if (sh->eof)
                break;
            pthread_cond_wait(&sh->work_cv, &sh->mu);
            continue;
        }
        it = &sh->ring[sh->next++ % sh->cap];
        pthread_mutex_unlock(&sh->mu);
        if (codeeval_run(&sb, slot, &sh->opts, it->lang, it->code, it->code_len,
                         it->tests, it->ntests, it->verdicts) != 0) {
            it->infra = 1;
            snprintf(it->err, sizeof(it->err), "%s", sandbox_error(&sb));
        }
        pthread_mutex_lock(&sh->mu);
        it->done = 1;
        pthread_cond_broadcast(&sh->done_cv);
    }
    pthread_mutex_unlock(&sh->mu);
    sandbox_release(&sb);
}

/*
 * Checks rec and fills it: a pass-through (other domain, or no code
 * block: scored here) is done at once.  Returns -1 when the record was
 * rejected (and must be dropped).
 */
/* Records of domain "code"; the rest, untagged ones too, pass. */
static const char *const code_name[] = {"code"};
static const struct sample_domains code_domain = {code_name, 1, NULL, 0, 0};

static int
prepare(struct tool *t, json_t *rec, const char *default_lang, struct item *it)
{
    const char *lang = default_lang, *text, *why;
    char buf[200];
    size_t off, len;

    memset(it, 0, sizeof(*it));
    it->rec = rec;
    it->file = tool_file(t);
    it->line = tool_line(t);
    switch (sample_domain_match(&code_domain, rec, &why)) {
    case -1:
        tool_reject(t, rec, "domain", "%s", why);
        return -1;
    case 0:
        it->done = 1;
        return 0;
    }
    if (json_object_get(rec, "lang") && rec_get_str(rec, "lang", &lang, &why) != 0) {
        tool_reject(t, rec, "lang", "%s", why);
        return -1;
    }
    if (code_lang_parse(lang, &it->lang) != 0) {
        tool_reject(t, rec, "lang", "'%s' is not python, c or cpp", lang);
        return -1;
    }
    if (rec_check_rewards(rec, &why) != 0) {
        tool_reject(t, rec, "rewards", "%s", why);
        return -1;
    }
    if (rec_get_str(rec, "completion", &text, &why) != 0) {
        tool_reject(t, rec, "completion", "%s", why);
        return -1;
    }
    if (code_tests_parse(json_object_get(rec, "tests"), &it->tests, &it->ntests, buf,
                         sizeof(buf)) != 0) {
        tool_reject(t, rec, "tests", "%s", buf);
        return -1;
    }
    it->verdicts = xcalloc(it->ntests, sizeof(*it->verdicts));
    /* The canonical name, which codeblock.h knows the aliases of. */
    lang = it->lang == CODE_PYTHON ? "python" : it->lang == CODE_C ? "c" : "cpp";
    if (!codeblock_find(text, strlen(text), lang, &off, &len)) {
        code_record_set(rec, NULL, 0, "no_code");
        it->done = 1;
        return 0;
    }
    it->code = text + off;
    it->code_len = len;
    it->work = 1;
    return 0;
}

/* Writes (or rejects) a finished item and frees it. */
static void
finish(struct tool *t, struct item *it)
{
    if (it->infra)
        tool_reject_at(t, it->file, it->line, it->rec, NULL, "sandbox: %s", it->err);
    else {
        if (it->work)
            code_record_set(it->rec, it->verdicts, it->ntests, NULL);
        tool_write(t, it->rec);
    }
    json_decref(it->rec);
    free(it->tests);
    free(it->verdicts);
    memset(it, 0, sizeof(*it));
}

/*
 * The reader: keeps the window full, in input order, and writes each
 * record at its head as soon as it is finished.
 */
static void
reader(struct shared *sh)
{
    struct tool *t = sh->t;

    for (;;) {
        size_t tail, head;
        int eof;

        /* Write every finished record at the head of the window. */
        pthread_mutex_lock(&sh->mu);
        while (sh->head < sh->tail && sh->ring[sh->head % sh->cap].done) {
            struct item *it = &sh->ring[sh->head % sh->cap];

            pthread_mutex_unlock(&sh->mu);
            finish(t, it);
            pthread_mutex_lock(&sh->mu);
            sh->head++;
        }
        tail = sh->tail;
        head = sh->head;
        eof = sh->eof;
        if (eof && head == tail) {
            pthread_mutex_unlock(&sh->mu);
            break;
        }
        if (eof || tail - head == sh->cap) {
            pthread_cond_wait(&sh->done_cv, &sh->mu);
            pthread_mutex_unlock(&sh->mu);
            continue;
        }
        pthread_mutex_unlock(&sh->mu);

        /* Room in the window: read one more record. */
        for (;;) {
            json_t *rec = tool_next(t);
            struct item *it = &sh->ring[tail % sh->cap];

            if (!rec) {
                pthread_mutex_lock(&sh->mu);
                sh->eof = 1;
                pthread_cond_broadcast(&sh->work_cv);
                pthread_mutex_unlock(&sh->mu);
                break;
            }
            if (prepare(t, rec, sh->lang, it) != 0) {
                json_decref(rec);
                free(it->tests);
                free(it->verdicts);
                memset(it, 0, sizeof(*it));
                continue;
            }
            pthread_mutex_lock(&sh->mu);
            sh->tail++;
            if (it->work)
                pthread_cond_signal(&sh->work_cv);
            pthread_mutex_unlock(&sh->mu);
            tool_progress(t, "%zu records", tail + 1);
            break;
        }
    }
}

/* lib/pool task: 0 is the reader, 1..jobs the workers (slot task - 1). */
static void
task(void *ctx, int task_no, int tid)
{
    struct shared *sh = ctx;

    (void)tid;
    if (task_no == 0)
        reader(sh);
    else
        worker(sh, task_no - 1);
}

int
main(int argc, char **argv)
{
    struct tool t;
    struct shared sh;
    const char *lang = "python";
    long n, jobs;
    double d, wall = 0;
    int c;

    if (sandbox_is_runner(argc, argv))
        return sandbox_runner_main();
    util_setprog(argv[0]);
    memset(&sh, 0, sizeof(sh));
    code_opts_default(&sh.opts);
    sh.uid = 64000;
    jobs = sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1)
        jobs = 1;
    tool_init(&t, "score-code", usage);
    while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS "j:t:m:", longopts, NULL)) != -1) {
        if (tool_opt(&t, c, optarg))
            continue;
        switch (c) {
        case 'j':
            if (parse_long(optarg, 1, 1024, &jobs))
                tool_usage_error(&t, "--jobs: '%s' is not an integer in [1, 1024]", optarg);
            break;
        case 't':
            if (parse_double(optarg, 0.01, 86400, &d))
                tool_usage_error(&t, "--timeout: '%s' is not a number of seconds in "
                                 "[0.01, 86400]", optarg);
            sh.opts.run.cpu_sec = d;
            break;
        case OPT_WALL:
            if (parse_double(optarg, 0.01, 86400, &wall))
                tool_usage_error(&t, "--wall: '%s' is not a number of seconds in "
                                 "[0.01, 86400]", optarg);
            break;
        case 'm':
            if (parse_long(optarg, 16, 1L << 20, &n))
                tool_usage_error(&t, "--memory: '%s' is not an integer in [16, 1048576]",
                                 optarg);
            sh.opts.run.mem_bytes = (uint64_t)n << 20;
            break;
        case OPT_NPROC:
            if (parse_long(optarg, 1, 4096, &n))
                tool_usage_error(&t, "--nproc: '%s' is not an integer in [1, 4096]", optarg);
            sh.opts.run.nproc = n;
            break;
        case OPT_OUTPUT_LIMIT:
            if (parse_long(optarg, 1, 1L << 30, &n))
                tool_usage_error(&t, "--output-limit: '%s' is not an integer in "
                                 "[1, 1073741824]", optarg);
            sh.opts.run.out_bytes = (uint64_t)n;
            break;
        case OPT_LANG: {
            enum code_lang l;

            if (code_lang_parse(optarg, &l) != 0)
                tool_usage_error(&t, "--lang: '%s' is not python, c or cpp", optarg);
            lang = optarg;
            break;
        }
        case OPT_BWRAP:
            sh.bwrap = optarg;
            break;
        case OPT_UID:
            if (parse_long(optarg, 1, 4000000000L, &n))
                tool_usage_error(&t, "--uid: '%s' is not an integer in [1, 4000000000]",
                                 optarg);
            sh.uid = (uid_t)n;
            break;
        default:
            tool_usage(&t);
        }
    }
    sh.opts.run.wall_sec = wall ? wall : 2 * sh.opts.run.cpu_sec + 5;
    tool_start(&t, argc - optind, argv + optind);

    sh.cap = (size_t)jobs * 4;
    sh.ring = xcalloc(sh.cap, sizeof(*sh.ring));
    sh.t = &t;
    sh.lang = lang;
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.work_cv, NULL);
    pthread_cond_init(&sh.done_cv, NULL);
    /* one thread each for the reader and the jobs workers */
    pool_set_threads((int)jobs + 1);
    pool_run(task, &sh, (int)jobs + 1);
    free(sh.ring);
    pthread_cond_destroy(&sh.work_cv);
    pthread_cond_destroy(&sh.done_cv);
    pthread_mutex_destroy(&sh.mu);
    return tool_finish(&t);
}
