/*
 * codeeval.c - sandbox jobs for Python, C and C++ programs and the
 * verdict of each test.  See codeeval.h.
 */
#include "codeeval.h"

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rec.h"

static const char *const verdict_names[] = {
    "pass", "wrong", "timeout", "memory", "crash", "compile_error", "output_limit",
};

const char *
code_verdict_name(enum code_verdict v)
{
    return (size_t)v < ARRAY_LEN(verdict_names) ? verdict_names[v] : "unknown";
}

int
code_lang_parse(const char *name, enum code_lang *out)
{
    if (!strcasecmp(name, "python") || !strcasecmp(name, "py")
        || !strcasecmp(name, "python3"))
        *out = CODE_PYTHON;
    else if (!strcasecmp(name, "c"))
        *out = CODE_C;
    else if (!strcasecmp(name, "cpp") || !strcasecmp(name, "c++"))
        *out = CODE_CPP;
    else
        return -1;
    return 0;
}

void
code_opts_default(struct code_opts *o)
{
    sandbox_limits_default(&o->run);
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
        return CODE_CRASH;
    case SANDBOX_SIGNALED:
        if (contains(&r->err, "std::bad_alloc"))
            return CODE_MEMORY;
        if (is_assert && r->code == SIGABRT && contains(&r->err, "Assertion `"))
            return CODE_WRONG;
        return CODE_CRASH;
    case SANDBOX_EXITED:
        break;
    }
    if (lang != CODE_PYTHON)
        return is_assert ? CODE_WRONG : CODE_CRASH;
    l = last_line(&r->err, &n);
    if (starts(l, n, "MemoryError"))
        return CODE_MEMORY;
    if (starts(l, n, "SyntaxError") || starts(l, n, "IndentationError")
        || starts(l, n, "TabError"))
        return CODE_COMPILE_ERROR;
    if (is_assert && starts(l, n, "AssertionError"))
        return CODE_WRONG;
    return CODE_CRASH;
}

/* ---- jobs ---- */

static void
add_source(struct sandbox_step *s, const char *name, const char *code, size_t len,
           const struct code_test *t)
{
    struct sbuf src = SBUF_INIT;

    sbuf_add(&src, code, len);
    if (t && t->assert_src) {
        sbuf_adds(&src, "\n\n");
        sbuf_add(&src, t->assert_src, t->assert_len);
        sbuf_addc(&src, '\n');
    }
    sandbox_step_file(s, name, src.buf ? src.buf : "", src.len);
    sbuf_release(&src);
}

/* Adds a compile step of NAME.EXT into NAME; returns its index. */
static long
add_compile(struct sandbox_job *job, const struct code_opts *o, enum code_lang lang,
            const char *name, const char *code, size_t len, const struct code_test *t)
{
    struct sandbox_step *s = sandbox_job_add(job, &o->compile);
    char file[64];

    snprintf(file, sizeof(file), "%s.%s", name, lang == CODE_C ? "c" : "cpp");
    add_source(s, file, code, len, t);
    sandbox_step_arg(s, lang == CODE_C ? o->cc : o->cxx);
    sandbox_step_arg(s, lang == CODE_C ? "-std=c17" : "-std=c++17");
    sandbox_step_arg(s, "-O2");
    sandbox_step_arg(s, "-o");
    sandbox_step_arg(s, name);
    sandbox_step_arg(s, file);
    sandbox_step_arg(s, "-lm");
    return (long)job->n - 1;
}

int
codeeval_run(struct sandbox *sb, int slot, const struct code_opts *o,
             enum code_lang lang, const char *code, size_t len,
             const struct code_test *tests, size_t ntests,
             enum code_verdict *verdicts)
{
    struct sandbox_job job = SANDBOX_JOB_INIT;
    struct sandbox_result res = SANDBOX_RESULT_INIT;
    long *step_of = xcalloc(ntests ? ntests : 1, sizeof(long));
    long *compile_of = xcalloc(ntests ? ntests : 1, sizeof(long));
    long main_compile = -1;
    int main_written = 0, rc = -1;
    size_t i;
    char name[64];

