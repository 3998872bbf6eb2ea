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

/* Runs src against n tests; returns the verdicts as "v1,v2,..." (static). */
static const char *
run(enum code_lang lang, const char *src, const struct code_test *t, size_t n)
{
    static char buf[256];
    enum code_verdict v[16];
    size_t i;

    buf[0] = '\0';
    if (codeeval_run(&sb, 0, &opts, lang, src, strlen(src), t, n, v) != 0)
        return sandbox_error(&sb);
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
    struct code_test t = { in, out, NULL, strlen(in), strlen(out), 0 };
    return t;
}

static struct code_test
as(const char *src)
{
    struct code_test t = { NULL, NULL, src, 0, 0, strlen(src) };
    return t;
}

int
main(int argc, char **argv)
{
    struct code_test t[8];
    json_t *rec, *arr;
    struct code_test *pt;
    size_t n;
    char why[200];
    enum code_verdict v[3] = { CODE_PASS, CODE_WRONG, CODE_PASS };

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

    /* ---- the tests field ---- */
    arr = json_loads("[{\"input\":\"1\\n\",\"output\":\"2\"},{\"assert\":\"assert f()\"}]",
                     0, NULL);
    CHECK(code_tests_parse(arr, &pt, &n, why, sizeof(why)) == 0 && n == 2);
    CHECK(pt[0].input_len == 2 && pt[0].assert_src == NULL && pt[1].assert_len == 10);
    free(pt);
    json_decref(arr);
    arr = json_loads("[{\"input\":\"1\"}]", 0, NULL);
    CHECK(code_tests_parse(arr, &pt, &n, why, sizeof(why)) == -1);
    CHECK_STREQ(why, "element 0: no string 'assert' nor strings 'input' and 'output'");
    json_decref(arr);
    arr = json_array();
    CHECK(code_tests_parse(arr, &pt, &n, why, sizeof(why)) == -1);
    CHECK_STREQ(why, "empty");
    json_decref(arr);
    CHECK(code_tests_parse(NULL, &pt, &n, why, sizeof(why)) == -1);
    CHECK_STREQ(why, "missing");

    /* ---- record fields ---- */
    rec = json_loads("{\"rewards\":{\"fmt\":0.5},\"code_reason\":\"no_code\"}", 0, NULL);
    code_record_set(rec, v, 3, NULL);
    CHECK_NEAR(json_real_value(json_object_get(json_object_get(rec, "rewards"), "code")),
               2.0 / 3, 1e-12);
    CHECK_NEAR(json_real_value(json_object_get(rec, "reward")), 0.5 + 2.0 / 3, 1e-12);
    CHECK(json_object_get(rec, "code_reason") == NULL);
    CHECK_STREQ(json_string_value(json_array_get(json_object_get(rec, "code_verdicts"), 1)),
                "wrong");
    code_record_set(rec, NULL, 0, "no_code");
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
                "pass,wrong,crash,pass");
    /* Python, asserts: pass, failed assert, other exception. */
    t[0] = as("assert f(2) == 4");
    t[1] = as("assert f(2) == 5");
    t[2] = as("assert g(2) == 4");
    CHECK_STREQ(run(CODE_PYTHON, "def f(x):\n    return x * x\n", t, 3), "pass,wrong,crash");
    /* if __name__ == "__main__" runs: the program is the main module. */
    t[0] = io("", "main");
    CHECK_STREQ(run(CODE_PYTHON, "if __name__ == '__main__':\n    print('main')\n", t, 1),
                "pass");
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
                "timeout,pass");

    /* C: one compile for stdin/stdout tests; -lm linked; compile errors. */
    t[0] = io("2\n", "1.414214");
    t[1] = io("9\n", "3.000000");
    t[2] = io("4\n", "5.000000");
    CHECK_STREQ(run(CODE_C, "#include <math.h>\n#include <stdio.h>\n"
                            "int main(void) { double x; if (scanf(\"%lf\", &x) != 1) return 1;"
                            " printf(\"%f\\n\", sqrt(x)); return 0; }\n", t, 3),
                "pass,pass,wrong");
    CHECK_STREQ(run(CODE_C, "int main(void) { return undefined_thing; }\n", t, 3),
                "compile_error,compile_error,compile_error");
    /* C17, not GNU extensions' defaults: a C++ comment is fine, a crash is a crash. */
    t[0] = io("", "");
    CHECK_STREQ(run(CODE_C, "// c17\nint main(void) { int *p = 0; return *(volatile int *)p; }\n",
                    t, 1), "crash");
    /* C, asserts: each test compiled with the program. */
    t[0] = as("#include <assert.h>\nint main(void) { assert(sq(3) == 9); return 0; }");
    t[1] = as("#include <assert.h>\nint main(void) { assert(sq(3) == 8); return 0; }");
    t[2] = as("int main(void) { return nosuch(); }");
    CHECK_STREQ(run(CODE_C, "static int sq(int x) { return x * x; }\n", t, 3),
                "pass,wrong,compile_error");

    /* C++: stdin/stdout and bad_alloc. */
    t[0] = io("hello\n", "olleh");
    CHECK_STREQ(run(CODE_CPP, "#include <iostream>\n#include <string>\n#include <algorithm>\n"
                              "int main() { std::string s; std::cin >> s;"
                              " std::reverse(s.begin(), s.end()); std::cout << s << '\\n'; }\n",
                    t, 1), "pass");
    CHECK_STREQ(run(CODE_CPP, "#include <vector>\nint main() {"
                              " std::vector<char> v((std::size_t)8 << 30); return v[1]; }\n", t, 1),
                "memory");

    sandbox_release(&sb);
    return check_done();
}
