/*
 * tasks.h - prompt records (DESIGN.md, posttrain-records(5)) from seeded
 * synthetic generators and from the raw public data sets.
 *
 * Generators: arithmetic (+ - * / on integers of chosen digit counts),
 * countdown (reach a target with given numbers, as TinyZero) and word
 * (multi-step word problems over one running quantity).  Record i of a
 * generator depends only on (seed, i), never on how many records are made,
 * so "-n 10" is a prefix of "-n 1000" and shards made with different start
 * indices concatenate into the same stream.
 *
 * Importers: GSM8K, MATH and MATH-500, HumanEval, MBPP.  Each turns one raw
 * record (one line of the upstream file) into one prompt record, or reports
 * the field that is missing or malformed.  Nothing here does I/O.
 *
 *     struct tasks_gen g;
 *     tasks_gen_init(&g, TASKS_ARITHMETIC);
 *     g.seed = 7; g.with_response = 1;
 *     for (long i = 0; i < n; i++) {
 *         json_t *r = tasks_generate(&g, i);      (new reference)
 *         ...; json_decref(r);
 *     }
 *
 *     struct tasks_import im;
 *     tasks_import_init(&im, TASKS_GSM8K);
 *     im.id_prefix = "gsm8k/test/";
 *     json_t *out; const char *field, *why;
 *     int st = tasks_import_one(&im, raw, index, &out, &field, &why);
 *     (st 1: out is new; 0: skipped (MBPP split); -1: field/why say why)
 */
#ifndef POSTTRAIN_TASKS_H
#define POSTTRAIN_TASKS_H

#include <jansson.h>
#include <stdint.h>

#include "util.h"

/* ---- generators ---- */

enum tasks_gen_kind {
    TASKS_ARITHMETIC,
    TASKS_COUNTDOWN,
    TASKS_WORD,
};

/* Largest operand digit count of arithmetic: products stay below 2^63. */
#define TASKS_MAX_DIGITS 9
/* Most numbers a countdown task may have. */
#define TASKS_MAX_NUMBERS 6

struct tasks_gen {
    enum tasks_gen_kind kind;
    uint64_t seed;
    int with_response;      /* add an R1-style worked "response" */
    /* arithmetic */
    int dmin, dmax;         /* operand digit counts, 1..TASKS_MAX_DIGITS */
    const char *ops;        /* subset of "+-*\/" (borrowed), drawn uniformly */
    int allow_negative;     /* "-" may give a negative result */
    int column;             /* + and - responses worked digit by digit */
    /* countdown */
    int nnumbers;           /* numbers per task, 2..TASKS_MAX_NUMBERS */
    int max_number;         /* numbers in [1, max_number] */
    int max_target;         /* target in [1, max_target] */
    /* word */
    int smin, smax;         /* steps per problem */
    int max_start;          /* starting quantity in [2, max_start] */
};

/* Sets the defaults of kind (the ones tasks(1) documents). */
void tasks_gen_init(struct tasks_gen *g, enum tasks_gen_kind kind);
/*
 * Checks the options; returns NULL, or a static message naming the bad
 * option.
 */
const char *tasks_gen_check(const struct tasks_gen *g);
/* Record number i (new reference).  The options must have passed the check. */
json_t *tasks_generate(const struct tasks_gen *g, long i);

/* ---- importers ---- */

enum tasks_source {
    TASKS_GSM8K,
    TASKS_MATH,        /* MATH and MATH-500 (level "Level N" or N) */
    TASKS_HUMANEVAL,
    TASKS_MBPP,
};

struct tasks_import {
    enum tasks_source src;
    const char *id_prefix;  /* GSM8K ids are prefix + index (borrowed) */
    int raw;                /* GSM8K: keep the solution text verbatim */
    const char *split;      /* MBPP: "prompt", "test", "validation",
                               "train" or NULL for every task */
};

void tasks_import_init(struct tasks_import *im, enum tasks_source src);
/*
 * Converts raw (borrowed), record number index (0-based) of its input.
 * Returns 1 with *out a new reference, 0 when the record is outside the
 * chosen split (*out NULL), or -1 with *field (the raw field at fault,
 * or NULL) and *why (static strings).
 */
int tasks_import_one(const struct tasks_import *im, const json_t *raw,
                     long index, json_t **out, const char **field,
                     const char **why);

/* MBPP's conventional split of a task id: "prompt" 1-10, "test" 11-510,
 * "validation" 511-600, "train" 601-974, NULL outside. */
const char *tasks_mbpp_split(long task_id);

/*
 * The GSM8K final answer: the text after the last "#### ", with thousands
 * separators removed, into sb (reset first).  Returns 0, or -1 when there
 * is no "#### " line or its number is malformed.
 */
int tasks_gsm8k_answer(const char *solution, struct sbuf *sb);

#endif
