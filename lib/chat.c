/*
 * chat.c - the chat formats of chat.h: one system + user turn rendered as
 * the model's own template renders it, then encoded.
 *
 * The templates are those of the models' tokenizer_config.json files
 * (DeepSeek-V3/R1, Qwen2.5/Qwen3, Llama 3/3.1 without tools or dates);
 * this file is not a Jinja engine and renders only these shapes.
 */
#include "chat.h"

#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

/* Indices into chat.mark, per format. */
enum {
    M_BOS, M_SYSTEM, M_USER, M_ASSISTANT, M_EOS,      /* builtin, deepseek3 */
    M_START = 1, M_END = 2,                           /* chatml */
    M_HSTART = 1, M_HEND = 2, M_EOT = 3, M_EOTEXT = 4,/* llama3 */
};

/* DeepSeek-V3's special tokens (U+FF5C FULLWIDTH VERTICAL LINE, U+2581). */
#define DS_BAR "\xef\xbd\x9c"
#define DS_BOS "<" DS_BAR "begin\xe2\x96\x81of\xe2\x96\x81sentence" DS_BAR ">"
#define DS_EOS "<" DS_BAR "end\xe2\x96\x81of\xe2\x96\x81sentence" DS_BAR ">"
#define DS_USER "<" DS_BAR "User" DS_BAR ">"
#define DS_ASSISTANT "<" DS_BAR "Assistant" DS_BAR ">"

static const char *const format_names[] = {
    "auto", "builtin", "deepseek3", "chatml", "llama3",
};

int
chat_parse_format(const char *name, enum chat_format *out)
{
    size_t i;

    for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (strcmp(name, format_names[i]) == 0) {
            *out = (enum chat_format)i;
            return 0;
        }
    return -1;
}

const char *
chat_format_name(enum chat_format f)
{
    return (unsigned)f < sizeof(format_names) / sizeof(format_names[0])
               ? format_names[f] : "?";
}

static enum chat_format
detect(const struct tok *t)
{
    const char *tpl = tok_chat_template(t);

    if (tpl) {
        if (strstr(tpl, DS_ASSISTANT))
            return CHAT_DEEPSEEK3;
        if (strstr(tpl, "<|im_start|>"))
            return CHAT_CHATML;
        if (strstr(tpl, "<|start_header_id|>"))
            return CHAT_LLAMA3;
    }
    if (tok_token_id(t, DS_ASSISTANT) >= 0)
        return CHAT_DEEPSEEK3;
    if (tok_token_id(t, "<|im_start|>") >= 0)
        return CHAT_CHATML;
    if (tok_token_id(t, "<|start_header_id|>") >= 0)
        return CHAT_LLAMA3;
    if (tok_is_builtin(t))
        return CHAT_BUILTIN;
    return CHAT_AUTO;
}

static int
need(struct chat *c, int slot, const char *name, char *err, size_t errlen)
{
    int id = tok_token_id(c->tok, name);

    if (id < 0) {
        if (err && errlen && !err[0])   /* the first one missing */
            snprintf(err, errlen, "%s: chat format %s needs the token '%s'",
                     tok_source(c->tok), chat_format_name(c->format), name);
        return -1;
    }
    c->mark[slot] = id;
    return 0;
}

