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

static const struct opt_prog prog = {
    "t", "usage: t [-n N] [options] [FILE ...]\n       t --other\nDoes things.\n"};

struct vals {
    long n;
    int i, b, mode, given_x;
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

#define TABLE(v)                                                                   \
    const struct opt opts[] = {                                                    \
        OPT_LONG('n', "count", &(v)->n, "N", 1, 1024, "how many"),                 \
        OPT_INT(0, "ints", &(v)->i, "N", 0, INT_MAX, "a count"),                   \
        {.type = OPT_T_DOUBLE, .long_name = "x", .value = &(v)->x, .argname = "X", \
         .fmin = 0, .fmax = 1, .flags = OPT_OPEN_MIN, .given = &(v)->given_x,      \
         .help = "in (0, 1]\nsecond line"},                                        \
        OPT_FLOAT('T', NULL, &(v)->f, "X", 0, 1000, "a float"),                    \
        OPT_U64(0, "seed", &(v)->seed, "N", LONG_MAX, "a seed"),                   \
        OPT_SIZE(0, "size", &(v)->size, "SIZE", "a size"),                         \
        OPT_STRING('s', "string", &(v)->s, "S", "a string"),                       \
        OPT_BOOL('b', "bool", &(v)->b, "a flag"),                                  \
        OPT_SET(0, "on", &(v)->mode, 2, "mode 2"),                                 \
        OPT_CALL(0, "list", (v), "L", take_list, "a word", "words"),               \
        {.type = OPT_T_INT, .short_name = 'j', .long_name = "jobs", .value = &(v)->i, \
         .argname = "N", .min = 1, .max = 64, .flags = OPT_NAME_LONG, .help = "jobs"}, \
        OPT_GROUP("More:\n"),                                                      \
        OPT_HELP(),                                                                \
        OPT_END(),                                                                 \
    };                                                                             \
    const struct opt *tabs[] = {opts, NULL}

/* Runs a parse of args in a child; returns its exit status, stderr in err. */
static int
child(const char *const *args, int n, char *err, size_t errlen, char *out, size_t outlen)
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
        struct vals v;
        char *argv[16];
        int i;
        TABLE(&v);
        memset(&v, 0, sizeof(v));
        for (i = 0; i < n; i++)
            argv[i] = (char *)args[i];
        argv[n] = NULL;
        dup2(pe[1], 2);
        dup2(po[1], 1);
        optind = 1;
        opt_parse(&prog, tabs, n, argv);
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

static void
test_values(void)
{
    struct vals v;
    static const char *const args[] = {
        "t", "-n", "7", "--ints", "0", "--x", "0.5", "-T", "0.7", "--seed", "0x10",
        "--size", "2KB", "-sabc", "-b", "--on", "--list", "a", "--list", "b", "file"};
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
    CHECK(argi == 20 && strcmp(argv[argi], "file") == 0);
    CHECK(v.n == 7 && v.i == 0 && v.x == 0.5 && v.f == 0.7f);
    CHECK(v.seed == 16 && v.size == 2000);
    CHECK(v.s && strcmp(v.s, "abc") == 0);
    CHECK(v.b == 1 && v.mode == 2 && v.given_x == 1);
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

int
main(void)
{
    test_values();
    test_find();
    test_errors();
    test_help();
    return check_done();
}
