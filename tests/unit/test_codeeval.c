/*
 * test_codeeval.c - output comparison, the tests field, the record fields,
 * and the verdict of small Python, C and C++ programs whose behaviour is
 * known by hand.
 */
#include <string.h>

#include "check.h"
#include "codeeval.h"

#define MATCH(a, b) code_output_match(a, strlen(a), b, strlen(b))

static struct sandbox sb;
static struct code_opts opts;

static struct sbuf err = SBUF_INIT;

/* b emptied, for a call that appends its reason */
static struct sbuf *
fresh(struct sbuf *b)
{
    sbuf_reset(b);
    return b;
}

/* Runs src against n tests; returns the verdicts as "v1,v2,..." (static). */
static const char *
run(enum code_lang lang, const char *src, const struct code_test *t, size_t n)
{
    static char buf[256];
    enum code_verdict v[16];
    struct code_task task;
    size_t i;

    memset(&task, 0, sizeof(task));
    task.prog = (struct code_program){ lang, src, strlen(src) };
    task.tests = (struct code_test *)t;
    task.ntests = n;
    buf[0] = '\0';
    if (codeeval_run(&sb, 0, &opts, &task, v, fresh(&err)) != CODE_RUN_OK)
        return sbuf_str(&err);
    for (i = 0; i < n; i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, code_verdict_name(v[i]));
    }
    return buf;
}

static struct code_test
io(const char *in, const char *out)
{
    struct code_test t = { in, out, NULL, strlen(in), strlen(out), 0, -1 };
    return t;
}

static struct code_test
as(const char *src)
{
    struct code_test t = { NULL, NULL, src, 0, 0, strlen(src), -1 };
    return t;
}

