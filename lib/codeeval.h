/*
 * codeeval.h - judges a program against its tests in a sandbox, as a
 * contest judge does: builds the sandbox job (the compile step, one run
 * per test), reads the step results and gives each test a verdict; with
 * a checker program (a special judge), runs it in a second sandbox on
 * each test's input, output and expected answer.
 *
 * Test styles:
 *   stdin/stdout  {"input", "output"}: the program reads input; it passes
 *                 when it exits 0 and its stdout equals output after both
 *                 are normalized by code_output_match() (or, with a float
 *                 tolerance, code_output_match_float(); or, with a
 *                 checker, when the checker accepts).
 *   assert        {"assert": src}: src is appended to the program (after
 *                 a blank line) and the result run; it passes when it
 *                 exits 0.  HumanEval's check(entry_point) and MBPP's
 *                 assert lists are this style.
 *
 * Languages, their compile step (in the sandbox, under the compile
 * limits) and run (under the run limits):
 *   python      python3 main.py
 *   c           gcc -std=c17 -O2 -o main main.c -lm; ./main
 *   cpp         g++ -std=c++17 -O2 -o main main.cpp -lm; ./main
 *   java        javac -encoding UTF-8 -d . NAME.java; java ... NAME, where
 *               NAME is the program's public class (else its first class,
 *               else Main); -Xmx is the memory limit, -Xss64m
 *   go          go build -o main main.go; ./main
 *   rust        rustc --edition 2021 -O -o main main.rs; ./main
 *   javascript  node --max-old-space-size=MIB main.js
 * The JVM, the Go runtime and V8 reserve address space far beyond what
 * they use and run helper threads, so their address-space limit is the
 * memory limit plus 2 GiB (java), 1 GiB (go, javascript), and they get
 * 64 (java), 32 (go) and 16 (javascript) more processes/threads.
 *
 * Verdict names are the shared reason vocabulary of posttrain-records(5).
 *
 *     struct code_task task;
 *     struct sbuf why = SBUF_INIT;
 *     code_task_parse(rec, &opts, &task, &field, &why);
 *     task.prog = (struct code_program){ CODE_PYTHON, src, len };
 *     if (codeeval_run(&sb, slot, &opts, &task, verdicts, &why))
 *         infrastructure error or broken checker: why says what
 */
#ifndef POSTTRAIN_CODEEVAL_H
#define POSTTRAIN_CODEEVAL_H

#include <jansson.h>
#include <stddef.h>

#include "sandbox.h"

enum code_verdict {
    CODE_CORRECT,
    CODE_WRONG,         /* wrong output, a failed assert, checker rejects */
    CODE_TIMEOUT,       /* wall clock or CPU limit */
    CODE_MEMORY,        /* out of memory */
    CODE_RUNTIME_ERROR, /* nonzero exit, signal, or could not start */
    CODE_COMPILE_ERROR, /* compiler failed; Python, JavaScript: SyntaxError */
    CODE_OUTPUT_LIMIT,  /* stdout over the cap */
};

enum code_lang {
    CODE_PYTHON, CODE_C, CODE_CPP, CODE_JAVA, CODE_GO, CODE_RUST, CODE_JS,
    CODE_NLANGS
};

/* "correct", "wrong", ... (static). */
const char *code_verdict_name(enum code_verdict v);
/* Canonical name: "python", "c", "cpp", "java", "go", "rust", "javascript". */
const char *code_lang_name(enum code_lang lang);
/*
 * Parses a language name: the canonical names and py, python3, c++, cxx,
 * golang, rs, js, node (case-insensitive).  0, or -1 if unknown.
 */
int code_lang_parse(const char *name, enum code_lang *out);
/* "python, c, cpp, java, go, rust or javascript", for messages. */
#define CODE_LANGS_TEXT "python, c, cpp, java, go, rust or javascript"

/* One test; strings borrowed.  assert_src != NULL selects the assert style. */
struct code_test {
    const char *input, *output, *assert_src;
    size_t input_len, output_len, assert_len;
    long subtask;           /* index into code_task.subtasks, or -1 */
};

struct code_subtask {
    const char *id;         /* borrowed; integers are written in decimal */
    double points;
    char idbuf[24];
};

/* A source text in a language; code borrowed. */
struct code_program {
    enum code_lang lang;
    const char *code;
    size_t len;
};

