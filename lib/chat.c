/*
 * chat.c - the chat formats of chat.h: a conversation rendered as the
 * model's own template renders it, then encoded, with the assistant
 * outputs marked.
 *
 * The templates are those of the models' tokenizer_config.json files
 * (DeepSeek-V3/R1, Qwen2/Qwen3, Llama 3/3.1/3.2, without tool calls);
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
#define DS_SP "\xe2\x96\x81"
#define DS_TOOL_OUTPUTS_BEGIN "<" DS_BAR "tool" DS_SP "outputs" DS_SP "begin" DS_BAR ">"
#define DS_TOOL_OUTPUTS_END "<" DS_BAR "tool" DS_SP "outputs" DS_SP "end" DS_BAR ">"
#define DS_TOOL_OUTPUT_BEGIN "<" DS_BAR "tool" DS_SP "output" DS_SP "begin" DS_BAR ">"
#define DS_TOOL_OUTPUT_END "<" DS_BAR "tool" DS_SP "output" DS_SP "end" DS_BAR ">"

/* chat.flags of this file: earlier turns' think blocks left out (R1). */
#define CHAT_STRIP_THINK (1u << 8)
/* DeepSeek: a newline between two tool outputs (V3; R1 has none). */
#define CHAT_DS_TOOL_NL (1u << 9)

static const char *const format_names[] = {
    "auto", "builtin", "deepseek3", "chatml", "llama3", "qwen3", "llama3.1",
    "text",
};