int
chat_init(struct chat *c, struct tok *t, enum chat_format format,
          unsigned flags, char *err, size_t errlen)
{
    const char *tpl;
    int rc = 0, id;

    memset(c, 0, sizeof(*c));
    if (err && errlen)
        err[0] = '\0';
    c->tok = t;
    c->flags = flags & (CHAT_THINK | CHAT_PLAIN);
    c->format = format == CHAT_AUTO ? detect(t) : format;
    c->think = tok_token_id(t, "<think>");
    if (c->format == CHAT_AUTO) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot tell the chat format (give one)",
                     tok_source(t));
        return -1;
    }
    /* DeepSeek-R1's template ends its generation prompt in "<think>\n". */
    tpl = tok_chat_template(t);
    if (format == CHAT_AUTO && !(flags & CHAT_NO_THINK) && tpl &&
        (strstr(tpl, DS_ASSISTANT "<think>\\n") ||
         strstr(tpl, DS_ASSISTANT "<think>\n")))
        c->flags |= CHAT_THINK;
    switch (c->format) {
    case CHAT_BUILTIN:
        rc |= need(c, M_BOS, "<|bos|>", err, errlen);
        rc |= need(c, M_SYSTEM, "<|system|>", err, errlen);
        rc |= need(c, M_USER, "<|user|>", err, errlen);
        rc |= need(c, M_ASSISTANT, "<|assistant|>", err, errlen);
        rc |= need(c, M_EOS, "<|eos|>", err, errlen);
        c->eos = c->mark[M_EOS];
        break;
    case CHAT_DEEPSEEK3:
        rc |= need(c, M_BOS, DS_BOS, err, errlen);
        rc |= need(c, M_USER, DS_USER, err, errlen);
        rc |= need(c, M_ASSISTANT, DS_ASSISTANT, err, errlen);
        rc |= need(c, M_EOS, DS_EOS, err, errlen);
        c->eos = c->mark[M_EOS];
        break;
    case CHAT_CHATML:
        rc |= need(c, M_START, "<|im_start|>", err, errlen);
        rc |= need(c, M_END, "<|im_end|>", err, errlen);
        c->eos = c->mark[M_END];
        break;
    case CHAT_LLAMA3:
        rc |= need(c, M_BOS, "<|begin_of_text|>", err, errlen);
        rc |= need(c, M_HSTART, "<|start_header_id|>", err, errlen);
        rc |= need(c, M_HEND, "<|end_header_id|>", err, errlen);
        rc |= need(c, M_EOT, "<|eot_id|>", err, errlen);
        c->eos = c->mark[M_EOT];
        break;
    case CHAT_AUTO:
        break;
    }
    if (rc)
        return -1;
    c->stop[c->nstop++] = c->eos;
    if (c->format == CHAT_CHATML &&
        (id = tok_token_id(t, "<|endoftext|>")) >= 0 && id != c->eos)
        c->stop[c->nstop++] = id;
    if (c->format == CHAT_LLAMA3 &&
        (id = tok_token_id(t, "<|end_of_text|>")) >= 0 && id != c->eos)
        c->stop[c->nstop++] = id;
    if ((id = tok_eos(t)) >= 0 && !chat_is_stop(c, id) &&
        c->nstop < CHAT_MAX_STOP)
        c->stop[c->nstop++] = id;
    return 0;
}

void
chat_release(struct chat *c)
{
    sbuf_release(&c->text);
}

int
chat_is_stop(const struct chat *c, int id)
{
    int i;

    for (i = 0; i < c->nstop; i++)
        if (c->stop[i] == id)
            return 1;
    return 0;
}

/* ---- rendering ---- */

/*
 * Output of the template, either encoded (ids != NULL: text runs are
 * gathered in c->text and encoded whole at each special token) or written
 * out as text (txt != NULL).
 */
struct emit {
    struct chat *c;
    struct tok_ids *ids;
    struct sbuf *txt;
};

static void
flush(struct emit *e)
{
    struct chat *c = e->c;

    if (e->ids && c->text.len) {
        tok_encode(c->tok, c->text.buf, c->text.len,
                   (c->flags & CHAT_PLAIN) ? TOK_PLAIN : 0, e->ids);
        sbuf_reset(&c->text);
    }
}

static void
emit_text(struct emit *e, const char *s, size_t n)
{
    sbuf_add(e->ids ? &e->c->text : e->txt, s, n);
}

static void
emit_str(struct emit *e, const char *s)
{
    emit_text(e, s, strlen(s));
}

static void
emit_mark(struct emit *e, int id)
{
    size_t len;
    const char *p;

    if (e->ids) {
        flush(e);
        tok_ids_push(e->ids, id);
    } else if ((p = tok_piece(e->c->tok, id, &len)) != NULL)
        sbuf_add(e->txt, p, len);
}

/* Python's str.isspace() for the code points it holds true. */
static int
py_space(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 ||
           c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* Jinja's trim filter (str.strip()): emits s without outer white space. */
static void
emit_trimmed(struct emit *e, const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t n = strlen(s), i = 0, lo = 0, hi = 0;
    int seen = 0;

    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            k = 1;
            cp = -1;
        }
        if (!py_space(cp)) {
            if (!seen)
                lo = i;
            seen = 1;
            hi = i + (size_t)k;
        }
        i += (size_t)k;
    }
    if (seen)
        emit_text(e, s + lo, hi - lo);
}