/* What a record asks to be judged: its tests, limits, checker, subtasks. */
struct code_task {
    struct code_program prog;
    struct code_program checker;    /* checker.code == NULL: none */
    struct code_test *tests;        /* owned */
    size_t ntests;
    double time_limit;              /* CPU seconds per test; 0 = the options' */
    uint64_t mem_bytes;             /* memory per test; 0 = the options' */
    struct code_subtask *subtasks;  /* owned; NULL unless scored by subtask */
    size_t nsubtasks;
};

struct code_opts {
    struct sandbox_limits run;      /* each test run */
    struct sandbox_limits compile;  /* each compiler run */
    struct sandbox_limits checker;  /* each checker run */
    /* Paths inside the sandbox (/usr is the host's, read-only). */
    const char *python, *cc, *cxx, *javac, *java, *go, *rustc, *node;
    double float_tol;               /* > 0: code_output_match_float() */
    int subtasks;                   /* score records with "subtasks" by subtask */
};

/*
 * Defaults: sandbox_limits_default() for runs and checker runs; compile
 * 30 s, 2 GiB, 64 procs; the Debian paths /usr/bin/python3, gcc, g++,
 * javac, java, go, rustc, node; exact comparison; no subtasks.
 */
void code_opts_default(struct code_opts *o);

/* Results of codeeval_run(). */
enum code_run_status {
    CODE_RUN_OK,
    CODE_RUN_INFRA,         /* sandbox did not start, a compiler is missing */
    CODE_RUN_CHECKER,       /* the record's checker did not compile or failed */
};

/*
 * Runs task->prog against task->tests in a sandbox of sb as slot `slot`
 * and writes one verdict per test into verdicts.  Returns CODE_RUN_OK, or
 * another status with the reason appended to why (then the verdicts mean
 * nothing and the record must not be scored).
 */
enum code_run_status codeeval_run(struct sandbox *sb, int slot, const struct code_opts *o,
                                  const struct code_task *task,
                                  enum code_verdict *verdicts, struct sbuf *why);

/*
 * Reads a record's "tests" array: each element an object with a string
 * "assert", or strings "input" and "output".  On success returns 0 and a
 * new array in *tests (free() it; its strings are borrowed from arr).  On
 * error returns -1 and a description appended to why ("element 3: no
 * 'assert' or 'input'/'output' strings").  An empty array is an error.  With
 * need_output == 0 (a checker judges), "output" may be absent.
 */
int code_tests_parse(const json_t *arr, int need_output, struct code_test **tests,
                     size_t *n, struct sbuf *why);

/*
 * Reads what a record asks besides the program: "tests", "time_limit"
 * (seconds, a number in (0, 3600]), "memory_limit" (MB, a number in
 * [16, 1048576]), "checker" (a string of Python, or {"lang", "code"}) and,
 * when o->subtasks, "subtasks" ([{"id", "points"}], ids strings or
 * integers, points >= 0, not all 0) with each test's "subtask" naming one
 * (every subtask needs a test).  Fills task (prog left empty); returns 0,
 * or -1 with the field's name in *field and the message appended to
 * why.  Release with code_task_release(); strings are borrowed from rec.
 */
int code_task_parse(const json_t *rec, const struct code_opts *o, struct code_task *task,
                    const char **field, struct sbuf *why);
void code_task_release(struct code_task *task);

/*
 * Writes the result into rec: "code_verdicts" = the verdict names,
 * "code_reason" = reason when not NULL (e.g. "no_code"; reward 0), else
 * "correct" when every test passed, else the first failing test's
 * verdict; rewards.code (and reward, see rec_set_reward) = passed / n,
 * or with task->subtasks, sum(points * min over the subtask's tests) /
 * sum(points), that sum itself in "code_points".  task may be NULL when
 * reason is given.  Returns that reward.  Does not take rec.
 */
double code_record_set(json_t *rec, const struct code_task *task,
                     const enum code_verdict *verdicts, const char *reason);

/*
 * Compares outputs: each line loses its trailing white space (space, tab,
 * CR, FF, VT), then trailing empty lines are dropped, then the two must be
 * equal byte for byte.  Leading white space and inner blank lines count.
 * Returns 1 when they match.
 */
int code_output_match(const char *got, size_t glen, const char *want, size_t wlen);

/*
 * Compares outputs token by token (tokens split at any white space, line
 * structure ignored), as Codeforces' real-number checkers do: the same
 * number of tokens, and each pair equal, or both decimal numbers
 * ([+-]digits[.digits][(e|E)[+-]digits], or .digits) with
 * |got - want| <= tol or |got - want| <= tol * |want|.  Returns 1 when
 * they match.
 */
int code_output_match_float(const char *got, size_t glen, const char *want, size_t wlen,
                            double tol);

#endif
