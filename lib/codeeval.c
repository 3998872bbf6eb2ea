/*
 * codeeval.c - sandbox jobs for programs in seven languages, the verdict
 * of each test, checkers and subtasks.  See codeeval.h.
 */
#include "codeeval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rec.h"

static const char *const verdict_names[] = {
    "correct", "wrong", "timeout", "memory", "runtime_error", "compile_error",
    "output_limit",
};

/* Per language: name, source extension, compiled, extra address space
 * (MiB), extra processes. */
static const struct lang_info {
    const char *name, *ext;
    int compiled;
    uint64_t extra_mib;
    long extra_nproc;
} langs[CODE_NLANGS] = {
    [CODE_PYTHON] = { "python", "py", 0, 0, 0 },
    [CODE_C] = { "c", "c", 1, 0, 0 },
    [CODE_CPP] = { "cpp", "cpp", 1, 0, 0 },
    [CODE_JAVA] = { "java", "java", 1, 2048, 64 },
    [CODE_GO] = { "go", "go", 1, 1024, 32 },
    [CODE_RUST] = { "rust", "rs", 1, 0, 0 },
    [CODE_JS] = { "javascript", "js", 0, 1024, 16 },
};

static const struct {
    const char *alias;
    enum code_lang lang;
} lang_aliases[] = {
    { "python", CODE_PYTHON }, { "py", CODE_PYTHON }, { "python3", CODE_PYTHON },
    { "c", CODE_C }, { "cpp", CODE_CPP }, { "c++", CODE_CPP }, { "cxx", CODE_CPP },
    { "java", CODE_JAVA }, { "go", CODE_GO }, { "golang", CODE_GO },
    { "rust", CODE_RUST }, { "rs", CODE_RUST }, { "javascript", CODE_JS },
    { "js", CODE_JS }, { "node", CODE_JS },
};

const char *
code_verdict_name(enum code_verdict v)
{
    return (size_t)v < ARRAY_LEN(verdict_names) ? verdict_names[v] : "runtime_error";
}

const char *
code_lang_name(enum code_lang lang)
{
    return (size_t)lang < CODE_NLANGS ? langs[lang].name : "python";
}

int
code_lang_parse(const char *name, enum code_lang *out)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(lang_aliases); i++)
        if (!strcasecmp(name, lang_aliases[i].alias)) {
            *out = lang_aliases[i].lang;
            return 0;
        }
    return -1;
}

void
code_opts_default(struct code_opts *o)
{
    memset(o, 0, sizeof(*o));
    sandbox_limits_default(&o->run);
    sandbox_limits_default(&o->checker);
    sandbox_limits_default(&o->compile);
    o->compile.wall_sec = 30;
    o->compile.cpu_sec = 30;
    o->compile.mem_bytes = (uint64_t)2 << 30;
    o->compile.nproc = 64;
    o->compile.fsize_bytes = (uint64_t)64 << 20;
    o->compile.nofile = 256;
    o->compile.out_bytes = 64 << 10;
    o->python = "/usr/bin/python3";
    o->cc = "/usr/bin/gcc";
    o->cxx = "/usr/bin/g++";
    o->javac = "/usr/bin/javac";
    o->java = "/usr/bin/java";
    o->go = "/usr/bin/go";
    o->rustc = "/usr/bin/rustc";
    o->node = "/usr/bin/node";
}

/* ---- output comparison ---- */

static int
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Length without trailing white space and newlines. */
static size_t
trim_end(const char *s, size_t n)
{
    while (n && (is_ws(s[n - 1]) || s[n - 1] == '\n'))
        n--;
    return n;
}

int
code_output_match(const char *got, size_t glen, const char *want, size_t wlen)
{
    const char *a = got, *b = want, *ae, *be;

    glen = trim_end(got, glen);
    wlen = trim_end(want, wlen);
    ae = got + glen;
    be = want + wlen;
    for (;;) {
        const char *al = memchr(a, '\n', (size_t)(ae - a));
        const char *bl = memchr(b, '\n', (size_t)(be - b));
        const char *a1 = al ? al : ae, *b1 = bl ? bl : be;
        size_t an = (size_t)(a1 - a), bn = (size_t)(b1 - b);

        while (an && is_ws(a[an - 1]))
            an--;
        while (bn && is_ws(b[bn - 1]))
            bn--;
        if (an != bn || memcmp(a, b, an) != 0)
            return 0;
        if (!al || !bl)
            return !al && !bl;
        a = al + 1;
        b = bl + 1;
    }
}

