/*
 * tasks - prompt records from synthetic generators (arithmetic, countdown,
 * word) or imported from GSM8K, MATH / MATH-500, HumanEval and MBPP.
 * The generators and importers live in lib/tasks; this is options and the
 * loop.  See tasks(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks.h"
#include "tool.h"

static const char usage_text[] =
    "usage: tasks SOURCE [options] [FILE ...]\n"
    "Prompt records (JSONL) from a generator or a data set.\n"
    "\n"
    "Generators (no FILE):\n"
    "  arithmetic   What is A op B? with + - * / on integers\n"
    "  countdown    reach a target with given numbers (TinyZero)\n"
    "  word         multi-step word problems\n"
    "  chain        sums of several small terms: What is 3 + 8 + 5 + 9?\n"
    "  corpus       pretraining text records (not prompts): chain sums, some\n"
    "               worked step by step, most with the result only, among\n"
    "               prose and markup\n"
    "Importers (FILE or stdin, plain or zstd):\n"
    "  gsm8k        GSM8K train/test JSONL\n"
    "  math         MATH or MATH-500 JSONL\n"
    "  humaneval    HumanEval JSONL\n"
    "  mbpp         MBPP JSONL\n"
    "  jsonl        any JSONL data set, its fields mapped with --map\n"
    "\n"
    "Generator options:\n"
    "  -n, --count N         records to make (default 100)\n"
    "  -s, --seed S          seed (default 0)\n"
    "      --start I         index of the first record (default 0)\n"
    "  -r, --with-response   add an R1-style worked response\n"
    "  -d, --digits D|LO-HI  arithmetic: operand digits, 1-9 (default 2)\n"
    "      --ops OPS         arithmetic: operations from +-*/ (default +-*/)\n"
    "      --negative        arithmetic: a - b may be negative\n"
    "      --column          arithmetic: + and - worked digit by digit, units\n"
    "                        first, with the carry or borrow on each line\n"
    "      --numbers K       countdown: numbers per task, 2-6 (default 4)\n"
    "      --max-number M    countdown: numbers in 1..M (default 50)\n"
    "      --max-target T    countdown: target in 1..T (default 100)\n"
    "      --steps S|LO-HI   word: steps per problem, 1-20 (default 2-4)\n"
    "      --max-start M     word: starting count in 2..M (default 20)\n"
    "      --terms K|LO-HI   chain, corpus: terms per sum, 2-12 (default 4-6)\n"
    "      --max-term M      chain, corpus: terms in 1..M (default 9)\n"
    "      --worked P        corpus: percent of the sums worked step by step\n"
    "                        (default 20)\n"
    "Importer options:\n"
    "      --id-prefix P     gsm8k: ids are P and the record's line index\n"
    "                        (default gsm8k/NAME/, NAME the file's stem)\n"
    "      --raw             gsm8k: keep the solution text verbatim\n"
    "      --split NAME      mbpp: prompt, test, validation or train\n"
    "      --map DST=SRC,... jsonl: take field DST (id, domain, prompt, system,\n"
    "                        response, answer, tests, lang, messages) from the\n"
    "                        data set's field SRC (default: the same name)\n"
    "      --preset NAME     jsonl: gsm8k (question, answer '#### N') or math\n"
    "                        (problem, solution, its last \\boxed{})\n"
    "      --domain D        jsonl: the domain of records without one\n"
    "Common options:\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_START = TOOL_OPT_FIRST_FREE,
    OPT_OPS,
    OPT_NEGATIVE,
    OPT_COLUMN,
    OPT_NUMBERS,
    OPT_MAX_NUMBER,
    OPT_MAX_TARGET,
    OPT_STEPS,
    OPT_MAX_START,
    OPT_TERMS,
    OPT_MAX_TERM,
    OPT_WORKED,
    OPT_ID_PREFIX,
    OPT_RAW,
    OPT_SPLIT,
    OPT_MAP,
    OPT_PRESET,
    OPT_DOMAIN,
};