static void
emit_think(struct emit *e)
{
    if (!(e->c->flags & CHAT_THINK))
        return;
    if (e->c->think >= 0)
        emit_mark(e, e->c->think);
    else
        emit_str(e, "<think>");
    emit_str(e, "\n");
}

static void
render(struct emit *e, const char *sys, const char *prompt)
{
    struct chat *c = e->c;
    int has_sys = sys && *sys;

    if (!prompt)
        prompt = "";
    switch (c->format) {
    case CHAT_BUILTIN:
        emit_mark(e, c->mark[M_BOS]);
        if (has_sys) {
            emit_mark(e, c->mark[M_SYSTEM]);
            emit_str(e, sys);
        }
        emit_mark(e, c->mark[M_USER]);
        emit_str(e, prompt);
        emit_mark(e, c->mark[M_ASSISTANT]);
        break;
    case CHAT_DEEPSEEK3:
        emit_mark(e, c->mark[M_BOS]);
        if (has_sys)
            emit_str(e, sys);
        emit_mark(e, c->mark[M_USER]);
        emit_str(e, prompt);
        emit_mark(e, c->mark[M_ASSISTANT]);
        break;
    case CHAT_CHATML:
        if (has_sys) {
            emit_mark(e, c->mark[M_START]);
            emit_str(e, "system\n");
            emit_str(e, sys);
            emit_mark(e, c->mark[M_END]);
            emit_str(e, "\n");
        }
        emit_mark(e, c->mark[M_START]);
        emit_str(e, "user\n");
        emit_str(e, prompt);
        emit_mark(e, c->mark[M_END]);
        emit_str(e, "\n");
        emit_mark(e, c->mark[M_START]);
        emit_str(e, "assistant\n");
        break;
    case CHAT_LLAMA3:
        emit_mark(e, c->mark[M_BOS]);
        if (has_sys) {
            emit_mark(e, c->mark[M_HSTART]);
            emit_str(e, "system");
            emit_mark(e, c->mark[M_HEND]);
            emit_str(e, "\n\n");
            emit_trimmed(e, sys);
            emit_mark(e, c->mark[M_EOT]);
        }
        emit_mark(e, c->mark[M_HSTART]);
        emit_str(e, "user");
        emit_mark(e, c->mark[M_HEND]);
        emit_str(e, "\n\n");
        emit_trimmed(e, prompt);
        emit_mark(e, c->mark[M_EOT]);
        emit_mark(e, c->mark[M_HSTART]);
        emit_str(e, "assistant");
        emit_mark(e, c->mark[M_HEND]);
        emit_str(e, "\n\n");
        break;
    case CHAT_AUTO:
        break;
    }
    emit_think(e);
    flush(e);
}

void
chat_prompt(struct chat *c, const char *system, const char *prompt,
            struct tok_ids *out)
{
    struct emit e = {c, out, NULL};

    sbuf_reset(&c->text);
    render(&e, system, prompt);
}

void
chat_render(struct chat *c, const char *system, const char *prompt,
            struct sbuf *out)
{
    struct emit e = {c, NULL, out};

    render(&e, system, prompt);
}

void
chat_response(struct chat *c, const char *response, struct tok_ids *out)
{
    if (response && *response)
        tok_encode(c->tok, response, strlen(response),
                   (c->flags & CHAT_PLAIN) ? TOK_PLAIN : 0, out);
    tok_ids_push(out, c->eos);
}

void
chat_sample(struct chat *c, const char *system, const char *prompt,
            const char *response, struct tok_ids *ids, struct tok_ids *mask)
{
    size_t a = ids->n, b;

    chat_prompt(c, system, prompt, ids);
    b = ids->n;
    chat_response(c, response, ids);
    if (mask) {
        for (; a < b; a++)
            tok_ids_push(mask, 0);
        for (; b < ids->n; b++)
            tok_ids_push(mask, 1);
    }
}