/* The next token of [*p, e): its start and length; 0 at the end. */
static size_t
next_token(const char **p, const char *e, const char **tok)
{
    const char *s = *p, *t;

    while (s < e && (is_ws(*s) || *s == '\n'))
        s++;
    t = s;
    while (t < e && !is_ws(*t) && *t != '\n')
        t++;
    *tok = s;
    *p = t;
    return (size_t)(t - s);
}

/* Index past the digits of tok from i (< n); adds their count to *count. */
static size_t
skip_digits(const char *tok, size_t i, size_t n, size_t *count)
{
    while (i < n && isdigit((unsigned char)tok[i])) {
        i++;
        ++*count;
    }
    return i;
}

/* 1 and the value when tok[0..n) is a whole decimal number. */
static int
decimal(const char *tok, size_t n, double *v)
{
    char buf[128], *end;
    size_t i = 0, digits = 0, ed = 0;

    if (n == 0 || n >= sizeof(buf))
        return 0;
    if (tok[i] == '+' || tok[i] == '-')
        i++;
    i = skip_digits(tok, i, n, &digits);
    if (i < n && tok[i] == '.')
        i = skip_digits(tok, i + 1, n, &digits);
    if (!digits)
        return 0;
    if (i < n && (tok[i] == 'e' || tok[i] == 'E')) {
        i++;
        if (i < n && (tok[i] == '+' || tok[i] == '-'))
            i++;
        i = skip_digits(tok, i, n, &ed);
        if (!ed)
            return 0;
    }
    if (i != n)
        return 0;
    memcpy(buf, tok, n);
    buf[n] = '\0';
    *v = strtod(buf, &end);
    return isfinite(*v);
}

int
code_output_match_float(const char *got, size_t glen, const char *want, size_t wlen,
                        double tol)
{
    const char *a = got, *ae = got + glen, *b = want, *be = want + wlen, *ta, *tb;

    for (;;) {
        size_t na = next_token(&a, ae, &ta), nb = next_token(&b, be, &tb);
        double x, y;

        if (!na || !nb)
            return !na && !nb;
        if (na == nb && memcmp(ta, tb, na) == 0)
            continue;
        if (!decimal(ta, na, &x) || !decimal(tb, nb, &y))
            return 0;
        if (!(fabs(x - y) <= tol || fabs(x - y) <= tol * fabs(y)))
            return 0;
    }
}

/* ---- verdicts ---- */

/* The last non-blank line of s (borrowed into s), and its length. */
static const char *
last_line(const struct sbuf *s, size_t *n)
{
    size_t e = s->len, b;

    while (e && (s->buf[e - 1] == '\n' || is_ws(s->buf[e - 1])))
        e--;
    b = e;
    while (b && s->buf[b - 1] != '\n')
        b--;
    *n = e - b;
    return s->buf ? s->buf + b : "";
}

static int
starts(const char *p, size_t n, const char *word)
{
    size_t k = strlen(word);

    return n >= k && memcmp(p, word, k) == 0;
}

static int
contains(const struct sbuf *s, const char *needle)
{
    return s->len && memmem(s->buf, s->len, needle, strlen(needle)) != NULL;
}

/* 1 when the program's stderr says it ran out of memory. */
static int
out_of_memory(enum code_lang lang, const struct sbuf *err)
{
    size_t n;
    const char *l;

    switch (lang) {
    case CODE_PYTHON:
        l = last_line(err, &n);
        return starts(l, n, "MemoryError");
    case CODE_CPP:
        return contains(err, "std::bad_alloc");
    case CODE_JAVA:
        return contains(err, "java.lang.OutOfMemoryError");
    case CODE_GO:
        return contains(err, "runtime: out of memory")
               || contains(err, "runtime: cannot allocate memory");
    case CODE_RUST:
        return contains(err, "memory allocation of ");
    case CODE_JS:
        return contains(err, "JavaScript heap out of memory")
               || contains(err, "RangeError: Array buffer allocation failed");
    case CODE_C:
    case CODE_NLANGS:
        break;
    }
    return 0;
}

