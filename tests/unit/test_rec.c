/*
 * test_rec.c - unit tests of lib/rec (readers, writers, JSON output) and
 * lib/tool (error policy, groups).
 *
 * With arguments it is also a small record tool used by the tool tests in
 * tests/cli/rec/: "test_rec cat [--require FIELD] [--groups] [common
 * options] [FILE...]" passes records through, rejecting those that lack
 * FIELD; with --groups it writes one {"group", "n"} record per group.
 * REC_RSS=1 prints the peak resident set size (KiB) to stderr at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rec.h"
#include "tool.h"

/* ---- the "cat" driver ---- */

static const char cat_usage[] =
    "usage: test_rec cat [--require FIELD] [--groups] [options] [FILE...]\n";

static int
cat_main(int argc, char **argv)
{
    struct tool t;
    const char *require = NULL;
    int groups = 0, c, argi;
    json_t *r;

    tool_init(&t, "test_rec", cat_usage);
    {
        const struct opt opts[] = {
            OPT_STRING(0, "require", &require, "FIELD", "reject records without FIELD"),
            OPT_BOOL(0, "groups", &groups, "one record per group"),
            OPT_END(),
        };
        argi = tool_parse(&t, opts, argc, argv);
    }
    tool_start(&t, argc - argi, argv + argi);
    if (groups) {
        struct group_reader *gr = group_reader_new(&t, "group");
        struct group g = { 0 };
        while (group_next(gr, &g)) {
            r = json_pack("{s:s,s:i}", "group", g.id, "n", (int)g.n);
            tool_write(&t, r);
            json_decref(r);
        }
        group_release(&g);
        group_reader_free(gr);
    } else {
        while ((r = tool_next(&t)) != NULL) {
            if (require && !json_object_get(r, require))
                tool_reject(&t, r, require, "missing");
            else
                tool_write(&t, r);
            json_decref(r);
        }
    }
    c = tool_finish(&t);
    if (getenv("REC_RSS")) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "maxrss_kib %ld\n", ru.ru_maxrss);
    }
    return c;
}

/* ---- helpers ---- */

static char tmpdir[] = "/tmp/test_rec.XXXXXX";

static char *
path_in(const char *name)
{
    static char buf[4][256];
    static int k;

    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
    return buf[k];
}

static void
write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(fwrite(p, 1, n, f) == n);
    fclose(f);
}

/* Reads all records of path into an array; returns count, -1 on a bad line. */
static int
read_all(const char *path, json_t **out, int max, char *err, size_t errsz)
{
    struct rin *in = rin_open(path);
    struct sbuf why = SBUF_INIT;
    enum rin_status st;
    json_t *r;
    int n = 0;

    while ((r = rin_next(in, &st, &why)) != NULL || st == RIN_BADLINE) {
        if (!r) {
            snprintf(err, errsz, "%ld:%s", rin_lineno(in), sbuf_str(&why));
            n = -1;
            break;
        }
        if (n < max)
            out[n++] = r;
        else
            json_decref(r);
    }
    rin_close(in);
    sbuf_release(&why);
    return n;
}

static const char *self;