int
main(int argc, char **argv)
{
    struct code_test t[8];
    json_t *rec, *arr;
    struct code_test *pt;
    size_t n;
    struct sbuf why = SBUF_INIT;
    enum code_verdict v[3] = { CODE_CORRECT, CODE_WRONG, CODE_CORRECT };
    struct code_task task;
    const char *field;

    if (sandbox_is_runner(argc, argv))
        return sandbox_runner_main();

    /* ---- output comparison ---- */
    CHECK(MATCH("", ""));
    CHECK(MATCH("1 2\n", "1 2"));
    CHECK(MATCH("1 2  \t\r\n3\n\n\n", "1 2\n3"));
    CHECK(MATCH("a\r\nb\r\n", "a\nb\n"));
    CHECK(MATCH("\n\n", ""));
    CHECK(!MATCH(" 1", "1"));           /* leading space counts */
    CHECK(!MATCH("a\n\nb", "a\nb"));    /* inner blank lines count */
    CHECK(!MATCH("1", "1.0"));
    CHECK(!MATCH("a\nb", "a"));
    CHECK(!MATCH("a", "a\nb"));
    CHECK(!MATCH("ab", "a b"));
    CHECK(MATCH("x \ny  \n", "x\ny"));

    /* ---- float tolerance (token by token, absolute or relative) ---- */
#define FMATCH(a, b, e) code_output_match_float(a, strlen(a), b, strlen(b), e)
    CHECK(FMATCH("0.3333334\n", "0.333333", 1e-6));
    CHECK(!FMATCH("0.333335", "0.333333", 1e-6));
    CHECK(FMATCH("1000000.5", "1000000", 1e-6));     /* relative */
    CHECK(!FMATCH("1000002", "1000000", 1e-6));
    CHECK(FMATCH("1 2.0000001\n3", "1 2\n\n3  ", 1e-6)); /* lines ignored */
    CHECK(FMATCH("-1e-7", "0", 1e-6));
    CHECK(FMATCH(".5", "0.5", 1e-9));
    CHECK(FMATCH("YES 1.0", "YES 1", 1e-9));
    CHECK(!FMATCH("yes 1.0", "YES 1", 1e-9));       /* words stay exact */
    CHECK(!FMATCH("1 2", "1 2 3", 1e-6));
    CHECK(!FMATCH("1 2 3", "1 2", 1e-6));
    CHECK(!FMATCH("nan", "nan0", 1e-6));
    CHECK(!FMATCH("inf", "1e400", 1e-6));           /* not decimal, not finite */
    CHECK(!FMATCH("0x10", "16", 1e-6));
    CHECK(!FMATCH("1e", "1", 1e-6));
    CHECK(FMATCH("", "\n", 1e-6));

    /* ---- languages ---- */
    {
        enum code_lang l;

        CHECK(code_lang_parse("Golang", &l) == 0 && l == CODE_GO);
        CHECK(code_lang_parse("rs", &l) == 0 && l == CODE_RUST);
        CHECK(code_lang_parse("node", &l) == 0 && l == CODE_JS);
        CHECK(code_lang_parse("java", &l) == 0 && l == CODE_JAVA);
        CHECK(code_lang_parse("kotlin", &l) == -1);
        CHECK_STREQ(code_lang_name(CODE_JS), "javascript");
    }

    /* ---- the tests field ---- */
    arr = json_loads("[{\"input\":\"1\\n\",\"output\":\"2\"},{\"assert\":\"assert f()\"}]",
                     0, NULL);
    CHECK(code_tests_parse(arr, 1, &pt, &n, fresh(&why)) == 0 && n == 2);
    CHECK(pt[0].input_len == 2 && pt[0].assert_src == NULL && pt[1].assert_len == 10);
    free(pt);
    json_decref(arr);
    arr = json_loads("[{\"input\":\"1\"}]", 0, NULL);
    CHECK(code_tests_parse(arr, 1, &pt, &n, fresh(&why)) == -1);
    CHECK_STREQ(sbuf_str(&why), "element 0: no string 'assert' nor strings 'input' and 'output'");
    json_decref(arr);
    arr = json_array();
    CHECK(code_tests_parse(arr, 1, &pt, &n, fresh(&why)) == -1);
    CHECK_STREQ(sbuf_str(&why), "empty");
    json_decref(arr);
    CHECK(code_tests_parse(NULL, 1, &pt, &n, fresh(&why)) == -1);
    CHECK_STREQ(sbuf_str(&why), "missing");

    /* ---- a record's task: limits, checker, subtasks ---- */
    code_opts_default(&opts);
#define TASK(js) (json_decref(rec), rec = json_loads(js, 0, NULL), \
                  code_task_parse(rec, &opts, &task, &field, fresh(&why)))
    rec = NULL;
    CHECK(TASK("{\"tests\":[{\"input\":\"\",\"output\":\"\"}],\"time_limit\":2.5,"
               "\"memory_limit\":256}") == 0);
    CHECK(task.time_limit == 2.5 && task.mem_bytes == (uint64_t)256 << 20 && !task.checker.code);
    code_task_release(&task);
    CHECK(TASK("{\"tests\":[{\"input\":\"\",\"output\":\"\"}],\"time_limit\":\"2\"}") == -1);
    CHECK_STREQ(field, "time_limit");
    CHECK_STREQ(sbuf_str(&why), "not a number of seconds in (0, 3600]");
    CHECK(TASK("{\"tests\":[{\"input\":\"\",\"output\":\"\"}],\"time_limit\":0}") == -1);
    CHECK(TASK("{\"tests\":[{\"input\":\"\",\"output\":\"\"}],\"memory_limit\":8}") == -1);
    CHECK_STREQ(field, "memory_limit");
    CHECK_STREQ(sbuf_str(&why), "not a number of megabytes in [16, 1048576]");
    /* A checker: "output" may be absent; a string is Python. */
    CHECK(TASK("{\"tests\":[{\"input\":\"1\"}],\"checker\":\"import sys\"}") == 0);
    CHECK(task.checker.code && task.checker.lang == CODE_PYTHON && task.tests[0].output_len == 0);
    code_task_release(&task);
    CHECK(TASK("{\"tests\":[{\"input\":\"1\"}],\"checker\":{\"lang\":\"c++\",\"code\":\"x\"}}")
          == 0);
    CHECK(task.checker.lang == CODE_CPP && task.checker.len == 1);
    code_task_release(&task);
    CHECK(TASK("{\"tests\":[{\"input\":\"1\"}]}") == -1);
    CHECK_STREQ(field, "tests");
    CHECK(TASK("{\"tests\":[{\"input\":\"1\"}],\"checker\":{\"lang\":\"cobol\",\"code\":\"\"}}")
          == -1);
    CHECK_STREQ(field, "checker");
    CHECK_STREQ(sbuf_str(&why), "lang: 'cobol' is not python, c, cpp, java, go, rust or javascript");
    CHECK(TASK("{\"tests\":[{\"input\":\"1\"}],\"checker\":7}") == -1);
    /* Subtasks: read only with the option; ids strings or integers. */
