/*
 * tasks - prompt records from synthetic generators (arithmetic, countdown,
 * word, chain, corpus, code, chat, prefs) or imported from GSM8K,
 * MATH / MATH-500, HumanEval and MBPP.
 * The generators and importers live in lib/tasks; this is options and the
 * loop.  See tasks(1).
 */
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
    "               worked step by step, the others with the result only,\n"
    "               among prose and markup\n"
    "  code         Write a Python function f(x) that returns x + 3.\n"
    "               (domain code, assert tests for score-code)\n"
    "  chat         free-form requests (domain chat): Tell me about owls.\n"
    "  prefs        preference pairs over chat's requests: the chosen answer\n"
    "               on the topic and polite, the rejected one not\n"
    "Importers (FILE or stdin, plain or zstd):\n"
    "  gsm8k        GSM8K train/test JSONL\n"
    "  math         MATH or MATH-500 JSONL\n"
    "  humaneval    HumanEval JSONL\n"
    "  mbpp         MBPP JSONL\n"
    "  jsonl        any JSONL data set, its fields mapped with --map\n"
    "\n";

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
    { "code", 1, TASKS_CODE },
    { "chat", 1, TASKS_CHAT },
    { "prefs", 1, TASKS_PREFS },
    { "gsm8k", 0, TASKS_GSM8K },
    { "math", 0, TASKS_MATH },
    { "humaneval", 0, TASKS_HUMANEVAL },
    { "mbpp", 0, TASKS_MBPP },
    { "jsonl", 0, -1 },
};

/* --digits, --steps, --terms: "D" or "LO-HI" within [min, max]. */
struct span {
    int *lo, *hi;
    long min, max;
};