/* Runs "self drain PATH"; returns its exit status and its stderr in err. */
static int
drain_child(const char *arg, char *err, size_t errsz)
{
    int p[2], status;
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        execl(self, self, "drain", arg, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    while (len < errsz - 1 && (n = read(p[0], err + len, errsz - 1 - len)) > 0)
        len += (size_t)n;
    err[len] = '\0';
    close(p[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
drain(const char *path)
{
    json_t *v[4];
    char e[256];

    read_all(path, v, 0, e, sizeof(e));
}

static const char *
emit(const char *json)
{
    static struct sbuf sb;
    json_error_t e;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &e);

    sbuf_reset(&sb);
    if (!v)
        return "(parse error)";
    json_emit(&sb, v);
    json_decref(v);
    return sbuf_str(&sb);
}

/* ---- tests ---- */

static void
test_emit(void)
{
    CHECK_STREQ(emit("{\"b\":1,\"a\":[1,2.5,\"x\"],\"c\":null,\"d\":true}"),
                "{\"b\":1,\"a\":[1,2.5,\"x\"],\"c\":null,\"d\":true}");
    CHECK_STREQ(emit("0.1"), "0.1");
    CHECK_STREQ(emit("1.0"), "1.0");
    CHECK_STREQ(emit("-0.0"), "-0.0");
    CHECK_STREQ(emit("0.30000000000000004"), "0.30000000000000004");
    CHECK_STREQ(emit("1e300"), "1e+300");
    CHECK_STREQ(emit("123456789012345678"), "123456789012345678");
    CHECK_STREQ(emit("\"tab\\tnl\\nq\\\"bs\\\\ \\u0001 \\u00e9 \\ud83d\\ude00\""),
                "\"tab\\tnl\\nq\\\"bs\\\\ \\u0001 \xc3\xa9 \xf0\x9f\x98\x80\"");
    /* Every double survives a write and a read. */
    {
        struct rng r;
        int i, bad = 0;
        rng_seed(&r, 7);
        for (i = 0; i < 20000; i++) {
            union { uint64_t u; double d; } x;
            struct sbuf sb = SBUF_INIT;
            json_t *v;
            x.u = rng_u64(&r);
            if (!isfinite(x.d))
                continue;
            v = json_real(x.d);
            json_emit(&sb, v);
            json_decref(v);
            v = json_loads(sb.buf, JSON_DECODE_ANY, NULL);
            if (!v || json_real_value(v) != x.d)
                bad++;
            json_decref(v);
            sbuf_release(&sb);
        }
        CHECK_MSG(bad == 0, "%d doubles did not round-trip", bad);
    }
}

static void
roundtrip(const char *name, int flags)
{
    const char *recs[] = {
        "{\"id\":\"a\",\"x\":0.1,\"n\":42,\"s\":\"caf\\u00e9 \\ud83d\\ude00\\n\"}",
        "{\"nested\":{\"z\":[1,2,{\"q\":null}],\"a\":false},\"e\":1e-300}",
        "{\"ctrl\":\"\\u0000x\\u001f\",\"big\":-9223372036854775808}",
    };
    json_t *in[3], *back[8];
    struct rout *out;
    char err[256];
    int i, n;

    out = rout_open(path_in(name), flags, 0);
    for (i = 0; i < 3; i++) {
        in[i] = json_loads(recs[i], JSON_ALLOW_NUL, NULL);
        CHECK(in[i] != NULL);
        rout_write(out, in[i]);
    }
    CHECK(rout_count(out) == 3);
    /* Not there under its own name until closed. */
    CHECK(access(path_in(name), F_OK) != 0);
    rout_close(out);
    CHECK(access(path_in(name), F_OK) == 0);
    n = read_all(path_in(name), back, 8, err, sizeof(err));
    CHECK_MSG(n == 3, "%s: %d records (%s)", name, n, n < 0 ? err : "");
    for (i = 0; i < 3 && i < n; i++) {
        CHECK(json_equal(in[i], back[i]));
        json_decref(back[i]);
    }
    for (i = 0; i < 3; i++)
        json_decref(in[i]);
}

static void
test_roundtrip(void)
{
    unsigned char magic[4] = { 0 };
    FILE *f;

    roundtrip("plain.jsonl", 0);
    roundtrip("comp.jsonl.zst", 0);
    roundtrip("forced.jsonl", ROUT_ZSTD);
    f = fopen(path_in("comp.jsonl.zst"), "rb");
    CHECK(f && fread(magic, 1, 4, f) == 4);
    if (f)
        fclose(f);
    CHECK(magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd);
}

static void
test_lines(void)
{
    const char text[] = "{\"a\":1}\r\n\n   \n{\"a\":2}\r\n{\"a\":3}";
    json_t *v[8];
    char err[256];
    int n;

    write_file(path_in("crlf.jsonl"), text, sizeof(text) - 1);
    n = read_all(path_in("crlf.jsonl"), v, 8, err, sizeof(err));
    CHECK(n == 3);
    if (n == 3) {
        CHECK(json_integer_value(json_object_get(v[2], "a")) == 3);
        while (n--)
            json_decref(v[n]);
    }
    /* Line numbers count blank lines. */
    {
        const char bad[] = "{\"a\":1}\n\n{\"a\":\n";
        write_file(path_in("bad.jsonl"), bad, sizeof(bad) - 1);
        n = read_all(path_in("bad.jsonl"), v, 8, err, sizeof(err));
        CHECK(n == -1);
        CHECK_MSG(strncmp(err, "3:column", 8) == 0, "%s", err);
        json_decref(v[0]);
    }
    /* Invalid UTF-8 names its column. */
    {
        const char bad[] = "{\"a\":\"ok\"}\n{\"a\":\"\xff\"}\n";
        write_file(path_in("utf8.jsonl"), bad, sizeof(bad) - 1);
        n = read_all(path_in("utf8.jsonl"), v, 8, err, sizeof(err));
        CHECK(n == -1);
        CHECK_MSG(strncmp(err, "2:column ", 9) == 0 && strstr(err, "0xff") != NULL,
                  "%s", err);
        json_decref(v[0]);
    }
    /* Not an object. */
    {
        const char bad[] = "[1,2]\n";
        write_file(path_in("arr.jsonl"), bad, sizeof(bad) - 1);
        n = read_all(path_in("arr.jsonl"), v, 8, err, sizeof(err));
        CHECK(n == -1 && strstr(err, "JSON object") != NULL);
    }
}

static void
test_long_line(void)
{
    size_t n = 5u << 20, i;
    char *buf = xmalloc(n + 64);
    json_t *v[2];
    char err[256];
    int k;

    memcpy(buf, "{\"s\":\"", 6);
    for (i = 6; i < n; i++)
        buf[i] = (char)('a' + i % 26);
    memcpy(buf + n, "\"}\n{\"t\":1}\n", 11);
    write_file(path_in("long.jsonl"), buf, n + 11);
    k = read_all(path_in("long.jsonl"), v, 2, err, sizeof(err));
    CHECK(k == 2);
    if (k == 2) {
        CHECK(json_string_length(json_object_get(v[0], "s")) == n - 6);
        json_decref(v[0]);
        json_decref(v[1]);
    }
    /* The same through zstd (one long line across many output buffers). */
    {
        struct rout *o = rout_open(path_in("long.jsonl.zst"), 0, 1);
        rout_raw(o, buf, n + 11);
        rout_close(o);
        k = read_all(path_in("long.jsonl.zst"), v, 2, err, sizeof(err));
        CHECK(k == 2);
        if (k == 2) {
            CHECK(json_string_length(json_object_get(v[0], "s")) == n - 6);
            json_decref(v[0]);
            json_decref(v[1]);
        }
    }
    free(buf);
}

static void
test_truncated(void)
{
    char err[512];
    struct stat st;
    int rc;

    /* long.jsonl.zst from test_long_line, cut in the middle. */
    CHECK(stat(path_in("long.jsonl.zst"), &st) == 0);
    CHECK(truncate(path_in("long.jsonl.zst"), st.st_size / 2) == 0);
    rc = drain_child(path_in("long.jsonl.zst"), err, sizeof(err));
    CHECK(rc == 1);
    CHECK_MSG(strstr(err, "truncated zstd input") != NULL, "%s", err);
    /* Cut just before the end: the frame epilogue is missing. */
    roundtrip("cut.jsonl.zst", 0);
    CHECK(stat(path_in("cut.jsonl.zst"), &st) == 0);
    CHECK(truncate(path_in("cut.jsonl.zst"), st.st_size - 4) == 0);
    rc = drain_child(path_in("cut.jsonl.zst"), err, sizeof(err));
    CHECK(rc == 1);
    CHECK_MSG(strstr(err, "truncated") != NULL, "%s", err);
    /* A missing file. */
    rc = drain_child(path_in("nonexistent"), err, sizeof(err));
    CHECK(rc == 1 && strstr(err, "No such file") != NULL);
}

static void
test_abort(void)
{
    struct rout *o = rout_open(path_in("aborted.jsonl"), 0, 0);
    json_t *v = json_pack("{s:i}", "a", 1);

    rout_write(o, v);
    json_decref(v);
    rout_abort(o);
    CHECK(access(path_in("aborted.jsonl"), F_OK) != 0);
}

static void
test_rewards(void)
{
    json_t *r = json_pack("{s:s}", "id", "x");

    CHECK(rec_set_reward(r, "math", 1.0) == 1.0);
    CHECK(rec_set_reward(r, "format", 0.5) == 1.5);
    CHECK(rec_set_reward(r, "math", 0.0) == 0.5);
    CHECK(json_real_value(json_object_get(r, "reward")) == 0.5);
    {
        const char *s, *why = NULL;
        double d;
        long long ll;
        CHECK(rec_get_str(r, "id", &s, &why) == 0 && strcmp(s, "x") == 0);
        CHECK(rec_get_str(r, "nope", &s, &why) == -1 && strcmp(why, "missing") == 0);
        CHECK(rec_get_num(r, "id", &d, &why) == -1 && strcmp(why, "not a number") == 0);
        CHECK(rec_get_num(r, "reward", &d, &why) == 0 && d == 0.5);
        CHECK(rec_get_int(r, "reward", &ll, &why) == -1);
    }
    {
        const char *why = NULL;
        CHECK(rec_check_rewards(r, &why) == 0);
        json_object_set_new(json_object_get(r, "rewards"), "rm", json_string("1"));
        CHECK(rec_check_rewards(r, &why) == -1 && strcmp(why, "a value is not a number") == 0);
        json_object_set_new(r, "rewards", json_integer(3));
        CHECK(rec_check_rewards(r, &why) == -1 && strcmp(why, "not an object") == 0);
        json_object_del(r, "rewards");
        CHECK(rec_check_rewards(r, &why) == 0);
    }
    json_decref(r);
}

static void
test_parse(void)
{
    long l;
    double d;
    uint64_t u;

    CHECK(parse_long("12", 0, 100, &l) == 0 && l == 12);
    CHECK(parse_long("-3", -5, 5, &l) == 0 && l == -3);
    CHECK(parse_long("101", 0, 100, &l) == -1);
    CHECK(parse_long("1x", 0, 100, &l) == -1);
    CHECK(parse_long("", 0, 100, &l) == -1);
    CHECK(parse_long(" 1", 0, 100, &l) == -1);
    CHECK(parse_double("0.5", 0, 1, &d) == 0 && d == 0.5);
    CHECK(parse_double("1e-3", 0, 1, &d) == 0 && d == 1e-3);
    CHECK(parse_double("nan", 0, 1, &d) == -1);
    CHECK(parse_double("2", 0, 1, &d) == -1);
    CHECK(parse_u64("0x10", &u) == 0 && u == 16);
    CHECK(parse_u64("-1", &u) == -1);
}

int
main(int argc, char **argv)
{
    self = argv[0];
    if (argc > 1 && strcmp(argv[1], "cat") == 0)
        return cat_main(argc - 1, argv + 1);
    if (argc == 3 && strcmp(argv[1], "drain") == 0) {
        drain(argv[2]);
        return 0;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_emit();
    test_roundtrip();
    test_lines();
    test_long_line();
    test_truncated();
    test_abort();
    test_rewards();
    test_parse();
    {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        CHECK(system(cmd) == 0);
    }
    return check_done();
}