/* Verdict of a run step that did not exit 0. */
static enum code_verdict
failed_verdict(enum code_lang lang, int is_assert, const struct sandbox_step_result *r)
{
    size_t n;
    const char *l;

    switch (r->status) {
    case SANDBOX_TIMEOUT:
    case SANDBOX_SKIPPED:
        return CODE_TIMEOUT;
    case SANDBOX_OUTPUT_LIMIT:
        return CODE_OUTPUT_LIMIT;
    case SANDBOX_START_FAILED:
        return CODE_RUNTIME_ERROR;
    case SANDBOX_SIGNALED:
        if (out_of_memory(lang, &r->err))
            return CODE_MEMORY;
        if (is_assert && r->code == SIGABRT && contains(&r->err, "Assertion `"))
            return CODE_WRONG;
        return CODE_RUNTIME_ERROR;
    case SANDBOX_EXITED:
        break;
    }
    if (out_of_memory(lang, &r->err))
        return CODE_MEMORY;
    if (lang == CODE_PYTHON) {
        l = last_line(&r->err, &n);
        if (starts(l, n, "SyntaxError") || starts(l, n, "IndentationError")
            || starts(l, n, "TabError"))
            return CODE_COMPILE_ERROR;
        if (is_assert && starts(l, n, "AssertionError"))
            return CODE_WRONG;
        return CODE_RUNTIME_ERROR;
    }
    if (lang == CODE_JS) {
        if (contains(&r->err, "\nSyntaxError: "))
            return CODE_COMPILE_ERROR;
        if (is_assert && contains(&r->err, "AssertionError"))
            return CODE_WRONG;
        return CODE_RUNTIME_ERROR;
    }
    return is_assert ? CODE_WRONG : CODE_RUNTIME_ERROR;
}

/* ---- jobs ---- */

/*
 * The Java class to run: the first public class (or interface-free
 * "public final class"), else the first class, else Main.  Written into
 * name (an identifier; "Main" when the source's is not one).
 */
static void
java_class(const char *code, size_t len, char *name, size_t cap)
{
    const char *p = code, *e = code + len, *first = NULL, *pub = NULL;

    while (p < e) {
        const char *q = memmem(p, (size_t)(e - p), "class", 5);
        const char *b;

        if (!q)
            break;
        p = q + 5;
        if ((q > code && (isalnum((unsigned char)q[-1]) || q[-1] == '_'))
            || p >= e || !isspace((unsigned char)*p))
            continue;
        if (!first)
            first = q;
        for (b = q; b > code && b[-1] != '\n' && b[-1] != ';' && b[-1] != '}'; b--)
            ;
        if (!pub && memmem(b, (size_t)(q - b), "public", 6))
            pub = q;
    }
    snprintf(name, cap, "Main");
    if (pub || first) {
        const char *s = (pub ? pub : first) + 5, *t;

        while (s < e && isspace((unsigned char)*s))
            s++;
        for (t = s; t < e && (isalnum((unsigned char)*t) || *t == '_' || *t == '$'); t++)
            ;
        if (t > s && (size_t)(t - s) < cap && !isdigit((unsigned char)*s)) {
            memcpy(name, s, (size_t)(t - s));
            name[t - s] = '\0';
        }
    }
}

static void
add_source(struct sandbox_step *s, const char *name, const struct code_program *p,
           const struct code_test *t)
{
    struct sbuf src = SBUF_INIT;

    sbuf_add(&src, p->code, p->len);
    if (t && t->assert_src) {
        sbuf_adds(&src, "\n\n");
        sbuf_add(&src, t->assert_src, t->assert_len);
        sbuf_addc(&src, '\n');
    }
    sandbox_step_file(s, name, src.buf ? src.buf : "", src.len);
    sbuf_release(&src);
}

/* Limits of a run of lang with memory mem (0 = base's) and CPU time cpu (0 = base's). */
static struct sandbox_limits
lang_limits(const struct sandbox_limits *base, enum code_lang lang, uint64_t mem,
            double cpu)
{
    struct sandbox_limits l = *base;

    if (mem)
        l.mem_bytes = mem;
    if (cpu > 0) {
        l.cpu_sec = cpu;
        l.wall_sec = PT_MAX(base->wall_sec, 2 * cpu + 5);
    }
    l.mem_bytes += langs[lang].extra_mib << 20;
    l.nproc += langs[lang].extra_nproc;
    return l;
}

