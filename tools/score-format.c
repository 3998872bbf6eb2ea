/*
 * score-format - R1's format reward: 1 when the completion is one
 * <think>...</think> block followed by a non-empty answer, else 0.
 *
 * Adds rewards.format, updates reward (the sum of rewards.*), and records
 * why in "format": {"reason"}; with --language instead rewards.language,
 * the share of the reasoning's words in a script, and "language":
 * {"script", "words", "share"}.  Every record is scored unless --domain
 * narrows it (sample.h's domain rule); others pass through unchanged.
 * The check lives in lib/format, on lib/think's splitter; see
 * score-format(1).
 */
#include <string.h>

#include "format.h"
#include "sample.h"
#include "score.h"
#include "tool.h"
#include "util.h"

static const char usage[] =
    "usage: score-format [--domain NAME] [--weight W] [--tag NAME]\n"
    "                    [--answer-tag NAME] [--boxed] [--min-think N]\n"
    "                    [--open-in-prompt] [--language prompt|SCRIPT]\n"
    "                    [options] [FILE...]\n"
    "Scores the format: <think>...</think>, then an answer.\n";

/* A tag name: 1 to 32 of [A-Za-z0-9_-]. */
static int
good_tag(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 32
           && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_-")
                  == n;
}

/* --tag, --answer-tag NAME */
static int
parse_tag(void *value, const char *arg, struct sbuf *why)
{
    (void)why;
    if (!good_tag(arg))
        return -1;
    *(const char **)value = arg;
    return 0;
}

struct fmt {
    struct format_opts o;
    double weight;          /* reward of a well-formed completion */
    int language;           /* score the language instead */
    enum format_script script; /* NONE: the prompt's */
};

/* The text of the prompt: "prompt", else the last user turn of "messages". */
static const char *
prompt_text(const json_t *rec)
{
    const json_t *m = json_object_get(rec, "messages"), *v;
    const char *last = NULL;
    size_t i;

    if (json_is_string(json_object_get(rec, "prompt")))
        return json_string_value(json_object_get(rec, "prompt"));
    json_array_foreach(m, i, v) {
        const char *role = json_string_value(json_object_get(v, "role"));
        if (role && strcmp(role, "user") == 0
            && json_is_string(json_object_get(v, "content")))
            last = json_string_value(json_object_get(v, "content"));
    }
    return last;
}

/*
 * score.h callback of --language: the share of the reasoning's words in
 * the target script (R1's language consistency reward), times weight.
 */
static int
score_language(const struct fmt *fo, json_t *rec, const char *comp, double *reward,
               const char **field, struct sbuf *why)
{
    struct format_split sp;
    enum format_script sc = fo->script;
    const char *s = comp, *p;
    size_t n = strlen(comp), words;
    double share;
    json_t *info;

    if (sc == FORMAT_SCRIPT_NONE) {
        p = prompt_text(rec);
        if (!p) {
            *field = "prompt";
            sbuf_adds(why, "missing (--language prompt reads the prompt's language)");
            return -1;
        }
        sc = format_main_script(p, strlen(p));
        if (sc == FORMAT_SCRIPT_NONE)
            sc = FORMAT_SCRIPT_LATIN;
    }
    /* the reasoning: the think block when there is one, else everything */
    memset(&sp, 0, sizeof(sp));
    format_check(&fo->o, comp, &sp);
    if (sp.think_e > sp.think_s) {
        s = comp + sp.think_s;
        n = sp.think_e - sp.think_s;
    }
    share = format_script_share(s, n, sc, &words);
    info = json_object();
    json_object_set_new(info, "script", json_string(format_script_name(sc)));
    json_object_set_new(info, "words", json_integer((json_int_t)words));
    json_object_set_new(info, "share", json_real(share));
    json_object_set_new(rec, "language", info);
    *reward = share * fo->weight;
    return share >= 1.0;
}

/* --language prompt|SCRIPT */
static int
parse_language(void *value, const char *arg, struct sbuf *why)
{
    struct fmt *fo = value;

    (void)why;
    fo->language = 1;
    fo->script = FORMAT_SCRIPT_NONE;
    return strcmp(arg, "prompt") != 0 && format_script_parse(arg, &fo->script) ? -1 : 0;
}

/* score.h callback: the format check, its reason under "format". */
static int
score(void *ctx, json_t *rec, const char *comp, double *reward, const char **field,
      struct sbuf *why)
{
    const struct fmt *fo = ctx;
    enum format_reason reason;
    json_t *info;

    if (fo->language)
        return score_language(fo, rec, comp, reward, field, why);
    reason = format_check(&fo->o, comp, NULL);
    info = json_object();
    json_object_set_new(info, "reason", json_string(format_reason_name(reason)));
    json_object_set_new(rec, "format", info);
    *reward = reason == FORMAT_OK ? fo->weight : 0;
    return reason == FORMAT_OK;
}

int
main(int argc, char **argv)
{
    struct tool t;
    struct fmt fo;
    struct format_opts *to = &fo.o;
    const char *dname[1];
    /* every record; --domain NAME: that domain alone */
    struct scorer sc = {"format", {dname, 0, NULL, 0, 1}, "well-formed", score, &fo};
    struct score_counts c;
    const char *domain = NULL;
    int argi;

    format_opts_init(to);
    fo.weight = 1;
    fo.language = 0;
    fo.script = FORMAT_SCRIPT_NONE;
    tool_init(&t, "score-format", usage);
    {
        const struct opt opts[] = {
            OPT_STRING(0, "domain", &domain, "NAME", "score only this domain (default: all)"),
            OPT_DOUBLE(0, "weight", &fo.weight, "W", -1e9, 1e9,
                       "reward of a well-formed completion (default 1)"),
            OPT_CALL(0, "tag", &to->tag, "NAME", parse_tag, "a tag name",
                     "the reasoning tag (default think)"),
            OPT_CALL(0, "answer-tag", &to->answer_tag, "NAME", parse_tag, "a tag name",
                     "the answer must be one <NAME>...</NAME>"),
            OPT_BOOL(0, "boxed", &to->boxed, "the answer must hold \\boxed{}"),
            OPT_INT(0, "min-think", &to->min_think, "N", 0, 1000000,
                    "the block must hold at least N words (default 0)"),
            OPT_BOOL(0, "open-in-prompt", &to->open_in_prompt,
                     "the opening tag is in the prompt"),
            OPT_CALL(0, "language", &fo, "L", parse_language,
                     "prompt or a script (latin, greek, cyrillic, hebrew, arabic, devanagari,"
                     " thai, han, kana, hangul)",
                     "instead: rewards.language, the share of the reasoning's\n"
                     "words in the prompt's script (prompt) or in SCRIPT\n"
                     "(latin, greek, cyrillic, hebrew, arabic, devanagari,\n"
                     "thai, han, kana, hangul)"),
            OPT_END(),
        };
        argi = tool_parse(&t, opts, argc, argv);
    }
    if (domain) {
        dname[0] = domain;
        sc.domains.n = 1;
        sc.domains.untagged = 0;
    }
    if (fo.language) {
        sc.name = "language";
        sc.hit = "wholly in the language";
    }
    tool_start(&t, argc - argi, argv + argi);
    score_run(&t, &sc, &c);
    if (!t.quiet && (t.tty || t.progress))
        warnx_("%ld scored, %ld %s", c.scored, c.hits, sc.hit);
    return tool_finish(&t);
}
