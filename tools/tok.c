/*
 * tok - encode, decode, count and inspect tokens with a checkpoint's
 * tokenizer; in record mode, add prompt_ids / response_ids (chat format)
 * or ids (one field) to records.  The work is in lib/tok.c and lib/chat.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "sample.h"
#include "tok.h"
#include "tool.h"

static const char usage_text[] =
    "usage: tok [-m DIR | -t FILE] [-e | -d | -c | -i] [-r] [options] [FILE ...]\n"
    "Encodes, decodes, counts or shows tokens (text in, or records with -r).\n";

enum mode { ENCODE, DECODE, COUNT, INSPECT };

struct opts {
    enum mode mode;
    int records, think, no_think, plain, bos, skip_special, render;
    const char *field;
    enum chat_format format;
};

/* Reads a whole input ("-" is stdin) into sb. */
static void
read_all(const char *path, struct sbuf *sb)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
    ssize_t k;

    if (fd < 0)
        die_errno("%s", path);
    sbuf_reset(sb);
    for (;;) {
        sbuf_grow(sb, 65536);
        k = read(fd, sb->buf + sb->len, 65536);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            die_errno("%s", path);
        }
        if (k == 0)
            break;
        sb->len += (size_t)k;
    }
    if (fd != 0)
        close(fd);
}

static void
put_ids(struct sbuf *o, const struct tok_ids *ids)
{
    size_t i;

    for (i = 0; i < ids->n; i++)
        sbuf_addf(o, i ? " %d" : "%d", ids->v[i]);
    sbuf_addc(o, '\n');
}

/* The token as a JSON string (its raw bytes, invalid UTF-8 as \xNN). */
static void
put_piece(struct sbuf *o, const char *p, size_t n)
{
    size_t i;

    sbuf_addc(o, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            sbuf_addf(o, "\\%c", c);
        else if (c == '\n')
            sbuf_adds(o, "\\n");
        else if (c == '\t')
            sbuf_adds(o, "\\t");
        else if (c == '\r')
            sbuf_adds(o, "\\r");
        else if (c < 0x20 || c == 0x7f)
            sbuf_addf(o, "\\u%04x", c);
        else
            sbuf_addc(o, (char)c);
    }
    sbuf_addc(o, '"');
}

/* Separates ids: white space or a comma. */
static int
is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',';
}

/* Parses white-space separated ids; dies on anything else. */
static void
parse_ids(const char *path, const struct sbuf *in, const struct tok *t,
          struct tok_ids *ids)
{
    const char *s = in->buf ? in->buf : "", *end = s + in->len;
    char num[32];
    long v, line = 1;

    while (s < end) {
        size_t n = 0;
        while (s < end && is_sep(*s))
            line += *s++ == '\n';
        while (s < end && !is_sep(*s)) {
            if (n + 1 < sizeof(num))
                num[n] = *s;
            n++;
            s++;
        }
        if (n == 0)
            break;
        num[PT_MIN(n, sizeof(num) - 1)] = '\0';
        if (n >= sizeof(num) || parse_long(num, 0, tok_vocab_size(t) - 1, &v))
            die("%s:%ld: '%s' is not a token id in [0, %d]", path, line, num,
                tok_vocab_size(t) - 1);
        tok_ids_push(ids, (int)v);
    }
}

static void
text_mode(struct tool *tl, const struct opts *o, struct tok *t)
{
    struct sbuf in = SBUF_INIT, out = SBUF_INIT;
    struct tok_ids ids = TOK_IDS_INIT;
    unsigned flags =
        (o->bos ? TOK_ADD_SPECIAL : 0) | (o->plain ? TOK_PLAIN : 0);
    int i;
    size_t k, len;

    for (i = 0; i < tl->ninputs; i++) {
        read_all(tl->inputs[i], &in);
        ids.n = 0;
        sbuf_reset(&out);
        if (o->mode == DECODE) {
            parse_ids(tl->inputs[i], &in, t, &ids);
            tok_decode(t, ids.v, ids.n, o->skip_special ? TOK_SKIP_SPECIAL : 0,
                       &out);
        } else {
            tok_encode(t, in.buf ? in.buf : "", in.len, flags, &ids);
            if (o->mode == ENCODE)
                put_ids(&out, &ids);
            else if (o->mode == COUNT)
                sbuf_addf(&out, "%zu\n", ids.n);
            else
                for (k = 0; k < ids.n; k++) {
                    const char *p = tok_piece(t, ids.v[k], &len);
                    sbuf_addf(&out, "%d\t", ids.v[k]);
                    put_piece(&out, p, len);
                    sbuf_adds(&out, tok_is_special(t, ids.v[k]) ? "\tspecial\n"
                                                                : "\n");
                }
        }
        rout_raw(tl->out, out.buf ? out.buf : "", out.len);
    }
    sbuf_release(&in);
    sbuf_release(&out);
    tok_ids_release(&ids);
}