static const struct option longopts[] = {
    TOOL_LONGOPTS,
    {"count", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, 's'},
    {"start", required_argument, NULL, OPT_START},
    {"with-response", no_argument, NULL, 'r'},
    {"digits", required_argument, NULL, 'd'},
    {"ops", required_argument, NULL, OPT_OPS},
    {"negative", no_argument, NULL, OPT_NEGATIVE},
    {"column", no_argument, NULL, OPT_COLUMN},
    {"numbers", required_argument, NULL, OPT_NUMBERS},
    {"max-number", required_argument, NULL, OPT_MAX_NUMBER},
    {"max-target", required_argument, NULL, OPT_MAX_TARGET},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"max-start", required_argument, NULL, OPT_MAX_START},
    {"terms", required_argument, NULL, OPT_TERMS},
    {"max-term", required_argument, NULL, OPT_MAX_TERM},
    {"worked", required_argument, NULL, OPT_WORKED},
    {"id-prefix", required_argument, NULL, OPT_ID_PREFIX},
    {"raw", no_argument, NULL, OPT_RAW},
    {"split", required_argument, NULL, OPT_SPLIT},
    {"map", required_argument, NULL, OPT_MAP},
    {"preset", required_argument, NULL, OPT_PRESET},
    {"domain", required_argument, NULL, OPT_DOMAIN},
    {NULL, 0, NULL, 0},
};

static const struct {
    const char *name;
    int gen;            /* 1: generator, 0: importer */
    int kind;           /* enum tasks_gen_kind or enum tasks_source */
} sources[] = {
    { "arithmetic", 1, TASKS_ARITHMETIC },
    { "countdown", 1, TASKS_COUNTDOWN },
    { "word", 1, TASKS_WORD },
    { "chain", 1, TASKS_CHAIN },
    { "corpus", 1, TASKS_CORPUS },
    { "gsm8k", 0, TASKS_GSM8K },
    { "math", 0, TASKS_MATH },
    { "humaneval", 0, TASKS_HUMANEVAL },
    { "mbpp", 0, TASKS_MBPP },
    { "jsonl", 0, -1 },
};