    for (i = 0; i < ntests; i++) {
        const struct code_test *t = &tests[i];
        struct sandbox_step *s;
        long dep = -1;

        if (lang != CODE_PYTHON) {
            if (t->assert_src) {
                snprintf(name, sizeof(name), "t%zu", i);
                dep = add_compile(&job, o, lang, name, code, len, t);
            } else {
                if (main_compile < 0)
                    main_compile = add_compile(&job, o, lang, "main", code, len, NULL);
                dep = main_compile;
                snprintf(name, sizeof(name), "main");
            }
        }
        compile_of[i] = dep;
        s = sandbox_job_add(&job, &o->run);
        s->needs = dep;
        if (lang == CODE_PYTHON) {
            if (t->assert_src) {
                snprintf(name, sizeof(name), "t%zu.py", i);
                add_source(s, name, code, len, t);
            } else {
                snprintf(name, sizeof(name), "main.py");
                if (!main_written)
                    add_source(s, name, code, len, NULL);
                main_written = 1;
            }
            sandbox_step_arg(s, o->python);
            sandbox_step_arg(s, name);
        } else {
            char path[80];

            snprintf(path, sizeof(path), "./%s", name);
            sandbox_step_arg(s, path);
        }
        if (!t->assert_src && t->input)
            sandbox_step_input(s, t->input, t->input_len);
        step_of[i] = (long)job.n - 1;
    }
    if (sandbox_run(sb, slot, &job, &res) != 0)
        goto out;
    for (i = 0; i < ntests; i++) {
        const struct code_test *t = &tests[i];
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
            if (t->assert_src)
                verdicts[i] = CODE_PASS;
            else
                verdicts[i] = code_output_match(r->out.buf ? r->out.buf : "", r->out.len,
                                                t->output ? t->output : "",
                                                t->output_len)
                                  ? CODE_PASS : CODE_WRONG;
        } else {
            verdicts[i] = failed_verdict(lang, t->assert_src != NULL, r);
        }
    }
    rc = 0;
out:
    sandbox_result_release(&res);
    sandbox_job_release(&job);
    free(step_of);
    free(compile_of);
    return rc;
}

/* ---- records ---- */

int
code_tests_parse(const json_t *arr, struct code_test **tests, size_t *n,
                 char *why, size_t whylen)
{
    struct code_test *t;
    size_t i;

    *tests = NULL;
    *n = 0;
    if (!json_is_array(arr)) {
        snprintf(why, whylen, "%s", arr ? "not an array" : "missing");
        return -1;
    }
    if (json_array_size(arr) == 0) {
        snprintf(why, whylen, "empty");
        return -1;
    }
    t = xcalloc(json_array_size(arr), sizeof(*t));
    for (i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *a = json_object_get(e, "assert");
        const json_t *in = json_object_get(e, "input");
        const json_t *out = json_object_get(e, "output");

        if (json_is_string(a)) {
            t[i].assert_src = json_string_value(a);
            t[i].assert_len = json_string_length(a);
        } else if (json_is_string(in) && json_is_string(out)) {
            t[i].input = json_string_value(in);
            t[i].input_len = json_string_length(in);
            t[i].output = json_string_value(out);
            t[i].output_len = json_string_length(out);
        } else {
            snprintf(why, whylen,
                     "element %zu: no string 'assert' nor strings 'input' and 'output'", i);
            free(t);
            return -1;
        }
    }
    *tests = t;
    *n = json_array_size(arr);
    return 0;
}

void
code_record_set(json_t *rec, const enum code_verdict *verdicts, size_t n,
                const char *reason)
{
    json_t *list = json_array();
    size_t i, pass = 0;

    for (i = 0; i < n; i++) {
        json_array_append_new(list, json_string(code_verdict_name(verdicts[i])));
        pass += verdicts[i] == CODE_PASS;
    }
    json_object_set_new(rec, "code_verdicts", list);
    if (reason)
        json_object_set_new(rec, "code_reason", json_string(reason));
    else
        json_object_del(rec, "code_reason");
    rec_set_reward(rec, "code", reason || !n ? 0.0 : (double)pass / (double)n);
}
