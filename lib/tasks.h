/*
 * tasks.h - prompt records (DESIGN.md, posttrain-records(5)) from seeded
 * synthetic generators and from the raw public data sets.
 *
 * Generators: arithmetic (+ - * / on integers of chosen digit counts),
 * countdown (reach a target with given numbers, as TinyZero), word
 * (multi-step word problems over one running quantity), chain (sums of
 * several small terms) and corpus (text records, not prompts: a
 * pretraining corpus where some documents work chain sums out and the
 * others only state results), code (Python functions of one operation, with
 * assert tests), chat (free-form requests, domain "chat") and prefs
 * (preference pairs over chat's requests: the chosen answer is on the
 * topic and polite, the rejected one is not).  Record i of a
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
    TASKS_CHAIN,        /* sums of several small terms */
    TASKS_CORPUS,       /* text documents for pretraining, not prompts */
    TASKS_CODE,         /* "Write a Python function f(x) that returns x + 3." */
    TASKS_CHAT,         /* free-form requests about a topic (domain chat) */
    TASKS_PREFS,        /* preference pairs over chat's requests */
};

/* Largest operand digit count of arithmetic: products stay below 2^63. */
#define TASKS_MAX_DIGITS 9
/* Most numbers a countdown task may have. */
#define TASKS_MAX_NUMBERS 6
/* Most terms of a chain sum. */
#define TASKS_MAX_TERMS 12

struct tasks_gen {
    enum tasks_gen_kind kind;
    uint64_t seed;
    int with_response;      /* add an R1-style worked "response" */
    /* arithmetic */
    int dmin, dmax;         /* operand digit counts, 1..TASKS_MAX_DIGITS */
    const char *ops;        /* subset of "+-*\/" (borrowed), drawn uniformly;
                               code: of "+-*" (its default) */
    int allow_negative;     /* "-" may give a negative result */
    int column;             /* + and - responses worked digit by digit */
    /* countdown */
    int nnumbers;           /* numbers per task, 2..TASKS_MAX_NUMBERS */
    int max_number;         /* numbers in [1, max_number] */
    int max_target;         /* target in [1, max_target] */
    /* word */
    int smin, smax;         /* steps per problem */
    int max_start;          /* starting quantity in [2, max_start] */
    /* chain, and the problems of corpus */
    int tmin, tmax;         /* terms per sum, 2..TASKS_MAX_TERMS */
    int max_term;           /* terms in [1, max_term]; code: the constant */
    /* corpus */
    int worked_pct;         /* percent of problems worked step by step */
    int dialog_pct;         /* percent of documents that are Q&A pages */
    int told_pct;           /* percent of Q&A pages with an instruction line */
    int dialog_worked_pct;  /* percent of Q&A answers worked; -1: worked_pct */
    int max_turns;          /* Q&A pages have 1 to max_turns turns */
    int reduce;             /* worked problems reduced a term a line, not running sums */
    /* prefs */
    int garbled_pct;        /* percent of pairs whose rejected answer is the
                               chosen one misspelled */
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

/* ---- any JSONL data set: field mapping ---- */

/*
 * tasks jsonl: one prompt record per raw record, its fields taken from
 * the raw record's fields by a map "DST=SRC,DST=SRC,...".  DST is one of
 * id, domain, prompt, system, response, answer, tests, lang, messages;
 * SRC is a raw field name.  Fields not mapped are looked up under their
 * own name, so a data set already in posttrain's names needs no map.
 * Strings stay strings; a number given as answer becomes its decimal
 * text; tests must be an array; messages is checked as posttrain-records(5)
 * says.  Without an id the record is id_prefix plus its line index.
 *
 * Presets carry a data set's answer convention and its usual names:
 *   gsm8k   prompt=question, answer=answer; the answer field is a worked
 *           solution ending in "#### N": answer N, and response the
 *           solution with its <<calculator>> notes removed and the final
 *           line as \boxed{N} (as tasks gsm8k), unless response is mapped
 *   math    prompt=problem, response=solution; answer, when not in the
 *           raw record, is the solution's last \boxed{} (MATH's own
 *           convention)
 * A map given beside a preset overrides its names.
 */
enum tasks_preset {
    TASKS_PRESET_NONE,
    TASKS_PRESET_GSM8K,
    TASKS_PRESET_MATH,
};

#define TASKS_MAP_FIELDS 9

struct tasks_map {
    const char *src[TASKS_MAP_FIELDS];  /* raw name per field (borrowed) */
    int mapped[TASKS_MAP_FIELDS];       /* given in the map */
    enum tasks_preset preset;
    const char *domain;     /* default domain, or NULL (borrowed) */
    const char *id_prefix;  /* ids of records without one (borrowed) */
    char *spec;             /* the map, split in place (owned) */
};

/* "gsm8k", "math" -> preset; -1 if unknown. */
int tasks_preset_parse(const char *name, enum tasks_preset *out);
/* Sets the preset's names (before tasks_map_parse). */
void tasks_map_init(struct tasks_map *m, enum tasks_preset preset);
/*
 * Adds the map spec ("prompt=problem,answer=solution").  Returns 0, or
 * -1 with a static message in *why.
 */
int tasks_map_parse(struct tasks_map *m, const char *spec, const char **why);
void tasks_map_release(struct tasks_map *m);
/*
 * Converts raw (borrowed), record number index.  Returns 1 with *out a
 * new reference, or -1 with *field (the raw field at fault, borrowed or
 * static) and *why (static).
 */
int tasks_map_one(const struct tasks_map *m, const json_t *raw, long index,
                  json_t **out, const char **field, const char **why);

#endif