static json_t *
ids_json(const int *v, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* Handles one record; returns 0, or -1 after rejecting it. */
static int
record(struct tool *tl, const struct opts *o, struct tok *t, struct chat *c,
       json_t *r, struct tok_ids *ids, struct sbuf *sb, struct sample_conv *cv,
       struct tok_ids *mask)
{
    const char *text, *why;
    const char *field = o->field;
    size_t nprompt, k;

    ids->n = 0;
    if (o->mode == DECODE) {
        const json_t *a = json_object_get(r, field ? field : "ids"), *x;
        size_t i;
        if (!json_is_array(a)) {
            tool_reject(tl, r, field ? field : "ids",
                        "not an array of token ids");
            return -1;
        }
        json_array_foreach(a, i, x) {
            json_int_t v = json_integer_value(x);
            if (!json_is_integer(x) || v < 0 || v >= tok_vocab_size(t)) {
                tool_reject(tl, r, field ? field : "ids",
                            "element %zu is not a token id", i);
                return -1;
            }
            tok_ids_push(ids, (int)v);
        }
        sbuf_reset(sb);
        tok_decode(t, ids->v, ids->n, o->skip_special ? TOK_SKIP_SPECIAL : 0,
                   sb);
        json_object_set_new(r, "text",
                            json_stringn(sb->buf ? sb->buf : "", sb->len));
        return 0;
    }
    if (field) {
        const json_t *v = json_object_get(r, field);
        if (!json_is_string(v)) {
            tool_reject(tl, r, field, v ? "not a string" : "missing");
            return -1;
        }
        text = json_string_value(v);
        tok_encode(t, text, json_string_length(v),
                   (o->bos ? TOK_ADD_SPECIAL : 0) | (o->plain ? TOK_PLAIN : 0),
                   ids);
        if (o->mode == COUNT)
            json_object_set_new(r, "n_tokens",
                                json_integer((json_int_t)ids->n));
        else
            json_object_set_new(r, "ids", ids_json(ids->v, ids->n));
        return 0;
    }
    if (sample_conv_get(cv, r, &why) < 0) {
        tool_reject(tl, r, sbuf_str(&cv->field), "%s", why);
        return -1;
    }
    if (o->render) {
        sbuf_reset(sb);
        chat_conv_render(c, cv->m, cv->n, !cv->response, sb, NULL);
        json_object_set_new(r, "text", json_stringn(sbuf_str(sb), sb->len));
    }
    if (!cv->messages) {
        /* a response is encoded as written */
        chat_conv(c, cv->m, cv->n - (size_t)cv->response, 1, ids, NULL);
        nprompt = ids->n;
        if (cv->response)
            chat_response(c, cv->m[cv->n - 1].content, ids);
    } else if (cv->response) {
        mask->n = 0;
        if (chat_conv_sample(c, cv->m, cv->n, 1, ids, mask, &why) < 0) {
            tool_reject(tl, r, "messages", "%s", why);
            return -1;
        }
        for (k = 0; k < mask->n && !mask->v[k]; k++)
            ;
        nprompt = k;
    } else {
        chat_conv(c, cv->m, cv->n, 1, ids, NULL);
        nprompt = ids->n;
    }
    if (o->mode == COUNT) {
        json_object_set_new(r, "n_tokens", json_integer((json_int_t)ids->n));
        return 0;
    }
    json_object_set_new(r, "prompt_ids", ids_json(ids->v, nprompt));
    if (cv->response)
        json_object_set_new(r, "response_ids",
                            ids_json(ids->v + nprompt, ids->n - nprompt));
    return 0;
}

int
main(int argc, char **argv)
{
    struct tool tl;
    struct tool_model mo;
    struct opts o = {ENCODE, 0, 0, 0, 0, 0, 0, 0, NULL, CHAT_AUTO};
    const char *tokfile = NULL;
    struct tok *t = NULL;
    struct chat c;
    int argi, rc, mode = ENCODE, given[4] = {0};
    struct sbuf err = SBUF_INIT;

    tool_init(&tl, "tok", usage_text);
    tool_model_init(&mo);
    {
        const struct opt opts[] = {
            TOOL_MODEL_DIR(&mo, "the tokenizer of a checkpoint (DIR/tokenizer.json,\n"
                                "else the built-in one)"),
            OPT_STRING('t', "tokenizer", &tokfile, "FILE", "a tokenizer.json"),
            {.type = OPT_T_SET, .short_name = 'e', .long_name = "encode", .value = &mode,
             .min = ENCODE, .given = &given[0],
             .help = "text to ids, one line of ids per input (default)"},
            {.type = OPT_T_SET, .short_name = 'd', .long_name = "decode", .value = &mode,
             .min = DECODE, .given = &given[1],
             .help = "ids (white-space separated) to text"},
            {.type = OPT_T_SET, .short_name = 'c', .long_name = "count", .value = &mode,
             .min = COUNT, .given = &given[2], .help = "the number of tokens of each input"},
            {.type = OPT_T_SET, .short_name = 'i', .long_name = "inspect", .value = &mode,
             .min = INSPECT, .given = &given[3],
             .help = "one line per token: id, tab, token as JSON string"},
            OPT_BOOL('r', "records", &o.records,
                     "JSONL records in: add prompt_ids and response_ids\n"
                     "(chat format), or with --field the ids of that\n"
                     "field; with -d, add text; with -c, add n_tokens"),
            TOOL_MODEL_FORMAT(&mo),
            OPT_STRING(0, "field", &o.field, "NAME",
                       "records: encode this string field as plain text\n"
                       "into ids (-d: the id array to read, default ids)"),
            TOOL_MODEL_THINK(&mo),
            OPT_BOOL(0, "plain", &o.plain, "special-token strings in text are text"),
            OPT_BOOL(0, "render", &o.render,
                     "records: add text, the conversation as the chat\n"
                     "template renders it"),
            OPT_BOOL(0, "bos", &o.bos, "add the tokenizer's BOS/EOS (its post-processor)"),
            OPT_BOOL(0, "skip-special", &o.skip_special, "decode: leave special tokens out"),
            OPT_END(),
        };
        argi = tool_parse(&tl, opts, argc, argv);
    }
    if (given[0] + given[1] + given[2] + given[3] > 1)
        tool_usage_error(&tl, "give at most one of -e, -d, -c, -i");
    o.mode = (enum mode)mode;
    if (mo.lm.dir && tokfile)
        tool_usage_error(&tl, "give -m or -t, not both");
    tool_model_check(&tl, &mo);
    o.format = mo.lm.format;
    o.think = mo.think;
    o.no_think = mo.no_think;
    if (o.records && o.mode == INSPECT)
        tool_usage_error(&tl, "-i works on text, not records");
    if (tokfile) {
        if ((t = tok_load(tokfile, &err)) == NULL)
            die("%s", sbuf_str(&err));
    } else if (mo.lm.dir) {
        if ((t = tok_load_dir(mo.lm.dir, &err)) == NULL)
            die("%s", sbuf_str(&err));
    } else
        t = tok_builtin();
    if (o.records && !o.field && o.mode != DECODE) {
        unsigned f = mo.lm.chat_flags | (o.plain ? CHAT_PLAIN : 0);
        if (chat_init(&c, t, o.format, f, &err) < 0)
            die("%s", sbuf_str(&err));
    } else
        memset(&c, 0, sizeof(c));
    tool_start(&tl, argc - argi, argv + argi);
    if (o.records) {
        struct tok_ids ids = TOK_IDS_INIT, mask = TOK_IDS_INIT;
        struct sbuf sb = SBUF_INIT;
        struct sample_conv cv = SAMPLE_CONV_INIT;
        json_t *r;
        while ((r = tool_next(&tl)) != NULL) {
            if (record(&tl, &o, t, &c, r, &ids, &sb, &cv, &mask) == 0)
                tool_write(&tl, r);
            json_decref(r);
        }
        sample_conv_release(&cv);
        tok_ids_release(&mask);
        tok_ids_release(&ids);
        sbuf_release(&sb);
    } else
        text_mode(&tl, &o, t);
    rc = tool_finish(&tl);
    chat_release(&c);
    tok_free(t);
    sbuf_release(&err);
    return rc;
}