/* The program's compile step: NAME.EXT (or CLASS.java) into NAME; returns its index. */
static long
add_compile(struct sandbox_job *job, const struct code_opts *o, const struct code_program *p,
            const char *name, const char *jclass, const struct code_test *t)
{
    struct sandbox_limits lim = lang_limits(&o->compile, p->lang, 0, 0);
    struct sandbox_step *s = sandbox_job_add(job, &lim);
    char file[96];

    if (p->lang == CODE_JAVA)
        snprintf(file, sizeof(file), "%s.java", jclass);
    else
        snprintf(file, sizeof(file), "%s.%s", name, langs[p->lang].ext);
    add_source(s, file, p, t);
    switch (p->lang) {
    case CODE_C:
    case CODE_CPP:
        sandbox_step_arg(s, p->lang == CODE_C ? o->cc : o->cxx);
        sandbox_step_arg(s, p->lang == CODE_C ? "-std=c17" : "-std=c++17");
        sandbox_step_arg(s, "-O2");
        sandbox_step_arg(s, "-o");
        sandbox_step_arg(s, name);
        sandbox_step_arg(s, file);
        sandbox_step_arg(s, "-lm");
        break;
    case CODE_JAVA:
        sandbox_step_arg(s, o->javac);
        sandbox_step_arg(s, "-J-Xmx512m");
        sandbox_step_arg(s, "-J-XX:+UseSerialGC");
        sandbox_step_arg(s, "-J-XX:TieredStopAtLevel=1");
        sandbox_step_arg(s, "-J-XX:CompressedClassSpaceSize=64m");
        sandbox_step_arg(s, "-J-XX:ReservedCodeCacheSize=64m");
        sandbox_step_arg(s, "-encoding");
        sandbox_step_arg(s, "UTF-8");
        sandbox_step_arg(s, "-d");
        sandbox_step_arg(s, ".");
        sandbox_step_arg(s, file);
        break;
    case CODE_GO:
        sandbox_step_arg(s, o->go);
        sandbox_step_arg(s, "build");
        sandbox_step_arg(s, "-o");
        sandbox_step_arg(s, name);
        sandbox_step_arg(s, file);
        break;
    case CODE_RUST:
        sandbox_step_arg(s, o->rustc);
        sandbox_step_arg(s, "--edition");
        sandbox_step_arg(s, "2021");
        sandbox_step_arg(s, "-O");
        sandbox_step_arg(s, "-o");
        sandbox_step_arg(s, name);
        sandbox_step_arg(s, file);
        break;
    case CODE_PYTHON:
    case CODE_JS:
    case CODE_NLANGS:
        break;
    }
    return (long)job->n - 1;
}

/* argv of a run: the interpreter or ./NAME, then file (interpreted) or class. */
static void
add_run_argv(struct sandbox_step *s, const struct code_opts *o, enum code_lang lang,
             const char *name, const char *jclass, uint64_t mem)
{
    char buf[128];

    switch (lang) {
    case CODE_PYTHON:
        sandbox_step_arg(s, o->python);
        sandbox_step_arg(s, name);
        break;
    case CODE_JS:
        sandbox_step_arg(s, o->node);
        snprintf(buf, sizeof(buf), "--max-old-space-size=%llu",
                 (unsigned long long)(mem >> 20));
        sandbox_step_arg(s, buf);
        sandbox_step_arg(s, name);
        break;
    case CODE_JAVA:
        sandbox_step_arg(s, o->java);
        snprintf(buf, sizeof(buf), "-Xmx%llum", (unsigned long long)(mem >> 20));
        sandbox_step_arg(s, buf);
        sandbox_step_arg(s, "-Xss64m");
        sandbox_step_arg(s, "-XX:+UseSerialGC");
        sandbox_step_arg(s, "-XX:TieredStopAtLevel=1");
        sandbox_step_arg(s, "-XX:CompressedClassSpaceSize=64m");
        sandbox_step_arg(s, "-XX:ReservedCodeCacheSize=64m");
        sandbox_step_arg(s, "-cp");
        sandbox_step_arg(s, ".");
        sandbox_step_arg(s, jclass);
        break;
    default:
        snprintf(buf, sizeof(buf), "./%s", name);
        sandbox_step_arg(s, buf);
        break;
    }
}

/* The programs lang needs on the host (/usr is bound as it is). */
static int
tools_present(const struct code_opts *o, enum code_lang lang, struct sbuf *why)
{
    const char *need[2] = { NULL, NULL };
    size_t i;

    switch (lang) {
    case CODE_PYTHON: need[0] = o->python; break;
    case CODE_C: need[0] = o->cc; break;
    case CODE_CPP: need[0] = o->cxx; break;
    case CODE_JAVA: need[0] = o->javac; need[1] = o->java; break;
    case CODE_GO: need[0] = o->go; break;
    case CODE_RUST: need[0] = o->rustc; break;
    case CODE_JS: need[0] = o->node; break;
    case CODE_NLANGS: break;
    }
    for (i = 0; i < 2; i++)
        if (need[i] && access(need[i], X_OK) != 0) {
            sbuf_addf(why, "%s for %s missing: '%s': %s",
                      langs[lang].compiled && i == 0 ? "compiler" : "interpreter",
                      langs[lang].name, need[i], strerror(errno));
            return -1;
        }
    return 0;
}