/* "D" or "LO-HI" within [lo, hi]; 0 or -1. */
static int
parse_range(const char *s, long lo, long hi, int *a, int *b)
{
    const char *dash = strchr(s, '-');
    char buf[32];
    long x, y;

    if (!dash) {
        if (parse_long(s, lo, hi, &x))
            return -1;
        *a = *b = (int)x;
        return 0;
    }
    if ((size_t)(dash - s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, (size_t)(dash - s));
    buf[dash - s] = '\0';
    if (parse_long(buf, lo, hi, &x) || parse_long(dash + 1, lo, hi, &y)
        || x > y)
        return -1;
    *a = (int)x;
    *b = (int)y;
    return 0;
}

/* Which source an option belongs to, for "applies to ... only" errors. */
static void
need(const struct tool *t, const char *src, const char *want,
     const char *opt)
{
    if (strcmp(src, want) != 0)
        tool_usage_error(t, "%s applies to '%s' only", opt, want);
}

static void
need_gen(const struct tool *t, int gen, const char *opt)
{
    if (!gen)
        tool_usage_error(t, "%s applies to the generators only", opt);
}

/* head ("gsm8k/" or "") plus the file's stem ("test" of
 * "dir/test.jsonl.zst") and "/". */
static void
default_prefix(const char *head, const char *path, struct sbuf *sb)
{
    const char *base, *dot;

    sbuf_reset(sb);
    sbuf_adds(sb, head);
    if (strcmp(path, "-") == 0)
        return;
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    dot = strchr(base, '.');
    sbuf_add(sb, base, dot ? (size_t)(dot - base) : strlen(base));
    sbuf_addc(sb, '/');
}

static int
run_generator(struct tool *t, const struct tasks_gen *g, long n, long start)
{
    long i;
    json_t *r;

    tool_start(t, 0, NULL);
    for (i = start; i < start + n; i++) {
        r = tasks_generate(g, i);
        tool_write(t, r);
        json_decref(r);
        tool_progress(t, "%ld records", i - start + 1);
    }
    return tool_finish(t);
}

/* An importer (im), or tasks jsonl's field map (map != NULL). */
static int
run_importer(struct tool *t, struct tasks_import *im, struct tasks_map *map,
             int argc, char **argv, const char *id_prefix)
{
    struct sbuf prefix = SBUF_INIT;
    const char *field, *why;
    json_t *raw, *out;
    int cur = -1;

    tool_start(t, argc, argv);
    while ((raw = tool_next(t)) != NULL) {
        if (t->cur != cur) {
            cur = t->cur;
            default_prefix(map ? "" : "gsm8k/", t->inputs[cur], &prefix);
            im->id_prefix = id_prefix ? id_prefix : sbuf_str(&prefix);
            if (map)
                map->id_prefix = im->id_prefix;
        }
        switch (map ? tasks_map_one(map, raw, tool_line(t) - 1, &out, &field, &why)
                    : tasks_import_one(im, raw, tool_line(t) - 1, &out, &field,
                                       &why)) {
        case 1:
            tool_write(t, out);
            json_decref(out);
            break;
        case 0:
            break;
        default:
            tool_reject(t, raw, field, "%s", why);
            break;
        }
        json_decref(raw);
        tool_progress(t, "%ld records", t->nwritten);
    }
    sbuf_release(&prefix);
    if (map)
        tasks_map_release(map);
    return tool_finish(t);
}

int
main(int argc, char **argv)
{
    struct tool t;
    struct tasks_gen g;
    struct tasks_import im;
    struct tasks_map map;
    enum tasks_preset preset = TASKS_PRESET_NONE;
    const char *src, *msg, *id_prefix = NULL, *maps[16], *domain = NULL;
    int nmaps = 0, jsonl;
    long n = 100, start = 0, x;
    size_t si;
    int c, gen;

    tool_init(&t, "tasks", usage_text);
    if (argc < 2)
        tool_usage(&t);
    src = argv[1];
    if (src[0] == '-') {
        /* --help / --version without a source. */
        while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS, longopts, NULL))
               != -1)
            tool_opt(&t, c, optarg);
        tool_usage_error(&t, "no SOURCE given");
    }
    for (si = 0; si < ARRAY_LEN(sources); si++)
        if (strcmp(src, sources[si].name) == 0)
            break;
    if (si == ARRAY_LEN(sources))
        tool_usage_error(&t, "unknown SOURCE '%s'", src);
    gen = sources[si].gen;
    jsonl = !gen && sources[si].kind < 0;
    tasks_gen_init(&g, gen ? sources[si].kind : TASKS_ARITHMETIC);
    tasks_import_init(&im, gen || jsonl ? TASKS_GSM8K : sources[si].kind);

    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS "n:s:rd:", longopts,
                            NULL)) != -1) {
        if (tool_opt(&t, c, optarg))
            continue;
        switch (c) {
        case 'n':
            need_gen(&t, gen, "--count");
            if (parse_long(optarg, 0, 1000000000000L, &n))
                tool_usage_error(&t, "--count: '%s' is not an integer in "
                                 "[0, 10^12]", optarg);
            break;
        case 's':
            need_gen(&t, gen, "--seed");
            if (parse_u64(optarg, &g.seed))
                tool_usage_error(&t, "--seed: '%s' is not an unsigned "
                                 "64-bit integer", optarg);
            break;
        case OPT_START:
            need_gen(&t, gen, "--start");
            if (parse_long(optarg, 0, 1000000000000L, &start))
                tool_usage_error(&t, "--start: '%s' is not an integer in "
                                 "[0, 10^12]", optarg);
            break;
        case 'r':
            need_gen(&t, gen, "--with-response");
            g.with_response = 1;
            break;
        case 'd':
            need(&t, src, "arithmetic", "--digits");
            if (parse_range(optarg, 1, TASKS_MAX_DIGITS, &g.dmin, &g.dmax))
                tool_usage_error(&t, "--digits: '%s' is not D or LO-HI "
                                 "within 1-9", optarg);
            break;
        case OPT_OPS:
            need(&t, src, "arithmetic", "--ops");
            g.ops = optarg;
            break;
        case OPT_NEGATIVE:
            need(&t, src, "arithmetic", "--negative");
            g.allow_negative = 1;
            break;
        case OPT_COLUMN:
            need(&t, src, "arithmetic", "--column");
            g.column = 1;
            break;
        case OPT_NUMBERS:
            need(&t, src, "countdown", "--numbers");
            if (parse_long(optarg, 2, TASKS_MAX_NUMBERS, &x))
                tool_usage_error(&t, "--numbers: '%s' is not an integer in "
                                 "[2, 6]", optarg);
            g.nnumbers = (int)x;
            break;
        case OPT_MAX_NUMBER:
            need(&t, src, "countdown", "--max-number");
            if (parse_long(optarg, 1, 1000, &x))
                tool_usage_error(&t, "--max-number: '%s' is not an integer "
                                 "in [1, 1000]", optarg);
            g.max_number = (int)x;
            break;
        case OPT_MAX_TARGET:
            need(&t, src, "countdown", "--max-target");
            if (parse_long(optarg, 1, 100000, &x))
                tool_usage_error(&t, "--max-target: '%s' is not an integer "
                                 "in [1, 100000]", optarg);
            g.max_target = (int)x;
            break;
        case OPT_STEPS:
            need(&t, src, "word", "--steps");
            if (parse_range(optarg, 1, 20, &g.smin, &g.smax))
                tool_usage_error(&t, "--steps: '%s' is not S or LO-HI "
                                 "within 1-20", optarg);
            break;
        case OPT_MAX_START:
            need(&t, src, "word", "--max-start");
            if (parse_long(optarg, 2, 1000, &x))
                tool_usage_error(&t, "--max-start: '%s' is not an integer "
                                 "in [2, 1000]", optarg);
            g.max_start = (int)x;
            break;
        case OPT_TERMS:
            if (strcmp(src, "corpus") != 0)
                need(&t, src, "chain", "--terms");
            if (parse_range(optarg, 2, TASKS_MAX_TERMS, &g.tmin, &g.tmax))
                tool_usage_error(&t, "--terms: '%s' is not K or LO-HI "
                                 "within 2-12", optarg);
            break;
        case OPT_MAX_TERM:
            if (strcmp(src, "corpus") != 0)
                need(&t, src, "chain", "--max-term");
            if (parse_long(optarg, 1, 1000, &x))
                tool_usage_error(&t, "--max-term: '%s' is not an integer "
                                 "in [1, 1000]", optarg);
            g.max_term = (int)x;
            break;
        case OPT_WORKED:
            need(&t, src, "corpus", "--worked");
            if (parse_long(optarg, 0, 100, &x))
                tool_usage_error(&t, "--worked: '%s' is not an integer "
                                 "in [0, 100]", optarg);
            g.worked_pct = (int)x;
            break;
        case OPT_ID_PREFIX:
            if (!jsonl)
                need(&t, src, "gsm8k", "--id-prefix");
            id_prefix = optarg;
            break;
        case OPT_MAP:
            need(&t, src, "jsonl", "--map");
            if (nmaps == (int)ARRAY_LEN(maps))
                tool_usage_error(&t, "--map: at most %d", (int)ARRAY_LEN(maps));
            maps[nmaps++] = optarg;
            break;
        case OPT_PRESET:
            need(&t, src, "jsonl", "--preset");
            if (tasks_preset_parse(optarg, &preset) < 0)
                tool_usage_error(&t, "--preset: '%s' is not gsm8k or math", optarg);
            break;
        case OPT_DOMAIN:
            need(&t, src, "jsonl", "--domain");
            domain = optarg;
            break;
        case OPT_RAW:
            need(&t, src, "gsm8k", "--raw");
            im.raw = 1;
            break;
        case OPT_SPLIT:
            need(&t, src, "mbpp", "--split");
            if (strcmp(optarg, "prompt") != 0 && strcmp(optarg, "test") != 0
                && strcmp(optarg, "validation") != 0
                && strcmp(optarg, "train") != 0)
                tool_usage_error(&t, "--split: '%s' is not prompt, test, "
                                 "validation or train", optarg);
            im.split = optarg;
            break;
        default:
            tool_usage(&t);
        }
    }
    if (gen) {
        if (optind < argc)
            tool_usage_error(&t, "'%s' makes records: no FILE operands", src);
        if ((msg = tasks_gen_check(&g)) != NULL)
            tool_usage_error(&t, "%s", msg);
        return run_generator(&t, &g, n, start);
    }
    if (jsonl) {
        int i;
        tasks_map_init(&map, preset);
        for (i = 0; i < nmaps; i++)
            if (tasks_map_parse(&map, maps[i], &msg) < 0)
                tool_usage_error(&t, "--map: '%s': %s", maps[i], msg);
        if (domain)
            map.domain = domain;
        return run_importer(&t, &im, &map, argc - optind, argv + optind, id_prefix);
    }
    return run_importer(&t, &im, NULL, argc - optind, argv + optind, id_prefix);
}
