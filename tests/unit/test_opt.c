/*
 * test_opt.c - option tables: values set from argv, "given" flags, the
 * range errors (exit 2, the option as typed, the generated range), the
 * --help lines at the help column.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "opt.h"
#include "tool.h"

#define SYNOPSIS "usage: t [-n N] [options] [FILE ...]\n       t --other\n"
static const struct opt_prog prog = {.name = "t", .header = SYNOPSIS "Does things.\n"};
/* the same, with its usage-error text whole (both synopses, no hint) */
static const struct opt_prog prog_whole = {
    .name = "t", .header = SYNOPSIS "Does things.\n", .usage = SYNOPSIS};

struct vals {
    long n;
    int i, b, mode, given_x, bits, scale;
    double x;
    float f;
    uint64_t seed, size;
    const char *s;
    char list[64];
};

static int
take_list(void *ctx, const char *arg, struct sbuf *why)
{
    struct vals *v = ctx;

    if (strcmp(arg, "full") == 0) {
        sbuf_adds(why, "no room");
        return -1;
    }
    if (strchr(arg, ' '))
        return -1;
    strncat(v->list, arg, sizeof(v->list) - strlen(v->list) - 1);
    return 0;
}

static const struct opt_choice scales[] = {
    {"group", 7}, {"batch", 8}, {"none", 9}, {NULL, 0}};
static const struct opt_choice two[] = {{"mean", 1}, {"loo", 2}, {NULL, 0}};

#define TABLE(v)                                                                   \
    const struct opt opts[] = {                                                    \
        OPT_LONG('n', "count", &(v)->n, "N", 1, 1024, "how many"),                 \
        OPT_INT(0, "ints", &(v)->i, "N", 0, INT_MAX, "a count"),                   \
        {.type = OPT_T_DOUBLE, .long_name = "x", .value = &(v)->x, .argname = "X", \
         .fmin = 0, .fmax = 1, .flags = OPT_OPEN_MIN, .given = &(v)->given_x,      \
         .help = "in (0, 1]\nsecond line"},                                        \
        OPT_FLOAT('T', NULL, &(v)->f, "X", 0, 1000, "a float"),                    \
        OPT_DOUBLE(0, "w", &(v)->x, "W", -1e9, 1e-6, "a weight"),                  \
        OPT_DOUBLE(0, "big", &(v)->x, "X", 1.5e300, INFINITY, "a big number"),     \
        OPT_U64(0, "seed", &(v)->seed, "N", LONG_MAX, "a seed"),                   \
        OPT_SIZE(0, "size", &(v)->size, "SIZE", "a size"),                         \
        OPT_STRING('s', "string", &(v)->s, "S", "a string"),                       \
        OPT_BOOL('b', "bool", &(v)->b, "a flag"),                                  \
        OPT_SET(0, "on", &(v)->mode, 2, "mode 2"),                                 \
        OPT_BIT(0, "bit1", &(v)->bits, 1, "bit 1"),                                \
        OPT_BIT(0, "bit4", &(v)->bits, 4, "bit 4"),                                \
        OPT_CHOICE(0, "scale", &(v)->scale, "S", scales, "a scale"),               \
        OPT_CHOICE(0, "base", &(v)->scale, "B", two, "a baseline"),                \
        OPT_CALL(0, "list", (v), "L", take_list, "a word", "words"),               \
        {.type = OPT_T_INT, .short_name = 'j', .long_name = "jobs", .value = &(v)->i, \
         .argname = "N", .min = 1, .max = 64, .flags = OPT_NAME_LONG, .help = "jobs"}, \
        {.type = OPT_T_LONG, .long_name = "pos", .value = &(v)->n, .argname = "N", \
         .min = 1, .max = LONG_MAX, .what = "a positive integer", .help = "N > 0"}, \
        OPT_GROUP("More:\n"),                                                      \
        OPT_HELP(),                                                                \
        OPT_END(),                                                                 \
    };                                                                             \
    const struct opt *tabs[] = {opts, NULL}

static void
parse_table(int n, char **argv)
{
    struct vals v;
    TABLE(&v);

    memset(&v, 0, sizeof(v));
    opt_parse(&prog, tabs, n, argv);
}

