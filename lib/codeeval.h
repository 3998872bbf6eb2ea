/*
 * codeeval.h - runs a program against its tests in one sandbox and gives
 * each test a verdict.  Builds the sandbox job (compile steps for C and
 * C++, one run per test), reads the step results and compares outputs.
 *
 * Test styles:
 *   stdin/stdout  {"input", "output"}: the program reads input; it passes
 *                 when it exits 0 and its stdout equals output after both
 *                 are normalized by code_output_match().
 *   assert        {"assert": src}: src is appended to the program (after
 *                 a blank line) and the result run; it passes when it
 *                 exits 0.  HumanEval's check(entry_point) and MBPP's
 *                 assert lists are this style.
 * Python runs each test as `python3 FILE`.  C is compiled once with
 * `gcc -std=c17 -O2 ... -lm` (per assert test, with the test appended),
 * C++ with `g++ -std=c++17 -O2`; the compiler runs in the same sandbox
 * under its own limits.
 *
 *     enum code_verdict v[N];
 *     struct code_opts o;
 *     code_opts_default(&o);
 *     if (codeeval_run(&sb, slot, &o, CODE_PYTHON, src, len, tests, N, v) != 0)
 *         infrastructure error: sandbox_error(&sb)
 */
#ifndef POSTTRAIN_CODEEVAL_H
#define POSTTRAIN_CODEEVAL_H

#include <jansson.h>
#include <stddef.h>

#include "sandbox.h"

enum code_verdict {
    CODE_PASS,
    CODE_WRONG,         /* wrong output, or a failed assert */
    CODE_TIMEOUT,       /* wall clock or CPU limit */
    CODE_MEMORY,        /* out of memory (address-space limit) */
    CODE_CRASH,         /* nonzero exit, signal, or could not start */
    CODE_COMPILE_ERROR, /* compiler failed; Python: SyntaxError */
    CODE_OUTPUT_LIMIT,  /* output over the cap */
};

enum code_lang { CODE_PYTHON, CODE_C, CODE_CPP };

/* "pass", "wrong", ... (static). */
const char *code_verdict_name(enum code_verdict v);
/* Parses "python", "c", "cpp" (also "c++", "py"); 0, or -1 if unknown. */
int code_lang_parse(const char *name, enum code_lang *out);

/* One test; strings borrowed.  assert_src != NULL selects the assert style. */
struct code_test {
    const char *input, *output, *assert_src;
    size_t input_len, output_len, assert_len;
};

struct code_opts {
    struct sandbox_limits run;      /* each test run */
    struct sandbox_limits compile;  /* each compiler run */
    const char *python, *cc, *cxx;  /* paths inside the sandbox */
};

/* Defaults: sandbox_limits_default() for runs; compile 30 s, 2 GiB, 64 procs. */
void code_opts_default(struct code_opts *o);

/*
 * Runs code (code[0..len)) against tests in one sandbox of sb as slot
 * `slot` and writes one verdict per test into verdicts.  Returns 0, or -1
 * when the sandbox could not be started (sandbox_error(sb) says why; no
 * verdict was written).
 */
int codeeval_run(struct sandbox *sb, int slot, const struct code_opts *o,
                 enum code_lang lang, const char *code, size_t len,
                 const struct code_test *tests, size_t ntests,
                 enum code_verdict *verdicts);

/*
 * Reads a record's "tests" array: each element an object with a string
 * "assert", or strings "input" and "output".  On success returns 0 and a
 * new array in *tests (free() it; its strings are borrowed from arr).  On
 * error returns -1 and a description in why ("element 3: no 'assert' or
 * 'input'/'output' strings").  An empty array is an error.
 */
int code_tests_parse(const json_t *arr, struct code_test **tests, size_t *n,
                     char *why, size_t whylen);

/*
 * Writes the result into rec: rewards.code = passed / n (and reward, see
 * rec_set_reward), "code_verdicts" = the verdict names, and, when reason
 * is not NULL (e.g. "no_code"), "code_reason" = reason and reward 0.
 * Does not take rec.
 */
void code_record_set(json_t *rec, const enum code_verdict *verdicts, size_t n,
                     const char *reason);

/*
 * Compares outputs: each line loses its trailing white space (space, tab,
 * CR, FF, VT), then trailing empty lines are dropped, then the two must be
 * equal byte for byte.  Leading white space and inner blank lines count.
 * Returns 1 when they match.
 */
int code_output_match(const char *got, size_t glen, const char *want, size_t wlen);

#endif
