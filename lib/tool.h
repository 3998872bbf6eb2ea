/*
 * tool.h - what every record tool shares: the common options, the input
 * loop over its operands, the error policy of DESIGN.md and the exit.
 *
 * Common options (all have long forms; tool_parse() adds them to a
 * tool's own option table, under "Common options:" in --help):
 *   -o, --output FILE      write to FILE (temp + rename), not stdout
 *   -z, --zstd             compress the output (also implied by *.zst)
 *       --level N          zstd level (1..19, default 3)
 *       --zstd-threads N   compress with N worker threads (default 0: inline)
 *       --max-errors N     go on past N bad records (default 0: fail fast)
 *       --rejects FILE     where bad records go, whole, with the reason
 *   -q, --quiet            no summary on stderr
 *       --progress         progress on stderr even when it is not a TTY
 *       --unbuffered       flush after each record
 *   -h, --help             usage on stdout, exit 0
 *   -V, --version          version on stdout, exit 0
 *
 * Error policy: tool_reject() with a record and a reason either dies with
 * "prog: FILE:LINE: field 'x': reason" (exit 1) or, under --max-errors,
 * writes {"error": ..., "file": ..., "line": ..., "record": <rec>} to the
 * rejects file and counts it.  Lines that are not JSON are rejected the
 * same way by tool_next(), with "raw" holding the line text.
 *
 *     struct tool t;
 *     const char *foo = NULL;
 *     tool_init(&t, "stats", header);   (synopsis and description)
 *     const struct opt opts[] = {
 *         OPT_STRING('f', "foo", &foo, "X", "the foo"),
 *         OPT_END(),
 *     };
 *     argi = tool_parse(&t, opts, argc, argv);
 *     tool_start(&t, argc - argi, argv + argi);
 *     while ((r = tool_next(&t)) != NULL) { ...; tool_write(&t, r); json_decref(r); }
 *     return tool_finish(&t);
 */
#ifndef POSTTRAIN_TOOL_H
#define POSTTRAIN_TOOL_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

#include "chat.h"
#include "lm.h"
#include "opt.h"
#include "rec.h"

struct tool {
    const char *name;
    const char *usage;     /* --help text before the options, borrowed */
    struct opt_prog prog;   /* name and usage, for lib/opt */
    /* options */
    const char *output;
    int zstd, level, zstd_threads, quiet, progress, unbuffered;
    long max_errors;
    const char *rejects_path;
    /* state */
    int ninputs;
    char **inputs;          /* borrowed from argv */
    int cur;                /* index of the open input */
    struct rin *in;
    struct rout *out;
    struct rout *rejects;
    long nread, nwritten, nrejected;
    double t0, last_progress;
    int tty, progress_shown;
};

/*
 * Sets defaults; name and usage are borrowed (static strings).  usage is
 * the synopsis ("usage: ..." first) and the
 * description; the options' lines come from the tables (opt.h).
 */
void tool_init(struct tool *t, const char *name, const char *usage);
/*
 * Parses argv against opts (ended by OPT_END()) and the common options;
 * returns the index of the first operand (opt_parse()).  Exits 2 on a
 * usage error, 0 after --help or --version.  opts is borrowed.
 */
int tool_parse(struct tool *t, const struct opt *opts, int argc, char **argv);
/* Prints the usage line and "Try 'prog --help'..." to stderr and exits 2. */
PT_NORETURN void tool_usage(const struct tool *t);
/* As tool_usage, with "prog: message" first. */
PT_NORETURN void tool_usage_error(const struct tool *t, const char *fmt, ...) PT_PRINTF(2, 3);
/* Opens the output and the rejects file; operands are the inputs (none = stdin). */
void tool_start(struct tool *t, int argc, char **argv);
/* As tool_start without opening the main output (tools writing elsewhere). */
void tool_start_noout(struct tool *t, int argc, char **argv);

/*
 * Next record over all inputs (new reference), or NULL at the end.  Bad
 * lines are passed to the error policy and skipped.
 */
json_t *tool_next(struct tool *t);
/* Where the record last returned came from (borrowed) and its line. */
const char *tool_file(const struct tool *t);
long tool_line(const struct tool *t);

/* Writes rec to the output (does not take it). */
void tool_write(struct tool *t, const json_t *rec);