static int
parse_span(void *value, const char *s, struct sbuf *why)
{
    const struct span *sp = value;
    const char *dash = strchr(s, '-');
    char buf[32];
    long x, y;

    (void)why;
    if (!dash) {
        if (parse_long(s, sp->min, sp->max, &x))
            return -1;
        *sp->lo = *sp->hi = (int)x;
        return 0;
    }
    if ((size_t)(dash - s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, (size_t)(dash - s));
    buf[dash - s] = '\0';
    if (parse_long(buf, sp->min, sp->max, &x) || parse_long(dash + 1, sp->min, sp->max, &y)
        || x > y)
        return -1;
    *sp->lo = (int)x;
    *sp->hi = (int)y;
    return 0;
}

/* --map DST=SRC,...: kept for tasks_map_parse() after the parse. */
struct maps {
    const char *v[16];
    int n;
};

static int
add_map(void *value, const char *arg, struct sbuf *why)
{
    struct maps *m = value;

    if (m->n == (int)ARRAY_LEN(m->v)) {
        sbuf_addf(why, "at most %d", (int)ARRAY_LEN(m->v));
        return -1;
    }
    m->v[m->n++] = arg;
    return 0;
}

/* --preset gsm8k|math */
static int
parse_preset(void *value, const char *arg, struct sbuf *why)
{
    (void)why;
    return tasks_preset_parse(arg, value) < 0 ? -1 : 0;
}

static const struct opt_choice splits[] = {
    {"prompt", 0}, {"test", 1}, {"validation", 2}, {"train", 3}, {NULL, 0}};

/*
 * The sources each option applies to: src NULL for the generators, else
 * one source (and those of also, separated by spaces).  An option given
 * with another source is a usage error.
 */
static const struct {
    const char *opt, *src, *also;
} owners[] = {
    {"count", NULL, NULL},
    {"seed", NULL, NULL},
    {"start", NULL, NULL},
    {"with-response", NULL, NULL},
    {"digits", "arithmetic", NULL},
    {"ops", "arithmetic", "code"},
    {"negative", "arithmetic", NULL},
    {"column", "arithmetic", NULL},
    {"numbers", "countdown", NULL},
    {"max-number", "countdown", NULL},
    {"max-target", "countdown", NULL},
    {"steps", "word", NULL},
    {"max-start", "word", NULL},
    {"terms", "chain", "corpus"},
    {"max-term", "chain", "corpus code"},
    {"worked", "corpus", NULL},
    {"dialogs", "corpus", NULL},
    {"told", "corpus", NULL},
    {"dialog-worked", "corpus", NULL},
    {"turns", "corpus", NULL},
    {"reduce", "corpus", NULL},
    {"garbled", "prefs", NULL},
    {"id-prefix", "gsm8k", "jsonl"},
    {"raw", "gsm8k", NULL},
    {"split", "mbpp", NULL},
    {"map", "jsonl", NULL},
    {"preset", "jsonl", NULL},
    {"domain", "jsonl", NULL},
};

/* Whether word is one of the space-separated words of list (or NULL). */
static int
in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    const char *p = list;

    while (p && (p = strstr(p, word)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return 1;
        p += n;
    }
    return 0;
}

/* Dies when the option of row o (given) is not for src. */
static void
check_owner(const struct tool *t, const struct opt *o, const char *src, int gen)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(owners); i++) {
        if (!o->long_name || strcmp(o->long_name, owners[i].opt) != 0)
            continue;
        if (!owners[i].src) {
            if (!gen)
                tool_usage_error(t, "--%s applies to the generators only", o->long_name);
        } else if (strcmp(src, owners[i].src) != 0 && !in_list(owners[i].also, src)) {
            tool_usage_error(t, "--%s applies to '%s' only", o->long_name, owners[i].src);
        }
        return;
    }
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
    const char *src = NULL, *msg, *id_prefix = NULL, *domain = NULL;
    struct maps maps = {{NULL}, 0};
    struct span digits, steps, terms;
    int jsonl, gen = 0, argi, split = -1;
    long n = 100, start = 0;
    size_t si = 0, i;

    tool_init(&t, "tasks", usage_text);
    if (argc < 2)
        tool_usage(&t);
    if (argv[1][0] != '-') {
        src = argv[1];
        for (si = 0; si < ARRAY_LEN(sources); si++)
            if (strcmp(src, sources[si].name) == 0)
                break;
        if (si == ARRAY_LEN(sources))
            tool_usage_error(&t, "unknown SOURCE '%s'", src);
        gen = sources[si].gen;
    }
    jsonl = src && !gen && sources[si].kind < 0;
    tasks_gen_init(&g, gen ? sources[si].kind : TASKS_ARITHMETIC);
    tasks_import_init(&im, !src || gen || jsonl ? TASKS_GSM8K : sources[si].kind);
    digits = (struct span){&g.dmin, &g.dmax, 1, TASKS_MAX_DIGITS};
    steps = (struct span){&g.smin, &g.smax, 1, 20};
    terms = (struct span){&g.tmin, &g.tmax, 2, TASKS_MAX_TERMS};
    {
        struct opt opts[] = {
            OPT_GROUP("Generator options:\n"),
            OPT_LONG('n', "count", &n, "N", 0, 1000000000000L, "records to make (default 100)"),
            OPT_U64('s', "seed", &g.seed, "S", 0, "seed (default 0)"),
            OPT_LONG(0, "start", &start, "I", 0, 1000000000000L,
                     "index of the first record (default 0)"),
            OPT_BOOL('r', "with-response", &g.with_response, "add an R1-style worked response"),
            OPT_CALL('d', "digits", &digits, "D|LO-HI", parse_span, "D or LO-HI within 1-9",
                     "arithmetic: operand digits, 1-9 (default 2)"),
            OPT_STRING(0, "ops", &g.ops, "OPS",
                       "arithmetic: operations from +-*/ (default +-*/);\n"
                       "code: from +-* (default +-*)"),
            OPT_BOOL(0, "negative", &g.allow_negative, "arithmetic: a - b may be negative"),
            OPT_BOOL(0, "column", &g.column,
                     "arithmetic: + and - worked digit by digit, units\n"
                     "first, with the carry or borrow on each line"),
            OPT_INT(0, "numbers", &g.nnumbers, "K", 2, TASKS_MAX_NUMBERS,
                    "countdown: numbers per task, 2-6 (default 4)"),
            OPT_INT(0, "max-number", &g.max_number, "M", 1, 1000,
                    "countdown: numbers in 1..M (default 50)"),
            OPT_INT(0, "max-target", &g.max_target, "T", 1, 100000,
                    "countdown: target in 1..T (default 100)"),
            OPT_CALL(0, "steps", &steps, "S|LO-HI", parse_span, "S or LO-HI within 1-20",
                     "word: steps per problem, 1-20 (default 2-4)"),
            OPT_INT(0, "max-start", &g.max_start, "M", 2, 1000,
                    "word: starting count in 2..M (default 20)"),
            OPT_CALL(0, "terms", &terms, "K|LO-HI", parse_span, "K or LO-HI within 2-12",
                     "chain, corpus: terms per sum, 2-12 (default 4-6)"),
            OPT_INT(0, "max-term", &g.max_term, "M", 1, 1000,
                    "chain, corpus: terms in 1..M; code: the constant\n"
                    "in 1..M (default 9)"),
            OPT_INT(0, "worked", &g.worked_pct, "P", 0, 100,
                    "corpus: percent of the sums worked step by step\n"
                    "(default 70)"),
            OPT_INT(0, "dialogs", &g.dialog_pct, "P", 0, 75,
                    "corpus: percent of documents that are\n"
                    "question-and-answer pages, 0-75 (default 60;\n"
                    "the rest of 75 are problem pages)"),
            OPT_INT(0, "told", &g.told_pct, "P", 0, 100,
                    "corpus: percent of those pages under a line that\n"
                    "names a tag to think in (default 25)"),
            OPT_INT(0, "dialog-worked", &g.dialog_worked_pct, "P", 0, 100,
                    "corpus: percent of those pages' answers worked\n"
                    "(default: --worked)"),
            OPT_INT(0, "turns", &g.max_turns, "N", 1, 4,
                    "corpus: those pages have 1 to N turns (default 2)"),
            OPT_BOOL(0, "reduce", &g.reduce,
                     "corpus: worked problem pages reduce the sum a term\n"
                     "a line, as those pages do (default: running sums)"),
            OPT_INT(0, "garbled", &g.garbled_pct, "P", 0, 100,
                    "prefs: percent of pairs whose rejected answer is\n"
                    "the chosen one misspelled (default 0)"),
            OPT_GROUP("Importer options:\n"),
            OPT_STRING(0, "id-prefix", &id_prefix, "P",
                       "gsm8k: ids are P and the record's line index\n"
                       "(default gsm8k/NAME/, NAME the file's stem)"),
            OPT_BOOL(0, "raw", &im.raw, "gsm8k: keep the solution text verbatim"),
            OPT_CHOICE(0, "split", &split, "NAME", splits,
                       "mbpp: prompt, test, validation or train"),
            OPT_CALL(0, "map", &maps, "DST=SRC,...", add_map, NULL,
                     "jsonl: take field DST (id, domain, prompt, system,\n"
                     "response, answer, tests, lang, messages) from the\n"
                     "data set's field SRC (default: the same name)"),
            OPT_CALL(0, "preset", &preset, "NAME", parse_preset, "gsm8k or math",
                     "jsonl: gsm8k (question, answer '#### N') or math\n"
                     "(problem, solution, its last \\boxed{})"),
            OPT_STRING(0, "domain", &domain, "D", "jsonl: the domain of records without one"),
            OPT_END(),
        };
        int given[ARRAY_LEN(opts)] = {0};

        for (i = 0; opts[i].type != OPT_T_END; i++)
            opts[i].given = &given[i];
        /* the source is no option: the options follow it */
        if (src) {
            argi = 1 + tool_parse(&t, opts, argc - 1, argv + 1);
        } else {
            tool_parse(&t, opts, argc, argv);   /* --help, --version */
            tool_usage_error(&t, "no SOURCE given");
        }
        for (i = 0; opts[i].type != OPT_T_END; i++)
            if (given[i])
                check_owner(&t, &opts[i], src, gen);
    }
    if (split >= 0)
        im.split = splits[split].name;
    if (gen) {
        if (argi < argc)
            tool_usage_error(&t, "'%s' makes records: no FILE operands", src);
        if ((msg = tasks_gen_check(&g)) != NULL)
            tool_usage_error(&t, "%s", msg);
        return run_generator(&t, &g, n, start);
    }
    if (jsonl) {
        int k;
        tasks_map_init(&map, preset);
        for (k = 0; k < maps.n; k++)
            if (tasks_map_parse(&map, maps.v[k], &msg) < 0)
                tool_usage_error(&t, "--map: '%s': %s", maps.v[k], msg);
        if (domain)
            map.domain = domain;
        return run_importer(&t, &im, &map, argc - argi, argv + argi, id_prefix);
    }
    return run_importer(&t, &im, NULL, argc - argi, argv + argi, id_prefix);
}