/* The model group of tool.h, every row, under the program "t". */
#define MODEL_TABLE(mo)                                                            \
    const struct opt mopts[] = {                                                   \
        TOOL_MODEL_DIR(mo, "the checkpoint"),                                      \
        TOOL_MODEL_ADAPTER(mo, "an adapter"),                                      \
        TOOL_MODEL_DTYPE(mo),                                                      \
        TOOL_MODEL_FORMAT(mo),                                                     \
        TOOL_MODEL_THINK(mo),                                                      \
        TOOL_MODEL_STOP(mo),                                                       \
        TOOL_MODEL_SEED(mo),                                                       \
        TOOL_MODEL_THREADS(mo),                                                    \
        OPT_HELP(),                                                                \
        OPT_END(),                                                                 \
    };                                                                             \
    const struct opt *mtabs[] = {mopts, NULL}

static void
parse_whole(int n, char **argv)
{
    struct vals v;
    TABLE(&v);

    memset(&v, 0, sizeof(v));
    opt_parse(&prog_whole, tabs, n, argv);
}

static void
parse_model(int n, char **argv)
{
    struct tool_model mo;
    MODEL_TABLE(&mo);

    tool_model_init(&mo);
    opt_parse(&prog, mtabs, n, argv);
}

/*
 * Runs parse over args in a child; returns its exit status, stderr in
 * err and stdout in out.
 */