/*
 * Applies the error policy to rec (may be NULL), which came from FILE:LINE
 * (file NULL = the current input position).  field may be NULL when the
 * problem is not one field.  Dies, or records the rejection and returns.
 * Does not take rec.
 */
void tool_reject_at(struct tool *t, const char *file, long line, const json_t *rec,
                    const char *field, const char *fmt, ...) PT_PRINTF(6, 7);
/* tool_reject_at at the current input position. */
void tool_reject(struct tool *t, const json_t *rec, const char *field,
                 const char *fmt, ...) PT_PRINTF(4, 5);

/* Progress line on stderr when it is a TTY or --progress (rate-limited). */
void tool_progress(struct tool *t, const char *fmt, ...) PT_PRINTF(2, 3);

/*
 * Closes the output (rename into place), the rejects and the inputs,
 * prints "prog: N records rejected (see FILE)" when any were, and returns
 * the exit status (0, or 1 if any record was rejected past --max-errors,
 * which never happens because that dies).  Frees what tool_start opened.
 */
int tool_finish(struct tool *t);

/* ---- shared option groups ---- */

/*
 * The model options of the tools that open a checkpoint or its tokenizer
 * (gen, score-rm, serve, pack, logp, tok), each row written once here; a
 * tool puts in its table the rows it takes, in its own order, over one
 * struct tool_model:
 *
 *     struct tool_model mo;
 *     tool_model_init(&mo);
 *     const struct opt opts[] = {
 *         TOOL_MODEL_DIR(&mo, "the checkpoint"),   -m, --model DIR
 *         TOOL_MODEL_ADAPTER(&mo, "..."),          --adapter DIR
 *         TOOL_MODEL_DTYPE(&mo),                   --dtype f32|bf16
 *         TOOL_MODEL_FORMAT(&mo),                  -f, --format NAME
 *         TOOL_MODEL_THINK(&mo),                   --think, --no-think
 *         TOOL_MODEL_STOP(&mo),                    --stop STRING (repeatable)
 *         TOOL_MODEL_SEED(&mo),                    --seed N
 *         TOOL_MODEL_THREADS(&mo),                 --threads N
 *         OPT_END(),
 *     };
 *     argi = tool_parse(&t, opts, argc, argv);
 *     tool_model_check(&t, &mo);        (--think with --no-think; chat flags)
 *     mo.lm.arch = MODEL_CAUSAL_LM; mo.lm.arch_error = "...";
 *     if (lm_open(&lm, &mo.lm, &err) < 0) die("%s", sbuf_str(&err));
 *
 * The values are what lm_open() takes (mo.lm) and the decoding settings.
 */
#define TOOL_MAX_STOPS 32

struct tool_model {
    struct lm_spec lm;      /* dir (-m), adapter, bf16, format, chat_flags */
    int think, no_think;
    int format_given, dtype_given;
    const char *stops[TOOL_MAX_STOPS];  /* borrowed from argv */
    int nstops;
    uint64_t seed;          /* in [0, 2^63): a JSON integer */
    int seed_given;
    int threads;            /* 0: not given */
};

/* Defaults: no model, CHAT_AUTO, f32, seed 0, no stops. */
void tool_model_init(struct tool_model *mo);
/*
 * After the parse: a usage error for --think with --no-think; sets
 * mo->lm.chat_flags from them.
 */
void tool_model_check(struct tool *t, struct tool_model *mo);
/* Compute threads: --threads, else POSTTRAIN_THREADS, else the CPUs online. */
int tool_model_threads(const struct tool_model *mo);

/*
 * --key FIELD (advantage, rejsample): a reward field or dotted path, not
 * empty, into const char *V.
 */
int tool_opt_key(void *value, const char *arg, struct sbuf *why);
#define TOOL_OPT_KEY(V) \
    OPT_CALL(0, "key", (V), "FIELD", tool_opt_key, NULL, \
             "the reward field, or a dotted path (default reward)")

/* Callbacks of the rows below (OPT_T_CALL). */
int tool_opt_format(void *value, const char *arg, struct sbuf *why);
int tool_opt_stop(void *value, const char *arg, struct sbuf *why);
int tool_opt_dtype(void *value, const char *arg, struct sbuf *why);

#define TOOL_DTYPE_HELP "products in f32 (default) or bf16: bf16 copies of the\n" \
                        "weights, fp32 accumulation (posttrain-checkpoint(5))"