/* The index of name in names[0, n), or -1. */
static int
name_index(const char *const *names, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

int
chat_parse_format(const char *name, enum chat_format *out)
{
    int i = name_index(format_names, ARRAY_LEN(format_names), name);

    if (i >= 0)
        *out = (enum chat_format)i;
    return i < 0 ? -1 : 0;
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
            return strstr(tpl, "enable_thinking") ? CHAT_QWEN3 : CHAT_CHATML;
        if (strstr(tpl, "<|start_header_id|>"))
            return strstr(tpl, "Cutting Knowledge Date") ? CHAT_LLAMA31
                                                         : CHAT_LLAMA3;
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
need(struct chat *c, int slot, const char *name, struct sbuf *err, int rc)
{
    int id = tok_token_id(c->tok, name);

    if (id < 0) {
        if (rc == 0)    /* the first one missing */
            sbuf_addf(err, "%s: chat format %s needs the token '%s'", tok_source(c->tok),
                      chat_format_name(c->format), name);
        return -1;
    }
    c->mark[slot] = id;
    return 0;
}

/*
 * The system turn a ChatML template writes when the conversation has
 * none, as a literal: the text between "<|im_start|>system\n" and
 * "<|im_end|>" in a string of the template that holds no expression
 * (Qwen2's "You are Qwen, created by Alibaba Cloud. ...", SmolLM2's).
 * New string, or NULL when the template has none.
 */
static char *
template_default_system(const char *tpl)
{
    static const char open[] = "<|im_start|>system\\n", close[] = "<|im_end|>";
    const char *p = tpl;

    while (tpl && (p = strstr(p, open)) != NULL) {
        const char *b = p + strlen(open), *e = strstr(b, close);

        p = b;
        if (e && e > b && !memchr(b, '\'', (size_t)(e - b)) &&
            !memchr(b, '"', (size_t)(e - b)) && !memchr(b, '{', (size_t)(e - b)) &&
            !memchr(b, '+', (size_t)(e - b)) && !memchr(b, '\\', (size_t)(e - b)) &&
            !memchr(b, '\n', (size_t)(e - b)))
            return xstrndup(b, (size_t)(e - b));
    }
    return NULL;
}

int
chat_init(struct chat *c, struct tok *t, enum chat_format format, unsigned flags,
          struct sbuf *err)
{
    const char *tpl;
    int rc = 0, id;

    memset(c, 0, sizeof(*c));
    c->tok = t;
    c->flags = flags & (CHAT_THINK | CHAT_PLAIN | CHAT_NO_THINK);
    c->format = format == CHAT_AUTO ? detect(t) : format;
    c->think = tok_token_id(t, "<think>");
    if (c->format == CHAT_AUTO) {
        sbuf_addf(err, "%s: cannot tell the chat format (give one)", tok_source(t));
        return -1;
    }
    /* DeepSeek-R1's template ends its generation prompt in "<think>\n". */
    tpl = tok_chat_template(t);
    if (format == CHAT_AUTO && !(flags & CHAT_NO_THINK) && tpl &&
        (strstr(tpl, DS_ASSISTANT "<think>\\n") ||
         strstr(tpl, DS_ASSISTANT "<think>\n")))
        c->flags |= CHAT_THINK;
    if (c->flags & CHAT_NO_THINK)
        c->flags &= ~(unsigned)CHAT_THINK;
    /* R1's template keeps only what follows "</think>" of a turn. */
    if (c->format == CHAT_DEEPSEEK3 &&
        (tpl ? strstr(tpl, "</think>") != NULL : (c->flags & CHAT_THINK)))
        c->flags |= CHAT_STRIP_THINK;
    if (c->format == CHAT_CHATML && tpl) {
        c->default_system = template_default_system(tpl);
        c->tool_response = strstr(tpl, "<tool_response>") != NULL;
    }
    if (c->format == CHAT_DEEPSEEK3 &&
        (!tpl || strstr(tpl, "'\n" DS_TOOL_OUTPUT_BEGIN) ||
         strstr(tpl, "'\\n" DS_TOOL_OUTPUT_BEGIN)))
        c->flags |= CHAT_DS_TOOL_NL;
    switch (c->format) {
    case CHAT_BUILTIN:
        rc |= need(c, M_BOS, "<|bos|>", err, rc);
        rc |= need(c, M_SYSTEM, "<|system|>", err, rc);
        rc |= need(c, M_USER, "<|user|>", err, rc);
        rc |= need(c, M_ASSISTANT, "<|assistant|>", err, rc);
        rc |= need(c, M_EOS, "<|eos|>", err, rc);
        c->eos = c->mark[M_EOS];
        break;
    case CHAT_DEEPSEEK3:
        rc |= need(c, M_BOS, DS_BOS, err, rc);
        rc |= need(c, M_USER, DS_USER, err, rc);
        rc |= need(c, M_ASSISTANT, DS_ASSISTANT, err, rc);
        rc |= need(c, M_EOS, DS_EOS, err, rc);
        c->eos = c->mark[M_EOS];
        break;
    case CHAT_CHATML:
    case CHAT_QWEN3:
        rc |= need(c, M_START, "<|im_start|>", err, rc);
        rc |= need(c, M_END, "<|im_end|>", err, rc);
        c->eos = c->mark[M_END];
        break;
    case CHAT_LLAMA3:
    case CHAT_LLAMA31:
        rc |= need(c, M_BOS, "<|begin_of_text|>", err, rc);
        rc |= need(c, M_HSTART, "<|start_header_id|>", err, rc);
        rc |= need(c, M_HEND, "<|end_header_id|>", err, rc);
        rc |= need(c, M_EOT, "<|eot_id|>", err, rc);
        c->eos = c->mark[M_EOT];
        break;
    case CHAT_TEXT:
        /* All text, as the base model read its corpus: special-token
         * strings in content, and <think>, are encoded as plain text. */
        c->flags |= CHAT_PLAIN;
        c->think = -1;
        c->mark[M_BOS] = tok_bos(t);
        if ((c->eos = tok_eos(t)) < 0) {
            sbuf_addf(err, "%s: the text format needs an end-of-sequence token",
                      tok_source(t));
            rc = -1;
        }
        break;
    case CHAT_AUTO:
        break;
    }
    if (rc)
        return -1;
    c->stop[c->nstop++] = c->eos;
    if ((c->format == CHAT_CHATML || c->format == CHAT_QWEN3) &&
        (id = tok_token_id(t, "<|endoftext|>")) >= 0 && id != c->eos)
        c->stop[c->nstop++] = id;
    if ((c->format == CHAT_LLAMA3 || c->format == CHAT_LLAMA31) &&
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
    free(c->default_system);
    c->default_system = NULL;
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
 * gathered in c->text and encoded whole at each special token and at
 * each edge of an assistant output) or written out as text (txt != NULL).
 * target is 1 inside an assistant output: mask gets it per id, spans the
 * text offsets where it changes.
 */
struct emit {
    struct chat *c;
    struct tok_ids *ids;
    struct sbuf *txt;
    struct tok_ids *mask;   /* may be NULL */
    struct tok_ids *spans;  /* text mode, may be NULL */
    int target;
};

static void
push_mask(struct emit *e, size_t from)
{
    if (e->mask)
        for (; from < e->ids->n; from++)
            tok_ids_push(e->mask, e->target);
}

static void
flush(struct emit *e)
{
    struct chat *c = e->c;
    size_t n0;

    if (e->ids && c->text.len) {
        n0 = e->ids->n;
        tok_encode(c->tok, c->text.buf, c->text.len,
                   (c->flags & CHAT_PLAIN) ? TOK_PLAIN : 0, e->ids);
        sbuf_reset(&c->text);
        push_mask(e, n0);
    }
}

/* Starts (1) or ends (0) an assistant output. */
static void
set_target(struct emit *e, int on)
{
    if (on == e->target)
        return;
    flush(e);
    if (e->txt && e->spans)
        tok_ids_push(e->spans, (int)e->txt->len);
    e->target = on;
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
        push_mask(e, e->ids->n - 1);
    } else if ((p = tok_piece(e->c->tok, id, &len)) != NULL)
        sbuf_add(e->txt, p, len);
}

/* A token of the template given by name: the token when the vocabulary
 * has it, else its text (encoded with the text around it). */
static void
emit_named(struct emit *e, const char *name)
{
    int id = tok_token_id(e->c->tok, name);

    if (id >= 0)
        emit_mark(e, id);
    else
        emit_str(e, name);
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

/*
 * Jinja's tojson on a string, as transformers defines it (json.dumps with
 * ensure_ascii=False): quoted, with \" \\ \b \f \n \r \t and \u00xx
 * for the other control characters.
 */
static void
emit_json_string(struct emit *e, const char *s)
{
    char u[8];

    emit_str(e, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '"': emit_str(e, "\\\""); break;
        case '\\': emit_str(e, "\\\\"); break;
        case '\b': emit_str(e, "\\b"); break;
        case '\f': emit_str(e, "\\f"); break;
        case '\n': emit_str(e, "\\n"); break;
        case '\r': emit_str(e, "\\r"); break;
        case '\t': emit_str(e, "\\t"); break;
        default:
            if (ch < 0x20) {
                snprintf(u, sizeof(u), "\\u%04x", ch);
                emit_str(e, u);
            } else
                emit_text(e, s, 1);
        }
    }
    emit_str(e, "\"");
}

/* "<think>\n" opening the generation (CHAT_THINK). */
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

/*
 * The string operations of the templates on an assistant turn.  They
 * follow each template's Jinja (str.split, lstrip('\n'), ...) byte for
 * byte, which is not lib/think's rule: what matters here is to render
 * what the model was trained on.
 */
struct span {
    const char *p;
    size_t n;
};

static const char *
last_of(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    const char *last = NULL, *q = s;

    while (n >= k && (size_t)(q - s) <= n - k) {
        const char *f = memmem(q, n - (size_t)(q - s), needle, k);
        if (!f)
            break;
        last = f;
        q = f + 1;
    }
    return last;
}

static struct span
lstrip_nl(struct span s)
{
    while (s.n && *s.p == '\n') {
        s.p++;
        s.n--;
    }
    return s;
}

static struct span
rstrip_nl(struct span s)
{
    while (s.n && s.p[s.n - 1] == '\n')
        s.n--;
    return s;
}

/* content.split('</think>')[-1]: the text after the last "</think>". */
static struct span
after_think(const char *content)
{
    struct span s = {content, strlen(content)};
    const char *l = last_of(s.p, s.n, "</think>");

    if (l) {
        s.n -= (size_t)(l + 8 - s.p);
        s.p = l + 8;
    }
    return s;
}

/*
 * Qwen3's reading of an assistant turn: reasoning_content when given,
 * else the parts of a content holding "</think>":
 *   content   = content.split('</think>')[-1].lstrip('\n')
 *   reasoning = content.split('</think>')[0].rstrip('\n')
 *                      .split('<think>')[-1].lstrip('\n')
 */
static void
qwen_parts(const struct chat_msg *m, struct span *content, struct span *reason)
{
    const char *c = m->content, *first, *open;
    size_t n = strlen(c);

    content->p = c;
    content->n = n;
    reason->p = "";
    reason->n = 0;
    if (m->reasoning) {
        reason->p = m->reasoning;
        reason->n = strlen(m->reasoning);
        return;
    }
    if ((first = strstr(c, "</think>")) == NULL)
        return;
    *content = lstrip_nl(after_think(c));
    reason->p = c;
    reason->n = (size_t)(first - c);
    *reason = rstrip_nl(*reason);
    if ((open = last_of(reason->p, reason->n, "<think>")) != NULL) {
        reason->n -= (size_t)(open + 7 - reason->p);
        reason->p = open + 7;
    }
    *reason = lstrip_nl(*reason);
}

/* Qwen3's assistant body with its think block (the template's
 * '<think>\n' + reasoning.strip('\n') + '\n</think>\n\n' + content.lstrip('\n')). */
static void
emit_qwen_think(struct emit *e, struct span content, struct span reason)
{
    reason = rstrip_nl(lstrip_nl(reason));
    content = lstrip_nl(content);
    emit_str(e, "<think>\n");
    emit_text(e, reason.p, reason.n);
    emit_str(e, "\n</think>\n\n");
    emit_text(e, content.p, content.n);
}

static int
is_tool_response(const char *s)
{
    size_t n = strlen(s);

    return strncmp(s, "<tool_response>", 15) == 0 && n >= 16 &&
           strcmp(s + n - 16, "</tool_response>") == 0;
}

static const char *const role_names[] = {"system", "user", "assistant", "tool"};

int
chat_parse_role(const char *name, enum chat_role *out)
{
    int i = name_index(role_names, ARRAY_LEN(role_names), name);

    if (i >= 0)
        *out = (enum chat_role)i;
    return i < 0 ? -1 : 0;
}

/*
 * Tool result m[i] as Qwen's templates write it: a run of tool messages
 * is one user turn of <tool_response> blocks.
 */
static void
emit_tool_response(struct emit *e, const struct chat_msg *m, size_t n, size_t i)
{
    struct chat *c = e->c;

    if (i == 0 || m[i - 1].role != CHAT_ROLE_TOOL) {
        emit_mark(e, c->mark[M_START]);
        emit_str(e, "user");
    }
    emit_str(e, "\n<tool_response>\n");
    emit_str(e, m[i].content);
    emit_str(e, "\n</tool_response>");
    if (i == n - 1 || m[i + 1].role != CHAT_ROLE_TOOL) {
        emit_mark(e, c->mark[M_END]);
        emit_str(e, "\n");
    }
}

/* Qwen3 (its tokenizer_config.json chat template, without tools). */
static void
conv_qwen3(struct emit *e, const struct chat_msg *m, size_t n, int gen)
{
    struct chat *c = e->c;
    size_t i, lqi = n ? n - 1 : 0;
    struct span content, reason;

    if (n && m[0].role == CHAT_ROLE_SYSTEM) {
        emit_mark(e, c->mark[M_START]);
        emit_str(e, "system\n");
        emit_str(e, m[0].content);
        emit_mark(e, c->mark[M_END]);
        emit_str(e, "\n");
    }
    for (i = n; i-- > 0;)
        if (m[i].role == CHAT_ROLE_USER && !is_tool_response(m[i].content)) {
            lqi = i;
            break;
        }
    for (i = 0; i < n; i++) {
        switch (m[i].role) {
        case CHAT_ROLE_SYSTEM:
            if (i == 0)
                break;
            /* FALLTHROUGH */
        case CHAT_ROLE_USER:
            emit_mark(e, c->mark[M_START]);
            emit_str(e, role_names[m[i].role]);
            emit_str(e, "\n");
            emit_str(e, m[i].content);
            emit_mark(e, c->mark[M_END]);
            emit_str(e, "\n");
            break;
        case CHAT_ROLE_ASSISTANT:
            qwen_parts(&m[i], &content, &reason);
            emit_mark(e, c->mark[M_START]);
            emit_str(e, "assistant\n");
            set_target(e, 1);
            if (i > lqi && (i == n - 1 || reason.n))
                emit_qwen_think(e, content, reason);
            else
                emit_text(e, content.p, content.n);
            emit_mark(e, c->mark[M_END]);
            set_target(e, 0);
            emit_str(e, "\n");
            break;
        case CHAT_ROLE_TOOL:
            emit_tool_response(e, m, n, i);
            break;
        }
    }
    if (gen) {
        emit_mark(e, c->mark[M_START]);
        emit_str(e, "assistant\n");
        if (c->flags & CHAT_NO_THINK)
            emit_str(e, "<think>\n\n</think>\n\n");
    }
}

/* DeepSeek-V3 and R1 (their tokenizer_config.json chat templates,
 * without tool calls). */
static void
conv_deepseek(struct emit *e, const struct chat_msg *m, size_t n, int gen)
{
    struct chat *c = e->c;
    size_t i, nsys = 0;
    int is_tool = 0, output_first = 1;
    struct span content;

    emit_mark(e, c->mark[M_BOS]);
    for (i = 0; i < n; i++)
        if (m[i].role == CHAT_ROLE_SYSTEM) {
            if (nsys++)
                emit_str(e, "\n\n");
            emit_str(e, m[i].content);
        }
    for (i = 0; i < n; i++) {
        switch (m[i].role) {
        case CHAT_ROLE_SYSTEM:
            break;
        case CHAT_ROLE_USER:
            is_tool = 0;
            emit_mark(e, c->mark[M_USER]);
            emit_str(e, m[i].content);
            break;
        case CHAT_ROLE_ASSISTANT:
            if (is_tool)
                emit_named(e, DS_TOOL_OUTPUTS_END);
            else
                emit_mark(e, c->mark[M_ASSISTANT]);
            content.p = m[i].content;
            content.n = strlen(content.p);
            if (!is_tool && (c->flags & CHAT_STRIP_THINK))
                content = after_think(m[i].content);
            is_tool = 0;
            set_target(e, 1);
            emit_text(e, content.p, content.n);
            emit_mark(e, c->mark[M_EOS]);
            set_target(e, 0);
            break;
        case CHAT_ROLE_TOOL:
            is_tool = 1;
            if (output_first) {
                emit_named(e, DS_TOOL_OUTPUTS_BEGIN);
                output_first = 0;
            } else if (c->flags & CHAT_DS_TOOL_NL)
                emit_str(e, "\n");
            emit_named(e, DS_TOOL_OUTPUT_BEGIN);
            emit_str(e, m[i].content);
            emit_named(e, DS_TOOL_OUTPUT_END);
            break;
        }
    }
    if (is_tool)
        emit_named(e, DS_TOOL_OUTPUTS_END);
    if (gen && !is_tool) {
        emit_mark(e, c->mark[M_ASSISTANT]);
        emit_think(e);
    }
}

/* A Llama 3 header: [<|start_header_id|>]ROLE[<|end_header_id|>]\n\n */
static void
llama_header(struct emit *e, const char *role)
{
    emit_mark(e, e->c->mark[M_HSTART]);
    emit_str(e, role);
    emit_mark(e, e->c->mark[M_HEND]);
    emit_str(e, "\n\n");
}

/*
 * Llama 3 (3.0: every message as a header and its trimmed content) and
 * Llama 3.1/3.2 (a system turn always, with the knowledge-date preamble
 * and the date the template writes when it is given none; tool results
 * under the ipython header, untrimmed).
 */
static void
conv_llama(struct emit *e, const struct chat_msg *m, size_t n, int gen)
{
    struct chat *c = e->c;
    size_t i = 0;
    int v31 = c->format == CHAT_LLAMA31;

    emit_mark(e, c->mark[M_BOS]);
    if (v31) {
        llama_header(e, "system");
        emit_str(e, "Cutting Knowledge Date: December 2023\n"
                    "Today Date: 26 Jul 2024\n\n");
        if (n && m[0].role == CHAT_ROLE_SYSTEM)
            emit_trimmed(e, m[i++].content);
        emit_mark(e, c->mark[M_EOT]);
    }
    for (; i < n; i++) {
        if (v31 && m[i].role == CHAT_ROLE_TOOL) {
            /* "content is iterable" holds for a string: it goes
             * through tojson */
            llama_header(e, "ipython");
            emit_json_string(e, m[i].content);
            emit_mark(e, c->mark[M_EOT]);
            continue;
        }
        llama_header(e, role_names[m[i].role]);
        if (m[i].role == CHAT_ROLE_ASSISTANT)
            set_target(e, 1);
        emit_trimmed(e, m[i].content);
        emit_mark(e, c->mark[M_EOT]);
        set_target(e, 0);
    }
    if (gen) {
        llama_header(e, "assistant");
        emit_think(e);
    }
}

/*
 * ChatML, as Qwen2's template (and SmolLM2's) writes it: the template's
 * default system turn when the conversation has none, and, when the
 * template has them, tool results in one user turn of <tool_response>
 * blocks per run of tool messages.
 */
static void
conv_chatml(struct emit *e, const struct chat_msg *m, size_t n, int gen)
{
    struct chat *c = e->c;
    size_t i;

    if (c->default_system && (n == 0 || m[0].role != CHAT_ROLE_SYSTEM)) {
        emit_mark(e, c->mark[M_START]);
        emit_str(e, "system\n");
        emit_str(e, c->default_system);
        emit_mark(e, c->mark[M_END]);
        emit_str(e, "\n");
    }
    for (i = 0; i < n; i++) {
        if (m[i].role == CHAT_ROLE_TOOL && c->tool_response) {
            emit_tool_response(e, m, n, i);
            continue;
        }
        emit_mark(e, c->mark[M_START]);
        emit_str(e, role_names[m[i].role]);
        emit_str(e, "\n");
        if (m[i].role == CHAT_ROLE_ASSISTANT)
            set_target(e, 1);
        emit_str(e, m[i].content);
        emit_mark(e, c->mark[M_END]);
        set_target(e, 0);
        emit_str(e, "\n");
    }
    if (gen) {
        emit_mark(e, c->mark[M_START]);
        emit_str(e, "assistant\n");
        emit_think(e);
    }
}

/* The built-in format: system, user and assistant turns after their
 * marks; a tool result is a user turn in <tool_response> tags. */
static void
conv_builtin(struct emit *e, const struct chat_msg *m, size_t n, int gen)
{
    struct chat *c = e->c;
    size_t i;

    emit_mark(e, c->mark[M_BOS]);
    for (i = 0; i < n; i++) {
        switch (m[i].role) {
        case CHAT_ROLE_SYSTEM:
            emit_mark(e, c->mark[M_SYSTEM]);
            emit_str(e, m[i].content);
            break;
        case CHAT_ROLE_USER:
            emit_mark(e, c->mark[M_USER]);
            emit_str(e, m[i].content);
            break;
        case CHAT_ROLE_TOOL:
            emit_mark(e, c->mark[M_USER]);
            emit_str(e, "<tool_response>\n");
            emit_str(e, m[i].content);
            emit_str(e, "\n</tool_response>");
            break;
        case CHAT_ROLE_ASSISTANT:
            emit_mark(e, c->mark[M_ASSISTANT]);
            set_target(e, 1);
            emit_str(e, m[i].content);
            emit_mark(e, c->mark[M_EOS]);
            set_target(e, 0);
            break;
        }
    }
    if (gen) {
        emit_mark(e, c->mark[M_ASSISTANT]);
        emit_think(e);
    }
}

/*
 * No chat markers, for base models that learned from text alone: BOS (when
 * the tokenizer has one), the system text, then the turns as R1-Zero's
 * template writes them, "User: ..." and "Assistant: ...", one a line; an
 * assistant output ends in EOS, which ends a document.
 */
static void
conv_text(struct emit *e, const struct chat_msg *m, size_t n, int gen)
{
    struct chat *c = e->c;
    size_t i;

    if (c->mark[M_BOS] >= 0)
        emit_mark(e, c->mark[M_BOS]);
    for (i = 0; i < n; i++) {
        switch (m[i].role) {
        case CHAT_ROLE_SYSTEM:
            emit_str(e, m[i].content);
            break;
        case CHAT_ROLE_USER:
            emit_str(e, "User: ");
            emit_str(e, m[i].content);
            break;
        case CHAT_ROLE_TOOL:
            emit_str(e, "Tool: ");
            emit_str(e, m[i].content);
            break;
        case CHAT_ROLE_ASSISTANT:
            emit_str(e, "Assistant: ");
            set_target(e, 1);
            emit_str(e, m[i].content);
            emit_mark(e, c->eos);
            set_target(e, 0);
            break;
        }
        emit_str(e, "\n");
    }
    if (gen) {
        emit_str(e, "Assistant: ");
        emit_think(e);
    }
}

static void
conv(struct emit *e, const struct chat_msg *m, size_t n, int gen)
{
    switch (e->c->format) {
    case CHAT_BUILTIN: conv_builtin(e, m, n, gen); break;
    case CHAT_DEEPSEEK3: conv_deepseek(e, m, n, gen); break;
    case CHAT_CHATML: conv_chatml(e, m, n, gen); break;
    case CHAT_QWEN3: conv_qwen3(e, m, n, gen); break;
    case CHAT_LLAMA3:
    case CHAT_LLAMA31: conv_llama(e, m, n, gen); break;
    case CHAT_TEXT: conv_text(e, m, n, gen); break;
    case CHAT_AUTO: break;
    }
    set_target(e, 0);
    flush(e);
}

/* [system,] user: the messages of a prompt record. */
static size_t
single(struct chat_msg *m, const char *system, const char *prompt)
{
    size_t n = 0;

    if (system && *system)
        m[n++] = (struct chat_msg){CHAT_ROLE_SYSTEM, system, NULL};
    m[n++] = (struct chat_msg){CHAT_ROLE_USER, prompt ? prompt : "", NULL};
    return n;
}

void
chat_prompt(struct chat *c, const char *system, const char *prompt,
            struct tok_ids *out)
{
    struct chat_msg m[2];

    chat_conv(c, m, single(m, system, prompt), 1, out, NULL);
}

void
chat_render(struct chat *c, const char *system, const char *prompt,
            struct sbuf *out)
{
    struct chat_msg m[2];

    chat_conv_render(c, m, single(m, system, prompt), 1, out, NULL);
}

void
chat_conv(struct chat *c, const struct chat_msg *m, size_t n, int gen,
          struct tok_ids *ids, struct tok_ids *mask)
{
    struct emit e = {c, ids, NULL, mask, NULL, 0};

    sbuf_reset(&c->text);
    conv(&e, m, n, gen);
}

void
chat_conv_render(struct chat *c, const struct chat_msg *m, size_t n, int gen,
                 struct sbuf *out, struct tok_ids *spans)
{
    struct emit e = {c, NULL, out, NULL, spans, 0};

    conv(&e, m, n, gen);
}

/* Does the generation prompt after m[0, n) open a think block? */
static int
prompt_opens_think(const struct chat *c, const struct chat_msg *m, size_t n)
{
    if (!(c->flags & CHAT_THINK) || c->format == CHAT_QWEN3)
        return 0;
    /* DeepSeek writes no assistant opening after tool results. */
    return !(c->format == CHAT_DEEPSEEK3 && n &&
             m[n - 1].role == CHAT_ROLE_TOOL);
}

/*
 * The assistant turn m as the model writes it after the generation
 * prompt of the turns before it, into e (the end-of-turn token last).
 */
static int
completion(struct emit *e, const struct chat_msg *prev, size_t nprev,
           const struct chat_msg *m, const char **why)
{
    struct chat *c = e->c;
    struct span content, reason;
    int opened = prompt_opens_think(c, prev, nprev);

    if (c->format == CHAT_QWEN3) {
        qwen_parts(m, &content, &reason);
        if (c->flags & CHAT_NO_THINK) {
            if (reason.n) {
                *why = "reasoning in a turn of a conversation without thinking"
                       " (--no-think)";
                return -1;
            }
            content = lstrip_nl(content);
            emit_text(e, content.p, content.n);
        } else
            emit_qwen_think(e, content, reason);
    } else {
        if (m->reasoning) {
            if (!opened)
                emit_str(e, "<think>\n");
            emit_str(e, m->reasoning);
            emit_str(e, "\n</think>\n\n");
        }
        emit_str(e, m->content);
    }
    emit_mark(e, c->eos);
    return 0;
}

int
chat_conv_sample(struct chat *c, const struct chat_msg *m, size_t n,
                 int last_only, struct tok_ids *ids, struct tok_ids *mask,
                 const char **why)
{
    struct emit e = {c, ids, NULL, NULL, NULL, 0};
    size_t n0 = ids->n, i;

    if (n == 0 || m[n - 1].role != CHAT_ROLE_ASSISTANT) {
        *why = "the conversation does not end in an assistant turn";
        return -1;
    }
    sbuf_reset(&c->text);
    e.mask = mask;
    conv(&e, m, n - 1, 1);
    if (mask && last_only)
        for (i = mask->n - (ids->n - n0); i < mask->n; i++)
            mask->v[i] = 0;
    e.target = 1;
    if (completion(&e, m, n - 1, &m[n - 1], why) < 0)
        return -1;
    flush(&e);
    return 0;
}

int
chat_conv_sample_render(struct chat *c, const struct chat_msg *m, size_t n,
                        struct sbuf *out, const char **why)
{
    struct emit e = {c, NULL, out, NULL, NULL, 0};

    if (n == 0 || m[n - 1].role != CHAT_ROLE_ASSISTANT) {
        *why = "the conversation does not end in an assistant turn";
        return -1;
    }
    conv(&e, m, n - 1, 1);
    return completion(&e, m, n - 1, &m[n - 1], why);
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