/*
 * A step that could not start before any program step ran (the compiler
 * or interpreter itself) is the infrastructure's failure.
 */
/* sandbox_run, its reason appended to why after "sandbox: ". */
static int
run_sandbox(struct sandbox *sb, int slot, const struct sandbox_job *job,
             struct sandbox_result *res, struct sbuf *why)
{
    struct sbuf err = SBUF_INIT;
    int rc = sandbox_run(sb, slot, job, res, &err);

    if (rc != 0)
        sbuf_addf(why, "sandbox: %s", sbuf_str(&err));
    sbuf_release(&err);
    return rc;
}

static int
infra_step(const struct sandbox_result *res, size_t first_prog_step, struct sbuf *why,
           const struct sandbox_job *job)
{
    size_t i;

    for (i = 0; i < res->n && i <= first_prog_step; i++)
        if (res->steps[i].status == SANDBOX_START_FAILED) {
            sbuf_addf(why, "cannot start '%s': %s", job->steps[i].argv[0],
                      strerror(res->steps[i].code));
            return 1;
        }
    return 0;
}

/*
 * Appends prefix and the tail of a compiler's message, on one line, to
 * why, without trailing blanks and colons.
 */
static void
message_tail(struct sbuf *why, const char *prefix, const struct sbuf *msg)
{
    size_t n = msg->len, off = n > 200 ? n - 200 : 0, start = why->len, i;

    sbuf_adds(why, prefix);
    for (i = off; i < n; i++)
        sbuf_addc(why, msg->buf[i] == '\n' || msg->buf[i] == '\r' ? ' ' : msg->buf[i]);
    while (why->len > start
           && (why->buf[why->len - 1] == ' ' || why->buf[why->len - 1] == ':'))
        why->len--;
    if (why->buf)
        why->buf[why->len] = '\0';
}

/*
 * Runs the checker on every test whose verdict is CODE_CORRECT pending
 * (outputs in res_prog at step_of); turns those into correct or wrong.
 */
static enum code_run_status
run_checker(struct sandbox *sb, int slot, const struct code_opts *o,
            const struct code_task *task, const struct sandbox_result *pres,
            const long *step_of, enum code_verdict *verdicts, struct sbuf *why)
{
    const struct code_program *ck = &task->checker;
    struct sandbox_job job = SANDBOX_JOB_INIT;
    struct sandbox_result res = SANDBOX_RESULT_INIT;
    struct sandbox_limits lim = lang_limits(&o->checker, ck->lang, 0, 0);
    long *cstep = xcalloc(task->ntests ? task->ntests : 1, sizeof(long));
    long comp = -1;
    enum code_run_status rc = CODE_RUN_INFRA;
    char jclass[64], file[80];
    size_t i, any = 0;

    java_class(ck->code, ck->len, jclass, sizeof(jclass));
    if (langs[ck->lang].compiled)
        comp = add_compile(&job, o, ck, "checker", jclass, NULL);
    snprintf(file, sizeof(file), "checker.%s", langs[ck->lang].ext);
    for (i = 0; i < task->ntests; i++) {
        const struct code_test *t = &task->tests[i];
        const struct sandbox_step_result *r;
        struct sandbox_step *s;

        cstep[i] = -1;
        if (verdicts[i] != CODE_CORRECT || t->assert_src)
            continue;
        r = &pres->steps[step_of[i]];
        s = sandbox_job_add(&job, &lim);
        s->needs = comp;
        if (!langs[ck->lang].compiled && !any)
            add_source(s, file, ck, NULL);
        sandbox_step_file(s, "input.txt", t->input ? t->input : "", t->input_len);
        sandbox_step_file(s, "output.txt", r->out.buf ? r->out.buf : "", r->out.len);
        sandbox_step_file(s, "answer.txt", t->output ? t->output : "", t->output_len);
        add_run_argv(s, o, ck->lang, langs[ck->lang].compiled ? "checker" : file, jclass,
                     o->checker.mem_bytes);
        sandbox_step_arg(s, "input.txt");
        sandbox_step_arg(s, "output.txt");
        sandbox_step_arg(s, "answer.txt");
        cstep[i] = (long)job.n - 1;
        any++;
    }
    if (!any) {
        rc = CODE_RUN_OK;
        goto out;
    }
    if (tools_present(o, ck->lang, why) != 0)
        goto out;
    if (run_sandbox(sb, slot, &job, &res, why) != 0)
        goto out;
    if (infra_step(&res, 0, why, &job))
        goto out;
    rc = CODE_RUN_CHECKER;
    if (comp >= 0 && (res.steps[comp].status != SANDBOX_EXITED || res.steps[comp].code)) {
        message_tail(why, "compile error: ", &res.steps[comp].err);
        goto out;
    }
    for (i = 0; i < task->ntests; i++) {
        const struct sandbox_step_result *r;

        if (cstep[i] < 0)
            continue;
        r = &res.steps[cstep[i]];
        if (r->status == SANDBOX_EXITED && r->code == 0)
            verdicts[i] = CODE_CORRECT;
        else if (r->status == SANDBOX_EXITED && (r->code == 1 || r->code == 2))
            verdicts[i] = CODE_WRONG;
        else {
            char pre[96];

            if (r->status == SANDBOX_EXITED)
                snprintf(pre, sizeof(pre), "test %zu: exit status %d: ", i, r->code);
            else
                snprintf(pre, sizeof(pre), "test %zu: %s %d: ", i,
                         sandbox_status_name(r->status), r->code);
            message_tail(why, pre, &r->err);
            goto out;
        }
    }
    rc = CODE_RUN_OK;
out:
    sandbox_result_release(&res);
    sandbox_job_release(&job);
    free(cstep);
    return rc;
}