static int
run_child(void (*parse)(int, char **), const char *const *args, int n, char *err,
          size_t errlen, char *out, size_t outlen)
{
    int pe[2], po[2], st;
    pid_t pid;
    ssize_t k;
    size_t got;

    if (pipe(pe) || pipe(po))
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        char *argv[80];
        int i;
        for (i = 0; i < n && i < 79; i++)
            argv[i] = (char *)args[i];
        argv[n] = NULL;
        dup2(pe[1], 2);
        dup2(po[1], 1);
        optind = 1;
        parse(n, argv);
        fflush(stdout);
        _exit(0);
    }
    close(pe[1]);
    close(po[1]);
    got = 0;
    while (got + 1 < errlen && (k = read(pe[0], err + got, errlen - 1 - got)) > 0)
        got += (size_t)k;
    err[got] = '\0';
    got = 0;
    while (got + 1 < outlen && (k = read(po[0], out + got, outlen - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = '\0';
    close(pe[0]);
    close(po[0]);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
child(const char *const *args, int n, char *err, size_t errlen, char *out, size_t outlen)
{
    return run_child(parse_table, args, n, err, errlen, out, outlen);
}

static void
test_values(void)
{
    struct vals v;
    static const char *const args[] = {
        "t", "-n", "7", "--ints", "0", "--x", "0.5", "-T", "0.7", "--seed", "0x10",
        "--size", "2KB", "-sabc", "-b", "--on", "--bit4", "--bit1", "--scale", "batch",
        "--list", "a", "--list", "b", "file"};
    char *argv[ARRAY_LEN(args) + 1];
    size_t k;
    int argi;
    TABLE(&v);

    for (k = 0; k < ARRAY_LEN(args); k++)
        argv[k] = (char *)args[k];
    argv[k] = NULL;

    memset(&v, 0, sizeof(v));
    optind = 1;
    argi = opt_parse(&prog, tabs, (int)ARRAY_LEN(args), argv);
    CHECK(argi == 24 && strcmp(argv[argi], "file") == 0);
    CHECK(v.n == 7 && v.i == 0 && v.x == 0.5 && v.f == 0.7f);
    CHECK(v.seed == 16 && v.size == 2000);
    CHECK(v.s && strcmp(v.s, "abc") == 0);
    CHECK(v.b == 1 && v.mode == 2 && v.given_x == 1 && v.bits == 5 && v.scale == 8);
    CHECK_STREQ(v.list, "ab");
}

static void
test_find(void)
{
    int n = 0, given = 0;
    struct opt opts[] = {
        OPT_GROUP("Group:\n"),
        OPT_INT('n', "count", &n, "N", 1, 9, "how many"),
        OPT_BOOL(0, "flag", &n, "a flag"),
        OPT_END(),
    };

    CHECK(opt_find(opts, "count") == &opts[1]);
    CHECK(opt_find(opts, "flag") == &opts[2]);
    opt_find(opts, "count")->given = &given;
    CHECK(opts[1].given == &given);
}

static void
test_errors(void)
{
    static const struct {
        const char *args[4];
        int n;
        const char *first;   /* stderr's first line */
    } cases[] = {
        {{"t", "-n", "0"}, 3, "t: -n: '0' is not an integer in [1, 1024]"},
        {{"t", "--count", "x"}, 3, "t: --count: 'x' is not an integer in [1, 1024]"},
        {{"t", "--ints", "-1"}, 3, "t: --ints: '-1' is not an integer >= 0"},
        {{"t", "--x", "0"}, 3, "t: --x: '0' is not a number in (0, 1]"},
        {{"t", "-T", "1e9"}, 3, "t: -T: '1e9' is not a number in [0, 1000]"},
        {{"t", "--seed", "-1"}, 3, "t: --seed: '-1' is not an integer in [0, 2^63)"},
        {{"t", "--size", "5GiB"}, 3,
         "t: --size: '5GiB' is not a size (bytes, or KB, MB, GB, TB)"},
        {{"t", "--list", "a b"}, 3, "t: --list: 'a b' is not a word"},
        {{"t", "--list", "full"}, 3, "t: --list: no room"},
        {{"t", "-j", "0"}, 3, "t: --jobs: '0' is not an integer in [1, 64]"},
        {{"t", "--pos", "0"}, 3, "t: --pos: '0' is not a positive integer"},
        {{"t", "--scale", "rows"}, 3, "t: --scale: 'rows' is not group, batch or none"},
        {{"t", "--base", "Mean"}, 3, "t: --base: 'Mean' is not mean or loo"},
        {{"t", "--w", "1"}, 3, "t: --w: '1' is not a number in [-1e9, 1e-6]"},
        {{"t", "--big", "1"}, 3, "t: --big: '1' is not a number >= 1.5e300"},
    };
    char err[4096], out[4096];
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        int rc = child(cases[i].args, cases[i].n, err, sizeof(err), out, sizeof(out));
        size_t k = strlen(cases[i].first);
        CHECK_MSG(rc == 2, "case %zu: exit %d", i, rc);
        CHECK_MSG(strncmp(err, cases[i].first, k) == 0 && err[k] == '\n', "case %zu: %s", i,
                  err);
        /* the usage line, then the hint */
        CHECK(strstr(err, "\nusage: t [-n N] [options] [FILE ...]\n"
                          "Try 't --help' for more information.\n") != NULL);
        CHECK(strstr(err, "Does things") == NULL);
    }
}

/* opt_prog.usage: printed whole in place of the first line and the hint. */
static void
test_usage_whole(void)
{
    static const char *const args[] = {"t", "-n", "0"};
    char err[4096], out[4096];

    CHECK(run_child(parse_whole, args, 3, err, sizeof(err), out, sizeof(out)) == 2);
    CHECK_STREQ(err, "t: -n: '0' is not an integer in [1, 1024]\n"
                     "usage: t [-n N] [options] [FILE ...]\n       t --other\n");
}

static void
test_help(void)
{
    static const char *const args[] = {"t", "--help"};
    char err[4096], out[4096];

    CHECK(child(args, 2, err, sizeof(err), out, sizeof(out)) == 0);
    CHECK(strncmp(out, prog.header, strlen(prog.header)) == 0);
    CHECK(strstr(out, "\n  -n, --count N         how many\n") != NULL);
    CHECK(strstr(out, "\n      --x X             in (0, 1]\n"
                      "                        second line\n") != NULL);
    CHECK(strstr(out, "\n  -T X                  a float\n") != NULL);
    CHECK(strstr(out, "\nMore:\n  -h, --help            this help\n") != NULL);
    CHECK(err[0] == '\0');
}

/* tool.h's model group: the values, the range errors, one --help line each. */
static void
test_model_group(void)
{
    static const char *const args[] = {
        "t", "-m", "ck", "--adapter", "ad", "--dtype", "bf16", "-f", "chatml", "--think",
        "--stop", "a", "--stop", "\n\n", "--seed", "9223372036854775807", "--threads", "3"};
    static const struct {
        const char *args[4];
        int n;
        const char *first;
    } cases[] = {
        {{"t", "-f", "vicuna"}, 3, "t: -f: unknown chat format 'vicuna'"},
        {{"t", "--format", "vicuna"}, 3, "t: --format: unknown chat format 'vicuna'"},
        {{"t", "--stop", ""}, 3, "t: --stop: the stop string is empty"},
        {{"t", "--dtype", "f16"}, 3, "t: --dtype: 'f16' is not f32 or bf16"},
        {{"t", "--seed", "9223372036854775808"}, 3,
         "t: --seed: '9223372036854775808' is not an integer in [0, 2^63)"},
        {{"t", "--threads", "0"}, 3, "t: --threads: '0' is not an integer in [1, 1024]"},
    };
    char *argv[ARRAY_LEN(args) + 1], err[4096], out[8192];
    struct tool_model mo;
    struct tool t;
    size_t k;
    MODEL_TABLE(&mo);

    for (k = 0; k < ARRAY_LEN(args); k++)
        argv[k] = (char *)args[k];
    argv[k] = NULL;
    tool_model_init(&mo);
    optind = 1;
    CHECK(opt_parse(&prog, mtabs, (int)ARRAY_LEN(args), argv) == (int)ARRAY_LEN(args));
    CHECK_STREQ(mo.lm.dir, "ck");
    CHECK_STREQ(mo.lm.adapter, "ad");
    CHECK(mo.lm.bf16 == 1 && mo.dtype_given == 1);
    CHECK(mo.lm.format == CHAT_CHATML && mo.format_given == 1);
    CHECK(mo.think == 1 && mo.no_think == 0);
    CHECK(mo.nstops == 2 && strcmp(mo.stops[0], "a") == 0 && strcmp(mo.stops[1], "\n\n") == 0);
    CHECK(mo.seed == 9223372036854775807ULL && mo.seed_given == 1);
    CHECK(mo.threads == 3 && tool_model_threads(&mo) == 3);
    tool_init(&t, "t", prog.header);
    tool_model_check(&t, &mo);
    CHECK(mo.lm.chat_flags == CHAT_THINK);

    /* the defaults */
    tool_model_init(&mo);
    CHECK(mo.lm.dir == NULL && mo.lm.format == CHAT_AUTO && mo.lm.bf16 == 0);
    CHECK(mo.nstops == 0 && mo.seed == 0 && mo.seed_given == 0 && mo.threads == 0);

    for (k = 0; k < ARRAY_LEN(cases); k++) {
        int rc = run_child(parse_model, cases[k].args, cases[k].n, err, sizeof(err), out,
                           sizeof(out));
        size_t len = strlen(cases[k].first);
        CHECK_MSG(rc == 2, "case %zu: exit %d", k, rc);
        CHECK_MSG(strncmp(err, cases[k].first, len) == 0 && err[len] == '\n', "case %zu: %s",
                  k, err);
    }
    {
        /* a 33rd stop string */
        const char *many[1 + 2 * (TOOL_MAX_STOPS + 1)];
        int n = 0, i;
        many[n++] = "t";
        for (i = 0; i <= TOOL_MAX_STOPS; i++) {
            many[n++] = "--stop";
            many[n++] = "x";
        }
        CHECK(run_child(parse_model, many, n, err, sizeof(err), out, sizeof(out)) == 2);
        CHECK(strncmp(err, "t: --stop: more than 32 stop strings\n", 37) == 0);
    }
    {
        static const char *const help[] = {"t", "--help"};
        CHECK(run_child(parse_model, help, 2, err, sizeof(err), out, sizeof(out)) == 0);
        CHECK(strstr(out, "\n  -m, --model DIR       the checkpoint\n") != NULL);
        CHECK(strstr(out, "\n      --dtype NAME      products in f32 (default) or bf16")
              != NULL);
        CHECK(strstr(out, "\n  -f, --format NAME     chat format: auto,") != NULL);
        CHECK(strstr(out, "\n      --think           open the assistant turn with <think>\\n")
              != NULL);
        CHECK(strstr(out, "\n      --stop STRING     end a completion at STRING") != NULL);
        CHECK(strstr(out, "\n      --seed N          seed of the sampling streams") != NULL);
        CHECK(strstr(out, "\n      --threads N       threads (default: POSTTRAIN_THREADS")
              != NULL);
    }
}

int
main(void)
{
    test_values();
    test_find();
    test_errors();
    test_help();
    test_usage_whole();
    test_model_group();
    return check_done();
}