/*
 * A compute dtype, f32 or bf16 (w16_parse_dtype()), into int *V (1: bf16)
 * under the long name L: --dtype in gen, logp, score-rm, serve, and
 * update's --compute-dtype.  G: int * set when given, or NULL.
 */
#define TOOL_OPT_DTYPE(L, V, G, H) \
    { .type = OPT_T_CALL, .long_name = (L), .value = (V), .argname = "NAME", \
      .cb = tool_opt_dtype, .what = "f32 or bf16", .given = (G), .help = (H) }

/*
 * How a checkpoint is written (ckpt.h's struct ckpt_format), in init and
 * update: --dtype NAME (ckpt_parse_dtype(): f32, bf16, f16, auto) into
 * F's dtype, help H, and --max-shard-size into F's max_shard_size.
 */
int tool_opt_ckpt_dtype(void *value, const char *arg, struct sbuf *why);
#define TOOL_OPT_CKPT_DTYPE(F, H) \
    OPT_CALL(0, "dtype", &(F)->dtype, "NAME", tool_opt_ckpt_dtype, \
             "f32, bf16, f16 or auto", H)
#define TOOL_OPT_SHARD_SIZE(F) \
    OPT_SIZE(0, "max-shard-size", &(F)->max_shard_size, "SIZE", \
             "shard the weights past SIZE bytes (KB, MB, GB,\n" \
             "TB: powers of 1000; default 5GB)")

#define TOOL_MODEL_DIR(MO, H) OPT_STRING('m', "model", &(MO)->lm.dir, "DIR", H)
#define TOOL_MODEL_ADAPTER(MO, H) OPT_STRING(0, "adapter", &(MO)->lm.adapter, "DIR", H)
#define TOOL_MODEL_DTYPE(MO) \
    TOOL_OPT_DTYPE("dtype", &(MO)->lm.bf16, &(MO)->dtype_given, TOOL_DTYPE_HELP)
#define TOOL_MODEL_FORMAT(MO) \
    { .type = OPT_T_CALL, .short_name = 'f', .long_name = "format", \
      .value = &(MO)->lm.format, .argname = "NAME", .cb = tool_opt_format, \
      .given = &(MO)->format_given, \
      .help = "chat format: auto, builtin, deepseek3, chatml, qwen3,\n" \
              "llama3, llama3.1, text" }
#define TOOL_MODEL_THINK(MO) \
    OPT_BOOL(0, "think", &(MO)->think, "open the assistant turn with <think>\\n"), \
    OPT_BOOL(0, "no-think", &(MO)->no_think, \
             "never, even when the chat template does (qwen3:\n" \
             "enable_thinking false)")
#define TOOL_MODEL_STOP(MO) \
    OPT_CALL(0, "stop", (MO), "STRING", tool_opt_stop, NULL, \
             "end a completion at STRING, kept in the text (repeatable)")
#define TOOL_MODEL_SEED(MO) \
    { .type = OPT_T_U64, .long_name = "seed", .value = &(MO)->seed, .argname = "N", \
      .max = LONG_MAX, .given = &(MO)->seed_given, \
      .help = "seed of the sampling streams (default 0)" }
#define TOOL_MODEL_THREADS(MO) \
    OPT_INT(0, "threads", &(MO)->threads, "N", 1, 1024, \
            "threads (default: POSTTRAIN_THREADS, else all CPUs)")

/* ---- groups ---- */

/*
 * Consecutive records sharing the string field "group".  A group that
 * reappears after another one started is an error ("group 'x' is split":
 * it was seen before line N).  Memory: one group plus 8 bytes per group
 * seen (a hash set of group ids).
 */
struct group {
    json_t **recs;   /* owned references */
    long *lines;     /* input line of each */
    const char **files;
    size_t n, cap;
    char *id;        /* owned */
};

struct group_reader;
/* New reader over t's input; key is the grouping field ("group"). */
struct group_reader *group_reader_new(struct tool *t, const char *key);
/*
 * Fills g with the next group (previous contents released); returns 1, or
 * 0 at end.  Records lacking the key go to the error policy.
 */
int group_next(struct group_reader *gr, struct group *g);
void group_release(struct group *g);
void group_reader_free(struct group_reader *gr);

#endif