enum code_run_status
codeeval_run(struct sandbox *sb, int slot, const struct code_opts *o,
             const struct code_task *task, enum code_verdict *verdicts, struct sbuf *why)
{
    const struct code_program *p = &task->prog;
    const struct lang_info *li = &langs[p->lang];
    struct sandbox_job job = SANDBOX_JOB_INIT;
    struct sandbox_result res = SANDBOX_RESULT_INIT;
    size_t n = task->ntests, i, first_run = 0;
    long *step_of = xcalloc(n ? n : 1, sizeof(long));
    long *compile_of = xcalloc(n ? n : 1, sizeof(long));
    long main_compile = -1;
    int main_written = 0, per_test = 0;
    enum code_run_status rc = CODE_RUN_INFRA;
    struct sandbox_limits run = lang_limits(&o->run, p->lang, task->mem_bytes,
                                            task->time_limit);
    uint64_t mem = task->mem_bytes ? task->mem_bytes : o->run.mem_bytes;
    char name[64], jclass[64];

    if (tools_present(o, p->lang, why) != 0)
        goto out;
    java_class(p->code, p->len, jclass, sizeof(jclass));
    /* Java's class files share one name: with asserts, each test compiles. */
    for (i = 0; i < n && p->lang == CODE_JAVA; i++)
        per_test |= task->tests[i].assert_src != NULL;
    for (i = 0; i < n; i++) {
        const struct code_test *t = &task->tests[i];
        struct sandbox_step *s;
        long dep = -1;

        if (li->compiled) {
            if (t->assert_src || per_test) {
                snprintf(name, sizeof(name), "t%zu", i);
                dep = add_compile(&job, o, p, name, jclass, t);
            } else {
                if (main_compile < 0)
                    main_compile = add_compile(&job, o, p, "main", jclass, NULL);
                dep = main_compile;
                snprintf(name, sizeof(name), "main");
            }
        }
        compile_of[i] = dep;
        if (i == 0)
            first_run = job.n;
        s = sandbox_job_add(&job, &run);
        s->needs = dep;
        if (!li->compiled) {
            if (t->assert_src) {
                snprintf(name, sizeof(name), "t%zu.%s", i, li->ext);
                add_source(s, name, p, t);
            } else {
                snprintf(name, sizeof(name), "main.%s", li->ext);
                if (!main_written)
                    add_source(s, name, p, NULL);
                main_written = 1;
            }
        }
        add_run_argv(s, o, p->lang, name, jclass, mem);
        if (!t->assert_src && t->input)
            sandbox_step_input(s, t->input, t->input_len);
        step_of[i] = (long)job.n - 1;
    }
    if (run_sandbox(sb, slot, &job, &res, why) != 0)
        goto out;
    if (infra_step(&res, li->compiled ? first_run - 1 : first_run, why, &job))
        goto out;
    for (i = 0; i < n; i++) {
        const struct code_test *t = &task->tests[i];
        const struct sandbox_step_result *r = &res.steps[step_of[i]];

        if (compile_of[i] >= 0) {
            const struct sandbox_step_result *c = &res.steps[compile_of[i]];

            if (c->status != SANDBOX_EXITED || c->code != 0) {
                verdicts[i] = c->status == SANDBOX_SKIPPED ? CODE_TIMEOUT
                                                           : CODE_COMPILE_ERROR;
                continue;
            }
        }
        if (r->status == SANDBOX_EXITED && r->code == 0) {
            const char *got = r->out.buf ? r->out.buf : "";
            const char *want = t->output ? t->output : "";

            if (t->assert_src || task->checker.code)
                verdicts[i] = CODE_CORRECT;
            else if (o->float_tol > 0)
                verdicts[i] = code_output_match_float(got, r->out.len, want, t->output_len,
                                                      o->float_tol)
                                  ? CODE_CORRECT : CODE_WRONG;
            else
                verdicts[i] = code_output_match(got, r->out.len, want, t->output_len)
                                  ? CODE_CORRECT : CODE_WRONG;
        } else {
            verdicts[i] = failed_verdict(p->lang, t->assert_src != NULL, r);
        }
    }
    rc = CODE_RUN_OK;
    if (task->checker.code)
        rc = run_checker(sb, slot, o, task, &res, step_of, verdicts, why);
out:
    sandbox_result_release(&res);
    sandbox_job_release(&job);
    free(step_of);
    free(compile_of);
    return rc;
}