#define SUBJS(subs, t2) ("{\"tests\":[{\"input\":\"\",\"output\":\"\",\"subtask\":1}," \
                         "{\"input\":\"\",\"output\":\"\",\"subtask\":" t2 "}]," \
                         "\"subtasks\":" subs "}")
    CHECK(TASK(SUBJS("[{\"id\":1,\"points\":30},{\"id\":\"b\",\"points\":70}]", "\"b\""))
          == 0 && task.subtasks == NULL);
    code_task_release(&task);
    opts.subtasks = 1;
    CHECK(TASK(SUBJS("[{\"id\":1,\"points\":30},{\"id\":\"b\",\"points\":70}]", "\"b\""))
          == 0 && task.nsubtasks == 2 && task.tests[0].subtask == 0 && task.tests[1].subtask == 1);
    {
        enum code_verdict sv[2] = { CODE_CORRECT, CODE_WRONG };
        json_t *r2 = json_object();

        code_record_set(r2, &task, sv, NULL);
        CHECK_NEAR(json_real_value(json_object_get(r2, "reward")), 0.3, 1e-12);
        CHECK_NEAR(json_real_value(json_object_get(r2, "code_points")), 30, 1e-12);
        sv[0] = CODE_TIMEOUT;
        sv[1] = CODE_CORRECT;
        code_record_set(r2, &task, sv, NULL);
        CHECK_NEAR(json_real_value(json_object_get(r2, "reward")), 0.7, 1e-12);
        CHECK_STREQ(json_string_value(json_object_get(r2, "code_reason")), "timeout");
        json_decref(r2);
    }
    code_task_release(&task);
    /* Both tests in subtask 1: subtask b has none. */
    CHECK(TASK(SUBJS("[{\"id\":1,\"points\":30},{\"id\":\"b\",\"points\":70}]", "1")) == -1);
    CHECK_STREQ(field, "subtasks");
    CHECK_STREQ(sbuf_str(&why), "subtask 'b' has no test");
    CHECK(TASK(SUBJS("[{\"id\":1,\"points\":30}]", "2")) == -1);
    CHECK_STREQ(field, "tests");
    CHECK_STREQ(sbuf_str(&why), "element 1: 'subtask' names no subtask of 'subtasks'");
    CHECK(TASK(SUBJS("[{\"id\":1,\"points\":-1},{\"id\":2,\"points\":1}]", "2")) == -1);
    CHECK_STREQ(sbuf_str(&why), "element 0: 'points' is not a number >= 0");
    CHECK(TASK(SUBJS("[{\"id\":1,\"points\":0},{\"id\":2,\"points\":0}]", "2")) == -1);
    CHECK_STREQ(sbuf_str(&why), "the points add up to 0");
    CHECK(TASK(SUBJS("[{\"id\":1,\"points\":1},{\"id\":1,\"points\":0}]", "1")) == -1);
    CHECK_STREQ(sbuf_str(&why), "element 1: id '1' given twice");
    CHECK(TASK(SUBJS("{}", "1")) == -1);
    CHECK_STREQ(sbuf_str(&why), "not a non-empty array");
    json_decref(rec);
    opts.subtasks = 0;

    /* ---- record fields ---- */
    rec = json_loads("{\"rewards\":{\"fmt\":0.5},\"code_reason\":\"no_code\"}", 0, NULL);
    memset(&task, 0, sizeof(task));
    task.ntests = 3;
    code_record_set(rec, &task, v, NULL);
    CHECK_NEAR(json_real_value(json_object_get(json_object_get(rec, "rewards"), "code")),
               2.0 / 3, 1e-12);
    CHECK_NEAR(json_real_value(json_object_get(rec, "reward")), 0.5 + 2.0 / 3, 1e-12);
    CHECK_STREQ(json_string_value(json_object_get(rec, "code_reason")), "wrong");
    CHECK_STREQ(json_string_value(json_array_get(json_object_get(rec, "code_verdicts"), 1)),
                "wrong");
    code_record_set(rec, NULL, NULL, "no_code");
    CHECK_NEAR(json_real_value(json_object_get(rec, "reward")), 0.5, 1e-12);
    CHECK_STREQ(json_string_value(json_object_get(rec, "code_reason")), "no_code");
    CHECK(json_array_size(json_object_get(rec, "code_verdicts")) == 0);
    json_decref(rec);

    /* ---- verdicts ---- */
    sandbox_init(&sb, NULL);
    code_opts_default(&opts);
    opts.run.wall_sec = 2;
    opts.run.cpu_sec = 1;
    opts.run.out_bytes = 10000;
    opts.run.mem_bytes = (uint64_t)256 << 20;

    /* Python, stdin/stdout: pass, wrong, crash; trailing blanks ignored. */
    t[0] = io("3 4\n", "7");
    t[1] = io("1 1\n", "3\n");
    t[2] = io("x\n", "0");
    t[3] = io("10 20\n", "30  \n\n");
    CHECK_STREQ(run(CODE_PYTHON, "a, b = map(int, input().split())\nprint(a + b)\n", t, 4),
                "correct,wrong,runtime_error,correct");
    /* Python, asserts: pass, failed assert, other exception. */
    t[0] = as("assert f(2) == 4");
    t[1] = as("assert f(2) == 5");
    t[2] = as("assert g(2) == 4");
    CHECK_STREQ(run(CODE_PYTHON, "def f(x):\n    return x * x\n", t, 3), "correct,wrong,runtime_error");
    /* if __name__ == "__main__" runs: the program is the main module. */
    t[0] = io("", "main");
    CHECK_STREQ(run(CODE_PYTHON, "if __name__ == '__main__':\n    print('main')\n", t, 1),
                "correct");
    /* Syntax error, memory, time, output. */
    t[0] = io("", "1");
    CHECK_STREQ(run(CODE_PYTHON, "print(1\n", t, 1), "compile_error");
    CHECK_STREQ(run(CODE_PYTHON, "x = bytearray(1 << 30)\nprint(1)\n", t, 1), "memory");
    CHECK_STREQ(run(CODE_PYTHON, "while True:\n    pass\n", t, 1), "timeout");
    CHECK_STREQ(run(CODE_PYTHON, "while True:\n    print(1)\n", t, 1), "output_limit");
    /* A test that never finishes does not spoil the next one. */
    t[0] = io("0\n", "0");
    t[1] = io("1\n", "1");
    CHECK_STREQ(run(CODE_PYTHON, "import time\nn = int(input())\n"
                                 "if n == 0:\n    time.sleep(60)\nprint(n)\n", t, 2),
                "timeout,correct");

    /* C: one compile for stdin/stdout tests; -lm linked; compile errors. */
    t[0] = io("2\n", "1.414214");
    t[1] = io("9\n", "3.000000");
    t[2] = io("4\n", "5.000000");
    CHECK_STREQ(run(CODE_C, "#include <math.h>\n#include <stdio.h>\n"
                            "int main(void) { double x; if (scanf(\"%lf\", &x) != 1) return 1;"
                            " printf(\"%f\\n\", sqrt(x)); return 0; }\n", t, 3),
                "correct,correct,wrong");
    CHECK_STREQ(run(CODE_C, "int main(void) { return undefined_thing; }\n", t, 3),
                "compile_error,compile_error,compile_error");
    /* C17, not GNU extensions' defaults: a C++ comment is fine, a crash is a crash. */
    t[0] = io("", "");
    CHECK_STREQ(run(CODE_C, "// c17\nint main(void) { int *p = 0; return *(volatile int *)p; }\n",
                    t, 1), "runtime_error");
    /* C, asserts: each test compiled with the program. */
    t[0] = as("#include <assert.h>\nint main(void) { assert(sq(3) == 9); return 0; }");
    t[1] = as("#include <assert.h>\nint main(void) { assert(sq(3) == 8); return 0; }");
    t[2] = as("int main(void) { return nosuch(); }");
    CHECK_STREQ(run(CODE_C, "static int sq(int x) { return x * x; }\n", t, 3),
                "correct,wrong,compile_error");

    /* C++: stdin/stdout and bad_alloc. */
    t[0] = io("hello\n", "olleh");
    CHECK_STREQ(run(CODE_CPP, "#include <iostream>\n#include <string>\n#include <algorithm>\n"
                              "int main() { std::string s; std::cin >> s;"
                              " std::reverse(s.begin(), s.end()); std::cout << s << '\\n'; }\n",
                    t, 1), "correct");
    CHECK_STREQ(run(CODE_CPP, "#include <vector>\nint main() {"
                              " std::vector<char> v((std::size_t)8 << 30); return v[1]; }\n", t, 1),
                "memory");

    /* Float tolerance in a run. */
    opts.float_tol = 1e-6;
    t[0] = io("", "0.3333333");
    t[1] = io("", "0.3334");
    CHECK_STREQ(run(CODE_PYTHON, "print(1 / 3)\n", t, 2), "correct,wrong");
    opts.float_tol = 0;

    /* stderr is drained: megabytes of warnings, the answer on stdout. */
    t[0] = io("", "42");
    CHECK_STREQ(run(CODE_PYTHON, "import sys\nfor i in range(64):\n"
                                 "    sys.stderr.write('w' * 100000)\nprint(42)\n", t, 1),
                "correct");

    /* A checker (Python: exit 0 accepts, 1 rejects; argv input output answer). */
    {
        struct code_task task2;
        enum code_verdict cv[3];
        static const char ck[] =
            "import sys\n"
            "inp, out, ans = (open(f).read().split() for f in sys.argv[1:4])\n"
            "sys.exit(0 if sorted(out) == sorted(ans) and len(out) == int(inp[0]) else 1)\n";
        static const char prog[] = "n = int(input())\nprint(*(range(n, 0, -1) if n != 2 else [0]))\n";
        static const char bad[] = "import sys\nsys.exit(3)\n";

        memset(&task2, 0, sizeof(task2));
        t[0] = io("3\n", "1 2 3");
        t[1] = io("2\n", "1 2");
        t[2] = io("x\n", "");
        task2.prog = (struct code_program){ CODE_PYTHON, prog, strlen(prog) };
        task2.checker = (struct code_program){ CODE_PYTHON, ck, strlen(ck) };
        task2.tests = t;
        task2.ntests = 3;
        CHECK(codeeval_run(&sb, 0, &opts, &task2, cv, fresh(&err)) == CODE_RUN_OK);
        CHECK(cv[0] == CODE_CORRECT && cv[1] == CODE_WRONG && cv[2] == CODE_RUNTIME_ERROR);
        /* A checker that fails (exit 3) or does not compile: the record's fault. */
        task2.checker = (struct code_program){ CODE_PYTHON, bad, strlen(bad) };
        CHECK(codeeval_run(&sb, 0, &opts, &task2, cv, fresh(&err)) == CODE_RUN_CHECKER);
        CHECK_STREQ(sbuf_str(&err), "test 0: exit status 3");
        task2.checker = (struct code_program){ CODE_C, "int main(", 9 };
        CHECK(codeeval_run(&sb, 0, &opts, &task2, cv, fresh(&err)) == CODE_RUN_CHECKER);
        CHECK(strncmp(sbuf_str(&err), "compile error: ", 15) == 0);
        /* A compiler missing is infrastructure, never a verdict. */
        opts.cc = "/nonexistent/gcc";
        CHECK(codeeval_run(&sb, 0, &opts, &task2, cv, fresh(&err)) == CODE_RUN_INFRA);
        CHECK_STREQ(sbuf_str(&err), "compiler for c missing: '/nonexistent/gcc': No such file or directory");
        task2.checker.code = NULL;
        task2.prog = (struct code_program){ CODE_C, "int main(void) { return 0; }", 28 };
        CHECK(codeeval_run(&sb, 0, &opts, &task2, cv, fresh(&err)) == CODE_RUN_INFRA);
        opts.cc = "/usr/bin/gcc";
    }

    sandbox_release(&sb);
    sbuf_release(&why);
    sbuf_release(&err);
    return check_done();
}
