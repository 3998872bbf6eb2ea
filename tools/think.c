/*
 * think - show, hide or extract the <think>...</think> block of sample
 * records (completion) and SFT records (response).  The block rules are
 * lib/think.c's; this file is the options and the record loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "think.h"
#include "tool.h"

static const char usage_text[] =
    "usage: think [--show | --strip | --extract | --check] [--field NAME] [--to NAME]\n"
    "             [options] [FILE ...]\n"
    "Shows, hides or extracts the <think>...</think> block of completions.\n";


enum mode { SHOW, STRIP, EXTRACT, CHECK };

/* The text field of rec: --field, else completion, else response, else
 * NULL for a conversation (messages) without a completion. */
static const char *
text_field(const json_t *rec, const char *field)
{
    if (field)
        return field;
    if (json_object_get(rec, "completion"))
        return "completion";
    if (json_object_get(rec, "response"))
        return "response";
    return json_object_get(rec, "messages") ? NULL : "completion";
}

/*
 * The last assistant turn of a conversation record, whose content is the
 * text (borrowed), or NULL after rejecting rec.
 */
static json_t *
last_turn(struct tool *t, json_t *rec)
{
    json_t *msgs = json_object_get(rec, "messages");
    json_t *m = json_array_get(msgs, json_array_size(msgs) - 1);
    const char *role = json_string_value(json_object_get(m, "role"));

    if (!json_is_array(msgs) || !role || strcmp(role, "assistant") != 0 ||
        !json_is_string(json_object_get(m, "content"))) {
        tool_reject(t, rec, "messages", "no final assistant turn with a "
                    "string content");
        return NULL;
    }
    return m;
}

/* "group k=K" or "id" or "#N" naming a record in messages and headers. */
static void
name_record(struct sbuf *sb, const json_t *rec, long n)
{
    const char *s;
    long long k;

    if (rec_get_str(rec, "group", &s, NULL) == 0 || rec_get_str(rec, "id", &s, NULL) == 0)
        sbuf_addf(sb, "'%s'", s);
    else
        sbuf_addf(sb, "#%ld", n);
    if (rec_get_int(rec, "k", &k, NULL) == 0)
        sbuf_addf(sb, " k=%lld", k);
}

static void
show(struct tool *t, const json_t *rec, const char *text, size_t len,
     const struct think_block *b, int color, long n)
{
    struct sbuf sb = SBUF_INIT;
    const char *finish;

    sbuf_adds(&sb, "== ");
    name_record(&sb, rec, n);
    if (rec_get_str(rec, "finish", &finish, NULL) == 0)
        sbuf_addf(&sb, " finish=%s", finish);
    sbuf_addc(&sb, '\n');
    if (color && b->status != THINK_NONE) {
        /* the block dimmed (SGR 2), the rest as it is */
        sbuf_add(&sb, text, b->start);
        sbuf_adds(&sb, "\033[2m");
        sbuf_add(&sb, text + b->start, b->end - b->start);
        sbuf_adds(&sb, "\033[0m");
        sbuf_add(&sb, text + b->end, len - b->end);
    } else {
        sbuf_add(&sb, text, len);
    }
    if (len == 0 || text[len - 1] != '\n')
        sbuf_addc(&sb, '\n');
    sbuf_addc(&sb, '\n');
    rout_raw(t->out, sb.buf, sb.len);
    sbuf_release(&sb);
}

int
main(int argc, char **argv)
{
    struct tool t;
    int mode = SHOW, given[4] = {0};
    const char *field = NULL, *to = "reasoning";
    int argi, c, color;
    long n = 0, nbad = 0;
    json_t *rec;
    struct sbuf sb = SBUF_INIT;

    tool_init(&t, "think", usage_text);
    {
        struct opt opts[] = {
            OPT_SET(0, "show", &mode, SHOW,
                    "the text for reading, one sample after another (default)"),
            OPT_SET(0, "strip", &mode, STRIP,
                    "replace the text by the answer alone (records out)"),
            OPT_SET(0, "extract", &mode, EXTRACT,
                    "as --strip, and the reasoning into its own field"),
            OPT_SET(0, "check", &mode, CHECK,
                    "report samples whose block is unclosed, unopened or\n"
                    "repeated, one line each; exit 1 if there are any"),
            OPT_STRING(0, "field", &field, "NAME",
                       "the text field (default: completion, else response,\n"
                       "else the last assistant turn of messages)"),
            OPT_STRING(0, "to", &to, "NAME",
                       "--extract: the reasoning field (default reasoning;\n"
                       "messages: the turn's reasoning_content)"),
            OPT_END(),
        };
        int i;
        for (i = 0; i < 4; i++)
            opts[i].given = &given[i];
        argi = tool_parse(&t, opts, argc, argv);
    }
    if (given[0] + given[1] + given[2] + given[3] > 1)
        tool_usage_error(&t, "give at most one of --show, --strip, --extract, --check");
    if (field && strcmp(field, to) == 0 && mode == EXTRACT)
        tool_usage_error(&t, "--to names the text field itself ('%s')", to);
    tool_start(&t, argc - argi, argv + argi);
    color = mode == SHOW && !t.output && isatty(1);

    while ((rec = tool_next(&t)) != NULL) {
        const char *f = text_field(rec, field), *why, *text, *tof = to;
        struct think_block b;
        json_t *holder = rec;
        size_t len;

        n++;
        if (!f) {
            /* a conversation: its last turn's content, and the reasoning
             * into that turn's reasoning_content */
            if ((holder = last_turn(&t, rec)) == NULL) {
                json_decref(rec);
                continue;
            }
            f = "content";
            tof = "reasoning_content";
        }
        if (rec_get_str(holder, f, &text, &why) != 0) {
            tool_reject(&t, rec, f, "%s", why);
            json_decref(rec);
            continue;
        }
        len = json_string_length(json_object_get(holder, f));
        think_parse(text, len, &b);
        switch (mode) {
        case SHOW:
            show(&t, rec, text, len, &b, color, n);
            break;
        case STRIP:
        case EXTRACT:
            sbuf_reset(&sb);
            if (mode == EXTRACT) {
                think_reasoning(text, len, &b, &sb);
                json_object_set_new(holder, tof, json_stringn(sb.buf, sb.len));
                sbuf_reset(&sb);
            }
            think_answer(text, len, &b, &sb);
            json_object_set_new(holder, f, json_stringn(sb.buf, sb.len));
            tool_write(&t, rec);
            break;
        case CHECK:
            if (b.status == THINK_OK || b.status == THINK_NONE)
                break;
            nbad++;
            sbuf_reset(&sb);
            sbuf_addf(&sb, "%s:%ld: ", tool_file(&t), tool_line(&t));
            name_record(&sb, rec, n);
            sbuf_addf(&sb, ": %s <think> block\n", think_status_name(b.status));
            rout_raw(t.out, sb.buf, sb.len);
            break;
        }
        json_decref(rec);
    }
    sbuf_release(&sb);
    if (mode == CHECK && !t.quiet && nbad > 0)
        warnx_("%ld of %ld samples have a malformed <think> block", nbad, n);
    c = tool_finish(&t);
    return c ? c : (nbad > 0 ? 1 : 0);
}