/* ---- records ---- */

int
code_tests_parse(const json_t *arr, int need_output, struct code_test **tests, size_t *n,
                 struct sbuf *why)
{
    struct code_test *t;
    size_t i;

    *tests = NULL;
    *n = 0;
    if (!json_is_array(arr)) {
        sbuf_adds(why, arr ? "not an array" : "missing");
        return -1;
    }
    if (json_array_size(arr) == 0) {
        sbuf_adds(why, "empty");
        return -1;
    }
    t = xcalloc(json_array_size(arr), sizeof(*t));
    for (i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *a = json_object_get(e, "assert");
        const json_t *in = json_object_get(e, "input");
        const json_t *out = json_object_get(e, "output");

        t[i].subtask = -1;
        if (json_is_string(a)) {
            t[i].assert_src = json_string_value(a);
            t[i].assert_len = json_string_length(a);
        } else if (json_is_string(in) && (json_is_string(out) || (!need_output && !out))) {
            t[i].input = json_string_value(in);
            t[i].input_len = json_string_length(in);
            t[i].output = out ? json_string_value(out) : "";
            t[i].output_len = out ? json_string_length(out) : 0;
        } else {
            sbuf_addf(why,
                      "element %zu: no string 'assert' nor strings 'input' and 'output'", i);
            free(t);
            return -1;
        }
    }
    *tests = t;
    *n = json_array_size(arr);
    return 0;
}

/* An id (string or integer) as text into buf; NULL if neither. */
static const char *
subtask_id(const json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return NULL;
}

static int
parse_subtasks(const json_t *rec, struct code_task *task, const char **field, struct sbuf *why)
{
    const json_t *arr = json_object_get(rec, "subtasks"), *tests = json_object_get(rec, "tests");
    double total = 0;
    size_t i, j, *count;
    char buf[24];

    *field = "subtasks";
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        sbuf_adds(why, "not a non-empty array");
        return -1;
    }
    task->nsubtasks = json_array_size(arr);
    task->subtasks = xcalloc(task->nsubtasks, sizeof(*task->subtasks));
    for (i = 0; i < task->nsubtasks; i++) {
        struct code_subtask *st = &task->subtasks[i];
        const json_t *e = json_array_get(arr, i), *pts = json_object_get(e, "points");

        st->id = subtask_id(json_object_get(e, "id"), st->idbuf, sizeof(st->idbuf));
        if (!st->id) {
            sbuf_addf(why, "element %zu: 'id' is not a string or an integer", i);
            return -1;
        }
        if (!json_is_number(pts) || !(json_number_value(pts) >= 0)
            || !isfinite(json_number_value(pts))) {
            sbuf_addf(why, "element %zu: 'points' is not a number >= 0", i);
            return -1;
        }
        st->points = json_number_value(pts);
        total += st->points;
        for (j = 0; j < i; j++)
            if (!strcmp(task->subtasks[j].id, st->id)) {
                sbuf_addf(why, "element %zu: id '%s' given twice", i, st->id);
                return -1;
            }
    }
    if (!(total > 0)) {
        sbuf_adds(why, "the points add up to 0");
        return -1;
    }
    *field = "tests";
    count = xcalloc(task->nsubtasks, sizeof(*count));
    for (i = 0; i < task->ntests; i++) {
        const char *id = subtask_id(json_object_get(json_array_get(tests, i), "subtask"),
                                    buf, sizeof(buf));

        for (j = 0; id && j < task->nsubtasks; j++)
            if (!strcmp(task->subtasks[j].id, id))
                break;
        if (!id || j == task->nsubtasks) {
            sbuf_addf(why, "element %zu: 'subtask' %s", i,
                      id ? "names no subtask of 'subtasks'" : "is not a string or an integer");
            free(count);
            return -1;
        }
        task->tests[i].subtask = (long)j;
        count[j]++;
    }
    for (j = 0; j < task->nsubtasks; j++)
        if (!count[j]) {
            *field = "subtasks";
            sbuf_addf(why, "subtask '%s' has no test", task->subtasks[j].id);
            free(count);
            return -1;
        }
    free(count);
    return 0;
}

