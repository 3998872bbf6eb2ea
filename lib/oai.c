/*
 * oai.c - the OpenAI API's JSON (see oai.h): request checking for serve,
 * request bodies and response parsing for gen --server.
 */
#include "oai.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rec.h"
#include "think.h"

/* ---- requests, as serve reads them ---- */

static int
bad(struct sbuf *err, const char *fmt, const char *field, const char *what)
{
    sbuf_addf(err, fmt, field, what);
    return -1;
}

/* A number field in [lo, hi]. */
static int
get_num(const json_t *v, const char *key, double lo, double hi, double *out, struct sbuf *err)
{
    double d;

    if (!json_is_number(v))
        return bad(err, "field '%s': %s", key, "not a number");
    d = json_number_value(v);
    if (!(d >= lo && d <= hi) || !isfinite(d)) {
        sbuf_addf(err, "field '%s': %g is not in [%g, %g]", key, d, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

static int
get_int(const json_t *v, const char *key, long long lo, long long hi, long long *out,
        struct sbuf *err)
{
    long long x;

    if (!json_is_integer(v))
        return bad(err, "field '%s': %s", key, "not an integer");
    x = json_integer_value(v);
    if (x < lo || x > hi) {
        sbuf_addf(err, "field '%s': %lld is not in [%lld, %lld]", key, x, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int
get_bool(const json_t *v, const char *key, int *out, struct sbuf *err)
{
    if (json_is_null(v)) {
        *out = 0;
        return 0;
    }
    if (!json_is_boolean(v))
        return bad(err, "field '%s': %s", key, "not a boolean");
    *out = json_is_true(v);
    return 0;
}

/* Token ids of a prompt given as an array of integers. */
static int
get_ids(const json_t *a, const char *key, struct oai_prompt *p, struct sbuf *err)
{
    size_t i, n = json_array_size(a);

    if (n == 0)
        return bad(err, "field '%s': %s", key, "an empty list of token ids");
    p->ids = xmalloc(xmul(n, sizeof(int)));
    p->nids = (int)n;
    for (i = 0; i < n; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||
            json_integer_value(x) > 0x7fffffff)
            return bad(err, "field '%s': %s", key, "a token id is not an integer >= 0");
        p->ids[i] = (int)json_integer_value(x);
    }
    return 0;
}

static int
get_prompts(struct oai_request *rq, const json_t *v, const struct oai_limits *lim,
            struct sbuf *err)
{
    size_t i, n;

    if (json_is_string(v)) {
        rq->prompts = xcalloc(1, sizeof(*rq->prompts));
        rq->nprompts = 1;
        rq->prompts[0].text = json_string_value(v);
        rq->prompts[0].len = json_string_length(v);
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return bad(err, "field '%s': %s", "prompt",
                   "not a string, a list of strings or a list of token ids");
    if (json_is_integer(json_array_get(v, 0))) {
        rq->prompts = xcalloc(1, sizeof(*rq->prompts));
        rq->nprompts = 1;
        return get_ids(v, "prompt", &rq->prompts[0], err);
    }
    n = json_array_size(v);
    if (n > (size_t)lim->max_prompts) {
        sbuf_addf(err, "field 'prompt': %zu prompts, at most %d in one request", n,
                  lim->max_prompts);
        return -1;
    }
    rq->prompts = xcalloc(n, sizeof(*rq->prompts));
    rq->nprompts = (int)n;
    for (i = 0; i < n; i++) {
        json_t *x = json_array_get(v, i);
        if (json_is_string(x)) {
            rq->prompts[i].text = json_string_value(x);
            rq->prompts[i].len = json_string_length(x);
        } else if (json_is_array(x)) {
            if (get_ids(x, "prompt", &rq->prompts[i], err))
                return -1;
        } else {
            return bad(err, "field '%s': %s", "prompt",
                       "an element is neither a string nor a list of token ids");
        }
    }
    return 0;
}

/* The text of a message's content: a string, or a list of text parts. */
static int
get_content(const json_t *m, const char **out, struct sbuf *err)
{
    json_t *c = json_object_get(m, "content");

    if (json_is_string(c)) {
        *out = json_string_value(c);
        return 0;
    }
    if (json_is_array(c) && json_array_size(c) == 1) {
        json_t *part = json_array_get(c, 0), *ty = json_object_get(part, "type");
        json_t *tx = json_object_get(part, "text");
        if (json_is_string(ty) && strcmp(json_string_value(ty), "text") == 0 &&
            json_is_string(tx)) {
            *out = json_string_value(tx);
            return 0;
        }
    }
    return bad(err, "field '%s': %s", "messages",
               "a message's content is not a string (or one text part)");
}

/*
 * The conversation: an optional system (or developer) message first, then
 * user, assistant and tool messages ending in a user or tool message, the
 * turn the answer follows.  An assistant message may carry
 * reasoning_content, its <think> part.  A request of one user message
 * (after the optional system one) also sets user_turn: it is rendered as
 * gen renders a prompt record.
 */
static int
get_messages(struct oai_request *rq, const json_t *v, struct sbuf *err)
{
    size_t i, n = json_array_size(v);
    int users = 0;

    if (!json_is_array(v) || n == 0)
        return bad(err, "field '%s': %s", "messages", "not a non-empty list");
    free(rq->msgs);
    rq->msgs = xcalloc(n, sizeof(*rq->msgs));
    rq->nmsgs = 0;
    rq->system = rq->user_turn = NULL;
    for (i = 0; i < n; i++) {
        json_t *m = json_array_get(v, i), *role = json_object_get(m, "role");
        json_t *rc = json_object_get(m, "reasoning_content");
        struct chat_msg *cm = &rq->msgs[i];
        const char *r, *text;

        if (!json_is_object(m) || !json_is_string(role))
            return bad(err, "field '%s': %s", "messages", "a message without a role");
        r = json_string_value(role);
        if (get_content(m, &text, err))
            return -1;
        cm->content = text;
        if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
            if (i != 0)
                return bad(err, "field '%s': %s", "messages",
                           "a system message is only allowed first");
            cm->role = CHAT_ROLE_SYSTEM;
        } else if (strcmp(r, "user") == 0) {
            cm->role = CHAT_ROLE_USER;
            users++;
        } else if (strcmp(r, "assistant") == 0) {
            cm->role = CHAT_ROLE_ASSISTANT;
            if (rc && !json_is_null(rc)) {
                if (!json_is_string(rc))
                    return bad(err, "field '%s': %s", "messages",
                               "reasoning_content is not a string");
                cm->reasoning = json_string_value(rc);
            }
        } else if (strcmp(r, "tool") == 0) {
            cm->role = CHAT_ROLE_TOOL;
        } else {
            return bad(err, "field '%s': %s", "messages",
                       "a role is not system, developer, user, assistant or tool");
        }
        if (cm->role != CHAT_ROLE_ASSISTANT && rc && !json_is_null(rc))
            return bad(err, "field '%s': %s", "messages",
                       "reasoning_content belongs to assistant messages");
        rq->nmsgs++;
    }
    if (!users)
        return bad(err, "field '%s': %s", "messages", "no user message");
    if (rq->msgs[n - 1].role != CHAT_ROLE_USER && rq->msgs[n - 1].role != CHAT_ROLE_TOOL)
        return bad(err, "field '%s': %s", "messages",
                   "the last message is not a user or tool message");
    if (rq->msgs[n - 1].role == CHAT_ROLE_USER && !*rq->msgs[n - 1].content)
        return bad(err, "field '%s': %s", "messages", "the user message is empty");
    if (n == 1 || (n == 2 && rq->msgs[0].role == CHAT_ROLE_SYSTEM)) {
        rq->system = n == 2 ? rq->msgs[0].content : NULL;
        rq->user_turn = rq->msgs[n - 1].content;
    }
    return 0;
}

static int
get_stops(struct oai_request *rq, const json_t *v, struct sbuf *err)
{
    size_t i, n;

    if (json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        rq->stops[0] = json_string_value(v);
        rq->nstops = 1;
    } else if (json_is_array(v)) {
        n = json_array_size(v);
        if (n > OAI_MAX_STOPS)
            return bad(err, "field '%s': %s", "stop", "more than 4 stop strings");
        for (i = 0; i < n; i++) {
            if (!json_is_string(json_array_get(v, i)))
                return bad(err, "field '%s': %s", "stop", "a stop is not a string");
            rq->stops[rq->nstops++] = json_string_value(json_array_get(v, i));
        }
    } else {
        return bad(err, "field '%s': %s", "stop", "not a string or a list of strings");
    }
    for (i = 0; i < (size_t)rq->nstops; i++) {
        size_t len = strlen(rq->stops[i]);
        if (len == 0 || len > OAI_MAX_STOP_LEN)
            return bad(err, "field '%s': %s", "stop",
                       "a stop string is empty or longer than 256 bytes");
    }
    return 0;
}

int
oai_request_parse(struct oai_request *rq, const char *body, size_t len,
                  enum oai_endpoint ep, const struct oai_limits *lim, struct sbuf *err)
{
    struct sbuf perr = SBUF_INIT;
    const char *key, *why;
    json_t *v;
    double d;
    long long x;
    int b, has_lp = 0;

    memset(rq, 0, sizeof(*rq));
    rq->ep = ep;
    rq->n = 1;
    rq->sampler = (struct sampler_config)SAMPLER_CONFIG_INIT;
    rq->max_tokens = lim->max_tokens;
    rq->user = "";
    rq->root = json_parse(body, len, &perr);
    if (!rq->root) {
        sbuf_addf(err, "the body is not JSON: %s", sbuf_str(&perr));
        sbuf_release(&perr);
        return -1;
    }
    sbuf_release(&perr);
    if (!json_is_object(rq->root)) {
        sbuf_adds(err, "the body is not a JSON object");
        goto fail;
    }
    json_object_foreach(rq->root, key, v) {
        if (strcmp(key, "model") == 0) {
            if (!json_is_string(v)) {
                bad(err, "field '%s': %s", key, "not a string");
                goto fail;
            }
            rq->model = json_string_value(v);
        } else if (strcmp(key, "prompt") == 0 && ep == OAI_COMPLETIONS) {
            if (get_prompts(rq, v, lim, err))
                goto fail;
        } else if (strcmp(key, "messages") == 0 && ep == OAI_CHAT) {
            if (get_messages(rq, v, err))
                goto fail;
        } else if (strcmp(key, "n") == 0) {
            if (get_int(v, key, 1, lim->max_n, &x, err))
                goto fail;
            rq->n = (int)x;
        } else if (strcmp(key, "temperature") == 0) {
            if (!json_is_null(v) && get_num(v, key, 0, 1000, &d, err))
                goto fail;
            if (!json_is_null(v))
                rq->sampler.temperature = (float)d;
        } else if (strcmp(key, "top_p") == 0) {
            if (!json_is_null(v) && get_num(v, key, 0, 1, &d, err))
                goto fail;
            if (!json_is_null(v))
                rq->sampler.top_p = (float)d;
        } else if (strcmp(key, "top_k") == 0) {
            /* vLLM's -1 means all, as 0 does here */
            if (get_int(v, key, -1, 0x7fffffff, &x, err))
                goto fail;
            rq->sampler.top_k = x < 0 ? 0 : (int)x;
        } else if (strcmp(key, "min_p") == 0) {
            if (get_num(v, key, 0, 1, &d, err))
                goto fail;
            rq->sampler.min_p = (float)d;
        } else if (strcmp(key, "max_tokens") == 0 ||
                   (strcmp(key, "max_completion_tokens") == 0 && ep == OAI_CHAT)) {
            if (json_is_null(v))
                continue;
            if (get_int(v, key, 1, lim->max_tokens, &x, err))
                goto fail;
            rq->max_tokens = (int)x;
        } else if (strcmp(key, "stop") == 0) {
            if (get_stops(rq, v, err))
                goto fail;
        } else if (strcmp(key, "seed") == 0) {
            if (json_is_null(v))
                continue;
            if (get_int(v, key, 0, INT64_MAX, &x, err))
                goto fail;
            rq->has_seed = 1;
            rq->seed = (uint64_t)x;
        } else if (strcmp(key, "logprobs") == 0) {
            if (json_is_null(v))
                continue;
            if (ep == OAI_CHAT) {
                if (get_bool(v, key, &rq->logprobs, err))
                    goto fail;
            } else {
                if (get_int(v, key, 0, OAI_MAX_TOP_LOGPROBS, &x, err))
                    goto fail;
                rq->logprobs = 1;
                rq->top_logprobs = (int)x;
            }
        } else if (strcmp(key, "top_logprobs") == 0 && ep == OAI_CHAT) {
            if (json_is_null(v))
                continue;
            if (get_int(v, key, 0, OAI_MAX_TOP_LOGPROBS, &x, err))
                goto fail;
            rq->top_logprobs = (int)x;
            has_lp = 1;
        } else if (strcmp(key, "stream") == 0) {
            if (get_bool(v, key, &rq->stream, err))
                goto fail;
        } else if (strcmp(key, "stream_options") == 0) {
            json_t *iu = json_object_get(v, "include_usage");
            if (json_is_null(v))
                continue;
            if (!json_is_object(v) || json_object_size(v) != (iu ? 1u : 0u)) {
                bad(err, "field '%s': %s", key, "not an object of include_usage alone");
                goto fail;
            }
            if (iu && get_bool(iu, "stream_options.include_usage", &rq->include_usage, err))
                goto fail;
        } else if (strcmp(key, "user") == 0) {
            if (!json_is_string(v)) {
                bad(err, "field '%s': %s", key, "not a string");
                goto fail;
            }
            rq->user = json_string_value(v);
        } else if (strcmp(key, "include_stop_str_in_output") == 0) {
            if (get_bool(v, key, &rq->include_stop, err))
                goto fail;
        } else if (strcmp(key, "return_token_ids") == 0) {
            if (get_bool(v, key, &rq->token_ids, err))
                goto fail;
        } else if (strcmp(key, "echo") == 0 && ep == OAI_COMPLETIONS) {
            if (get_bool(v, key, &b, err))
                goto fail;
            if (b) {
                bad(err, "field '%s': %s", key,
                    "only false: this server returns the completion, never the prompt");
                goto fail;
            }
        } else if (strcmp(key, "frequency_penalty") == 0 ||
                   strcmp(key, "presence_penalty") == 0) {
            if (!json_is_null(v) && (!json_is_number(v) || json_number_value(v) != 0)) {
                bad(err, "field '%s': %s", key,
                    "only 0: the sampler has no penalties (see serve(1))");
                goto fail;
            }
        } else {
            bad(err, "unknown field '%s'%s", key,
                ep == OAI_CHAT ? " for /v1/chat/completions" : " for /v1/completions");
            goto fail;
        }
    }
    if (ep == OAI_COMPLETIONS && !rq->prompts) {
        bad(err, "field '%s': %s", "prompt", "missing");
        goto fail;
    }
    if (ep == OAI_CHAT && !rq->nmsgs) {
        bad(err, "field '%s': %s", "messages", "missing");
        goto fail;
    }
    if (has_lp && !rq->logprobs && rq->top_logprobs > 0) {
        bad(err, "field '%s': %s", "top_logprobs", "needs logprobs: true");
        goto fail;
    }
    if (rq->include_usage && !rq->stream) {
        bad(err, "field '%s': %s", "stream_options", "only with stream: true");
        goto fail;
    }
    if (rq->sampler.top_p <= 0) {
        bad(err, "field '%s': %s", "top_p", "must be in (0, 1]");
        goto fail;
    }
    if (sampler_config_check(&rq->sampler, &why)) {
        bad(err, "%s%s", "", why);
        goto fail;
    }
    return 0;
fail:
    oai_request_release(rq);
    return -1;
}

void
oai_request_release(struct oai_request *rq)
{
    int i;

    for (i = 0; i < rq->nprompts; i++)
        free(rq->prompts[i].ids);
    free(rq->prompts);
    free(rq->msgs);
    json_decref(rq->root);
    memset(rq, 0, sizeof(*rq));
}

/* ---- the client's side ---- */

/* Adds p's settings and user to the request o, writes it to out, frees o. */
static void
body_finish(struct sbuf *out, json_t *o, const struct oai_params *p, const char *user)
{
    json_t *a;
    int i;

    if (p->n != 1)
        json_object_set_new(o, "n", json_integer(p->n));
    if (p->temperature >= 0)
        json_object_set_new(o, "temperature", json_float(p->temperature));
    if (p->top_p >= 0)
        json_object_set_new(o, "top_p", json_float(p->top_p));
    if (p->top_k >= 0)
        json_object_set_new(o, "top_k", json_integer(p->top_k));
    if (p->max_tokens > 0)
        json_object_set_new(o, "max_tokens", json_integer(p->max_tokens));
    if (p->nstops > 0) {
        a = json_array();
        for (i = 0; i < p->nstops; i++)
            json_array_append_new(a, json_string(p->stops[i]));
        json_object_set_new(o, "stop", a);
    }
    if (p->has_seed)
        json_object_set_new(o, "seed", json_integer((json_int_t)p->seed));
    if (p->logprobs)
        json_object_set_new(o, "logprobs",
                            p->ep == OAI_CHAT ? json_true() : json_integer(0));
    if (p->token_ids)
        json_object_set_new(o, "return_token_ids", json_true());
    if (p->send_user && user)
        json_object_set_new(o, "user", json_string(user));
    json_emit(out, o);
    json_decref(o);
}

void
oai_body(struct sbuf *out, const struct oai_params *p, const char *system,
         const char *prompt, const char *user)
{
    json_t *o = json_object(), *a;

    json_object_set_new(o, "model", json_string(p->model));
    if (p->ep == OAI_CHAT) {
        a = json_array();
        if (system && *system)
            json_array_append_new(a, json_pack("{s:s,s:s}", "role", "system", "content",
                                               system));
        json_array_append_new(a, json_pack("{s:s,s:s}", "role", "user", "content", prompt));
        json_object_set_new(o, "messages", a);
    } else {
        json_object_set_new(o, "prompt", json_string(prompt));
    }
    body_finish(out, o, p, user);
}

void
oai_body_conv(struct sbuf *out, const struct oai_params *p, const struct chat_msg *m,
              size_t n, const char *user)
{
    static const char *const roles[] = {"system", "user", "assistant", "tool"};
    json_t *o = json_object(), *a = json_array();
    size_t i;

    json_object_set_new(o, "model", json_string(p->model));
    for (i = 0; i < n; i++) {
        json_t *msg = json_pack("{s:s,s:s}", "role", roles[m[i].role], "content",
                                m[i].content);

        if (m[i].role == CHAT_ROLE_ASSISTANT && m[i].reasoning)
            json_object_set_new(msg, "reasoning_content", json_string(m[i].reasoning));
        json_array_append_new(a, msg);
    }
    json_object_set_new(o, "messages", a);
    body_finish(out, o, p, user);
}

const char *
oai_error_message(const json_t *root)
{
    json_t *e = json_object_get(root, "error"), *m;

    if (json_is_string(e))
        return json_string_value(e);
    m = json_object_get(e, "message");
    return json_is_string(m) ? json_string_value(m) : NULL;
}

/* "token:123" (vLLM's return_tokens_as_token_ids) -> 123, else -1. */
static long
token_as_id(const json_t *tok)
{
    const char *s = json_string_value(tok);
    long v;

    if (!s || strncmp(s, "token:", 6) != 0 || parse_long(s + 6, 0, 0x7fffffff, &v))
        return -1;
    return v;
}

/* Log-probs (and ids, when the tokens are "token:N") of one choice. */
static int
choice_logprobs(struct oai_choice *c, const json_t *lp, enum oai_endpoint ep, struct sbuf *err)
{
    json_t *items, *ids = json_array();
    size_t i;
    int all_ids = 1;

    c->logprobs = json_array();
    /* chat: content[i].{token, logprob}; completions: tokens[i], token_logprobs[i] */
    items = json_object_get(lp, ep == OAI_CHAT ? "content" : "token_logprobs");
    if (!json_is_array(items))
        goto bad;
    for (i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        json_t *x = ep == OAI_CHAT ? json_object_get(it, "logprob") : it;
        long id = token_as_id(ep == OAI_CHAT ? json_object_get(it, "token")
                                             : json_array_get(json_object_get(lp, "tokens"), i));
        if (!json_is_number(x))
            goto bad;
        json_array_append_new(c->logprobs, json_float((float)json_number_value(x)));
        if (id < 0)
            all_ids = 0;
        else
            json_array_append_new(ids, json_integer(id));
    }
    if (all_ids && json_array_size(ids) > 0 && !c->ids)
        c->ids = ids;
    else
        json_decref(ids);
    return 0;
bad:
    json_decref(ids);
    sbuf_adds(err, "a choice's logprobs are not in the OpenAI form");
    return -1;
}

static int
int_array_ok(const json_t *a)
{
    size_t i;

    if (!json_is_array(a))
        return 0;
    for (i = 0; i < json_array_size(a); i++)
        if (!json_is_integer(json_array_get(a, i)))
            return 0;
    return 1;
}

int
oai_response_parse(struct oai_response *r, const char *body, size_t len,
                   enum oai_endpoint ep, int n, struct sbuf *err)
{
    struct sbuf perr = SBUF_INIT, text = SBUF_INIT;
    json_t *choices, *usage;
    size_t i;

    memset(r, 0, sizeof(*r));
    r->prompt_tokens = r->completion_tokens = -1;
    r->root = json_parse(body, len, &perr);
    if (!r->root) {
        sbuf_addf(err, "the response is not JSON: %s", sbuf_str(&perr));
        sbuf_release(&perr);
        return -1;
    }
    sbuf_release(&perr);
    choices = json_object_get(r->root, "choices");
    if (!json_is_array(choices) || json_array_size(choices) != (size_t)n) {
        sbuf_addf(err, "the response has %zu choices, %d were asked for",
                  json_array_size(choices), n);
        goto fail;
    }
    r->choice = xcalloc((size_t)n, sizeof(*r->choice));
    r->n = n;
    for (i = 0; i < (size_t)n; i++) {
        json_t *ch = json_array_get(choices, i), *ix = json_object_get(ch, "index");
        json_t *fin = json_object_get(ch, "finish_reason"), *lp, *ids;
        struct oai_choice *c;
        const char *content = NULL, *reasoning = NULL;
        size_t clen = 0;
        size_t k = json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;
        if (k >= (size_t)n || r->choice[k].completion) {
            sbuf_adds(err, "the response's choice indices are not 0..n-1");
            goto fail;
        }
        c = &r->choice[k];
        if (ep == OAI_CHAT) {
            json_t *msg = json_object_get(ch, "message"), *rc;
            content = json_string_value(json_object_get(msg, "content"));
            clen = json_string_length(json_object_get(msg, "content"));
            rc = json_object_get(msg, "reasoning_content");
            if (!json_is_string(rc))
                rc = json_object_get(msg, "reasoning");
            reasoning = json_string_value(rc);
            if (!json_is_object(msg) || (!content && !json_is_null(json_object_get(msg, "content")))) {
                sbuf_adds(err, "a choice has no message content");
                goto fail;
            }
        } else {
            content = json_string_value(json_object_get(ch, "text"));
            clen = json_string_length(json_object_get(ch, "text"));
            if (!content) {
                sbuf_adds(err, "a choice has no text");
                goto fail;
            }
        }
        sbuf_reset(&text);
        if (reasoning && *reasoning)
            sbuf_addf(&text, THINK_OPEN "\n%s\n" THINK_CLOSE "\n\n", reasoning);
        sbuf_add(&text, content ? content : "", clen);
        c->completion = json_stringn(text.buf, text.len);
        if (!c->completion) {
            sbuf_adds(err, "a choice's text is not valid UTF-8");
            goto fail;
        }
        c->finish = json_is_string(fin) ? json_string_value(fin) : "stop";
        ids = json_object_get(ch, "token_ids");
        if (int_array_ok(ids))
            c->ids = json_incref(ids);
        lp = json_object_get(ch, "logprobs");
        if (lp && !json_is_null(lp) && choice_logprobs(c, lp, ep, err))
            goto fail;
    }
    r->prompt_ids = json_object_get(r->root, "prompt_token_ids");
    if (!int_array_ok(r->prompt_ids))
        r->prompt_ids = json_object_get(json_array_get(choices, 0), "prompt_token_ids");
    if (!int_array_ok(r->prompt_ids))
        r->prompt_ids = NULL;
    usage = json_object_get(r->root, "usage");
    if (json_is_integer(json_object_get(usage, "prompt_tokens")))
        r->prompt_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
    if (json_is_integer(json_object_get(usage, "completion_tokens")))
        r->completion_tokens =
            (long)json_integer_value(json_object_get(usage, "completion_tokens"));
    r->model = json_string_value(json_object_get(r->root, "model"));
    sbuf_release(&text);
    return 0;
fail:
    sbuf_release(&text);
    oai_response_release(r);
    return -1;
}

void
oai_response_release(struct oai_response *r)
{
    int i;

    for (i = 0; i < r->n; i++) {
        json_decref(r->choice[i].completion);
        json_decref(r->choice[i].logprobs);
        json_decref(r->choice[i].ids);
    }
    free(r->choice);
    json_decref(r->root);
    memset(r, 0, sizeof(*r));
}