int
code_task_parse(const json_t *rec, const struct code_opts *o, struct code_task *task,
                const char **field, struct sbuf *why)
{
    const json_t *v;

    memset(task, 0, sizeof(*task));
    if ((v = json_object_get(rec, "checker")) != NULL) {
        const json_t *lang = json_object_get(v, "lang"), *code = json_object_get(v, "code");

        *field = "checker";
        task->checker.lang = CODE_PYTHON;
        if (json_is_string(v)) {
            code = v;
        } else if (!json_is_object(v) || !json_is_string(code)
                   || (lang && !json_is_string(lang))) {
            sbuf_adds(why, "not a string nor an object with string 'code' (and 'lang')");
            return -1;
        } else if (lang && code_lang_parse(json_string_value(lang), &task->checker.lang)) {
            sbuf_addf(why, "lang: '%s' is not " CODE_LANGS_TEXT,
                      json_string_value(lang));
            return -1;
        }
        task->checker.code = json_string_value(code);
        task->checker.len = json_string_length(code);
    }
    *field = "tests";
    if (code_tests_parse(json_object_get(rec, "tests"), task->checker.code == NULL,
                         &task->tests, &task->ntests, why) != 0)
        return -1;
    if ((v = json_object_get(rec, "time_limit")) != NULL) {
        *field = "time_limit";
        if (!json_is_number(v) || !(json_number_value(v) > 0 && json_number_value(v) <= 3600)) {
            sbuf_adds(why, "not a number of seconds in (0, 3600]");
            goto fail;
        }
        task->time_limit = json_number_value(v);
    }
    if ((v = json_object_get(rec, "memory_limit")) != NULL) {
        *field = "memory_limit";
        if (!json_is_number(v) || !(json_number_value(v) >= 16
                                    && json_number_value(v) <= 1048576)) {
            sbuf_adds(why, "not a number of megabytes in [16, 1048576]");
            goto fail;
        }
        task->mem_bytes = (uint64_t)(json_number_value(v) * 1048576.0);
    }
    if (o->subtasks && json_object_get(rec, "subtasks")
        && parse_subtasks(rec, task, field, why) != 0)
        goto fail;
    return 0;
fail:
    code_task_release(task);
    return -1;
}

void
code_task_release(struct code_task *task)
{
    free(task->tests);
    free(task->subtasks);
    task->tests = NULL;
    task->subtasks = NULL;
    task->ntests = task->nsubtasks = 0;
}

double
code_record_set(json_t *rec, const struct code_task *task,
                const enum code_verdict *verdicts, const char *reason)
{
    json_t *list = json_array();
    size_t i, n = task && !reason ? task->ntests : 0, pass = 0;
    double score = 0;

    for (i = 0; i < n; i++) {
        json_array_append_new(list, json_string(code_verdict_name(verdicts[i])));
        pass += verdicts[i] == CODE_CORRECT;
        if (!reason && verdicts[i] != CODE_CORRECT)
            reason = code_verdict_name(verdicts[i]);
    }
    json_object_set_new(rec, "code_verdicts", list);
    json_object_set_new(rec, "code_reason", json_string(reason ? reason : "correct"));
    json_object_del(rec, "code_points");
    if (!n)
        score = 0;
    else if (task->subtasks) {
        double total = 0, got = 0;
        size_t j;

        for (j = 0; j < task->nsubtasks; j++) {
            int all = 1;

            for (i = 0; i < n; i++)
                if (task->tests[i].subtask == (long)j && verdicts[i] != CODE_CORRECT)
                    all = 0;
            total += task->subtasks[j].points;
            got += all ? task->subtasks[j].points : 0;
        }
        json_object_set_new(rec, "code_points", json_real(got));
        score = got / total;
    } else {
        score = (double)pass / (double)n;
    }
    rec_set_reward(rec, "code", score);
    return score;
}
